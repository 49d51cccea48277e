using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>
/// Evaluates polynomials on CKKS ciphertexts, slot by slot, in the Chebyshev or the power basis.
/// </summary>
/// <remarks>
/// <para>Basis: T_1 (or x) first; then T_k = 2·T_a·T_b − T_(a−b) (or x^k = x^a·x^b) with a = 2^(⌈log2 k⌉−1) and
/// b = k − a, so T_k sits at depth ⌈log2 k⌉. The term T_(a−b), at a higher level, is put at the product's scale by a
/// scalar multiplication by 1 at the ratio of the scales, which costs no level.</para>
/// <para>Sum: every c_k·T_k goes into one accumulator at scale Δ·q_ℓ through a scalar multiplication by c_k at
/// scale Δ·q_ℓ / scale(T_k) — the coefficient rides on the constant that aligns the scale — and a single rescale
/// lands exactly on the target scale Δ.</para>
/// <para>Folding: a top term c_k·T_k whose factor T_b is shallower than T_a is computed as (2c_k·T_b)·T_a − c_k·T_(a−b)
/// and enters the sum unrescaled, so its coefficient costs no level.</para>
/// <para>Cost (<see cref="DepthOf"/>): degree 1: depth 1; 2: 2; 3: 2 (optimal); 4: 3; 5–6: 4; 7: 4; 8: 4; 15: 5, plus 1 when
/// the interval is not [−1, 1]; at most d − 1 ciphertext multiplications (each relinearized). Degrees 2^j − 1 above 3
/// stay one level above the optimum ⌈log2(d + 1)⌉; a baby-step giant-step evaluator would close that gap.</para>
/// </remarks>
public sealed class PolynomialEvaluator
{
    private readonly CkksEvaluator _evaluator;
    private readonly CkksEncoder? _encoder;

    /// <summary>An evaluator using the given CKKS evaluator (which must hold a relinearization key for degree ≥ 2).</summary>
    /// <param name="evaluator">The evaluator.</param>
    /// <param name="encoder">Needed only for slot-wise coefficient weights.</param>
    public PolynomialEvaluator(CkksEvaluator evaluator, CkksEncoder? encoder = null)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        _evaluator = evaluator;
        _encoder = encoder;
    }

    /// <summary>Levels consumed by a polynomial of the given degree (all coefficients non-zero).</summary>
    public static int DepthOf(int degree, bool needsAffineMap)
    {
        if (degree <= 0) return 0;
        if (degree == 1) return 1;
        int offset = needsAffineMap ? 1 : 0, deepest = 0;
        for (int k = 1; k <= degree; k++)
        {
            int a = 1 << (CeilLog2(k) - 1), b = k - a;
            // A folded term sits, before the final rescale, at max(depth T_a, depth T_b + 1); any other at depth T_k.
            int termDepth = k >= 2 && CanFold(k, degree) ? Math.Max(CeilLog2(a), CeilLog2(b) + 1) : CeilLog2(k);
            deepest = Math.Max(deepest, offset + termDepth);
        }
        return deepest + 1;
    }

    /// <summary>Whether c_k·T_k can be folded: T_b is shallower than T_a and T_k is not needed on its own.</summary>
    private static bool CanFold(int k, int d)
    {
        int a = 1 << (CeilLog2(k) - 1), b = k - a;
        return CeilLog2(b) < CeilLog2(a) && !IsNeededAsFactor(k, d);
    }

    /// <summary>Ciphertext multiplications used by a polynomial of the given degree.</summary>
    public static int MultiplicationsOf(int degree) => Math.Max(0, degree - 1);

    /// <summary>Whether T_k is a factor or a correction term of some higher T_j, j ≤ d (then it must exist on its own).</summary>
    private static bool IsNeededAsFactor(int k, int d)
    {
        for (int j = k + 1; j <= d; j++)
        {
            int a = 1 << (CeilLog2(j) - 1), b = j - a;
            if (a == k || b == k || a - b == k) return true;
        }
        return false;
    }

    private static int CeilLog2(int k) => k <= 1 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)(k - 1));

    /// <summary>p(x) slot by slot, for x whose slots lie in the series' interval.</summary>
    /// <param name="x">The input.</param>
    /// <param name="series">The polynomial.</param>
    /// <param name="targetScale">Scale of the result (default: the input's).</param>
    /// <exception cref="InvalidOperationException">The ciphertext has fewer levels left than the polynomial needs.</exception>
    public Ciphertext Evaluate(Ciphertext x, ChebyshevSeries series, double? targetScale = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(series);
        bool affine = !(series.A == -1 && series.B == 1);
        double alpha = 2 / (series.B - series.A), beta = -(series.A + series.B) / (series.B - series.A);
        return EvaluateCore(x, series.Coefficients, chebyshev: true, affine ? alpha : 1, affine ? beta : 0, affine, targetScale ?? x.Scale);
    }

    /// <summary>Σ c_k·x^k slot by slot.</summary>
    /// <param name="x">The input.</param>
    /// <param name="coefficients">c_0 … c_d.</param>
    /// <param name="slotWeights">Optional per-slot factor m applied to the whole result, m·p(x), at no extra depth
    /// (the coefficients become plaintext vectors); for example a 0/1 mask.</param>
    /// <param name="targetScale">Scale of the result (default: the input's).</param>
    /// <exception cref="InvalidOperationException">The ciphertext has fewer levels left than the polynomial needs, or
    /// slot weights were given to an evaluator built without an encoder.</exception>
    public Ciphertext EvaluatePowerBasis(Ciphertext x, IReadOnlyList<double> coefficients, double[]? slotWeights = null, double? targetScale = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(coefficients);
        if (coefficients.Count == 0) throw new ArgumentException("At least one coefficient is needed.", nameof(coefficients));
        if (slotWeights is not null && _encoder is null) throw new InvalidOperationException("Slot weights need an evaluator built with an encoder.");
        return EvaluateCore(x, coefficients, chebyshev: false, 1, 0, affine: false, targetScale ?? x.Scale, slotWeights);
    }

    /// <summary>ct·(c·m) with c·m encoded at <paramref name="constantScale"/> (m the slot weights), or ct·c without weights.</summary>
    private Ciphertext Scale(Ciphertext ct, double c, double constantScale, double[]? weights)
    {
        if (weights is null) return _evaluator.MultiplyScalar(ct, c, constantScale);
        var values = new double[weights.Length];
        for (int i = 0; i < values.Length; i++) values[i] = c * weights[i];
        return _evaluator.MultiplyPlain(ct, _encoder!.Encode(values, constantScale, ct.Level));
    }

    /// <summary>ct + c·m at ct's scale, or ct + c without weights.</summary>
    private void AddConstant(Ciphertext ct, double c, double[]? weights)
    {
        if (c == 0) return;
        if (weights is null) { _evaluator.AddScalar(ct, c, ct); return; }
        var values = new double[weights.Length];
        for (int i = 0; i < values.Length; i++) values[i] = c * weights[i];
        _evaluator.AddPlain(ct, _encoder!.Encode(values, ct.Scale, ct.Level), ct);
    }

    private Ciphertext EvaluateCore(Ciphertext x, IReadOnlyList<double> c, bool chebyshev, double alpha, double beta, bool affine, double target,
        double[]? weights = null)
    {
        var ev = _evaluator;
        var q = ev.Parameters.Ring.Q;
        int d = c.Count - 1;
        while (d > 0 && c[d] == 0) d--;
        int depth = DepthOf(d, affine);
        if (x.Level < depth)
            throw new InvalidOperationException($"A degree-{d} polynomial needs {depth} levels; the ciphertext has {x.Level} left.");
        if (d == 0)
        {
            var zero = ev.MultiplyInteger(x, 0);
            zero.Scale = target;
            AddConstant(zero, c[0], weights);
            return zero;
        }
        if (d == 1)
        {
            // c_0 + c_1·(αx + β) = (c_1·α)·x + (c_1·β + c_0): one scalar product and one rescale.
            var r = Scale(x, c[1] * alpha, target * q[x.Level] / x.Scale, weights);
            AddConstant(r, c[1] * beta + c[0], weights);
            ev.Rescale(r, r);
            r.Scale = target;
            return r;
        }
        var basis = new Ciphertext?[d + 1];
        if (affine)
        {
            var t = ev.MultiplyScalar(x, alpha, (double)q[x.Level]);
            ev.AddScalar(t, beta, t);
            ev.Rescale(t, t);
            basis[1] = t;
        }
        else basis[1] = x;
        var coefficients = c.Take(d + 1).ToArray();
        // A term c_k·T_k whose smaller factor T_b has a level to spare is computed as (2c_k·T_b)·T_a − c_k·T_(a−b)
        // (x^k = x^a·x^b in the power basis) and enters the sum unrescaled: no level is spent on its coefficient.
        var folded = new List<(int k, int a, int b)>();
        for (int k = d; k >= 2; k--)
        {
            if (coefficients[k] == 0) continue;
            int a = 1 << (CeilLog2(k) - 1), b = k - a;
            if (CanFold(k, d))
            {
                folded.Add((k, a, b));
                if (chebyshev) coefficients[a - b] -= coefficients[k];
                coefficients[k] = 0;
            }
        }
        Ciphertext Basis(int k)
        {
            if (basis[k] is { } known) return known;
            int a = 1 << (CeilLog2(k) - 1), b = k - a;
            var product = ev.Multiply(Basis(a), Basis(b));
            ev.Relinearize(product, product);
            if (chebyshev)
            {
                ev.MultiplyInteger(product, 2, product);
                if (a == b) ev.AddScalar(product, -1.0, product);
                else
                {
                    var lower = Basis(a - b);
                    ev.Sub(product, ev.MultiplyScalar(lower, 1.0, product.Scale / lower.Scale), product);
                }
            }
            ev.Rescale(product, product);
            return basis[k] = product;
        }
        // The accumulator sits at the lowest level any term reaches before the final rescale.
        int accLevel = int.MaxValue;
        for (int k = 1; k <= d; k++) if (coefficients[k] != 0) accLevel = Math.Min(accLevel, Basis(k).Level);
        foreach (var (k, a, b) in folded) accLevel = Math.Min(accLevel, Math.Min(Basis(a).Level, Basis(b).Level - 1));
        if (accLevel == int.MaxValue) accLevel = Basis(1).Level;
        double accScale = target * q[accLevel];
        Ciphertext? acc = null;
        foreach (var (k, a, b) in folded)
        {
            var ta = ev.DropToLevel(Basis(a), accLevel);
            var tb = ev.DropToLevel(Basis(b), accLevel + 1);
            double factor = chebyshev ? 2 * c[k] : c[k];
            var scaled = Scale(tb, factor, accScale * q[accLevel + 1] / (tb.Scale * ta.Scale), weights);
            ev.Rescale(scaled, scaled);
            scaled.Scale = accScale / ta.Scale;
            var term = ev.Multiply(ta, scaled);
            ev.Relinearize(term, term);
            if (acc is null) acc = term; else ev.Add(acc, term, acc);
        }
        for (int k = 1; k <= d; k++)
        {
            if (coefficients[k] == 0) continue;
            var term = Scale(ev.DropToLevel(Basis(k), accLevel), coefficients[k], accScale / Basis(k).Scale, weights);
            if (acc is null) acc = term; else ev.Add(acc, term, acc);
        }
        c = coefficients;
        acc ??= ev.MultiplyScalar(ev.DropToLevel(Basis(1), accLevel), 0.0, accScale / Basis(1).Scale);
        AddConstant(acc, c[0], weights);
        ev.Rescale(acc, acc);
        acc.Scale = target; // equal up to rounding of the constants' scales
        return acc;
    }
}
