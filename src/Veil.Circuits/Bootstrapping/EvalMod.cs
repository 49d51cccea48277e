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

    /// <summary>Builds EvalMod for the bootstrapping parameters (choosing the degree, and r, when they leave them open).</summary>
    /// <exception cref="ArgumentException">No degree up to 255 meets the error bound.</exception>
    public EvalMod(BootstrappingParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        K = parameters.K;
        (Series, DoubleAngle, MaxError) = Choose(parameters);
    }

    /// <summary>The depth EvalMod will have for these parameters (used to lay out a chain before any key exists).</summary>
    public static int DepthFor(BootstrappingParameters parameters) => new EvalMod(parameters).Depth;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int, int?, int?, double), (ChebyshevSeries, int, double)> Chosen = new();

    // The search evaluates a few hundred candidates on a fine grid: once per shape per process.
    private static (ChebyshevSeries, int, double) Choose(BootstrappingParameters p) =>
        Chosen.GetOrAdd((p.K, p.DoubleAngle, p.SineDegree, p.MaxEvalModError), _ => Search(p));

    private static (ChebyshevSeries, int, double) Search(BootstrappingParameters p)
    {
        int k = p.K;
        if (p.DoubleAngle is { } fixedR && p.SineDegree is { } fixedDegree)
        {
            var s = Interpolate(k, fixedR, fixedDegree);
            return (s, fixedR, Error(s, k, fixedR));
        }
        (ChebyshevSeries Series, int R, double Error, int Depth, int Products)? best = null;
        foreach (int r in p.DoubleAngle is { } only ? [only] : Enumerable.Range(1, 6))
        {
            for (int d = p.SineDegree ?? 3; d <= (p.SineDegree ?? 255); d++)
            {
                var s = Interpolate(k, r, d);
                // The coarse grid's points are every tenth of the fine one's, so its error is never larger: a candidate
                // it rejects the fine grid would reject too, at a tenth of the cost (the search took seconds).
                if (Error(s, k, r, CoarseSamples) > p.MaxEvalModError) continue;
                double e = Error(s, k, r);
                if (e > p.MaxEvalModError) continue;
                int depth = PolynomialEvaluator.DepthOf(d, needsAffineMap: false) + r, products = PolynomialEvaluator.MultiplicationsOf(d) + r;
                // A level costs about three products' worth (modulus bits and every later operation on it); ties go to the shallower.
                int cost = products + 3 * depth, bestCost = best is null ? int.MaxValue : best.Value.Products + 3 * best.Value.Depth;
                if (cost < bestCost || (cost == bestCost && depth < best!.Value.Depth)) best = (s, r, e, depth, products);
                break; // the smallest degree for this r
            }
        }
        if (best is null) throw new ArgumentException($"No cosine of degree ≤ 255 reaches an EvalMod error of {p.MaxEvalModError:E2} for K = {k}; allow a larger error or other double angles.");
        return (best.Value.Series, best.Value.R, best.Value.Error);
    }

    private static ChebyshevSeries Interpolate(int k, int r, int degree) =>
        ChebyshevSeries.Interpolate(x => Math.Cos((2 * Math.PI * k * x - Math.PI / 2) / (1 << r)), -1, 1, degree);

    private const int FineSamples = 20_000, CoarseSamples = FineSamples / 10;

    /// <summary>Largest |T_(2^r)(p(x)) − sin(2πKx)| on a grid of <paramref name="samples"/> + 1 points of [−1, 1].</summary>
    private static double Error(ChebyshevSeries s, int k, int r, int samples = FineSamples)
    {
        double max = 0;
        for (int i = 0; i <= samples; i++)
        {
            double x = -1 + 2.0 * (i * (FineSamples / samples)) / FineSamples; // the same doubles on both grids
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
