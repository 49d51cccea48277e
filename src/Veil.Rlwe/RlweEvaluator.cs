using System.Buffers;
using Veil.Arithmetic;

namespace Veil.Rlwe;

/// <summary>
/// The operations every RLWE scheme shares, on ciphertexts kept in NTT form: addition and negation, the tensor product,
/// products with plaintexts and with per-prime scalars, relinearization, modulus switching by the last prime, dropping
/// levels, automorphisms (rotations of the ⟨5⟩ group of order N/2, conjugation X → X^−1), hoisted rotations and
/// double-hoisted sums of plaintext-weighted rotations. Every operation has a destination-taking form (the destination
/// may be an operand) and an allocating form.
/// </summary>
/// <remarks>
/// <para>Schemes build on it: <c>CkksEvaluator</c> adds the scale, rescaling and constants encoded in the canonical
/// embedding; a BFV evaluator adds its plaintext modulus and scaled tensoring. What a scheme must check before two
/// operands meet (CKKS: equal scales) it says in <see cref="CheckCompatible"/>.</para>
/// <para>Operands at different levels are brought to the lower one (dropping primes costs nothing in RNS).
/// <see cref="Ciphertext.Scale"/> is carried as metadata: kept by additions, rotations and key switching, multiplied by
/// products, divided by q_ℓ by <see cref="DivideByLastPrime(Ciphertext, Ciphertext)"/>; a scheme without a scale
/// leaves it at 1.</para>
/// </remarks>
public class RlweEvaluator
{
    private readonly RlweParameters _ring;
    private readonly RnsRing _rns;
    private readonly RelinearizationKey? _relinearizationKey;
    private readonly GaloisKeys? _galoisKeys;


    /// <summary>Threads used inside one operation (key switching, modulus switching): default the processor count.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Checked at the start of every operation: once signalled, the next operation throws
    /// <see cref="OperationCanceledException"/>, so that a long computation (training, inference) built from them stops.
    /// </summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Creates an evaluator; keys are needed only by the operations that use them.</summary>
    /// <exception cref="ArgumentException">A key belongs to other parameters.</exception>
    public RlweEvaluator(RlweParameters parameters, RelinearizationKey? relinearizationKey = null, GaloisKeys? galoisKeys = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _ring = parameters;
        _rns = _ring.Ring;
        if (relinearizationKey is not null && !relinearizationKey.Parameters.SameRingAs(_ring))
            ThrowHelper.Argument(nameof(relinearizationKey), "The relinearization key belongs to other parameters.");
        if (galoisKeys is not null && !galoisKeys.Parameters.SameRingAs(_ring))
            ThrowHelper.Argument(nameof(galoisKeys), "The Galois keys belong to other parameters.");
        _relinearizationKey = relinearizationKey;
        _galoisKeys = galoisKeys;
        _scratch = new ThreadLocal<Ciphertext>(() => new Ciphertext(_ring, 0));
    }

    /// <summary>The ring parameters.</summary>
    public RlweParameters Ring => _ring;

    /// <summary>The relinearization key, if any.</summary>
    public RelinearizationKey? RelinearizationKey => _relinearizationKey;

    /// <summary>The Galois keys, if any.</summary>
    public GaloisKeys? GaloisKeys => _galoisKeys;

    /// <summary>Number of slots of the rotation group ⟨5⟩ (N/2): rotation steps are taken modulo it.</summary>
    public int RotationSlots => _ring.N / 2;

    // ---------------------------------------------------------------- checks and shapes

    /// <summary>Throws unless ct belongs to these parameters and is in NTT form.</summary>
    protected void Check(Ciphertext ct, string name)
    {
        Cancellation.ThrowIfCancellationRequested();
        ArgumentNullException.ThrowIfNull(ct, name);
        if (!ct.Parameters.SameRingAs(_ring)) ThrowHelper.Argument(name, "The ciphertext belongs to other parameters.");
        if (!ct.IsNttForm) ThrowHelper.Argument(name, "The ciphertext must be in NTT form.");
    }

    /// <summary>Throws unless pt belongs to these parameters and is in NTT form.</summary>
    protected void Check(Plaintext pt, string name)
    {
        ArgumentNullException.ThrowIfNull(pt, name);
        if (!pt.Parameters.SameRingAs(_ring)) ThrowHelper.Argument(name, "The plaintext belongs to other parameters.");
        if (!pt.IsNttForm) ThrowHelper.Argument(name, "The plaintext must be in NTT form.");
    }

    /// <summary>
    /// What the scheme requires of two operands that are added (or of weights summed together): nothing here; CKKS
    /// requires equal scales.
    /// </summary>
    /// <param name="scaleA">The first operand's scale.</param>
    /// <param name="scaleB">The second operand's scale.</param>
    /// <param name="nameA">The first operand's name, for the message.</param>
    /// <param name="nameB">The second operand's name (the parameter blamed).</param>
    protected virtual void CheckCompatible(double scaleA, double scaleB, string nameA, string nameB) { }

    /// <summary>
    /// What the scheme requires of the levels of two operands: nothing here (CKKS computes at the lower level, which
    /// keeps its values); BFV requires equal levels, since dropping primes without scaling changes its Δ.
    /// </summary>
    /// <param name="levelA">The first operand's level.</param>
    /// <param name="levelB">The second operand's level.</param>
    /// <param name="nameB">The second operand's name (the parameter blamed).</param>
    protected virtual void CheckLevels(int levelA, int levelB, string nameB) { }

    /// <summary>Polynomial i of a ciphertext, restricted to its first level + 1 limbs.</summary>
    private static Span<ulong> PolyAt(Ciphertext ct, int i, int level)
    {
        int n = ct.Parameters.N;
        return ct.Data.AsSpan(i * ct.PolyLength, (level + 1) * n);
    }

    /// <summary><see cref="PolyAt"/> as memory, for parallel loop bodies (which cannot hold spans).</summary>
    private static Memory<ulong> PolyMemory(Ciphertext ct, int i, int level) => ct.Data.AsMemory(i * ct.PolyLength, (level + 1) * ct.Parameters.N);

    /// <summary>
    /// The ciphertext to write a result of the given shape into: the destination itself, or a temporary when the
    /// destination is an operand whose data the computation still needs.
    /// </summary>
    private Ciphertext Target(Ciphertext destination, int level, int size, bool elementwise, Ciphertext a, Ciphertext? b = null)
    {
        bool aliased = ReferenceEquals(destination, a) || ReferenceEquals(destination, b);
        if (!aliased)
        {
            destination.Resize(level, size);
            return destination;
        }
        if (elementwise && destination.Size == size)
        {
            destination.DropTo(level);
            destination.Seed = null;
            return destination;
        }
        var scratch = Scratch;
        scratch.Resize(level, size);
        return scratch;
    }

    // A per-thread ciphertext for results whose destination is an operand of another shape; its buffers are reused.
    private readonly ThreadLocal<Ciphertext> _scratch;
    private Ciphertext Scratch => _scratch.Value!;

    /// <summary>Stamps a result of a scheme's own operation with the key it decrypts under (see <see cref="KeyId.Combine"/>).</summary>
    protected static void SetKey(Ciphertext result, KeyId key)
    {
        ArgumentNullException.ThrowIfNull(result);
        result.KeyId = key;
    }

    private static void Finish(Ciphertext target, Ciphertext destination, double scale, KeyId key)
    {
        target.Scale = scale;
        target.KeyId = key;
        target.IsNttForm = true;
        target.Seed = null;
        if (!ReferenceEquals(target, destination)) destination.CopyFrom(target);
    }

    // ---------------------------------------------------------------- addition family

    /// <summary>destination = a + b.</summary>
    /// <exception cref="ArgumentException">Operands from other parameters or with mismatched scales.</exception>
    public void Add(Ciphertext a, Ciphertext b, Ciphertext destination) => AddOrSub(a, b, destination, subtract: false);

    /// <summary>a + b, new ciphertext.</summary>
    public Ciphertext Add(Ciphertext a, Ciphertext b) { var d = NewOverwrittenLike(a); Add(a, b, d); return d; }

    /// <summary>destination = a − b.</summary>
    /// <exception cref="ArgumentException">Operands from other parameters or with mismatched scales.</exception>
    public void Sub(Ciphertext a, Ciphertext b, Ciphertext destination) => AddOrSub(a, b, destination, subtract: true);

    /// <summary>a − b, new ciphertext.</summary>
    public Ciphertext Sub(Ciphertext a, Ciphertext b) { var d = NewOverwrittenLike(a); Sub(a, b, d); return d; }

    private void AddOrSub(Ciphertext a, Ciphertext b, Ciphertext destination, bool subtract)
    {
        Check(a, nameof(a)); Check(b, nameof(b)); ArgumentNullException.ThrowIfNull(destination);
        CheckCompatible(a.Scale, b.Scale, nameof(a), nameof(b));
        CheckLevels(a.Level, b.Level, nameof(b));
        var key = KeyId.Combine(a.KeyId, b.KeyId, nameof(b));
        int level = Math.Min(a.Level, b.Level), size = Math.Max(a.Size, b.Size);
        double scale = a.Scale;
        var t = Target(destination, level, size, elementwise: true, a, b);
        int limbs = level + 1;
        for (int i = 0; i < size; i++)
        {
            var d = PolyAt(t, i, level);
            bool hasA = i < a.Size, hasB = i < b.Size;
            if (hasA && hasB)
            {
                if (subtract) _rns.Sub(PolyAt(a, i, level), PolyAt(b, i, level), d, 0, limbs);
                else _rns.Add(PolyAt(a, i, level), PolyAt(b, i, level), d, 0, limbs);
            }
            else if (hasA) PolyAt(a, i, level).CopyTo(d);
            else if (subtract) _rns.Negate(PolyAt(b, i, level), d, 0, limbs);
            else PolyAt(b, i, level).CopyTo(d);
        }
        Finish(t, destination, scale, key);
    }

    /// <summary>destination = ct + pt.</summary>
    /// <exception cref="ArgumentException">Mismatched parameters or scales.</exception>
    public void AddPlain(Ciphertext ct, Plaintext pt, Ciphertext destination) => AddSubPlain(ct, pt, destination, subtract: false);

    /// <summary>ct + pt, new ciphertext.</summary>
    public Ciphertext AddPlain(Ciphertext ct, Plaintext pt) { var d = NewOverwrittenLike(ct); AddPlain(ct, pt, d); return d; }

    /// <summary>destination = ct − pt.</summary>
    /// <exception cref="ArgumentException">Mismatched parameters or scales.</exception>
    public void SubPlain(Ciphertext ct, Plaintext pt, Ciphertext destination) => AddSubPlain(ct, pt, destination, subtract: true);

    /// <summary>ct − pt, new ciphertext.</summary>
    public Ciphertext SubPlain(Ciphertext ct, Plaintext pt) { var d = NewOverwrittenLike(ct); SubPlain(ct, pt, d); return d; }

    private void AddSubPlain(Ciphertext ct, Plaintext pt, Ciphertext destination, bool subtract)
    {
        Check(ct, nameof(ct)); Check(pt, nameof(pt)); ArgumentNullException.ThrowIfNull(destination);
        CheckCompatible(ct.Scale, pt.Scale, nameof(ct), nameof(pt));
        CheckLevels(ct.Level, pt.Level, nameof(pt));
        int level = Math.Min(ct.Level, pt.Level), limbs = level + 1;
        double scale = ct.Scale;
        var t = Target(destination, level, ct.Size, elementwise: true, ct);
        var p = pt.Data.AsSpan(0, limbs * _ring.N);
        if (subtract) _rns.Sub(PolyAt(ct, 0, level), p, PolyAt(t, 0, level), 0, limbs);
        else _rns.Add(PolyAt(ct, 0, level), p, PolyAt(t, 0, level), 0, limbs);
        for (int i = 1; i < ct.Size; i++) if (!ReferenceEquals(t, ct)) PolyAt(ct, i, level).CopyTo(PolyAt(t, i, level));
        Finish(t, destination, scale, ct.KeyId);
    }

    /// <summary>destination = −ct.</summary>
    public void Negate(Ciphertext ct, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        var t = Target(destination, ct.Level, ct.Size, elementwise: true, ct);
        for (int i = 0; i < ct.Size; i++) _rns.Negate(PolyAt(ct, i, ct.Level), PolyAt(t, i, ct.Level), 0, ct.Level + 1);
        Finish(t, destination, ct.Scale, ct.KeyId);
    }

    /// <summary>−ct, new ciphertext.</summary>
    public Ciphertext Negate(Ciphertext ct) { var d = NewOverwrittenLike(ct); Negate(ct, d); return d; }

    // ---------------------------------------------------------------- multiplication family

    /// <summary>
    /// destination = a · b, the tensor product (size a.Size + b.Size − 1; relinearize afterwards). Scale: product of
    /// scales. Schemes whose product is a scaled tensor (BFV) override it; <see cref="TensorProduct"/> is always the plain one.
    /// </summary>
    /// <exception cref="ArgumentException">Operands from other parameters, or the product would exceed <see cref="Ciphertext.MaxSize"/>.</exception>
    public virtual void Multiply(Ciphertext a, Ciphertext b, Ciphertext destination) => TensorProduct(a, b, destination);

    /// <summary>destination = a ⊗ b, slot by slot in NTT form, without any scaling (CKKS's product).</summary>
    /// <exception cref="ArgumentException">Operands from other parameters, or the product would exceed <see cref="Ciphertext.MaxSize"/>.</exception>
    public void TensorProduct(Ciphertext a, Ciphertext b, Ciphertext destination)
    {
        Check(a, nameof(a)); Check(b, nameof(b)); ArgumentNullException.ThrowIfNull(destination);
        int size = a.Size + b.Size - 1;
        if (size > Ciphertext.MaxSize) ThrowHelper.Argument(nameof(b), $"The product would have {size} polynomials; relinearize the operands first (at most {Ciphertext.MaxSize}).");
        var key = KeyId.Combine(a.KeyId, b.KeyId, nameof(b));
        int level = Math.Min(a.Level, b.Level), limbs = level + 1;
        double scale = a.Scale * b.Scale;
        var t = Target(destination, level, size, elementwise: false, a, b);
        for (int k = 0; k < size; k++) PolyAt(t, k, level).Clear();
        for (int i = 0; i < a.Size; i++)
            for (int j = 0; j < b.Size; j++)
                _rns.MulPointwiseAdd(PolyAt(a, i, level), PolyAt(b, j, level), PolyAt(t, i + j, level), 0, limbs);
        Finish(t, destination, scale, key);
    }

    /// <summary>a · b, new ciphertext.</summary>
    public Ciphertext Multiply(Ciphertext a, Ciphertext b) { var d = NewLike(a, b is null ? null : Math.Min(a?.Level ?? 0, b.Level), b is null ? null : (a?.Size ?? 2) + b.Size - 1); Multiply(a!, b!, d); return d; }

    /// <summary>destination = a².</summary>
    public void Square(Ciphertext a, Ciphertext destination) => Multiply(a, a, destination);

    /// <summary>a², new ciphertext.</summary>
    public Ciphertext Square(Ciphertext a) => Multiply(a, a);

    /// <summary>destination = ct · pt. Scale: product of scales.</summary>
    /// <exception cref="ArgumentException">Mismatched parameters.</exception>
    public void MultiplyPlain(Ciphertext ct, Plaintext pt, Ciphertext destination)
    {
        Check(ct, nameof(ct)); Check(pt, nameof(pt)); ArgumentNullException.ThrowIfNull(destination);
        int level = Math.Min(ct.Level, pt.Level), limbs = level + 1;
        double scale = ct.Scale * pt.Scale;
        var t = Target(destination, level, ct.Size, elementwise: true, ct);
        var p = pt.Data.AsSpan(0, limbs * _ring.N);
        for (int i = 0; i < ct.Size; i++) _rns.MulPointwise(PolyAt(ct, i, level), p, PolyAt(t, i, level), 0, limbs);
        Finish(t, destination, scale, ct.KeyId);
    }

    /// <summary>ct · pt, new ciphertext.</summary>
    public Ciphertext MultiplyPlain(Ciphertext ct, Plaintext pt) { var d = NewOverwrittenLike(ct); MultiplyPlain(ct, pt, d); return d; }

    /// <summary>destination = ct · k for an integer k; the scale is unchanged and no level is used.</summary>
    public void MultiplyInteger(Ciphertext ct, long value, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        int limbs = ct.Level + 1;
        Span<ulong> scalars = stackalloc ulong[limbs];
        for (int j = 0; j < limbs; j++) scalars[j] = _rns.Moduli[j].FromSigned(value);
        var t = Target(destination, ct.Level, ct.Size, elementwise: true, ct);
        for (int i = 0; i < ct.Size; i++) _rns.MulScalar(PolyAt(ct, i, ct.Level), scalars, PolyAt(t, i, ct.Level), 0, limbs);
        Finish(t, destination, ct.Scale, ct.KeyId);
    }

    /// <summary>ct · k, new ciphertext.</summary>
    public Ciphertext MultiplyInteger(Ciphertext ct, long value) { var d = NewOverwrittenLike(ct); MultiplyInteger(ct, value, d); return d; }


    /// <summary>
    /// destination = ct · r with r the constant whose residue modulo prime j is <paramref name="residues"/>[j] (NTT form of a
    /// constant is that constant in every slot); the scale becomes ct.Scale · <paramref name="scaleFactor"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer residues than ct's limbs, a residue not reduced, or a scale factor not finite and positive.</exception>
    public void MultiplyByResidues(Ciphertext ct, ReadOnlySpan<ulong> residues, double scaleFactor, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        CheckResidues(residues, ct.Level);
        if (!(scaleFactor > 0) || double.IsInfinity(scaleFactor)) ThrowHelper.Argument(nameof(scaleFactor), $"The scale factor must be finite and positive; got {scaleFactor}.");
        int limbs = ct.Level + 1;
        var t = Target(destination, ct.Level, ct.Size, elementwise: true, ct);
        for (int i = 0; i < ct.Size; i++) _rns.MulScalar(PolyAt(ct, i, ct.Level), residues[..limbs], PolyAt(t, i, ct.Level), 0, limbs);
        Finish(t, destination, ct.Scale * scaleFactor, ct.KeyId);
    }

    /// <summary>accumulator += ct · r for a constant r given by its residues (one fused pass, no temporary).</summary>
    /// <exception cref="ArgumentException">The accumulator's level or size differs from ct's, it is ct, or the residues are bad.</exception>
    public void MultiplyByResiduesAdd(Ciphertext ct, ReadOnlySpan<ulong> residues, Ciphertext accumulator)
    {
        Check(ct, nameof(ct)); Check(accumulator, nameof(accumulator));
        CheckResidues(residues, ct.Level);
        if (accumulator.Level != ct.Level || accumulator.Size != ct.Size)
            ThrowHelper.Argument(nameof(accumulator), $"The accumulator (level {accumulator.Level}, size {accumulator.Size}) must match ct (level {ct.Level}, size {ct.Size}).");
        if (ReferenceEquals(ct, accumulator)) ThrowHelper.Argument(nameof(accumulator), "The accumulator must not be ct.");
        int limbs = ct.Level + 1;
        for (int i = 0; i < ct.Size; i++) _rns.MulScalarAdd(PolyAt(ct, i, ct.Level), residues[..limbs], PolyAt(accumulator, i, ct.Level), 0, limbs);
        accumulator.Seed = null;
    }

    /// <summary>destination = ct + r for a constant r given by its residues (added to c_0); the scale is unchanged.</summary>
    /// <exception cref="ArgumentException">Fewer residues than ct's limbs, or a residue not reduced.</exception>
    public void AddResidues(Ciphertext ct, ReadOnlySpan<ulong> residues, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        CheckResidues(residues, ct.Level);
        int level = ct.Level, limbs = level + 1;
        var t = Target(destination, level, ct.Size, elementwise: true, ct);
        _rns.AddScalar(PolyAt(ct, 0, level), residues[..limbs], PolyAt(t, 0, level), 0, limbs);
        for (int i = 1; i < ct.Size; i++) if (!ReferenceEquals(t, ct)) PolyAt(ct, i, level).CopyTo(PolyAt(t, i, level));
        Finish(t, destination, ct.Scale, ct.KeyId);
    }

    private void CheckResidues(ReadOnlySpan<ulong> residues, int level)
    {
        if (residues.Length < level + 1) ThrowHelper.Argument(nameof(residues), $"One residue per prime: {level + 1} needed, {residues.Length} given.");
        for (int j = 0; j <= level; j++)
            if (residues[j] >= _rns.Moduli[j].Value) ThrowHelper.Argument(nameof(residues), $"Residue {j} is not below its prime {_rns.Moduli[j].Value}.");
    }

    /// <summary>An encryption of zero-valued noise-free content at the given level, size 2 and scale (all words zero): a fresh accumulator.</summary>
    public Ciphertext Zero(int level, double scale = 1.0)
    {
        if (level < 0 || level > _ring.MaxLevel) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {_ring.MaxLevel}].");
        if (!(scale >= 1) || double.IsInfinity(scale)) ThrowHelper.Argument(nameof(scale), $"The scale must be finite and at least 1; got {scale}.");
        return new Ciphertext(_ring, level, 2, scale);
    }

    // ---------------------------------------------------------------- relinearization, rescaling, levels

    /// <summary>destination = ct reduced to two polynomials with the relinearization key.</summary>
    /// <exception cref="InvalidOperationException">The evaluator has no relinearization key.</exception>
    /// <remarks>c_k·s^k = c_k·s^(k−2)·s²: c_k is switched from s² to s and folded into c_(k−2), c_(k−1), from the top down.</remarks>
    public void Relinearize(Ciphertext ct, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        if (_relinearizationKey is null) ThrowHelper.InvalidOperation("This evaluator has no relinearization key.");
        KeyId.Check(ct.KeyId, _relinearizationKey.Key.KeyId, nameof(ct), "the relinearization key's secret");
        if (ct.Size == 2) { if (!ReferenceEquals(ct, destination)) destination.CopyFrom(ct); return; }
        int level = ct.Level, n = _ring.N, limbs = level + 1, len = limbs * n;
        double scale = ct.Scale;
        var pool = ArrayPool<ulong>.Shared;
        ulong[] input = pool.Rent(len), ks0 = pool.Rent(len), ks1 = pool.Rent(len);
        try
        {
            if (ct.Size == 3 && !ReferenceEquals(ct, destination))
            {
                // The common case writes straight into the destination: no copy of c_2, no new buffer.
                PolyAt(ct, 2, level).CopyTo(input);
                KeySwitcher.Switch(_ring, level, input, _relinearizationKey.Key, ks0, ks1, MaxDegreeOfParallelism);
                destination.Resize(level, 2);
                _rns.Add(PolyAt(ct, 0, level), ks0.AsSpan(0, len), PolyAt(destination, 0, level), 0, limbs);
                _rns.Add(PolyAt(ct, 1, level), ks1.AsSpan(0, len), PolyAt(destination, 1, level), 0, limbs);
                Finish(destination, destination, scale, ct.KeyId);
                return;
            }
            // Otherwise fold from the top in ct's own buffer when it is the destination, else in the destination's.
            Ciphertext work = ct;
            if (!ReferenceEquals(ct, destination)) { destination.CopyFrom(ct); work = destination; }
            for (int k = work.Size - 1; k >= 2; k--)
            {
                PolyAt(work, k, level).CopyTo(input);
                KeySwitcher.Switch(_ring, level, input, _relinearizationKey.Key, ks0, ks1, MaxDegreeOfParallelism);
                _rns.Add(PolyAt(work, k - 2, level), ks0.AsSpan(0, len), PolyAt(work, k - 2, level), 0, limbs);
                _rns.Add(PolyAt(work, k - 1, level), ks1.AsSpan(0, len), PolyAt(work, k - 1, level), 0, limbs);
            }
            work.ShrinkTo(2);
            Finish(work, work, scale, ct.KeyId);
        }
        finally
        {
            pool.Return(input); pool.Return(ks0); pool.Return(ks1);
        }
    }

    /// <summary>ct relinearized, new ciphertext.</summary>
    public Ciphertext Relinearize(Ciphertext ct) { var d = NewLike(ct); Relinearize(ct, d); return d; }


    /// <summary>
    /// destination = round(ct / q_ℓ): one level down, the scale divided by q_ℓ (CKKS calls this rescaling, BGV and BFV
    /// modulus switching).
    /// </summary>
    /// <exception cref="InvalidOperationException">The ciphertext is at level 0.</exception>
    /// <remarks>c'_j = (c_j − [c]_(q_ℓ) + ⌊q_ℓ/2⌋-offset) · q_ℓ^-1 mod q_j: adding ⌊q_ℓ/2⌋ before and removing it after rounds instead of flooring.</remarks>
    public void DivideByLastPrime(Ciphertext ct, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        if (ct.Level == 0) ThrowHelper.InvalidOperation("Cannot divide a ciphertext at level 0 by its last prime: no prime is left to divide by.");
        int level = ct.Level, n = _ring.N, size = ct.Size;
        double scale = ct.Scale / _rns.Moduli[level].Value;
        // In place the layout shrinks, so the result needs its own buffer; otherwise write straight into the destination.
        var t = ReferenceEquals(ct, destination) ? Scratch : destination;
        t.Resize(level - 1, size);
        var pool = ArrayPool<ulong>.Shared;
        ulong[] last = pool.Rent(size * n);
        try
        {
            var lastModulus = _rns.Moduli[level];
            ulong half = lastModulus.Value >> 1;
            Parallelism.For(size, MaxDegreeOfParallelism, new LastLimbToCoefficients(_rns, ct, level, last));
            Parallelism.For(size * level, MaxDegreeOfParallelism, new DivideLimbByLastPrime(_ring, ct, t, level, last));
        }
        finally
        {
            pool.Return(last);
        }
        Finish(t, destination, scale, ct.KeyId);
    }

    private readonly struct LastLimbToCoefficients(RnsRing rns, Ciphertext ct, int level, ulong[] last) : IParallelBody
    {
        public void Invoke(int i)
        {
            int n = rns.N;
            var m = rns.Moduli[level];
            ulong half = m.Value >> 1;
            var limb = last.AsSpan(i * n, n);
            PolyAt(ct, i, level).Slice(level * n, n).CopyTo(limb);
            rns.Ntt[level].Inverse(limb);
            for (int c = 0; c < n; c++) limb[c] = m.Add(limb[c], half);
        }
    }

    private readonly struct DivideLimbByLastPrime(RlweParameters ring, Ciphertext ct, Ciphertext t, int level, ulong[] last) : IParallelBody
    {
        public void Invoke(int task)
        {
            var rns = ring.Ring;
            int n = rns.N, i = task / level, j = task % level;
            var m = rns.Moduli[j];
            ulong half = rns.Moduli[level].Value >> 1;
            ulong[] reduced = ArrayPool<ulong>.Shared.Rent(n);
            try
            {
                var r = reduced.AsSpan(0, n);
                var src = last.AsSpan(i * n, n);
                ulong halfMod = m.Reduce(half);
                for (int c = 0; c < n; c++) r[c] = m.Sub(m.Reduce(src[c]), halfMod);
                rns.Ntt[j].Forward(r);
                var input = PolyAt(ct, i, level).Slice(j * n, n);
                var output = PolyAt(t, i, level - 1).Slice(j * n, n);
                ulong w = ring.LastPrimeInverse[level][j], wShoup = m.ShoupPrecompute(w), q = m.Value;
                for (int c = 0; c < n; c++) output[c] = m.MulShoup(input[c] + q - r[c], w, wShoup);
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(reduced);
            }
        }
    }

    /// <summary>ct divided by its last prime, new ciphertext.</summary>
    public Ciphertext DivideByLastPrime(Ciphertext ct) { var d = NewLike(ct, ct?.Level - 1, ct?.Size); DivideByLastPrime(ct!, d); return d; }

    /// <summary>destination = ct with the primes above <paramref name="level"/> dropped (scale unchanged).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The level is negative or above the ciphertext's.</exception>
    public void DropToLevel(Ciphertext ct, int level, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        if (level < 0 || level > ct.Level) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {ct.Level}]; got {level}.");
        var t = Target(destination, level, ct.Size, elementwise: true, ct);
        if (!ReferenceEquals(t, ct)) for (int i = 0; i < ct.Size; i++) PolyAt(ct, i, level).CopyTo(PolyAt(t, i, level));
        Finish(t, destination, ct.Scale, ct.KeyId);
    }

    /// <summary>ct at a lower level, new ciphertext.</summary>
    public Ciphertext DropToLevel(Ciphertext ct, int level) { var d = NewLike(ct, level, ct?.Size); DropToLevel(ct!, level, d); return d; }

    // ---------------------------------------------------------------- rotations

    /// <summary>
    /// destination = ct with slots rotated by <paramref name="steps"/> (positive: slot i receives slot i + steps).
    /// Uses the exact key when present, otherwise a composition of the keys present (e.g. powers of two).
    /// </summary>
    /// <exception cref="InvalidOperationException">No Galois keys, or no key or composition of keys gives this rotation.</exception>
    public void Rotate(Ciphertext ct, int steps, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        int s = NormalizedStep(steps);
        if (s == 0) { if (!ReferenceEquals(ct, destination)) destination.CopyFrom(ct); return; }
        ulong direct = GaloisElements.ForRotation(s, _ring.N);
        if (_galoisKeys is not null && _galoisKeys.Contains(direct)) { ApplyGalois(ct, direct, destination); return; } // no plan array
        var plan = PlanRotation(s);
        var current = ct;
        foreach (int step in plan)
        {
            ApplyGalois(current, GaloisElements.ForRotation(step, _ring.N), destination);
            current = destination;
        }
    }

    /// <summary>ct rotated, new ciphertext.</summary>
    public Ciphertext Rotate(Ciphertext ct, int steps) { var d = NewLike(ct, null, ct?.Size); Rotate(ct!, steps, d); return d; }

    /// <summary>destination = complex conjugate of every slot.</summary>
    /// <exception cref="InvalidOperationException">No conjugation key.</exception>
    public void Conjugate(Ciphertext ct, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        ulong k = GaloisElements.ForConjugation(_ring.N);
        if (_galoisKeys is null || !_galoisKeys.Contains(k)) ThrowHelper.InvalidOperation("No Galois key for conjugation; generate keys with includeConjugation.");
        ApplyGalois(ct, k, destination);
    }

    /// <summary>ct conjugated, new ciphertext.</summary>
    public Ciphertext Conjugate(Ciphertext ct) { var d = NewLike(ct, null, ct?.Size); Conjugate(ct!, d); return d; }

    /// <summary>The sequence of rotation steps (each with a key present) whose composition rotates by s.</summary>
    internal int[] PlanRotation(int s)
    {
        if (_galoisKeys is null) ThrowHelper.InvalidOperation("This evaluator has no Galois keys.");
        // The key set is fixed for the evaluator's life, so each plan is worked out once.
        if (_rotationPlans.TryGetValue(s, out var cached)) return cached;
        var plan = ComputeRotationPlan(s);
        _rotationPlans.TryAdd(s, plan);
        return plan;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, int[]> _rotationPlans = new();

    private int[] ComputeRotationPlan(int s)
    {
        if (_galoisKeys is null) ThrowHelper.InvalidOperation("This evaluator has no Galois keys.");
        int slots = RotationSlots;
        bool Has(int step) => _galoisKeys.Contains(GaloisElements.ForRotation(step, _ring.N));
        if (Has(s)) return [s];
        // Signed binary (non-adjacent form) of s, and of s − slots (the same rotation the other way), then plain binary.
        foreach (int target in new[] { s, s - slots })
        {
            var naf = NonAdjacentForm(target);
            if (naf.All(Has)) return naf;
        }
        var binary = new List<int>();
        for (int bit = 1; bit < slots; bit <<= 1) if ((s & bit) != 0) binary.Add(bit);
        if (binary.All(Has)) return binary.ToArray();
        ThrowHelper.InvalidOperation(
            $"No Galois key rotates by {s} (mod {slots}), and it cannot be composed from the keys present " +
            $"(Galois elements {string.Join(", ", _galoisKeys.Elements)}). Generate a key for this step, or the power-of-two keys.");
        return [];
    }

    private static int[] NonAdjacentForm(int value)
    {
        var steps = new List<int>();
        long v = value;
        long power = 1;
        while (v != 0)
        {
            if ((v & 1) != 0)
            {
                long digit = 2 - (((v % 4) + 4) % 4); // +1 or −1
                steps.Add((int)(digit * power));
                v -= digit;
            }
            v >>= 1;
            power <<= 1;
        }
        return steps.ToArray();
    }

    /// <summary>destination = σ_k(ct) for the Galois element k (odd, below 2N), with the key held for k.</summary>
    /// <exception cref="ArgumentException">k is even or not below 2N, no key is held for k, or ct has more than two polynomials.</exception>
    /// <exception cref="InvalidOperationException">The evaluator holds no Galois keys.</exception>
    public void ApplyGalois(Ciphertext ct, ulong galoisElement, Ciphertext destination)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(destination);
        if (ct.Size != 2) ThrowHelper.Argument(nameof(ct), "Relinearize before rotating: the ciphertext has more than two polynomials.");
        if (_galoisKeys is null) ThrowHelper.InvalidOperation("This evaluator has no Galois keys.");
        var key = _galoisKeys[galoisElement];
        KeyId.Check(ct.KeyId, key.KeyId, nameof(ct), "the Galois key's secret");
        int level = ct.Level;
        double scale = ct.Scale;
        // The Galois key is stored pre-permuted: decompose c1 as it is, permute only the two outputs (σ(c0) folded in).
        // In place is safe: c1 lives on in the digits, and each limb of c0 is read before the same limb is written.
        var ext = KeySwitcher.DecomposeRented(_ring, level, PolyAt(ct, 1, level), MaxDegreeOfParallelism);
        try
        {
            destination.Resize(level, 2);
            KeySwitcher.SwitchDecomposedPermuted(_ring, level, ext, key, galoisElement, PolyMemory(ct, 0, level), PolyMemory(destination, 0, level),
                PolyMemory(destination, 1, level), MaxDegreeOfParallelism);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(ext);
        }
        Finish(destination, destination, scale, ct.KeyId);
    }

    /// <summary>
    /// Rotations of one ciphertext by several steps sharing one key-switching decomposition (hoisting): the inverse
    /// NTTs, digit lifting and forward NTTs are done once; per step only the inner product with the (pre-permuted)
    /// key, the division by P and the permutation of the two output polynomials remain. Each step needs its own
    /// Galois key (no composition).
    /// </summary>
    /// <returns>One ciphertext per step, in the order given.</returns>
    /// <exception cref="InvalidOperationException">A step has no Galois key of its own.</exception>
    public Ciphertext[] RotateHoisted(Ciphertext ct, IReadOnlyList<int> steps)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(steps);
        var results = new Ciphertext[steps.Count];
        for (int i = 0; i < results.Length; i++) results[i] = new Ciphertext(_ring, ct.Level, 2, ct.Scale);
        RotateHoisted(ct, steps, results);
        return results;
    }

    /// <summary>
    /// The hoisted rotations of <paramref name="ct"/> written into <paramref name="destinations"/> (one per step, distinct,
    /// none of them ct). With at least as many steps as threads the rotations after the shared decomposition run side
    /// by side, one per thread.
    /// </summary>
    /// <exception cref="ArgumentException">Counts differ, a destination is <paramref name="ct"/> (it is read by every
    /// step), or two destinations are the same ciphertext.</exception>
    /// <exception cref="InvalidOperationException">A step has no Galois key of its own.</exception>
    public void RotateHoisted(Ciphertext ct, IReadOnlyList<int> steps, IReadOnlyList<Ciphertext> destinations)
    {
        Check(ct, nameof(ct)); ArgumentNullException.ThrowIfNull(steps); ArgumentNullException.ThrowIfNull(destinations);
        if (ct.Size != 2) ThrowHelper.Argument(nameof(ct), "Relinearize before rotating: the ciphertext has more than two polynomials.");
        if (_galoisKeys is null) ThrowHelper.InvalidOperation("This evaluator has no Galois keys.");
        if (destinations.Count != steps.Count) ThrowHelper.Argument(nameof(destinations), $"One destination per step: {steps.Count} steps, {destinations.Count} destinations.");
        int level = ct.Level, n = _ring.N;
        var elements = ArrayPool<ulong>.Shared.Rent(steps.Count); // pooled: a warm single-threaded call allocates nothing
        ulong[]? ext = null;
        try
        {
            for (int i = 0; i < steps.Count; i++)
            {
                if (destinations[i] is null || ReferenceEquals(destinations[i], ct)) ThrowHelper.Argument(nameof(destinations), "Destinations must be non-null and distinct from the input.");
                for (int j = 0; j < i; j++)
                    if (ReferenceEquals(destinations[j], destinations[i])) ThrowHelper.Argument(nameof(destinations), $"Destinations {j} and {i} are the same ciphertext; each step needs its own.");
                int s = NormalizedStep(steps[i]);
                elements[i] = GaloisElements.ForRotation(s, n);
                if (s != 0 && !_galoisKeys.Contains(elements[i]))
                    ThrowHelper.InvalidOperation($"Hoisted rotation by {steps[i]} needs its own Galois key (element {elements[i]}); generate keys for these steps.");
                if (s != 0) KeyId.Check(ct.KeyId, _galoisKeys[elements[i]].KeyId, nameof(ct), "the Galois key's secret");
            }
            ext = KeySwitcher.DecomposeRented(_ring, level, PolyAt(ct, 1, level), MaxDegreeOfParallelism);
            var (outer, inner) = SplitThreads(steps.Count);
            Parallelism.For(steps.Count, outer, new HoistedTails(this, ct, ext, elements, destinations, inner));
        }
        finally
        {
            if (ext is not null) ArrayPool<ulong>.Shared.Return(ext);
            ArrayPool<ulong>.Shared.Return(elements);
        }
    }

    /// <summary>Rotation i of a hoisted set: the inner product with its key, the division by P, c0 and σ.</summary>
    private readonly record struct HoistedTails(RlweEvaluator Evaluator, Ciphertext Input, ulong[] Ext, ulong[] Elements,
        IReadOnlyList<Ciphertext> Destinations, int InnerParallelism) : IParallelBody
    {
        public void Invoke(int i)
        {
            var ring = Evaluator._ring;
            int level = Input.Level;
            var result = Destinations[i];
            if (Elements[i] == 1) { result.CopyFrom(Input); return; }
            result.Resize(level, 2);
            KeySwitcher.SwitchDecomposedPermuted(ring, level, Ext, Evaluator._galoisKeys![Elements[i]], Elements[i], PolyMemory(Input, 0, level),
                PolyMemory(result, 0, level), PolyMemory(result, 1, level), InnerParallelism);
            Finish(result, result, Input.Scale, Input.KeyId);
        }
    }

    /// <summary>
    /// For each group g: destinations[g] = Σ_(step, w) w ⊙ Rot_step(x) over the terms of groups[g], at x's level and
    /// scale x.Scale · w.Scale (not rescaled) — the inner sums of a baby-step giant-step linear transform.
    /// </summary>
    /// <remarks>
    /// Double hoisting (Bossuat, Mouchet, Troncoso-Pastoriza and Hubaux 2021): every rotation shares one decomposition
    /// of x, is kept over Q·P multiplied by P instead of being divided by P, and each group's sum is divided by P once.
    /// A group of k rotations therefore costs k inner products but two divisions by P instead of 2k; each step needs its
    /// own Galois key (step 0 needs none).
    /// </remarks>
    /// <exception cref="ArgumentException">Counts differ, a group is empty, a destination is x, a weight is below x's
    /// level or of other parameters, or the weights of a group have different scales.</exception>
    /// <exception cref="InvalidOperationException">A step has no Galois key of its own.</exception>
    public void MultiplyRotationsSum(Ciphertext x, IReadOnlyList<IReadOnlyList<(int Step, LiftedPlaintext Weight)>> groups,
        IReadOnlyList<Ciphertext> destinations)
    {
        Check(x, nameof(x)); ArgumentNullException.ThrowIfNull(groups); ArgumentNullException.ThrowIfNull(destinations);
        if (x.Size != 2) ThrowHelper.Argument(nameof(x), "Relinearize before rotating: the ciphertext has more than two polynomials.");
        if (destinations.Count != groups.Count) ThrowHelper.Argument(nameof(destinations), $"One destination per group: {groups.Count} groups, {destinations.Count} destinations.");
        int level = x.Level, n = _ring.N, qLimbs = level + 1, extLimbs = qLimbs + _ring.PCount;
        var steps = new List<int>();
        for (int g = 0; g < groups.Count; g++)
        {
            var group = groups[g];
            if (group is null || group.Count == 0) ThrowHelper.Argument(nameof(groups), $"Group {g} is empty.");
            if (destinations[g] is null || ReferenceEquals(destinations[g], x)) ThrowHelper.Argument(nameof(destinations), "Destinations must be non-null and distinct from the input.");
            for (int h = 0; h < g; h++)
                if (ReferenceEquals(destinations[h], destinations[g])) ThrowHelper.Argument(nameof(destinations), $"Destinations {h} and {g} are the same ciphertext; each group needs its own.");
            foreach (var (step, weight) in group)
            {
                ArgumentNullException.ThrowIfNull(weight, nameof(groups));
                if (!weight.Plaintext.Parameters.SameRingAs(_ring)) ThrowHelper.Argument(nameof(groups), "A weight belongs to other parameters.");
                if (weight.Level < level) ThrowHelper.Argument(nameof(groups), $"A weight is at level {weight.Level}, below the ciphertext's {level}.");
                CheckCompatible(group[0].Weight.Scale, weight.Scale, "the group's first weight", "a weight of the same group");
                int s = NormalizedStep(step);
                if (steps.Contains(s)) continue;
                if (s != 0 && (_galoisKeys is null || !_galoisKeys.Contains(GaloisElements.ForRotation(s, n))))
                    ThrowHelper.InvalidOperation($"Rotation by {step} needs its own Galois key (element {GaloisElements.ForRotation(s, n)}); generate keys for these steps.");
                if (s != 0) KeyId.Check(x.KeyId, _galoisKeys![GaloisElements.ForRotation(s, n)].KeyId, nameof(x), "the Galois key's secret");
                steps.Add(s);
            }
        }
        var pool = ArrayPool<ulong>.Shared;
        int liftedLength = 2 * extLimbs * n;
        var lifted = new ulong[steps.Count][];
        ulong[]? ext = null;
        try
        {
            if (steps.Any(s => s != 0)) ext = KeySwitcher.DecomposeRented(_ring, level, PolyAt(x, 1, level), MaxDegreeOfParallelism);
            for (int k = 0; k < steps.Count; k++) lifted[k] = pool.Rent(liftedLength);
            var (outer, inner) = SplitThreads(steps.Count);
            Parallelism.For(steps.Count, outer, new LiftedRotations(this, x, ext, steps.ToArray(), lifted, inner));
            (outer, inner) = SplitThreads(groups.Count);
            Parallelism.For(groups.Count, outer, new GroupSums(this, x, groups, destinations, steps, lifted, inner));
        }
        finally
        {
            if (ext is not null) pool.Return(ext);
            foreach (var buffer in lifted) if (buffer is not null) pool.Return(buffer);
        }
    }

    /// <summary>Rotation k of <see cref="MultiplyRotationsSum"/>, kept over Q·P and multiplied by P.</summary>
    private readonly record struct LiftedRotations(RlweEvaluator Evaluator, Ciphertext X, ulong[]? Ext, int[] Steps, ulong[][] Lifted,
        int InnerParallelism) : IParallelBody
    {
        public void Invoke(int k)
        {
            var ring = Evaluator._ring;
            int level = X.Level;
            if (Steps[k] == 0)
            {
                KeySwitcher.LiftByP(ring, level, PolyAt(X, 0, level), PolyAt(X, 1, level), Lifted[k]);
                return;
            }
            ulong element = GaloisElements.ForRotation(Steps[k], ring.N);
            KeySwitcher.RotateLifted(ring, level, Ext!, Evaluator._galoisKeys![element], element, PolyAt(X, 0, level), Lifted[k], InnerParallelism);
        }
    }

    /// <summary>Group g of <see cref="MultiplyRotationsSum"/>: Σ w ⊙ (lifted rotation) over Q·P, then one division by P.</summary>
    private readonly record struct GroupSums(RlweEvaluator Evaluator, Ciphertext X, IReadOnlyList<IReadOnlyList<(int Step, LiftedPlaintext Weight)>> Groups,
        IReadOnlyList<Ciphertext> Destinations, List<int> Steps, ulong[][] Lifted, int InnerParallelism) : IParallelBody
    {
        public void Invoke(int g)
        {
            var ring = Evaluator._ring;
            var rns = Evaluator._rns;
            int level = X.Level, n = ring.N, qLimbs = level + 1, pCount = ring.PCount, extLimbs = qLimbs + pCount;
            var group = Groups[g];
            var acc = ArrayPool<ulong>.Shared.Rent(2 * extLimbs * n);
            try
            {
                for (int t = 0; t < group.Count; t++)
                {
                    var (step, weight) = group[t];
                    var term = Lifted[Steps.IndexOf(Evaluator.NormalizedStep(step))];
                    for (int half = 0; half < 2; half++)
                    {
                        var q = term.AsSpan(half * extLimbs * n, qLimbs * n);
                        var p = term.AsSpan((half * extLimbs + qLimbs) * n, pCount * n);
                        var aq = acc.AsSpan(half * extLimbs * n, qLimbs * n);
                        var ap = acc.AsSpan((half * extLimbs + qLimbs) * n, pCount * n);
                        var wq = weight.Plaintext.Data.AsSpan(0, qLimbs * n);
                        if (t == 0)
                        {
                            rns.MulPointwise(q, wq, aq, 0, qLimbs);
                            rns.MulPointwise(p, weight.PLimbs, ap, ring.PStart, pCount);
                        }
                        else
                        {
                            rns.MulPointwiseAdd(q, wq, aq, 0, qLimbs);
                            rns.MulPointwiseAdd(p, weight.PLimbs, ap, ring.PStart, pCount);
                        }
                    }
                }
                var destination = Destinations[g];
                destination.Resize(level, 2);
                KeySwitcher.ModDown(ring, level, acc, 0, destination.Data, InnerParallelism);
                KeySwitcher.ModDown(ring, level, acc, extLimbs * n, destination.Data, InnerParallelism, destination.PolyLength);
                Finish(destination, destination, X.Scale * group[0].Weight.Scale, X.KeyId);
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(acc);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>A rotation step as its representative in [0, slots).</summary>
    private int NormalizedStep(int steps) => (int)(((long)steps % RotationSlots + RotationSlots) % RotationSlots);

    /// <summary>
    /// Threads for <paramref name="count"/> independent rotations: one whole rotation per thread when there are at least
    /// as many as threads (no synchronisation inside each), else one at a time with its limbs split across the threads.
    /// </summary>
    private (int Outer, int Inner) SplitThreads(int count) =>
        count >= MaxDegreeOfParallelism ? (MaxDegreeOfParallelism, 1) : (1, MaxDegreeOfParallelism);

    // For the element-wise operations, which write every word of their result.
    private static Ciphertext NewOverwrittenLike(Ciphertext ct) => Ciphertext.Uninitialized(ct.Parameters, ct.Level, 2, ct.Scale);

    /// <summary>
    /// A new ciphertext for an allocating form, in the shape its result will have (default: size 2 at ct's level):
    /// not zeroed, since every destination form writes each word of its result (a destination may hold anything).
    /// Out-of-range shapes are clamped, so the operation's own checks still name the problem.
    /// </summary>
    protected Ciphertext NewLike(Ciphertext ct, int? level = null, int? size = null)
    {
        ArgumentNullException.ThrowIfNull(ct);
        return Ciphertext.Uninitialized(ct.Parameters, Math.Clamp(level ?? ct.Level, 0, ct.Parameters.MaxLevel), Math.Clamp(size ?? 2, 2, Ciphertext.MaxSize), ct.Scale);
    }

}
