namespace Veil.Circuits;

/// <summary>
/// A polynomial p(x) = Σ_k c_k·T_k(t) in the Chebyshev basis on an interval [a, b], with t = (2x − a − b)/(b − a).
/// </summary>
/// <remarks>
/// Chebyshev interpolation at the d + 1 Chebyshev nodes is within a small factor of the best uniform approximation
/// of degree d (Trefethen, Approximation Theory and Approximation Practice, ch. 16), and stays well conditioned for
/// high degrees where the power basis does not.
/// </remarks>
public sealed class ChebyshevSeries
{
    /// <summary>Coefficients c_0 … c_d.</summary>
    public IReadOnlyList<double> Coefficients { get; }
    /// <summary>Left end a of the interval.</summary>
    public double A { get; }
    /// <summary>Right end b of the interval.</summary>
    public double B { get; }
    /// <summary>Degree d.</summary>
    public int Degree => Coefficients.Count - 1;

    /// <summary>A series from its coefficients.</summary>
    /// <exception cref="ArgumentException">No coefficient, a non-finite one, or an empty or non-finite interval.</exception>
    public ChebyshevSeries(IReadOnlyList<double> coefficients, double a, double b)
    {
        ArgumentNullException.ThrowIfNull(coefficients);
        if (coefficients.Count == 0) throw new ArgumentException("At least one coefficient is needed.", nameof(coefficients));
        if (coefficients.Any(c => !double.IsFinite(c))) throw new ArgumentException("Coefficients must be finite.", nameof(coefficients));
        if (!(a < b) || !double.IsFinite(a) || !double.IsFinite(b)) throw new ArgumentException($"The interval [{a}, {b}] must be finite and non-empty.", nameof(a));
        Coefficients = coefficients.ToArray();
        A = a;
        B = b;
    }

    /// <summary>Interpolates f at the d + 1 Chebyshev nodes of [a, b].</summary>
    /// <remarks>c_k = (2 − [k = 0])/(d + 1) · Σ_j f(x_j)·cos(k·θ_j), θ_j = π(j + ½)/(d + 1), x_j = the node at cos θ_j.</remarks>
    public static ChebyshevSeries Interpolate(Func<double, double> f, double a, double b, int degree)
    {
        ArgumentNullException.ThrowIfNull(f);
        if (degree < 0 || degree > 1024) throw new ArgumentOutOfRangeException(nameof(degree), "Degree must be in [0, 1024].");
        int m = degree + 1;
        var values = new double[m];
        for (int j = 0; j < m; j++)
        {
            double theta = Math.PI * (j + 0.5) / m;
            values[j] = f(0.5 * (b - a) * Math.Cos(theta) + 0.5 * (a + b));
        }
        var c = new double[m];
        for (int k = 0; k < m; k++)
        {
            double sum = 0;
            for (int j = 0; j < m; j++) sum += values[j] * Math.Cos(k * Math.PI * (j + 0.5) / m);
            c[k] = (k == 0 ? 1.0 : 2.0) / m * sum;
        }
        return new ChebyshevSeries(c, a, b);
    }

    /// <summary>p(x) by Clenshaw's recurrence.</summary>
    public double Evaluate(double x)
    {
        double t = (2 * x - A - B) / (B - A);
        double b1 = 0, b2 = 0;
        for (int k = Degree; k >= 1; k--)
        {
            double b0 = 2 * t * b1 - b2 + Coefficients[k];
            b2 = b1;
            b1 = b0;
        }
        return t * b1 - b2 + Coefficients[0];
    }

    /// <summary>max |p(x) − f(x)| over <paramref name="samples"/> equally spaced points of [a, b].</summary>
    public double MaxError(Func<double, double> f, int samples = 10_001)
    {
        ArgumentNullException.ThrowIfNull(f);
        double worst = 0;
        for (int i = 0; i < samples; i++)
        {
            double x = A + (B - A) * i / (samples - 1);
            worst = Math.Max(worst, Math.Abs(Evaluate(x) - f(x)));
        }
        return worst;
    }

    /// <summary>Multiplicative depth of evaluating this series homomorphically with <see cref="PolynomialEvaluator"/>.</summary>
    public int Depth => PolynomialEvaluator.DepthOf(Degree, needsAffineMap: !(A == -1 && B == 1));
}

/// <summary>Ready approximations of activation functions on an interval, with their maximum error.</summary>
public static class Approximations
{
    /// <summary>The logistic function 1 / (1 + e^(−x)).</summary>
    public static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    /// <summary>Softplus log(1 + e^x), a smooth ReLU.</summary>
    public static double Softplus(double x) => x > 30 ? x : double.LogP1(Math.Exp(x));

    /// <summary>Chebyshev interpolant of the sigmoid on [−bound, bound].</summary>
    public static ChebyshevSeries SigmoidSeries(double bound = 8, int degree = 7) => ChebyshevSeries.Interpolate(Sigmoid, -bound, bound, degree);

    /// <summary>Chebyshev interpolant of softplus (a smooth ReLU) on [−bound, bound].</summary>
    public static ChebyshevSeries SmoothReluSeries(double bound = 8, int degree = 7) => ChebyshevSeries.Interpolate(Softplus, -bound, bound, degree);
}
