using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>
/// Evaluates polynomials on ciphertexts, slot by slot, in the Chebyshev or the power basis, through any scheme's
/// <see cref="ICircuitEvaluator"/>.
/// </summary>
/// <remarks>
/// <para>Recursive split (the baby-step giant-step idea in Chebyshev form, as in Lee et al. 2020 and Bossuat et al. 2021):
/// p = q·T_a + r with a the largest power of two ≤ d, using T_(a+b) = 2·T_a·T_b − T_(a−b) (x^(a+b) = x^a·x^b in the
/// power basis). The giant steps T_2, T_4, … come from squaring; q and r recurse. Each node's scale is planned from the
/// top, so every product lands exactly on its target and a single rescale per node suffices; the remainder is lifted
/// into the product's pre-rescale domain by a multiplication by the integer q_ℓ, which costs no level.</para>
/// <para>Cost (<see cref="DepthOf"/>, <see cref="MultiplicationsOf"/>): depth ⌈log2(d + 1)⌉, the minimum, plus 1 when
/// the interval is not [−1, 1]; ciphertext multiplications: degree 2: 1, 3: 2, 4: 3, 5: 4, 7: 5, 8: 6, 15: 10, 16: 11,
/// 31: 19 (about d/2 + log2 d).</para>
/// </remarks>
public sealed class PolynomialEvaluator
{
    private readonly ICircuitEvaluator _evaluator;
    private readonly bool _canEncode;

    /// <summary>An evaluator over a scheme's circuit evaluator (which must hold a relinearization key for degree ≥ 2).</summary>
    /// <param name="evaluator">The scheme's evaluator.</param>
    /// <param name="canEncode">Whether it can encode plaintext vectors (needed only for slot-wise coefficient weights).</param>
    public PolynomialEvaluator(ICircuitEvaluator evaluator, bool canEncode = true)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        _evaluator = evaluator;
        _canEncode = canEncode && (evaluator is not CkksCircuitEvaluator c || c.CanEncode);
    }

    /// <summary>An evaluator using the given CKKS evaluator (which must hold a relinearization key for degree ≥ 2).</summary>
    /// <param name="evaluator">The evaluator.</param>
    /// <param name="encoder">Needed only for slot-wise coefficient weights.</param>
    public PolynomialEvaluator(CkksEvaluator evaluator, CkksEncoder? encoder = null)
        : this(new CkksCircuitEvaluator(evaluator, encoder), encoder is not null) { }

    /// <summary>Levels consumed by a polynomial of the given degree: ⌈log2(d + 1)⌉, plus 1 for an affine map.</summary>
    public static int DepthOf(int degree, bool needsAffineMap)
    {
        if (degree <= 0) return 0;
        return (needsAffineMap ? 1 : 0) + NodeDepth(degree);
    }

    /// <summary>Ciphertext multiplications (relinearized) for a polynomial of the given degree with all coefficients non-zero.</summary>
    public static int MultiplicationsOf(int degree)
    {
        if (degree <= 1) return 0;
        int squarings = 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)degree); // T_2, T_4, …, T_a
        return squarings + Nodes(degree);
        static int Nodes(int d)
        {
            if (d <= 1) return 0;
            int a = 1 << (31 - System.Numerics.BitOperations.LeadingZeroCount((uint)d));
            return (d - a >= 1 ? 1 + Nodes(d - a) : 0) + Nodes(a - 1);
        }
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
        if (slotWeights is not null && !_canEncode) throw new InvalidOperationException("Slot weights need an evaluator built with an encoder.");
        return EvaluateCore(x, coefficients, chebyshev: false, 1, 0, affine: false, targetScale ?? x.Scale, slotWeights);
    }

    /// <summary>ct·(c·m) with c·m encoded at <paramref name="constantScale"/> (m the slot weights), or ct·c without weights.</summary>
    private Ciphertext Scale(Ciphertext ct, double c, double constantScale, double[]? weights)
    {
        if (weights is null) return _evaluator.MultiplyScalar(ct, c, constantScale);
        var values = new double[weights.Length];
        for (int i = 0; i < values.Length; i++) values[i] = c * weights[i];
        return _evaluator.MultiplyPlain(ct, _evaluator.Encode(values, constantScale, ct.Level));
    }

    /// <summary>ct + c·m at ct's scale, or ct + c without weights.</summary>
    private void AddConstant(Ciphertext ct, double c, double[]? weights)
    {
        if (c == 0) return;
        if (weights is null) { _evaluator.AddScalar(ct, c, ct); return; }
        var values = new double[weights.Length];
        for (int i = 0; i < values.Length; i++) values[i] = c * weights[i];
        _evaluator.AddPlain(ct, _evaluator.Encode(values, ct.Scale, ct.Level), ct);
    }

    private Ciphertext EvaluateCore(Ciphertext x, IReadOnlyList<double> c, bool chebyshev, double alpha, double beta, bool affine, double target,
        double[]? weights = null)
    {
        var ev = _evaluator;
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
            var r = Scale(x, c[1] * alpha, target * ev.RescaleFactor(x.Level) / x.Scale, weights);
            AddConstant(r, c[1] * beta + c[0], weights);
            ev.Rescale(r, r);
            r.Scale = target;
            return r;
        }
        var t1 = x;
        if (affine)
        {
            t1 = ev.MultiplyScalar(x, alpha, ev.RescaleFactor(x.Level));
            ev.AddScalar(t1, beta, t1);
            ev.Rescale(t1, t1);
        }
        var powers = new Dictionary<int, Ciphertext> { [1] = t1 };
        var result = Recurse(c.Take(d + 1).ToArray(), target, t1, powers, chebyshev, weights);
        return result.Ciphertext ?? throw new InvalidOperationException("A polynomial of degree ≥ 1 yields a ciphertext.");
    }

    /// <summary>ct at <paramref name="level"/> for reading only: ct itself when it is there already (no copy).</summary>
    private Ciphertext AtLevel(Ciphertext ct, int level) => ct.Level == level ? ct : _evaluator.DropToLevel(ct, level);

    /// <summary>A node's value: a ciphertext at exactly the requested scale, or a plain constant.</summary>
    private readonly record struct Node(Ciphertext? Ciphertext, double Constant);

    /// <summary>Levels below T_1 at which a polynomial of degree d ends: 0 for a constant, ⌈log2(d + 1)⌉ otherwise.</summary>
    private static int NodeDepth(int degree) => degree <= 0 ? 0 : CeilLog2(degree + 1);

    /// <summary>T_(2^j) (or x^(2^j)) by repeated squaring, cached.</summary>
    private Ciphertext Power(int a, Dictionary<int, Ciphertext> powers, bool chebyshev)
    {
        if (powers.TryGetValue(a, out var known)) return known;
        var half = Power(a / 2, powers, chebyshev);
        var ev = _evaluator;
        var square = ev.Square(half);
        ev.Relinearize(square, square);
        if (chebyshev)
        {
            ev.MultiplyInteger(square, 2, square); // T_2a = 2·T_a² − 1
            ev.AddScalar(square, -1.0, square);
        }
        ev.Rescale(square, square);
        return powers[a] = square;
    }

    /// <summary>
    /// m·p(T) at exactly <paramref name="scale"/>, by p = q·T_a + r with a the largest power of two ≤ deg p
    /// (Chebyshev: T_(a+b) = 2·T_a·T_b − T_(a−b), so q_0 = c_a, q_b = 2·c_(a+b), and r takes −c_k at T_(2a−k)).
    /// q is evaluated at the scale that makes q·T_a land on scale·q_ℓ, r is lifted there by a multiplication by the
    /// integer q_ℓ, and one rescale finishes: depth ⌈log2(d + 1)⌉ below T_1.
    /// </summary>
    private Node Recurse(double[] c, double scale, Ciphertext t1, Dictionary<int, Ciphertext> powers, bool chebyshev, double[]? weights)
    {
        var ev = _evaluator;
        int d = c.Length - 1;
        while (d > 0 && c[d] == 0) d--;
        if (d == 0)
        {
            if (weights is null) return new Node(null, c[0]);
            // A weighted constant still needs a ciphertext: 0·T_1 + c·m.
            var zero = ev.MultiplyScalar(t1, 0.0, scale * ev.RescaleFactor(t1.Level) / t1.Scale);
            AddConstant(zero, c[0], weights);
            ev.Rescale(zero, zero);
            zero.Scale = scale;
            return new Node(zero, 0);
        }
        if (d == 1)
        {
            var r1 = Scale(t1, c[1], scale * ev.RescaleFactor(t1.Level) / t1.Scale, weights);
            AddConstant(r1, c[0], weights);
            ev.Rescale(r1, r1);
            r1.Scale = scale;
            return new Node(r1, 0);
        }
        int a = 1 << (31 - System.Numerics.BitOperations.LeadingZeroCount((uint)d));
        var quotient = new double[d - a + 1];
        var remainder = new double[a];
        Array.Copy(c, remainder, a);
        quotient[0] = c[a];
        for (int k = a + 1; k <= d; k++)
        {
            quotient[k - a] = chebyshev ? 2 * c[k] : c[k];
            if (chebyshev) remainder[2 * a - k] -= c[k];
        }
        var ta = Power(a, powers, chebyshev);
        int qDegree = d - a;
        int level = Math.Min(ta.Level, qDegree == 0 && weights is null ? int.MaxValue : t1.Level - NodeDepth(Math.Max(qDegree, 1)));
        double productScale = scale * ev.RescaleFactor(level);
        Ciphertext product;
        var taAtLevel = AtLevel(ta, level);
        if (qDegree == 0 && weights is null)
        {
            product = ev.MultiplyScalar(taAtLevel, quotient[0], productScale / ta.Scale);
        }
        else
        {
            var qNode = Recurse(quotient, productScale / ta.Scale, t1, powers, chebyshev, weights);
            product = ev.Multiply(AtLevel(qNode.Ciphertext!, level), taAtLevel);
            ev.Relinearize(product, product);
        }
        var rNode = Recurse(remainder, scale, t1, powers, chebyshev, weights);
        if (rNode.Ciphertext is { } r)
        {
            // r sits at scale `scale`, at a level ≥ ℓ: multiplying by the integer q_ℓ puts it at the product's scale
            // exactly. r is this node's own temporary, so it is lifted in place when it is already at ℓ.
            Ciphertext lifted;
            if (r.Level == level && ev.RescaleFactor(level) is var q && q < long.MaxValue && q == Math.Floor(q))
            {
                lifted = r;
                ev.MultiplyInteger(lifted, (long)q, lifted);
            }
            else lifted = ev.MultiplyScalar(ev.DropToLevel(r, level), 1.0, ev.RescaleFactor(level));
            lifted.Scale = productScale;
            ev.Add(product, lifted, product);
        }
        else if (rNode.Constant != 0) ev.AddScalar(product, rNode.Constant, product);
        ev.Rescale(product, product);
        product.Scale = scale;
        return new Node(product, 0);
    }
}
