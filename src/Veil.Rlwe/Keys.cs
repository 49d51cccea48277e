using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe;

/// <summary>
/// The secret key s, ternary, kept both as its signed coefficients and in NTT form over every prime of Q·P, in
/// pinned arrays (the collector never moves, and so never copies, them). Its memory is cleared on <see cref="Dispose"/>.
/// </summary>
public sealed class SecretKey : IDisposable
{
    private sbyte[] _coefficients;
    private ulong[] _ntt;
    private bool _disposed;

    /// <summary>The parameters the key belongs to.</summary>
    public RlweParameters Parameters { get; }

    /// <summary>
    /// How many decryptions whose results leave the key holder this key still allows (see <see cref="DecryptionBudget"/>):
    /// the release decryptions of the schemes count against it and are refused once it is spent. Saved with the key.
    /// </summary>
    public DecryptionBudget ReleaseBudget { get; }

    /// <summary>The key's id, which every ciphertext encrypted under it (or under a public key made from it) carries.</summary>
    public KeyId Id { get; }

    /// <param name="parameters">The parameters.</param>
    /// <param name="coefficients">The ternary coefficients, in an array the key takes over (pinned, so that no copy is left behind).</param>
    /// <param name="budget">The release budget; a fresh default one when null.</param>
    internal SecretKey(RlweParameters parameters, sbyte[] coefficients, DecryptionBudget? budget = null)
    {
        Parameters = parameters;
        _coefficients = coefficients;
        ReleaseBudget = budget ?? new DecryptionBudget();
        Id = KeyId.OfSecret(parameters, coefficients);
        var ring = parameters.Ring;
        _ntt = GC.AllocateArray<ulong>(ring.LimbCount * ring.N, pinned: true);
        Samplers.SmallToRns(coefficients, ring, _ntt, 0, ring.LimbCount);
        ring.Forward(_ntt, 0, ring.LimbCount);
    }

    /// <summary>A secret key from its coefficients in {−1, 0, 1} (copied into pinned memory; the caller wipes its own copy).</summary>
    /// <exception cref="ArgumentException">Not N coefficients, or one outside {−1, 0, 1}.</exception>
    public static SecretKey FromCoefficients(RlweParameters parameters, ReadOnlySpan<sbyte> coefficients, DecryptionBudget? budget = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (coefficients.Length != parameters.N) ThrowHelper.Argument(nameof(coefficients), $"A secret key has N = {parameters.N} coefficients; got {coefficients.Length}.");
        foreach (sbyte c in coefficients)
            if (c < -1 || c > 1) ThrowHelper.Argument(nameof(coefficients), "Secret-key coefficients are −1, 0 or 1.");
        var copy = GC.AllocateArray<sbyte>(parameters.N, pinned: true);
        coefficients.CopyTo(copy);
        return new SecretKey(parameters, copy, budget);
    }

    /// <summary>The number of nonzero coefficients h: it bounds what bootstrapping's EvalMod must remove ((h + 1)/2 multiples of q_0).</summary>
    public int HammingWeight
    {
        get
        {
            ThrowIfDisposed();
            int h = 0;
            foreach (sbyte c in _coefficients) h += c & 1; // −1 and 1 are odd, 0 is even: no branch on the secret
            return h;
        }
    }

    /// <summary>
    /// The same secret over another chain of the same degree (its own budget): for keys that live over part of the
    /// modulus, as bootstrapping's encapsulation key over q_0·P. The copy is the caller's to dispose.
    /// </summary>
    /// <exception cref="ArgumentException">The other parameters have another ring degree.</exception>
    internal SecretKey ToRing(RlweParameters other)
    {
        ArgumentNullException.ThrowIfNull(other);
        ThrowIfDisposed();
        if (other.N != Parameters.N) ThrowHelper.Argument(nameof(other), $"The other chain has N = {other.N}; this key has N = {Parameters.N}.");
        var copy = GC.AllocateArray<sbyte>(other.N, pinned: true);
        _coefficients.CopyTo(copy, 0);
        return new SecretKey(other, copy);
    }

    /// <summary>Coefficients of s in {−1, 0, 1}.</summary>
    internal ReadOnlySpan<sbyte> Coefficients { get { ThrowIfDisposed(); return _coefficients; } }

    /// <summary>s in NTT form over all limbs of Q·P (limb-major).</summary>
    internal ReadOnlySpan<ulong> Ntt { get { ThrowIfDisposed(); return _ntt; } }

    private void ThrowIfDisposed()
    {
        if (_disposed) ThrowHelper.Disposed(nameof(SecretKey));
    }

    /// <summary>Zeroes the key material.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_coefficients.AsSpan()));
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_ntt.AsSpan()));
        _coefficients = [];
        _ntt = [];
    }
}

/// <summary>
/// A per-key count of decryptions whose results leave the key holder. A decrypted CKKS value carries the ciphertext's
/// error, which is a function of the secret key; every such result released to another party gives it equations in
/// the key (Li and Micciancio, Eurocrypt 2021). Release decryptions add flooding noise sized for
/// <see cref="Limit"/> results, and are refused once that many have been released.
/// </summary>
/// <remarks>Thread-safe. The limit can only be lowered, since the noise of earlier releases was sized for it.</remarks>
public sealed class DecryptionBudget
{
    /// <summary>The default limit: 1,024 released decryptions.</summary>
    public const int DefaultLimit = 1024;
    /// <summary>The largest limit accepted: 2^24.</summary>
    public const int MaxLimit = 1 << 24;

    private int _limit, _used;

    /// <summary>A budget of <paramref name="limit"/> decryptions, <paramref name="used"/> of them spent.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The limit is outside [0, <see cref="MaxLimit"/>] or the used count outside [0, limit].</exception>
    public DecryptionBudget(int limit = DefaultLimit, int used = 0)
    {
        if (limit < 0 || limit > MaxLimit) ThrowHelper.OutOfRange(nameof(limit), $"The limit must be in [0, {MaxLimit}]; got {limit}.");
        if (used < 0 || used > limit) ThrowHelper.OutOfRange(nameof(used), $"The used count must be in [0, {limit}]; got {used}.");
        _limit = limit;
        _used = used;
    }

    /// <summary>The number of released decryptions the flooding noise is sized for.</summary>
    public int Limit => Volatile.Read(ref _limit);
    /// <summary>Released decryptions so far.</summary>
    public int Used => Volatile.Read(ref _used);
    /// <summary>Released decryptions still allowed.</summary>
    public int Remaining => Math.Max(0, Limit - Used);

    /// <summary>Counts <paramref name="count"/> releases if the budget allows them all, atomically.</summary>
    /// <returns>False (and nothing counted) when fewer than <paramref name="count"/> remain.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1.</exception>
    public bool TryConsume(int count = 1)
    {
        if (count < 1) ThrowHelper.OutOfRange(nameof(count), $"Count must be at least 1; got {count}.");
        while (true)
        {
            int used = Volatile.Read(ref _used);
            if ((long)used + count > Limit) return false;
            if (Interlocked.CompareExchange(ref _used, used + count, used) == used) return true;
        }
    }

    /// <summary>Lowers the limit (never below what is used); raising it would under-size earlier releases' noise.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The new limit is negative or above the current one.</exception>
    public void Restrict(int limit)
    {
        if (limit < 0 || limit > Limit) ThrowHelper.OutOfRange(nameof(limit), $"A budget can only be lowered, to [0, {Limit}]; got {limit}.");
        int current;
        do current = Volatile.Read(ref _limit);
        while (Interlocked.CompareExchange(ref _limit, Math.Max(limit, Used), current) != current);
    }
}

/// <summary>
/// The public key (b, a) = (−a·s + e, a) over Q·P in NTT form; a is expanded from <see cref="Seed"/>.
/// </summary>
public sealed class PublicKey
{
    /// <summary>The parameters the key belongs to.</summary>
    public RlweParameters Parameters { get; }
    /// <summary>b over all limbs of Q·P.</summary>
    internal ulong[] B { get; }
    /// <summary>a over all limbs of Q·P (expanded from the seed).</summary>
    internal ulong[] A { get; }
    /// <summary>The seed of a.</summary>
    public ReadOnlyMemory<byte> Seed { get; }
    /// <summary>
    /// The id of the secret behind it, stamped on every ciphertext it encrypts: its secret key's id when made from one,
    /// a hash of b and the seed for a collective key, <see cref="KeyId.None"/> when read from a file that did not carry one.
    /// </summary>
    public KeyId Id { get; }

    internal PublicKey(RlweParameters parameters, ulong[] b, ulong[] a, byte[] seed, KeyId id)
    {
        Parameters = parameters;
        B = b;
        A = a;
        Seed = seed;
        Id = id;
    }

    /// <summary>
    /// A public key from its polynomial b (NTT form over all of Q·P) and the seed of a — for instance the sum of the
    /// parties' shares b_i = −a·s_i + e_i of a collective key, a expanded from the common reference string.
    /// </summary>
    /// <exception cref="ArgumentException">b has another shape, is not in NTT form or not reduced, or the seed is not 32 bytes.</exception>
    public static PublicKey FromPolynomial(RlweParameters parameters, RnsPolynomial b, ReadOnlySpan<byte> seedOfA) => FromPolynomial(parameters, b, seedOfA, KeyId.None);

    /// <summary>
    /// The same, carrying <paramref name="id"/> (a secret key's <see cref="SecretKey.Id"/>, when one secret stands behind
    /// b), or, for <see cref="KeyId.None"/>, the id derived from b and the seed as for a collective key.
    /// </summary>
    public static PublicKey FromPolynomial(RlweParameters parameters, RnsPolynomial b, ReadOnlySpan<byte> seedOfA, KeyId id)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(b);
        if (!b.IsNttForm) ThrowHelper.Argument(nameof(b), "b must be in NTT form.");
        b.CheckReduced(parameters.Ring.Moduli, parameters.N, nameof(b));
        if (seedOfA.Length != Prng.SeedSize) ThrowHelper.Argument(nameof(seedOfA), $"A seed is {Prng.SeedSize} bytes; got {seedOfA.Length}.");
        var a = new ulong[b.Data.Length];
        KeyGenerator.ExpandPublicA(parameters, seedOfA, a);
        return new PublicKey(parameters, (ulong[])b.Data.Clone(), a, seedOfA.ToArray(), id.IsNone ? KeyId.OfPublic(parameters, b.Data, seedOfA) : id);
    }

    /// <summary>A copy of b (NTT form over Q·P).</summary>
    public RnsPolynomial GetB() => new(Parameters.N, Parameters.Ring.LimbCount, B);

    /// <summary>A copy of a (NTT form over Q·P), expanded from <see cref="Seed"/>.</summary>
    public RnsPolynomial GetA() => new(Parameters.N, Parameters.Ring.LimbCount, A);
}

/// <summary>
/// A hybrid key-switching key from s' to s: for each digit i of Q, (b_i, a_i) with
/// b_i = −a_i·s + e_i + P·g_i·s' over Q·P, g_i the CRT indicator of digit i. The a_i come from one seed.
/// </summary>
public sealed class KeySwitchingKey
{
    /// <summary>The parameters the key belongs to.</summary>
    public RlweParameters Parameters { get; }
    /// <summary>b_i over all limbs of Q·P, per digit.</summary>
    internal ulong[][] B { get; }
    /// <summary>a_i over all limbs of Q·P, per digit.</summary>
    internal ulong[][] A { get; }
    /// <summary>Seed from which every a_i is expanded (domain "ksk", index i).</summary>
    public ReadOnlyMemory<byte> Seed { get; }
    /// <summary>
    /// The key its outputs decrypt under (s), set when generated; <see cref="KeyId.None"/> for a key loaded from a file
    /// or assembled from shares, which the evaluator then cannot check.
    /// </summary>
    public KeyId KeyId { get; internal set; }

    /// <summary>
    /// 0 for a key held as generated. For a Galois key of element k, k: every limb of b_i and a_i is stored permuted by
    /// σ_k⁻¹ (NTT form), so that the switch of σ_k(d) is σ_k applied to the switch of d with this key — the digits of a
    /// hoisted decomposition are then used as they are, and only the two output polynomials are permuted.
    /// </summary>
    internal ulong Automorphism { get; }

    internal KeySwitchingKey(RlweParameters parameters, ulong[][] b, ulong[][] a, byte[] seed, ulong automorphism = 0)
    {
        Parameters = parameters;
        B = b;
        A = a;
        Seed = seed;
        Automorphism = automorphism;
    }

    /// <summary>Number of digits.</summary>
    public int DigitCount => B.Length;

    /// <summary>A copy of b_i as generated (NTT form over Q·P), whatever storage permutation the key uses.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The digit is outside [0, DigitCount).</exception>
    public RnsPolynomial GetB(int digit)
    {
        if (digit < 0 || digit >= DigitCount) ThrowHelper.OutOfRange(nameof(digit), $"Digit must be in [0, {DigitCount}); got {digit}.");
        return new RnsPolynomial(Parameters.N, Parameters.Ring.LimbCount, CanonicalB(digit));
    }

    /// <summary>The uniform part a_i of digit <paramref name="digit"/> (NTT form over Q·P), as stored.</summary>
    public RnsPolynomial GetA(int digit)
    {
        if (digit < 0 || digit >= DigitCount) ThrowHelper.OutOfRange(nameof(digit), $"Digit must be in [0, {DigitCount}); got {digit}.");
        if (Automorphism != 0) ThrowHelper.InvalidOperation("The key is stored permuted for its Galois element; read its parts before it is used.");
        return new RnsPolynomial(Parameters.N, Parameters.Ring.LimbCount, A[digit]);
    }

    /// <summary>
    /// A key from explicit b_i and a_i (both NTT form over Q·P), for keys whose a_i are not expanded from a seed (the
    /// collective relinearization key). Such a key has no seed, so it is held in memory, not saved by RlweSerializer.
    /// </summary>
    /// <exception cref="ArgumentException">Wrong digit counts, shapes or residues.</exception>
    public static KeySwitchingKey FromPolynomials(RlweParameters parameters, IReadOnlyList<RnsPolynomial> b, IReadOnlyList<RnsPolynomial> a)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(a);
        if (b.Count != parameters.MaxDigitCount || a.Count != b.Count) ThrowHelper.Argument(nameof(b), $"A key of these parameters has {parameters.MaxDigitCount} digits; got {b.Count} and {a.Count}.");
        ulong[] Take(RnsPolynomial x, string name)
        {
            ArgumentNullException.ThrowIfNull(x, name);
            if (!x.IsNttForm) ThrowHelper.Argument(name, "Key polynomials must be in NTT form.");
            if (x.LimbCount != parameters.Ring.LimbCount) ThrowHelper.Argument(name, $"Key polynomials have {parameters.Ring.LimbCount} limbs; got {x.LimbCount}.");
            x.CheckReduced(parameters.Ring.Moduli, parameters.N, name);
            return (ulong[])x.Data.Clone();
        }
        var bs = b.Select(x => Take(x, nameof(b))).ToArray();
        var @as = a.Select(x => Take(x, nameof(a))).ToArray();
        return new KeySwitchingKey(parameters, bs, @as, []);
    }

    /// <summary>
    /// A key-switching key from its b_i (one per digit of the top level, NTT form over Q·P) and the seed of the a_i — for
    /// instance the aggregate of the parties' shares of a collective relinearization or Galois key.
    /// </summary>
    /// <exception cref="ArgumentException">The digit count, a shape, the form or a residue is wrong, or the seed is not 32 bytes.</exception>
    public static KeySwitchingKey FromPolynomials(RlweParameters parameters, IReadOnlyList<RnsPolynomial> b, ReadOnlySpan<byte> seedOfA)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(b);
        if (b.Count != parameters.MaxDigitCount) ThrowHelper.Argument(nameof(b), $"A key of these parameters has {parameters.MaxDigitCount} digits; got {b.Count}.");
        if (seedOfA.Length != Prng.SeedSize) ThrowHelper.Argument(nameof(seedOfA), $"A seed is {Prng.SeedSize} bytes; got {seedOfA.Length}.");
        var bs = new ulong[b.Count][];
        for (int i = 0; i < b.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(b[i], nameof(b));
            if (!b[i].IsNttForm) ThrowHelper.Argument(nameof(b), $"b_{i} must be in NTT form.");
            b[i].CheckReduced(parameters.Ring.Moduli, parameters.N, nameof(b));
            bs[i] = (ulong[])b[i].Data.Clone();
        }
        var seed = seedOfA.ToArray();
        var @as = new ulong[b.Count][];
        for (int i = 0; i < b.Count; i++) @as[i] = ExpandA(parameters, seed, i);
        return new KeySwitchingKey(parameters, bs, @as, seed);
    }

    /// <summary>
    /// This key with its limbs permuted in place by σ_k⁻¹ (see <see cref="Automorphism"/>); the receiver must not be used
    /// afterwards. A key already in that form is returned as it is.
    /// </summary>
    internal KeySwitchingKey PrePermuteInPlace(ulong galoisElement)
    {
        if (Automorphism == galoisElement) return this;
        if (Automorphism != 0) throw new InvalidOperationException($"The key is already permuted for element {Automorphism}.");
        var perm = Parameters.SharedGaloisPermutation(galoisElement);
        int n = Parameters.N, limbs = Parameters.Ring.LimbCount;
        var temp = new ulong[n];
        foreach (var poly in B.Concat(A))
            for (int l = 0; l < limbs; l++)
            {
                var limb = poly.AsSpan(l * n, n);
                limb.CopyTo(temp);
                for (int j = 0; j < n; j++) limb[perm[j]] = temp[j]; // scatter: σ_k⁻¹
            }
        return new KeySwitchingKey(Parameters, B, A, (byte[])Seed.ToArray(), galoisElement) { KeyId = KeyId };
    }

    /// <summary>b_i as generated (undoing the storage permutation), for serialization.</summary>
    internal ulong[] CanonicalB(int digit)
    {
        if (Automorphism == 0) return B[digit];
        int n = Parameters.N, limbs = Parameters.Ring.LimbCount;
        var perm = Parameters.SharedGaloisPermutation(Automorphism);
        var result = new ulong[limbs * n];
        KeySwitcher.Gather(B[digit], result, perm, limbs);
        return result;
    }

    /// <summary>Expands a_i for digit i from a seed (shared by key generation and loading).</summary>
    internal static ulong[] ExpandA(RlweParameters parameters, ReadOnlySpan<byte> seed, int digit)
    {
        var a = new ulong[parameters.Ring.LimbCount * parameters.Ring.N];
        ExpandA(parameters, seed, digit, a);
        return a;
    }

    /// <summary>The same into <paramref name="destination"/> (|Q·P|·N words).</summary>
    internal static void ExpandA(RlweParameters parameters, ReadOnlySpan<byte> seed, int digit, Span<ulong> destination)
    {
        using var prng = new Prng(seed, "veil/ksk/a", digit);
        Samplers.Uniform(prng, parameters.Ring, destination, 0, parameters.Ring.LimbCount);
    }
}

/// <summary>The relinearization key: a key-switching key from s² to s.</summary>
public sealed class RelinearizationKey
{
    /// <summary>The underlying key-switching key.</summary>
    public KeySwitchingKey Key { get; }

    /// <summary>Wraps a key switching from s² to s (generated, loaded, or aggregated from shares).</summary>
    public RelinearizationKey(KeySwitchingKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Automorphism != 0) ThrowHelper.Argument(nameof(key), "A key stored for a Galois element cannot relinearize.");
        Key = key;
    }
    /// <summary>The parameters the key belongs to.</summary>
    public RlweParameters Parameters => Key.Parameters;
}

/// <summary>Galois keys: one key-switching key from σ_k(s) to s for each Galois element k held.</summary>
public sealed class GaloisKeys
{
    private readonly Dictionary<ulong, KeySwitchingKey> _keys;

    /// <summary>The parameters the keys belong to.</summary>
    public RlweParameters Parameters { get; }

    /// <summary>Takes ownership of freshly generated or loaded keys and stores each pre-permuted for its element.</summary>
    internal GaloisKeys(RlweParameters parameters, Dictionary<ulong, KeySwitchingKey> keys)
    {
        Parameters = parameters;
        _keys = keys.ToDictionary(kv => kv.Key, kv => kv.Value.PrePermuteInPlace(kv.Key));
    }

    /// <summary>Galois keys from key-switching keys from σ_k(s) to s, by element (generated, loaded, or aggregated from shares).</summary>
    /// <exception cref="ArgumentException">An element is even or not below 2N, a key belongs to other parameters, or is already stored for an element.</exception>
    public static GaloisKeys FromKeys(RlweParameters parameters, IReadOnlyDictionary<ulong, KeySwitchingKey> keys)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(keys);
        var copy = new Dictionary<ulong, KeySwitchingKey>();
        foreach (var (element, key) in keys)
        {
            parameters.GaloisPermutation(element); // validates the element
            ArgumentNullException.ThrowIfNull(key, nameof(keys));
            if (!key.Parameters.SameRingAs(parameters)) ThrowHelper.Argument(nameof(keys), $"The key for element {element} belongs to other parameters.");
            if (key.Automorphism != 0) ThrowHelper.Argument(nameof(keys), $"The key for element {element} is already stored for an element; pass keys as generated.");
            // The keys are permuted in place when stored: take copies, so that the caller's keys stay usable.
            copy[element] = new KeySwitchingKey(key.Parameters, key.B.Select(b => (ulong[])b.Clone()).ToArray(), key.A.Select(a => (ulong[])a.Clone()).ToArray(), key.Seed.ToArray()) { KeyId = key.KeyId };
        }
        return new GaloisKeys(parameters, copy);
    }

    /// <summary>The Galois elements present, ascending.</summary>
    public IReadOnlyList<ulong> Elements => _keys.Keys.Order().ToArray();

    /// <summary>Whether a key for element k is present.</summary>
    public bool Contains(ulong galoisElement) => _keys.ContainsKey(galoisElement);

    /// <summary>The key for element k.</summary>
    /// <exception cref="ArgumentException">No key for k.</exception>
    public KeySwitchingKey this[ulong galoisElement]
    {
        get
        {
            if (!_keys.TryGetValue(galoisElement, out var key))
                ThrowHelper.Argument(nameof(galoisElement), $"No Galois key for element {galoisElement}.");
            return key;
        }
    }

    internal IEnumerable<KeyValuePair<ulong, KeySwitchingKey>> Pairs => _keys.OrderBy(kv => kv.Key);
}

/// <summary>Galois elements of the slot rotations and of conjugation.</summary>
public static class GaloisElements
{
    /// <summary>The generator of the rotation group.</summary>
    public const ulong Generator = 5;

    /// <summary>
    /// The element 5^steps mod 2N of a rotation by <paramref name="steps"/> (positive: towards lower slot indices,
    /// slot i receives slot i + steps), for N/2 slots.
    /// </summary>
    public static ulong ForRotation(int steps, int n)
    {
        int slots = n / 2;
        long s = ((long)steps % slots + slots) % slots;
        ulong m = 2UL * (ulong)n, g = 1;
        for (long i = 0; i < s; i++) g = g * Generator % m;
        return g;
    }

    /// <summary>The element 2N − 1 (X → X^-1), complex conjugation of the CKKS slots.</summary>
    public static ulong ForConjugation(int n) => 2UL * (ulong)n - 1;

    /// <summary>k⁻¹ mod 2N (k odd): the element of the inverse automorphism.</summary>
    public static ulong Inverse(ulong galoisElement, int n)
    {
        ulong twoN = 2UL * (ulong)n;
        if ((galoisElement & 1) == 0 || galoisElement >= twoN) ThrowHelper.Argument(nameof(galoisElement), $"A Galois element is odd and below 2N = {twoN}; got {galoisElement}.");
        ulong x = galoisElement; // Newton's iteration doubles the correct low bits each step: 3 → 6 → … → 96 ≥ 64.
        for (int i = 0; i < 5; i++) x *= 2 - galoisElement * x;
        return x & (twoN - 1);
    }
}

/// <summary>A release decryption was refused: the key's <see cref="DecryptionBudget"/> is spent.</summary>
public sealed class DecryptionBudgetExhaustedException : InvalidOperationException
{
    /// <summary>Creates the exception for a budget of <paramref name="limit"/> releases.</summary>
    public DecryptionBudgetExhaustedException(int limit)
        : base($"The key's release budget of {limit} decryptions is spent: every further released result would weaken the key. " +
               "Generate a new key for further results that leave the key holder.") => Limit = limit;

    /// <summary>The budget that was spent.</summary>
    public int Limit { get; }
}
