using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>
/// EvalMod, the step of bootstrapping that removes q_0·I: slot by slot, x = t/(K·q_0) with t = m + q_0·I becomes
/// sin(2π·t/q_0) = sin(2π·m/q_0) ≈ 2π·m/q_0.
/// </summary>
/// <remarks>
/// A scaled cosine with double angles (Han and Ki 2020; Bossuat et al. 2021): c_0(x) = cos((2πK·x − π/2)/2^r) is
/// interpolated on [−1, 1] in the Chebyshev basis (no affine map), then c_(i+1) = 2·c_i² − 1 r times gives
/// cos(2πK·x − π/2) = sin(2πK·x). Dividing the angle by 2^r lowers the degree the interpolation needs; each doubling
/// costs one level and at most quadruples the error.
/// </remarks>
public sealed class EvalMod
{
    /// <summary>The interpolated cosine.</summary>
    public ChebyshevSeries Series { get; }

    /// <summary>K: inputs lie in [−1, 1] as t/(K·q_0).</summary>
    public int K { get; }

    /// <summary>Double-angle iterations.</summary>
    public int DoubleAngle { get; }

    /// <summary>Levels consumed: the polynomial's depth plus one per double angle.</summary>
    public int Depth => PolynomialEvaluator.DepthOf(Series.Degree, needsAffineMap: false) + DoubleAngle;

    /// <summary>Largest error of sin(2πKx) as evaluated here in doubles, over [−1, 1].</summary>
    public double MaxError { get; }

    /// <summary>Builds EvalMod for the bootstrapping parameters (choosing the degree when they leave it open).</summary>
    /// <exception cref="ArgumentException">No degree up to 255 meets the error bound.</exception>
    public EvalMod(BootstrappingParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        K = parameters.K;
        DoubleAngle = parameters.DoubleAngle;
        (Series, MaxError) = Choose(parameters);
    }

    /// <summary>The depth EvalMod will have for these parameters (used to lay out a chain before any key exists).</summary>
    public static int DepthFor(BootstrappingParameters parameters) => new EvalMod(parameters).Depth;

    private static (ChebyshevSeries, double) Choose(BootstrappingParameters p)
    {
        int k = p.K, r = p.DoubleAngle;
        double Cosine(double x) => Math.Cos((2 * Math.PI * k * x - Math.PI / 2) / (1 << r));
        if (p.SineDegree is { } fixedDegree)
        {
            var s = ChebyshevSeries.Interpolate(Cosine, -1, 1, fixedDegree);
            return (s, Error(s, k, r));
        }
        ChebyshevSeries? best = null;
        double bestError = double.MaxValue;
        // The smallest degree that meets the bound; then the largest of the same depth is free and more precise.
        for (int d = 3; d <= 255; d++)
        {
            var s = ChebyshevSeries.Interpolate(Cosine, -1, 1, d);
            double e = Error(s, k, r);
            if (e <= p.MaxEvalModError)
            {
                best = s; bestError = e;
                break;
            }
        }
        if (best is null) throw new ArgumentException($"No cosine of degree ≤ 255 reaches an EvalMod error of {p.MaxEvalModError:E2} for K = {k} with {r} double angles; use more double angles.");
        return (best, bestError);
    }

    /// <summary>Largest |T_(2^r)(p(x)) − sin(2πKx)| on a fine grid of [−1, 1].</summary>
    private static double Error(ChebyshevSeries s, int k, int r)
    {
        double max = 0;
        const int samples = 20_000;
        for (int i = 0; i <= samples; i++)
        {
            double x = -1 + 2.0 * i / samples;
            double c = s.Evaluate(x);
            for (int j = 0; j < r; j++) c = 2 * c * c - 1;
            max = Math.Max(max, Math.Abs(c - Math.Sin(2 * Math.PI * k * x)));
        }
        return max;
    }

    /// <summary>
    /// sin(2πK·x) slot by slot for real x in [−1, 1], landing on <paramref name="targetScale"/>, <see cref="Depth"/> levels down.
    /// </summary>
    /// <exception cref="InvalidOperationException">Too few levels left, or no relinearization key.</exception>
    public Ciphertext Evaluate(CkksEvaluator evaluator, Ciphertext x, double targetScale)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(x);
        if (x.Level < Depth) throw new InvalidOperationException($"EvalMod needs {Depth} levels; the ciphertext has {x.Level}.");
        var q = evaluator.Ring.Q;
        int polynomialLevel = x.Level - PolynomialEvaluator.DepthOf(Series.Degree, needsAffineMap: false);
        // Plan the scales backwards: each doubling squares the scale and divides it by the prime of its level.
        var scales = new double[DoubleAngle + 1];
        scales[DoubleAngle] = targetScale;
        for (int i = DoubleAngle - 1; i >= 0; i--) scales[i] = Math.Sqrt(scales[i + 1] * q[polynomialLevel - i]);
        var y = new PolynomialEvaluator(evaluator).Evaluate(x, Series, scales[0]);
        if (y.Level != polynomialLevel) throw new InvalidOperationException($"The cosine ended at level {y.Level}, not the planned {polynomialLevel}.");
        for (int i = 0; i < DoubleAngle; i++)
        {
            var square = evaluator.Square(y);
            evaluator.Relinearize(square, square);
            evaluator.MultiplyInteger(square, 2, square);
            evaluator.AddScalar(square, -1.0, square);
            evaluator.Rescale(square, square);
            square.Scale = scales[i + 1];
            y = square;
        }
        return y;
    }
}
