using System.Numerics;
using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Ckks;

/// <summary>
/// Homomorphic operations on CKKS ciphertexts (kept in NTT form): the RLWE operations of <see cref="RlweEvaluator"/>
/// under CKKS's rule that added operands share a scale, plus what is CKKS's own — rescaling, constants encoded in the
/// canonical embedding, and placing a ciphertext at a given level and scale. Every operation has a destination-taking
/// form (the destination may be an operand) and an allocating form.
/// </summary>
/// <remarks>
/// Operands at different levels are brought to the lower one (dropping primes costs nothing in RNS). Scales of
/// added operands must agree within <see cref="ScaleTolerance"/> (relative), else the operation is refused.
/// </remarks>
public sealed class CkksEvaluator : RlweEvaluator
{
    private readonly CkksParameters _parameters;
    private readonly RnsRing _rns;

    /// <summary>Relative tolerance when comparing scales of operands that are added.</summary>
    public double ScaleTolerance { get; init; } = 1e-9;

    /// <summary>Creates an evaluator; keys are needed only by the operations that use them.</summary>
    /// <exception cref="ArgumentException">A key belongs to other parameters.</exception>
    public CkksEvaluator(CkksParameters parameters, RelinearizationKey? relinearizationKey = null, GaloisKeys? galoisKeys = null)
        : base((parameters ?? throw new ArgumentNullException(nameof(parameters))).Ring, relinearizationKey, galoisKeys)
    {
        _parameters = parameters;
        _rns = parameters.Ring.Ring;
    }

    /// <summary>The parameters.</summary>
    public CkksParameters Parameters => _parameters;

    /// <inheritdoc/>
    protected override void CheckCompatible(double a, double b, string nameA, string nameB)
    {
        if (Math.Abs(a - b) > ScaleTolerance * Math.Max(Math.Abs(a), Math.Abs(b)))
            ThrowHelper.Argument(nameB,
                $"Scales do not match: {nameA} has 2^{Math.Log2(a):F6} ({a:R}), {nameB} has 2^{Math.Log2(b):F6} ({b:R}). " +
                "Rescale, or encode the plaintext at the ciphertext's scale.");
    }

    // ---------------------------------------------------------------- constants

    /// <summary>destination = ct + c in every slot (c at the ciphertext's scale).</summary>
    public void AddScalar(Ciphertext ct, Complex value, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        CheckFinite(value, nameof(value));
        int level = ct.Level, limbs = level + 1;
        if (value.Imaginary == 0)
        {
            // The NTT of a real constant is that constant in every slot of every limb.
            Span<ulong> scalars = stackalloc ulong[limbs];
            double rounded = Math.Round(value.Real * ct.Scale);
            for (int j = 0; j < limbs; j++) scalars[j] = CkksEncoder.ReduceRounded(rounded, _rns.Moduli[j]);
            AddResidues(ct, scalars, destination);
        }
        else AddPlain(ct, ConstantNtt(value, ct.Scale, level), destination);
    }

    /// <summary>ct + c, new ciphertext.</summary>
    public Ciphertext AddScalar(Ciphertext ct, Complex value) { var d = NewLike(ct, null, ct?.Size); AddScalar(ct!, value, d); return d; }

    /// <summary>destination = ct − c in every slot.</summary>
    public void SubScalar(Ciphertext ct, Complex value, Ciphertext destination) => AddScalar(ct, -value, destination);

    /// <summary>
    /// destination = ct · c for a real or complex constant c, encoded at scale q_level (the prime the next rescale
    /// divides by), so that <see cref="Rescale(Ciphertext, Ciphertext)"/> restores the original scale exactly. At level 0 the default scale is used.
    /// </summary>
    public void MultiplyScalar(Ciphertext ct, Complex value, Ciphertext destination)
    {
        ArgumentNullException.ThrowIfNull(ct);
        MultiplyScalar(ct, value, ct.Level > 0 ? Ring.Q[ct.Level] : _parameters.DefaultScale, destination);
    }

    /// <summary>
    /// destination = ct · c with c encoded at <paramref name="constantScale"/>: the result's scale is
    /// ct.Scale · constantScale. Choosing constantScale = target / ct.Scale puts ct at any target scale (for example
    /// that of a product before rescaling) without using a level.
    /// </summary>
    /// <exception cref="ArgumentException">The constant or its scale is not finite, or the scale is below 1.</exception>
    public void MultiplyScalar(Ciphertext ct, Complex value, double constantScale, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        CheckFinite(value, nameof(value));
        if (!(constantScale >= 1) || double.IsInfinity(constantScale)) ThrowHelper.Argument(nameof(constantScale), $"The constant's scale must be finite and at least 1; got {constantScale}.");
        int limbs = ct.Level + 1;
        if (value.Imaginary == 0)
        {
            Span<ulong> scalars = stackalloc ulong[limbs];
            double rounded = Math.Round(value.Real * constantScale);
            for (int j = 0; j < limbs; j++) scalars[j] = CkksEncoder.ReduceRounded(rounded, _rns.Moduli[j]);
            MultiplyByResidues(ct, scalars, constantScale, destination);
        }
        else MultiplyPlain(ct, ConstantNtt(value, constantScale, ct.Level), destination);
    }

    /// <summary>ct · c, new ciphertext.</summary>
    public Ciphertext MultiplyScalar(Ciphertext ct, Complex value) { var d = NewLike(ct, null, ct?.Size); MultiplyScalar(ct!, value, d); return d; }

    /// <summary>
    /// accumulator += ct · c for a real constant c encoded at <paramref name="constantScale"/>: one fused pass, no
    /// temporary — the kernel of dense layers on slot-packed batches. The accumulator must have ct's level and size
    /// and the scale ct.Scale · constantScale.
    /// </summary>
    /// <exception cref="ArgumentException">Levels, sizes or scales differ, or the constant or its scale is not finite.</exception>
    public void MultiplyScalarAdd(Ciphertext ct, double value, double constantScale, Ciphertext accumulator)
    {
        Check(ct, nameof(ct)); Check(accumulator, nameof(accumulator));
        if (!double.IsFinite(value)) ThrowHelper.Argument(nameof(value), "The constant must be finite.");
        if (!(constantScale >= 1) || double.IsInfinity(constantScale)) ThrowHelper.Argument(nameof(constantScale), $"The constant's scale must be finite and at least 1; got {constantScale}.");
        if (accumulator.Level != ct.Level || accumulator.Size != ct.Size)
            ThrowHelper.Argument(nameof(accumulator), $"The accumulator (level {accumulator.Level}, size {accumulator.Size}) must match ct (level {ct.Level}, size {ct.Size}).");
        CheckCompatible(ct.Scale * constantScale, accumulator.Scale, "ct·c", nameof(accumulator));
        int limbs = ct.Level + 1;
        Span<ulong> scalars = stackalloc ulong[limbs];
        double rounded = Math.Round(value * constantScale);
        for (int j = 0; j < limbs; j++) scalars[j] = CkksEncoder.ReduceRounded(rounded, _rns.Moduli[j]);
        MultiplyByResiduesAdd(ct, scalars, accumulator);
    }

    /// <summary>
    /// c·ct placed exactly at <paramref name="level"/> and <paramref name="scale"/>: one scalar multiplication at the
    /// constant scale that makes the next rescale land on the target, then that rescale. Used to add a shallower
    /// ciphertext to a deeper one without spending a level on the deeper side.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">ct is not above the target level.</exception>
    public Ciphertext MultiplyScalarTo(Ciphertext ct, Complex value, int level, double scale)
    {
        Check(ct, nameof(ct));
        if (level < 0 || level >= ct.Level) ThrowHelper.OutOfRange(nameof(level), $"The target level must be below the ciphertext's ({ct.Level}); got {level}.");
        var t = MultiplyScalar(DropToLevel(ct, level + 1), value, scale * Ring.Q[level + 1] / ct.Scale);
        Rescale(t, t);
        t.Scale = scale; // equal up to the rounding of the constant's scale
        return t;
    }

    /// <summary>ct · c with c encoded at <paramref name="constantScale"/>, new ciphertext.</summary>
    public Ciphertext MultiplyScalar(Ciphertext ct, Complex value, double constantScale) { var d = NewLike(ct, null, ct?.Size); MultiplyScalar(ct!, value, constantScale, d); return d; }

    // ---------------------------------------------------------------- bootstrapping primitive

    /// <summary>
    /// ModRaise, the first step of bootstrapping: a ciphertext at level 0 read as integers in (−q_0/2, q_0/2] and
    /// placed at <paramref name="level"/> (default: the top). It decrypts to m + q_0·I for the integer polynomial
    /// I = (⟨c, s⟩ − [⟨c, s⟩]_(q_0)) / q_0, whose coefficients are at most (h + 1)/2 for a secret of Hamming weight h;
    /// removing q_0·I is EvalMod's work. The scale is kept.
    /// </summary>
    /// <exception cref="ArgumentException">The ciphertext is not at level 0, or has more than two polynomials.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The level is outside [1, L].</exception>
    public Ciphertext ModRaise(Ciphertext ct, int? level = null)
    {
        Check(ct, nameof(ct));
        if (ct.Level != 0) ThrowHelper.Argument(nameof(ct), $"ModRaise starts from level 0; the ciphertext is at level {ct.Level} (drop it first).");
        if (ct.Size != 2) ThrowHelper.Argument(nameof(ct), "Relinearize before ModRaise: the ciphertext has more than two polynomials.");
        int top = level ?? Ring.MaxLevel;
        if (top < 1 || top > Ring.MaxLevel) ThrowHelper.OutOfRange(nameof(level), $"The raised level must be in [1, {Ring.MaxLevel}]; got {top}.");
        int n = Ring.N;
        var q0 = _rns.Moduli[0];
        ulong half = q0.Value >> 1;
        var result = new Ciphertext(Ring, top, 2, ct.Scale);
        if (!ct.KeyId.IsNone) result.Bind(ct.KeyId);
        var coefficients = System.Buffers.ArrayPool<ulong>.Shared.Rent(n);
        try
        {
            for (int i = 0; i < 2; i++)
            {
                var source = ct.Poly(i)[..n];
                var c = coefficients.AsSpan(0, n);
                source.CopyTo(c);
                if (ct.IsNttForm) _rns.Ntt[0].Inverse(c);
                var destination = result.Poly(i);
                for (int j = 1; j <= top; j++)
                {
                    var m = _rns.Moduli[j];
                    ulong q0Mod = m.Reduce(q0.Value);
                    var limb = destination.Slice(j * n, n);
                    // The centered lift: x > q_0/2 stands for x − q_0.
                    for (int k = 0; k < n; k++) limb[k] = c[k] > half ? m.Sub(m.Reduce(c[k]), q0Mod) : m.Reduce(c[k]);
                }
                _rns.Forward(destination[n..], 1, top);
                // The q_0 limb is the input's own: copied in NTT form, not transformed back and forth.
                if (ct.IsNttForm) source.CopyTo(destination[..n]);
                else { c.CopyTo(destination[..n]); _rns.Ntt[0].Forward(destination[..n]); }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<ulong>.Shared.Return(coefficients);
        }
        return result;
    }

    // ---------------------------------------------------------------- rescaling and placement

    /// <summary>
    /// destination = ct / q_level, rounded: one level down, scale divided by q_level.
    /// </summary>
    /// <exception cref="InvalidOperationException">The ciphertext is at level 0.</exception>
    /// <remarks>c'_j = (c_j − [c]_(q_ℓ) + ⌊q_ℓ/2⌋-offset) · q_ℓ^-1 mod q_j: adding ⌊q_ℓ/2⌋ before and removing it after rounds instead of flooring.</remarks>
    public void Rescale(Ciphertext ct, Ciphertext destination) => DivideByLastPrime(ct, destination);

    /// <summary>ct rescaled, new ciphertext.</summary>
    public Ciphertext Rescale(Ciphertext ct) { var d = NewLike(ct, ct?.Level - 1, ct?.Size); Rescale(ct!, d); return d; }

    /// <summary>
    /// ct placed at exactly <paramref name="level"/> and <paramref name="scale"/>: a copy when it is there already, else
    /// one scalar multiplication and rescale (<see cref="MultiplyScalarTo(Ciphertext, Complex, int, double)"/>) — the one call through which higher layers
    /// align operands, so that none of them touches the modulus chain or the scale itself.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">ct is below the target level.</exception>
    /// <exception cref="ArgumentException">ct is at the target level but at another scale.</exception>
    public Ciphertext BringTo(Ciphertext ct, int level, double scale)
    {
        Check(ct, nameof(ct));
        if (level > ct.Level) ThrowHelper.OutOfRange(nameof(level), $"A ciphertext at level {ct.Level} cannot be brought up to level {level}.");
        if (level == ct.Level)
        {
            CheckCompatible(ct.Scale, scale, nameof(ct), nameof(scale));
            return ct.Clone();
        }
        return MultiplyScalarTo(ct, 1.0, level, scale);
    }

    /// <summary>ct ⊙ v for plaintext slot values v, encoded at q_ℓ so that the rescale restores ct's scale exactly: one level.</summary>
    /// <exception cref="ArgumentException">Too many values, or one is not finite.</exception>
    /// <exception cref="InvalidOperationException">ct is at level 0.</exception>
    public Ciphertext MultiplyValues(Ciphertext ct, ReadOnlySpan<double> values, CkksEncoder encoder)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(encoder);
        if (ct.Level == 0) ThrowHelper.InvalidOperation("Multiplying by values uses a level; the ciphertext has none left.");
        var product = MultiplyPlain(ct, encoder.Encode(values, Ring.Q[ct.Level], ct.Level));
        Rescale(product, product);
        product.Scale = ct.Scale; // q_ℓ / q_ℓ: equal up to the rounding of the quotient
        return product;
    }

    /// <summary>ct ⊙ v placed at exactly <paramref name="level"/> and <paramref name="scale"/> (one rescale, on ct's side).</summary>
    /// <exception cref="ArgumentOutOfRangeException">ct is not above the target level.</exception>
    public Ciphertext MultiplyValuesTo(Ciphertext ct, ReadOnlySpan<double> values, int level, double scale, CkksEncoder encoder)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(encoder);
        if (level < 0 || level >= ct.Level) ThrowHelper.OutOfRange(nameof(level), $"The target level must be below the ciphertext's ({ct.Level}); got {level}.");
        var dropped = DropToLevel(ct, level + 1);
        var product = MultiplyPlain(dropped, encoder.Encode(values, scale * Ring.Q[level + 1] / ct.Scale, level + 1));
        Rescale(product, product);
        product.Scale = scale;
        return product;
    }

    /// <summary>destination = ct + v for plaintext slot values v, encoded at ct's scale and level (no level used).</summary>
    public void AddValues(Ciphertext ct, ReadOnlySpan<double> values, CkksEncoder encoder, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(encoder);
        AddPlain(ct, encoder.Encode(values, ct.Scale, ct.Level), destination);
    }

    /// <summary>ct · c at ct's scale, one level down (c encoded at q_ℓ).</summary>
    /// <exception cref="InvalidOperationException">ct is at level 0.</exception>
    public Ciphertext MultiplyScalarRescale(Ciphertext ct, double value)
    {
        Check(ct, nameof(ct));
        if (ct.Level == 0) ThrowHelper.InvalidOperation("Multiplying by a constant at q_ℓ uses a level; the ciphertext has none left.");
        var t = MultiplyScalar(ct, value, (double)Ring.Q[ct.Level]);
        Rescale(t, t);
        t.Scale = ct.Scale;
        return t;
    }

    /// <summary>
    /// An accumulator for Σ w_i·t_i over terms at <paramref name="level"/> and scale <paramref name="termScale"/>: every
    /// weight is encoded at q_level (<see cref="AddWeighted"/>), so that <see cref="FinishWeightedSum"/>'s rescale
    /// restores the terms' scale exactly.
    /// </summary>
    public Ciphertext WeightedSumAccumulator(int level, double termScale) => Zero(level, termScale * Ring.Q[level]);

    /// <summary>Empties an accumulator for another sum over terms at <paramref name="level"/> and <paramref name="termScale"/> (no allocation).</summary>
    public void ResetWeightedSum(Ciphertext accumulator, int level, double termScale)
    {
        ArgumentNullException.ThrowIfNull(accumulator);
        accumulator.Resize(level, 2);
        accumulator.Data.AsSpan(0, 2 * accumulator.PolyLength).Clear();
        accumulator.Scale = termScale * Ring.Q[level];
    }

    /// <summary>accumulator += w · term (one fused pass; the term must be at the accumulator's level).</summary>
    public void AddWeighted(Ciphertext term, double weight, Ciphertext accumulator)
    {
        Check(term, nameof(term));
        if (weight != 0) MultiplyScalarAdd(term, weight, Ring.Q[term.Level], accumulator);
    }

    /// <summary>accumulator + b, rescaled: the weighted sum at its terms' scale, one level down (a new ciphertext; the accumulator is left as it was plus b).</summary>
    public Ciphertext FinishWeightedSum(Ciphertext accumulator, double bias)
    {
        AddScalar(accumulator, bias, accumulator);
        return Rescale(accumulator);
    }

    /// <summary>
    /// Σ_i w_i·t_i + b at the terms' scale, one level down: fused into one accumulator when the terms share level and size
    /// (no ciphertext per term), else term by term, each brought to the lowest level.
    /// </summary>
    /// <exception cref="ArgumentException">No terms, or counts differ.</exception>
    public Ciphertext LinearCombination(IReadOnlyList<Ciphertext> terms, IReadOnlyList<double> weights, double bias)
    {
        ArgumentNullException.ThrowIfNull(terms); ArgumentNullException.ThrowIfNull(weights);
        if (terms.Count == 0 || terms.Count != weights.Count) ThrowHelper.Argument(nameof(weights), $"One weight per term: {terms.Count} terms, {weights.Count} weights.");
        var first = terms[0];
        bool shared = true;
        for (int i = 0; i < terms.Count && shared; i++)
            shared = terms[i].Level == first.Level && terms[i].Size == 2 && Math.Abs(terms[i].Scale - first.Scale) <= ScaleTolerance * first.Scale;
        Ciphertext acc;
        if (shared)
        {
            acc = WeightedSumAccumulator(first.Level, first.Scale);
            for (int i = 0; i < terms.Count; i++) AddWeighted(terms[i], weights[i], acc);
        }
        else
        {
            int level = terms.Min(t => t.Level);
            acc = WeightedSumAccumulator(level, first.Scale);
            for (int i = 0; i < terms.Count; i++)
            {
                if (weights[i] == 0) continue;
                var term = MultiplyScalar(DropToLevel(terms[i], level), weights[i], (double)Ring.Q[level]);
                Add(acc, term, acc);
            }
        }
        AddScalar(acc, bias, acc);
        Rescale(acc, acc);
        return acc;
    }

    /// <summary>
    /// The scale at <paramref name="level"/> from which <paramref name="squarings"/> squarings, each rescaled, end at
    /// exactly <paramref name="targetScale"/>: s_0 with s_(i+1) = s_i² / q_(level − i).
    /// </summary>
    public double ScaleBeforeSquarings(int level, int squarings, double targetScale)
    {
        if (squarings < 0 || squarings > level) ThrowHelper.OutOfRange(nameof(squarings), $"{squarings} squarings need as many levels; {level} are left.");
        double start = targetScale;
        for (int i = squarings; i >= 1; i--) start = Math.Sqrt(start * Ring.Q[level - i]);
        return start;
    }

    /// <summary>c·ct placed at <paramref name="like"/>'s level and scale (see <see cref="MultiplyScalarTo(Ciphertext, Complex, int, double)"/>).</summary>
    public Ciphertext MultiplyScalarTo(Ciphertext ct, Complex value, Ciphertext like)
    {
        ArgumentNullException.ThrowIfNull(like);
        return MultiplyScalarTo(ct, value, like.Level, like.Scale);
    }

    /// <summary>ct placed at <paramref name="like"/>'s level and scale (see <see cref="BringTo(Ciphertext, int, double)"/>).</summary>
    public Ciphertext BringTo(Ciphertext ct, Ciphertext like)
    {
        ArgumentNullException.ThrowIfNull(like);
        return BringTo(ct, like.Level, like.Scale);
    }

    /// <summary>ct ⊙ v placed at <paramref name="like"/>'s level and scale.</summary>
    public Ciphertext MultiplyValuesTo(Ciphertext ct, ReadOnlySpan<double> values, Ciphertext like, CkksEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(like);
        return MultiplyValuesTo(ct, values, like.Level, like.Scale, encoder);
    }

    /// <summary>An accumulator for weighted sums of terms at <paramref name="like"/>'s level and scale.</summary>
    public Ciphertext WeightedSumAccumulator(Ciphertext like)
    {
        ArgumentNullException.ThrowIfNull(like);
        return WeightedSumAccumulator(like.Level, like.Scale);
    }

    /// <summary>Empties an accumulator for a sum over terms at <paramref name="like"/>'s level and scale.</summary>
    public void ResetWeightedSum(Ciphertext accumulator, Ciphertext like)
    {
        ArgumentNullException.ThrowIfNull(like);
        ResetWeightedSum(accumulator, like.Level, like.Scale);
    }

    /// <summary>Multiply, relinearize and rescale in one call.</summary>
    public Ciphertext MultiplyRelinearizeRescale(Ciphertext a, Ciphertext b)
    {
        var d = Multiply(a, b);
        Relinearize(d, d);
        Rescale(d, d);
        return d;
    }

    // ---------------------------------------------------------------- helpers

    private static void CheckFinite(Complex value, string name)
    {
        if (!double.IsFinite(value.Real) || !double.IsFinite(value.Imaginary)) ThrowHelper.Argument(name, "The constant must be finite.");
    }

    /// <summary>The constant polynomial round(Δ·Re c) + round(Δ·Im c)·X^(N/2) in NTT form, limbs 0 … level, at scale Δ.</summary>
    private Plaintext ConstantNtt(Complex value, double scale, int level)
    {
        int n = Ring.N, limbs = level + 1;
        var result = new Plaintext(Ring, level, scale);
        double re = Math.Round(value.Real * scale), im = Math.Round(value.Imaginary * scale);
        for (int j = 0; j < limbs; j++)
        {
            var m = _rns.Moduli[j];
            var limb = result.Limb(j);
            ulong r = CkksEncoder.ReduceRounded(re, m);
            if (im == 0)
            {
                // The NTT of a constant is that constant everywhere.
                limb.Fill(r);
                continue;
            }
            limb[0] = r;
            limb[n / 2] = CkksEncoder.ReduceRounded(im, m);
            _rns.Ntt[j].Forward(limb);
        }
        return result;
    }
}
