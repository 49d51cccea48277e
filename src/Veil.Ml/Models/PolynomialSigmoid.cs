using Veil.Ml.Data;

namespace Veil.Ml.Models;

/// <summary>
/// A low-degree polynomial approximation σ̃ of the logistic function σ(x) = 1/(1 + e^(−x)) on [−B, B], the form an
/// encrypted model can evaluate (CKKS has only additions and multiplications).
/// </summary>
/// <remarks>
/// <para>
/// σ(x) − ½ is odd, so on a symmetric interval the least-squares polynomial is ½ plus odd powers only:
/// σ̃(x) = ½ + Σ_{k odd ≤ d} c_k·x^k. The odd coefficients minimise Σ_m (σ̃(x_m) − σ(x_m))² over the uniform grid
/// x_m = B·(−1 + 2m/M), m = 0 … M (M = 16,384), a close discretisation of the continuous L² fit used by Kim, Song,
/// Kim, Lee and Cheon, "Logistic regression model training based on the approximate homomorphic encryption" (BMC
/// Medical Genomics, 2018), whose degree-3 polynomial on [−8, 8] is ½ + 0.15012·x − 0.001593·x³. The fit is done in
/// t = x/B ∈ [−1, 1] (basis t, t³, …, t^d, small normal equations solved by Cholesky) for conditioning, then
/// c_k = b_k / B^k.
/// </para>
/// <para>
/// Outside [−B, B] the polynomial quickly leaves [0, 1] (for degree 3 on [−8, 8] it turns back towards ½ beyond
/// |x| ≈ 5.6 and crosses it at |x| ≈ 9.7), so the margins xᵀw must stay inside the interval during training.
/// </para>
/// </remarks>
public sealed class PolynomialSigmoid
{
    /// <summary>Default degree (as in Kim et al. 2018).</summary>
    public const int DefaultDegree = 3;

    /// <summary>Default half-width B of the interval (as in Kim et al. 2018).</summary>
    public const double DefaultBound = 8;

    /// <summary>Number of grid intervals M of the least-squares fit.</summary>
    internal const int FitGridIntervals = 1 << 14;

    /// <summary>Number of grid intervals over which <see cref="MaxError"/> is measured.</summary>
    internal const int ErrorGridIntervals = 1 << 16;

    private readonly double[] _coefficients;

    /// <summary>Fits the polynomial.</summary>
    /// <param name="degree">Odd degree d in [1, 9]; 3, 5 and 7 are the usual choices.</param>
    /// <param name="bound">Half-width B of the interval [−B, B], finite, in (0, 64].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="degree"/> is not an odd number in [1, 9], or <paramref name="bound"/> is not in (0, 64].</exception>
    public PolynomialSigmoid(int degree = DefaultDegree, double bound = DefaultBound)
    {
        if (degree is < 1 or > 9 || degree % 2 == 0) Guard.OutOfRange(nameof(degree), $"The degree must be odd, in [1, 9]; got {degree}.");
        if (!(bound > 0 && bound <= 64)) Guard.OutOfRange(nameof(bound), $"The bound must be in (0, 64]; got {bound}.");
        Degree = degree;
        Bound = bound;
        _coefficients = Fit(degree, bound);
        MaxError = MeasureMaxError();
    }

    /// <summary>Degree d.</summary>
    public int Degree { get; }

    /// <summary>Half-width B of the approximation interval [−B, B].</summary>
    public double Bound { get; }

    /// <summary>Coefficients c_0 … c_d in the power basis, ascending: c_0 = ½ and the other even ones are 0.</summary>
    public IReadOnlyList<double> Coefficients => _coefficients;

    /// <summary>max |σ̃(x) − σ(x)| over [−B, B], measured on a uniform grid of 65,537 points.</summary>
    public double MaxError { get; }

    /// <summary>σ̃(x) by Horner's rule: (…(c_d·x + c_{d−1})·x + …)·x + c_0.</summary>
    /// <param name="x">Any real; the approximation only holds in [−B, B].</param>
    /// <returns>σ̃(x).</returns>
    public double Evaluate(double x)
    {
        double value = _coefficients[^1];
        for (int k = _coefficients.Length - 2; k >= 0; k--) value = value * x + _coefficients[k];
        return value;
    }

    /// <summary>The exact logistic function σ(x) = 1/(1 + e^(−x)), without overflow.</summary>
    /// <param name="x">Any real.</param>
    /// <returns>σ(x) in [0, 1].</returns>
    public static double Exact(double x) => LinearAlgebra.Logistic(x);

    /// <inheritdoc/>
    public override string ToString() => $"σ̃ of degree {Degree} on [−{Bound}, {Bound}], max error {MaxError:G3}";

    private static double[] Fit(int degree, double bound)
    {
        int m = (degree + 1) / 2;
        var gram = new double[m, m];
        var rhs = new double[m];
        var powers = new double[m];
        for (int g = 0; g <= FitGridIntervals; g++)
        {
            double t = -1 + 2.0 * g / FitGridIntervals;
            double f = LinearAlgebra.Logistic(bound * t) - 0.5;
            double t2 = t * t;
            powers[0] = t;
            for (int j = 1; j < m; j++) powers[j] = powers[j - 1] * t2;
            for (int j = 0; j < m; j++)
            {
                rhs[j] += powers[j] * f;
                for (int k = 0; k <= j; k++) gram[j, k] += powers[j] * powers[k];
            }
        }
        var b = LinearAlgebra.CholeskySolve(gram, rhs);
        var c = new double[degree + 1];
        c[0] = 0.5;
        for (int j = 0; j < m; j++) c[2 * j + 1] = b[j] / Math.Pow(bound, 2 * j + 1);
        return c;
    }

    private double MeasureMaxError()
    {
        double worst = 0;
        for (int g = 0; g <= ErrorGridIntervals; g++)
        {
            double x = Bound * (-1 + 2.0 * g / ErrorGridIntervals);
            worst = Math.Max(worst, Math.Abs(Evaluate(x) - LinearAlgebra.Logistic(x)));
        }
        return worst;
    }
}
