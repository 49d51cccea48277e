using Veil.Arithmetic;

namespace Veil.Rlwe;

/// <summary>
/// An RLWE ciphertext (c_0, c_1[, c_2 …]) over the primes q_0 … q_level, decrypting to Σ c_i·s^i.
/// Carries its level and scale; CKKS ciphertexts are kept in NTT form between operations.
/// </summary>
public sealed class Ciphertext
{
    /// <summary>Largest number of polynomials accepted (a product of two size-3 ciphertexts is size 5).</summary>
    public const int MaxSize = 5;

    /// <summary>The parameters it belongs to.</summary>
    public RlweParameters Parameters { get; }
    /// <summary>Level: primes q_0 … q_Level are present.</summary>
    public int Level { get; private set; }
    /// <summary>Number of polynomials (2 after relinearization, 3 after a multiplication).</summary>
    public int Size { get; private set; }
    /// <summary>Scale of the encrypted values.</summary>
    public double Scale { get; set; }
    /// <summary>Whether the polynomials are in NTT form.</summary>
    public bool IsNttForm { get; internal set; } = true;
    /// <summary>
    /// Size·(Level + 1)·N words: polynomial-major, then limb-major. Read it afresh after an operation that changes the
    /// ciphertext's shape: the array it replaces may be handed to another ciphertext.
    /// </summary>
    public ulong[] Data { get; private set; }
    /// <summary>
    /// When set, c_1 was expanded from this seed (fresh secret-key encryption) and serialization sends the
    /// seed in its place. Any operation that changes c_1 clears it.
    /// </summary>
    public byte[]? Seed { get; internal set; }
    /// <summary>
    /// The key it decrypts under, set by encryption and carried through every operation (operands under different keys
    /// are refused); <see cref="KeyId.None"/> for a ciphertext built from bare polynomials or read from an older file.
    /// </summary>
    public KeyId KeyId { get; internal set; }

    /// <summary>
    /// Binds an unbound ciphertext (from <see cref="FromPolynomials"/>, or read from a file without a key id) to a key,
    /// for protocols that assemble ciphertexts from shares. A bound ciphertext is never rebound.
    /// </summary>
    /// <exception cref="ArgumentException">The id is <see cref="KeyId.None"/>.</exception>
    /// <exception cref="KeyMismatchException">The ciphertext is already bound to another key.</exception>
    public Ciphertext Bind(KeyId key)
    {
        if (key.IsNone) ThrowHelper.Argument(nameof(key), "Bind to a key id, not to none.");
        KeyId.Check(KeyId, key, nameof(key), "the key it is being bound to");
        KeyId = key;
        return this;
    }

    /// <summary>A zero ciphertext of the given shape.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Level or size out of range.</exception>
    public Ciphertext(RlweParameters parameters, int level, int size = 2, double scale = 1.0)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (level < 0 || level > parameters.MaxLevel) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {parameters.MaxLevel}]; got {level}.");
        if (size < 2 || size > MaxSize) ThrowHelper.OutOfRange(nameof(size), $"Size must be in [2, {MaxSize}]; got {size}.");
        Parameters = parameters;
        Level = level;
        Size = size;
        Scale = scale;
        int length = size * (level + 1) * parameters.N;
        var pooled = CiphertextBuffers.TryTake(length);
        if (pooled is not null) Array.Clear(pooled);
        Data = pooled ?? new ulong[length];
    }

    // A ciphertext whose buffer is not zeroed, for operations that overwrite every word of it (zeroing a large array
    // costs as much as an addition writing it).
    private Ciphertext(RlweParameters parameters, int level, int size, double scale, bool uninitialized)
    {
        Parameters = parameters;
        Level = level;
        Size = size;
        Scale = scale;
        int length = size * (level + 1) * parameters.N;
        var pooled = CiphertextBuffers.TryTake(length);
        if (pooled is not null && !uninitialized) Array.Clear(pooled);
        Data = pooled ?? (uninitialized ? GC.AllocateUninitializedArray<ulong>(length) : new ulong[length]);
    }

    /// <summary>A ciphertext of this shape whose every word the caller will write.</summary>
    internal static Ciphertext Uninitialized(RlweParameters parameters, int level, int size, double scale) => new(parameters, level, size, scale, uninitialized: true);

    /// <summary>A copy of polynomial i (its limbs over q_0 … q_Level, in the ciphertext's form).</summary>
    /// <exception cref="ArgumentOutOfRangeException">i is outside [0, Size).</exception>
    public RnsPolynomial GetPolynomial(int i)
    {
        if (i < 0 || i >= Size) ThrowHelper.OutOfRange(nameof(i), $"Polynomial index must be in [0, {Size}); got {i}.");
        return new RnsPolynomial(Parameters.N, Level + 1, Poly(i), IsNttForm);
    }

    /// <summary>
    /// A ciphertext from its polynomials (2 to <see cref="MaxSize"/>, each over q_0 … q_level in NTT form), for
    /// protocols that build ciphertexts from shares.
    /// </summary>
    /// <exception cref="ArgumentException">A count, shape, form or residue is wrong.</exception>
    public static Ciphertext FromPolynomials(RlweParameters parameters, double scale, params IReadOnlyList<RnsPolynomial> polynomials)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(polynomials);
        if (polynomials.Count < 2 || polynomials.Count > MaxSize) ThrowHelper.Argument(nameof(polynomials), $"A ciphertext has 2 to {MaxSize} polynomials; got {polynomials.Count}.");
        int limbs = polynomials[0].LimbCount;
        if (limbs < 1 || limbs > parameters.MaxLevel + 1) ThrowHelper.Argument(nameof(polynomials), $"Polynomials have 1 to {parameters.MaxLevel + 1} limbs; got {limbs}.");
        var moduli = parameters.Ring.Moduli.Take(limbs).ToArray();
        var ct = new Ciphertext(parameters, limbs - 1, polynomials.Count, scale);
        for (int i = 0; i < polynomials.Count; i++)
        {
            var poly = polynomials[i];
            ArgumentNullException.ThrowIfNull(poly, nameof(polynomials));
            if (!poly.IsNttForm) ThrowHelper.Argument(nameof(polynomials), $"Polynomial {i} must be in NTT form.");
            poly.CheckReduced(moduli, parameters.N, nameof(polynomials));
            poly.Data.AsSpan().CopyTo(ct.Poly(i));
        }
        return ct;
    }

    /// <summary>Words in one polynomial, (Level + 1)·N.</summary>
    public int PolyLength => (Level + 1) * Parameters.N;

    /// <summary>Polynomial i (all its limbs).</summary>
    public Span<ulong> Poly(int i) => Data.AsSpan(i * PolyLength, PolyLength);

    // The buffer of the previous shape: a ciphertext that cycles through shapes (multiply → size 3, relinearize →
    // size 2) reuses it; the one it displaces goes to CiphertextBuffers for the next ciphertext of its length
    // (multiply → relinearize → rescale chains), instead of the collector.
    private ulong[]? _spare;

    /// <summary>A buffer of the given length (the spare, a shared one, or a new one; unspecified contents); the current buffer becomes the spare.</summary>
    private ulong[] TakeBuffer(int length)
    {
        ulong[]? found = null;
        if (_spare?.Length == length) { found = _spare; _spare = null; }
        // The new buffer first: if allocating it throws, nothing has been given away or aliased.
        found ??= CiphertextBuffers.TryTake(length) ?? GC.AllocateUninitializedArray<ulong>(length);
        if (_spare is not null) CiphertextBuffers.Give(_spare);
        _spare = Data; // still read by DropTo and ShrinkTo after this returns: kept, never given here
        return found;
    }

    /// <summary>Reshapes in place (reusing a buffer of the right length when it holds one); contents become unspecified.</summary>
    public void Resize(int level, int size)
    {
        if (level < 0 || level > Parameters.MaxLevel) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {Parameters.MaxLevel}]; got {level}.");
        if (size < 2 || size > MaxSize) ThrowHelper.OutOfRange(nameof(size), $"Size must be in [2, {MaxSize}]; got {size}.");
        int needed = size * (level + 1) * Parameters.N;
        if (Data.Length != needed) Data = TakeBuffer(needed);
        Level = level;
        Size = size;
        Seed = null;
    }

    /// <summary>Keeps the first <paramref name="size"/> polynomials (same level); a new buffer of the smaller size.</summary>
    internal void ShrinkTo(int size)
    {
        if (size == Size) return;
        var old = Data;
        var data = TakeBuffer(size * PolyLength);
        old.AsSpan(0, data.Length).CopyTo(data);
        Data = data;
        Size = size;
        Seed = null;
    }

    /// <summary>Drops primes above <paramref name="level"/> in place, keeping the lower limbs of each polynomial.</summary>
    internal void DropTo(int level)
    {
        if (level == Level) return;
        int n = Parameters.N, oldLen = PolyLength, newLen = (level + 1) * n;
        var old = Data;
        var data = TakeBuffer(Size * newLen);
        for (int i = 0; i < Size; i++) old.AsSpan(i * oldLen, newLen).CopyTo(data.AsSpan(i * newLen));
        Data = data;
        Level = level;
        Seed = null;
    }

    /// <summary>Copies shape, metadata and contents from another ciphertext.</summary>
    public void CopyFrom(Ciphertext source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (ReferenceEquals(source, this)) return;
        Resize(source.Level, source.Size);
        source.Data.AsSpan().CopyTo(Data);
        Scale = source.Scale;
        IsNttForm = source.IsNttForm;
        Seed = source.Seed;
        KeyId = source.KeyId;
    }

    /// <summary>A deep copy.</summary>
    public Ciphertext Clone()
    {
        var c = new Ciphertext(Parameters, Level, Size, Scale);
        c.CopyFrom(this);
        return c;
    }
}
