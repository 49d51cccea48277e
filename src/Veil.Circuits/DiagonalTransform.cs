using System.Numerics;
using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>
/// A slot-wise linear map given by a few generalized diagonals over all slots: y = Σ_o d_o ⊙ Rot_o(x). Convolutions in
/// an im2col layout and rectangular matrices (with <see cref="Fold(ICircuitEvaluator, Ciphertext, int)"/>) are of this form.
/// </summary>
/// <remarks>
/// <para>Evaluated baby-step giant-step: each offset o = t·G + s with 0 ≤ s &lt; G, so that
/// y = Σ_t Rot_(t·G)( Σ_s Rot_(−t·G)(d_o) ⊙ Rot_s(x) ). The baby rotations of x share one decomposition (hoisting);
/// Each group's sum is kept over Q·P and divided by P once (<see cref="RlweEvaluator.MultiplyRotationsSum"/>), so a baby
/// step costs only its inner product (about a fifth of a rotation), a group one division by P (about as much), and a
/// giant step a whole rotation; G minimises that sum.</para>
/// <para>Depth 1: the diagonals are encoded at scale q_ℓ of the input's level, so the one rescale at the end restores
/// the input's scale exactly. Plaintexts are encoded once per level and cached.</para>
/// </remarks>
public sealed class DiagonalTransform
{
    private readonly int _slots, _giantStep;
    private readonly int[] _babySteps;
    private readonly (int Giant, (int Baby, Complex[] Diagonal)[] Terms)[] _groups; // diagonals pre-rotated by −giant
    private readonly bool _complex;
    private readonly Dictionary<(int Level, double Scale), (int Step, LiftedPlaintext Weight)[][]> _encoded = [];
    private readonly Lock _gate = new();

    /// <summary>The rotation steps this transform uses: generate Galois keys for exactly these.</summary>
    public IReadOnlyList<int> RequiredRotations { get; }

    /// <summary>Number of diagonals (plaintext multiplications per application).</summary>
    public int DiagonalCount { get; }

    /// <summary>Hoisted baby-step rotations and plain giant-step rotations per application.</summary>
    public (int Baby, int Giant) RotationCount => (_babySteps.Count(s => s != 0), _groups.Count(g => g.Giant != 0));

    /// <summary>A transform from its nonzero diagonals.</summary>
    /// <param name="diagonals">Offset o (any sign) → d_o, one value per slot.</param>
    /// <param name="slots">The slot count of the parameters.</param>
    /// <param name="giantStep">G; default: the cheapest multiple of the offsets' common divisor.</param>
    /// <exception cref="ArgumentException">No diagonals, a diagonal of the wrong length or with non-finite values, or a bad G.</exception>
    public DiagonalTransform(IReadOnlyDictionary<int, double[]> diagonals, int slots, int? giantStep = null)
        : this(Widen(diagonals ?? throw new ArgumentNullException(nameof(diagonals))), slots, giantStep) { }

    private static Dictionary<int, Complex[]> Widen(IReadOnlyDictionary<int, double[]> diagonals) =>
        diagonals.ToDictionary(kv => kv.Key, kv => kv.Value?.Select(v => new Complex(v, 0)).ToArray()!);

    /// <summary>
    /// A transform from complex diagonals (the homomorphic DFT of bootstrapping): applied only through a CKKS evaluator
    /// with an encoder, since its plaintexts encode complex slots.
    /// </summary>
    /// <exception cref="ArgumentException">No diagonals, a diagonal of the wrong length or with non-finite values, or a bad G.</exception>
    public DiagonalTransform(IReadOnlyDictionary<int, Complex[]> diagonals, int slots, int? giantStep = null)
    {
        ArgumentNullException.ThrowIfNull(diagonals);
        if (slots < 1) throw new ArgumentOutOfRangeException(nameof(slots), "Slots must be positive.");
        var nonzero = diagonals.Where(kv => kv.Value is not null && kv.Value.Any(v => v != Complex.Zero)).ToArray();
        foreach (var (offset, d) in diagonals)
        {
            if (d is null || d.Length != slots) throw new ArgumentException($"Diagonal {offset} must have {slots} values.", nameof(diagonals));
            if (d.Any(v => !double.IsFinite(v.Real) || !double.IsFinite(v.Imaginary))) throw new ArgumentException($"Diagonal {offset} has a non-finite value.", nameof(diagonals));
        }
        _complex = nonzero.Any(kv => kv.Value.Any(v => v.Imaginary != 0));
        if (nonzero.Length == 0) throw new ArgumentException("The transform has no nonzero diagonal.", nameof(diagonals));
        _slots = slots;
        // Offsets reduced to (−slots/2, slots/2] so that shifts the other way round stay small.
        var offsets = nonzero.Select(kv => (Offset: Centered(kv.Key, slots), Diagonal: kv.Value)).ToArray();
        _giantStep = giantStep ?? ChooseGiantStep(offsets.Select(o => o.Offset).ToArray());
        if (_giantStep < 1) throw new ArgumentOutOfRangeException(nameof(giantStep), "The giant step must be positive.");
        _groups = offsets
            .GroupBy(o => FloorDiv(o.Offset, _giantStep))
            .OrderBy(g => g.Key)
            .Select(g =>
            {
                int giant = g.Key * _giantStep;
                return (giant, g.Select(o => (o.Offset - giant, Rotate(o.Diagonal, -giant))).OrderBy(t => t.Item1).ToArray());
            })
            .ToArray();
        _babySteps = _groups.SelectMany(g => g.Terms.Select(t => t.Baby)).Distinct().Order().ToArray();
        DiagonalCount = offsets.Length;
        RequiredRotations = _babySteps.Where(s => s != 0).Concat(_groups.Select(g => g.Giant).Where(s => s != 0)).Distinct().Order().ToArray();
    }

    private static int Centered(int offset, int slots)
    {
        int o = ((offset % slots) + slots) % slots;
        return o > slots / 2 ? o - slots : o;
    }

    private static int FloorDiv(int a, int b) => (int)Math.Floor(a / (double)b);

    private static int ChooseGiantStep(int[] offsets)
    {
        int unit = offsets.Aggregate(0, (g, o) => (int)BigInteger.GreatestCommonDivisor(g, Math.Abs(o)));
        if (unit == 0) unit = 1;
        int span = offsets.Max() - offsets.Min() + 1;
        int best = int.MaxValue;
        double bestCost = double.MaxValue;
        for (int b = 1; b <= span / unit + 1; b++)
        {
            int g = b * unit;
            int babies = offsets.Select(o => o - FloorDiv(o, g) * g).Distinct().Count(s => s != 0);
            int groups = offsets.Select(o => FloorDiv(o, g)).Distinct().Count();
            int giants = offsets.Select(o => FloorDiv(o, g)).Distinct().Count(t => t != 0);
            // In units of one rotation: a doubly hoisted baby step is an inner product (≈ 0.2), each group one
            // division by P of two polynomials (≈ 0.2), each giant step a whole rotation.
            double cost = 0.2 * babies + 0.2 * groups + giants;
            if (cost < bestCost) { bestCost = cost; best = g; }
        }
        return best;
    }

    private static Complex[] Rotate(Complex[] v, int steps)
    {
        int n = v.Length;
        var r = new Complex[n];
        for (int i = 0; i < n; i++) r[i] = v[(((i + steps) % n) + n) % n];
        return r;
    }

    /// <summary>Applies the transform; the result has the input's scale, one level lower.</summary>
    /// <exception cref="InvalidOperationException">x is at level 0, or a rotation key is missing.</exception>
    /// <exception cref="ArgumentException">The parameters have another slot count.</exception>
    public Ciphertext Apply(CkksEvaluator evaluator, CkksEncoder encoder, Ciphertext x)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(encoder);
        return Apply(new CkksCircuitEvaluator(evaluator, encoder), x);
    }

    /// <summary>Applies the transform through a scheme's evaluator; the result has the input's scale, one level lower.</summary>
    /// <exception cref="InvalidOperationException">x is at level 0, or a rotation key is missing.</exception>
    /// <exception cref="ArgumentException">The parameters have another slot count.</exception>
    public Ciphertext Apply(ICircuitEvaluator evaluator, Ciphertext x) => Apply(evaluator, x, null);

    /// <summary>
    /// Applies the transform and lands the result on <paramref name="targetScale"/> (one level lower): the diagonals are
    /// encoded at q_ℓ·target/x.Scale, so a change of scale costs no extra level (keep that factor near q_ℓ for precision).
    /// </summary>
    /// <exception cref="InvalidOperationException">x is at level 0, a rotation key is missing, or complex diagonals
    /// meet an evaluator that cannot encode complex slots.</exception>
    /// <exception cref="ArgumentException">The parameters have another slot count, a target scale is given to a non-CKKS
    /// evaluator, or the encoding scale it implies is below 1.</exception>
    public Ciphertext Apply(ICircuitEvaluator evaluator, Ciphertext x, double? targetScale)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(x);
        if (evaluator.Slots != _slots) throw new ArgumentException($"The transform was built for {_slots} slots; the parameters have {evaluator.Slots}.", nameof(evaluator));
        if (x.Level == 0) throw new InvalidOperationException("A diagonal transform needs one level; the ciphertext has none left.");
        if (targetScale is not null && evaluator is not CkksCircuitEvaluator) throw new ArgumentException("A target scale is a CKKS notion; other schemes apply the transform without one.", nameof(targetScale));
        double target = targetScale ?? x.Scale;
        // Without a target the plaintexts are encoded at exactly q_ℓ (one cache entry per level); with one, at the ratio.
        double encodeScale = targetScale is null ? evaluator.RescaleFactor(x.Level) : evaluator.RescaleFactor(x.Level) * target / x.Scale;
        return ApplyEncoded(evaluator, x, encodeScale, target);
    }

    /// <summary>
    /// Applies the transform and multiplies the scale by <paramref name="scaleFactor"/> (one level lower): the diagonals
    /// are encoded at q_ℓ·factor whatever x's scale, so inputs of any scale share one set of plaintexts per level.
    /// </summary>
    /// <exception cref="InvalidOperationException">As <see cref="Apply(ICircuitEvaluator, Ciphertext, double?)"/>.</exception>
    /// <exception cref="ArgumentException">As <see cref="Apply(ICircuitEvaluator, Ciphertext, double?)"/>, or the factor is not positive.</exception>
    public Ciphertext ApplyScaling(ICircuitEvaluator evaluator, Ciphertext x, double scaleFactor)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(x);
        if (!(scaleFactor > 0) || double.IsInfinity(scaleFactor)) throw new ArgumentException($"The scale factor must be positive; got {scaleFactor}.", nameof(scaleFactor));
        if (evaluator.Slots != _slots) throw new ArgumentException($"The transform was built for {_slots} slots; the parameters have {evaluator.Slots}.", nameof(evaluator));
        if (x.Level == 0) throw new InvalidOperationException("A diagonal transform needs one level; the ciphertext has none left.");
        if (evaluator is not CkksCircuitEvaluator) throw new ArgumentException("A scale factor is a CKKS notion; other schemes apply the transform without one.", nameof(evaluator));
        return ApplyEncoded(evaluator, x, evaluator.RescaleFactor(x.Level) * scaleFactor, x.Scale * scaleFactor);
    }

    private Ciphertext ApplyEncoded(ICircuitEvaluator evaluator, Ciphertext x, double encodeScale, double target)
    {
        var groups = Encoded(evaluator, x.Level, encodeScale);
        var inner = new Ciphertext[_groups.Length];
        for (int g = 0; g < inner.Length; g++) inner[g] = evaluator.NewCiphertext(x.Level, x.Scale);
        // One decomposition of x for all baby steps, one division by P per giant group (double hoisting).
        evaluator.MultiplyRotationsSum(x, groups, inner);
        Ciphertext? result = null;
        for (int g = 0; g < _groups.Length; g++)
        {
            int giant = _groups[g].Giant;
            if (giant != 0) evaluator.Rotate(inner[g], giant, inner[g]);
            if (result is null) result = inner[g]; else evaluator.Add(result, inner[g], result);
        }
        evaluator.Rescale(result!, result!);
        result!.Scale = target; // q_ℓ·target/x.Scale·x.Scale/q_ℓ, up to rounding
        return result;
    }

    /// <summary>Plaintext sets held (one per level and encoding scale), for tests of the cache's growth.</summary>
    internal int CachedPlaintextSets { get { lock (_gate) return _encoded.Count; } }

    private (int Step, LiftedPlaintext Weight)[][] Encoded(ICircuitEvaluator evaluator, int level, double scale)
    {
        lock (_gate)
        {
            if (_encoded.TryGetValue((level, scale), out var cached)) return cached;
            CkksEncoder? encoder = null;
            if (_complex)
                encoder = (evaluator as CkksCircuitEvaluator)?.Encoder
                    ?? throw new InvalidOperationException("Complex diagonals need a CKKS evaluator with an encoder.");
            var result = _groups.Select(g => g.Terms.Select(t => (t.Baby, new LiftedPlaintext(encoder is not null
                ? encoder.Encode(t.Diagonal, scale, level)
                : evaluator.Encode(t.Diagonal.Select(v => v.Real).ToArray(), scale, level)))).ToArray()).ToArray();
            _encoded[(level, scale)] = result;
            return result;
        }
    }

    /// <summary>
    /// The rectangular product y = M·x for an r × c matrix, x in slots [0, c) (whatever the other slots hold is
    /// ignored), y in slots [0, r) after <see cref="Fold(ICircuitEvaluator, Ciphertext, int)"/>. With R = next power of two of r, entry (row, col) sits on
    /// diagonal t = (col − row) mod R at slot i = col − t ≡ row (mod R), i ≥ −R (negative i wrap round); folding every
    /// block of R slots onto the first then sums each row. R diagonals; slots at or above R hold partial sums.
    /// </summary>
    /// <returns>The transform and the block width R to pass to <see cref="Fold(ICircuitEvaluator, Ciphertext, int)"/>.</returns>
    /// <exception cref="ArgumentException">Empty or ragged matrix, or c + R above the slot count.</exception>
    public static (DiagonalTransform Transform, int BlockWidth) Rectangular(double[][] matrix, int slots, int? giantStep = null)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.Length == 0 || matrix[0] is null || matrix[0].Length == 0) throw new ArgumentException("The matrix is empty.", nameof(matrix));
        int rows = matrix.Length, cols = matrix[0].Length;
        if (matrix.Any(r => r is null || r.Length != cols)) throw new ArgumentException("All rows must have the same length.", nameof(matrix));
        int width = (int)BitOperations.RoundUpToPowerOf2((uint)rows);
        if (cols + width > slots || slots % width != 0) throw new ArgumentException($"A {rows} × {cols} matrix needs {cols + width} slots; the parameters have {slots}.", nameof(matrix));
        var diagonals = new Dictionary<int, double[]>();
        for (int row = 0; row < rows; row++)
            for (int col = 0; col < cols; col++)
            {
                if (matrix[row][col] == 0) continue;
                if (!double.IsFinite(matrix[row][col])) throw new ArgumentException("Entries must be finite.", nameof(matrix));
                int t = ((col - row) % width + width) % width, i = col - t;
                if (!diagonals.TryGetValue(t, out var d)) diagonals[t] = d = new double[slots];
                d[(i + slots) % slots] = matrix[row][col];
            }
        if (diagonals.Count == 0) diagonals[0] = new double[slots];
        return (new DiagonalTransform(diagonals, slots, giantStep), width);
    }

    /// <summary>In place: slot i receives the sum of the slots ≡ i (mod width) — log2(slots/width) rotations.</summary>
    public static Ciphertext Fold(CkksEvaluator evaluator, Ciphertext x, int width) =>
        Fold(new CkksCircuitEvaluator(evaluator ?? throw new ArgumentNullException(nameof(evaluator))), x, width);

    /// <summary><see cref="Fold(CkksEvaluator, Ciphertext, int)"/> through any scheme's evaluator.</summary>
    public static Ciphertext Fold(ICircuitEvaluator evaluator, Ciphertext x, int width)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(x);
        int slots = evaluator.Slots;
        if (width < 1 || slots % width != 0 || !BitOperations.IsPow2(slots / width)) throw new ArgumentException("slots / width must be a power of two.", nameof(width));
        for (int k = slots / 2; k >= width; k /= 2) evaluator.Add(x, evaluator.Rotate(x, k), x);
        return x;
    }

    /// <summary>Rotation steps <see cref="Fold(ICircuitEvaluator, Ciphertext, int)"/> uses.</summary>
    public static IReadOnlyList<int> FoldRotations(int width, int slots)
    {
        var steps = new List<int>();
        for (int k = slots / 2; k >= width; k /= 2) steps.Add(k);
        return steps;
    }
}
