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
    public Ciphertext AddScalar(Ciphertext ct, Complex value) { var d = NewLike(ct); AddScalar(ct, value, d); return d; }

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
    public Ciphertext MultiplyScalar(Ciphertext ct, Complex value) { var d = NewLike(ct); MultiplyScalar(ct, value, d); return d; }

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
    public Ciphertext MultiplyScalar(Ciphertext ct, Complex value, double constantScale) { var d = NewLike(ct); MultiplyScalar(ct, value, constantScale, d); return d; }

    // ---------------------------------------------------------------- rescaling and placement

    /// <summary>
    /// destination = ct / q_level, rounded: one level down, scale divided by q_level.
    /// </summary>
    /// <exception cref="InvalidOperationException">The ciphertext is at level 0.</exception>
    /// <remarks>c'_j = (c_j − [c]_(q_ℓ) + ⌊q_ℓ/2⌋-offset) · q_ℓ^-1 mod q_j: adding ⌊q_ℓ/2⌋ before and removing it after rounds instead of flooring.</remarks>
    public void Rescale(Ciphertext ct, Ciphertext destination) => DivideByLastPrime(ct, destination);

    /// <summary>ct rescaled, new ciphertext.</summary>
    public Ciphertext Rescale(Ciphertext ct) { var d = NewLike(ct); Rescale(ct, d); return d; }

    /// <summary>
    /// ct placed at exactly <paramref name="level"/> and <paramref name="scale"/>: a copy when it is there already, else
    /// one scalar multiplication and rescale (<see cref="MultiplyScalarTo"/>) — the one call through which higher layers
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
