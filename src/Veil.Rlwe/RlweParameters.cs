using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Numerics;
using System.Security.Cryptography;
using Veil.Arithmetic;

namespace Veil.Rlwe;

/// <summary>
/// Validated, immutable ring parameters shared by the RLWE schemes: ring degree, the ciphertext primes
/// Q = q_0 … q_L, the special primes P used by hybrid key switching, and every table derived from them.
/// </summary>
/// <remarks>
/// Level ℓ means the primes q_0 … q_ℓ are present. Key switching splits Q into digits of |P| consecutive primes
/// (with one special prime, one prime a digit, as Microsoft SEAL does).
/// </remarks>
public sealed class RlweParameters
{
    /// <summary>Smallest supported log2 N.</summary>
    public const int MinLogN = 10;
    /// <summary>Largest supported log2 N.</summary>
    public const int MaxLogN = 17;

    private readonly BasisConverter?[] _modDown, _modUpToP;
    private readonly ConcurrentDictionary<ulong, int[]> _galoisPermutations = new();

    /// <summary>log2 of the ring degree.</summary>
    public int LogN { get; }
    /// <summary>Ring degree N.</summary>
    public int N { get; }
    /// <summary>Ciphertext primes q_0 … q_L.</summary>
    public IReadOnlyList<ulong> Q { get; }
    /// <summary>Special primes for key switching.</summary>
    public IReadOnlyList<ulong> P { get; }
    /// <summary>The security level the set was checked against.</summary>
    public SecurityLevel Security { get; }
    /// <summary>The ring over all primes: limbs 0 … L are Q, limbs L+1 … L+|P| are P.</summary>
    public RnsRing Ring { get; }
    /// <summary>Highest level L (= |Q| − 1).</summary>
    public int MaxLevel => Q.Count - 1;
    /// <summary>Number of special primes.</summary>
    public int PCount => P.Count;
    /// <summary>Limb index of the first special prime.</summary>
    public int PStart => Q.Count;
    /// <summary>Total bits of Q·P (rounded up, as the security standard counts them).</summary>
    public int LogQP { get; }
    /// <summary>
    /// SHA-256 of the canonical encoding of everything that defines the set — N, the security level it was checked
    /// at, Q and P; serialized objects carry it to detect mismatched parameters. It is a fingerprint, not a MAC: it
    /// catches mistakes, not an attacker, who can recompute it.
    /// </summary>
    public ReadOnlyMemory<byte> Hash { get; }

    /// <summary>The version-1 fingerprint (N, Q and P without the security level), against which objects written
    /// before format version 2 are checked.</summary>
    internal ReadOnlyMemory<byte> LegacyHash { get; }

    /// <summary>Every prime, Q then P (the limb order of <see cref="Ring"/>).</summary>
    internal ulong[] PrimeValues { get; }

    /// <summary>P mod q_j for each ciphertext prime.</summary>
    internal ulong[] PModQ { get; }
    /// <summary>P^-1 mod q_j for each ciphertext prime.</summary>
    internal ulong[] PInvModQ { get; }
    /// <summary>q_ℓ^-1 mod q_j, indexed [ℓ][j] for j &lt; ℓ.</summary>
    internal ulong[][] LastPrimeInverse { get; }

    private RlweParameters(int logN, ulong[] q, ulong[] p, SecurityLevel security)
    {
        LogN = logN;
        N = 1 << logN;
        Q = q;
        P = p;
        Security = security;
        Ring = new RnsRing(logN, q.Concat(p));
        PrimeValues = [.. q, .. p];
        Gadget = new GadgetDecomposition(Ring, q.Length);
        double bits = q.Concat(p).Sum(v => Math.Log2(v));
        LogQP = (int)Math.Ceiling(bits - 1e-9);
        var moduli = Ring.Moduli;
        PModQ = new ulong[q.Length];
        PInvModQ = new ulong[q.Length];
        for (int j = 0; j < q.Length; j++)
        {
            ulong prod = 1;
            foreach (ulong pi in p) prod = moduli[j].Mul(prod, moduli[j].Reduce(pi));
            PModQ[j] = prod;
            PInvModQ[j] = moduli[j].Inverse(prod);
        }
        LastPrimeInverse = new ulong[q.Length][];
        for (int l = 0; l < q.Length; l++)
        {
            LastPrimeInverse[l] = new ulong[l];
            for (int j = 0; j < l; j++) LastPrimeInverse[l][j] = moduli[j].Inverse(moduli[j].Reduce(q[l]));
        }
        _modDown = new BasisConverter?[q.Length];
        _modUpToP = new BasisConverter?[q.Length];
        Hash = ComputeHash(includeSecurity: true);
        LegacyHash = ComputeHash(includeSecurity: false);
    }

    /// <summary>Validates and builds a parameter set from explicit primes.</summary>
    /// <param name="logN">log2 of the ring degree, in [10, 17].</param>
    /// <param name="q">Ciphertext primes, each ≡ 1 mod 2N, at most 61 bits.</param>
    /// <param name="p">Special primes (at least one); key-switching noise stays small when their product is at least a digit of Q.</param>
    /// <param name="security">Security target; <see cref="SecurityLevel.InsecureNoCheck"/> skips the check.</param>
    /// <exception cref="ArgumentException">Any prime is invalid, repeated, or the set is below the security target.</exception>
    public static RlweParameters Create(int logN, IReadOnlyList<ulong> q, IReadOnlyList<ulong> p, SecurityLevel security = SecurityLevel.Bits128)
    {
        if (logN < MinLogN || logN > MaxLogN) ThrowHelper.OutOfRange(nameof(logN), $"logN must be in [{MinLogN}, {MaxLogN}]; got {logN}.");
        if (q is null || q.Count == 0) ThrowHelper.Argument(nameof(q), "At least one ciphertext prime is needed.");
        if (p is null || p.Count == 0) ThrowHelper.Argument(nameof(p), "At least one special prime is needed for key switching.");
        if (q.Count > 64 || p.Count > 16) ThrowHelper.Argument(nameof(q), "At most 64 ciphertext primes and 16 special primes are supported.");
        if (!Enum.IsDefined(security)) ThrowHelper.Argument(nameof(security), $"Unknown security level {security}.");
        ulong twoN = 2UL << logN;
        foreach (var (prime, name) in q.Select(v => (v, nameof(q))).Concat(p.Select(v => (v, nameof(p)))))
        {
            if (prime >> Modulus.MaxBits != 0 || prime < 3)
                ThrowHelper.Argument(name, $"Prime {prime} is outside [3, 2^{Modulus.MaxBits}).");
            if (prime % twoN != 1) ThrowHelper.Argument(name, $"Prime {prime} is not ≡ 1 mod 2N = {twoN}.");
            if (!Primes.IsPrime(prime)) ThrowHelper.Argument(name, $"{prime} is not prime.");
        }
        var all = q.Concat(p).ToArray();
        if (all.Distinct().Count() != all.Length) ThrowHelper.Argument(nameof(q), "The primes of Q and P must all be distinct.");
        double logQP = all.Sum(v => Math.Log2(v));
        if (security != SecurityLevel.InsecureNoCheck)
        {
            int? max = HomomorphicEncryptionStandard.MaxLogQP(logN, security);
            if (max is null)
                ThrowHelper.Argument(nameof(security), $"The security standard has no bound for N = 2^{logN} at {security}; choose SecurityLevel.InsecureNoCheck explicitly to use it.");
            if (Math.Ceiling(logQP - 1e-9) > max.Value)
                ThrowHelper.Argument(nameof(q),
                    $"log2(Q·P) = {Math.Ceiling(logQP - 1e-9)} bits exceeds {max} bits, the {(int)security}-bit bound for N = 2^{logN} " +
                    $"(HomomorphicEncryption.org standard). Use fewer or smaller primes, a larger N, or SecurityLevel.InsecureNoCheck explicitly.");
        }
        return new RlweParameters(logN, q.ToArray(), p.ToArray(), security);
    }

    /// <summary>Number of key-switching digits for a ciphertext at the given level.</summary>
    public int DigitCount(int level) => Gadget.DigitCount(level);

    /// <summary>Number of digits of a key generated at the top level.</summary>
    public int MaxDigitCount => DigitCount(MaxLevel);

    /// <summary>The gadget decomposition of key switching over these primes (digits of |P| primes), shared by every scheme.</summary>
    public GadgetDecomposition Gadget { get; }

    /// <summary>The converter from P to Q_level, used to divide by P after key switching.</summary>
    internal BasisConverter ModDown(int level) => Cached(_modDown, level, static (p, l) => new BasisConverter(
        Enumerable.Range(p.PStart, p.PCount).Select(j => p.Ring.Moduli[j]).ToArray(),
        Enumerable.Range(0, l + 1).Select(j => p.Ring.Moduli[j]).ToArray()));

    /// <summary>The converter from the whole of Q_level to P, used to lift plaintexts for double hoisting.</summary>
    internal BasisConverter ModUpToP(int level) => Cached(_modUpToP, level, static (p, l) => new BasisConverter(
        Enumerable.Range(0, l + 1).Select(j => p.Ring.Moduli[j]).ToArray(),
        Enumerable.Range(p.PStart, p.PCount).Select(j => p.Ring.Moduli[j]).ToArray()));

    /// <summary>cache[level], built once (a lost race builds a spare that is dropped); the static factory keeps the
    /// lookup free of allocation.</summary>
    private BasisConverter Cached(BasisConverter?[] cache, int level, Func<RlweParameters, int, BasisConverter> build)
    {
        var conv = Volatile.Read(ref cache[level]);
        if (conv is not null) return conv;
        Interlocked.CompareExchange(ref cache[level], build(this, level), null);
        return cache[level]!;
    }

    /// <summary>
    /// The NTT-domain permutation of the automorphism X → X^k: out[j] = in[perm[j]] (a copy the caller owns).
    /// </summary>
    /// <exception cref="ArgumentException">k is even or not below 2N.</exception>
    public int[] GaloisPermutation(ulong galoisElement) => (int[])SharedGaloisPermutation(galoisElement).Clone();

    /// <summary>The cached permutation itself; callers inside the library must not write to it.</summary>
    internal int[] SharedGaloisPermutation(ulong galoisElement)
    {
        if ((galoisElement & 1) == 0 || galoisElement >= 2UL * (ulong)N)
            ThrowHelper.Argument(nameof(galoisElement), $"A Galois element must be odd and below 2N = {2 * N}; got {galoisElement}.");
        if (_galoisPermutations.TryGetValue(galoisElement, out var cached)) return cached;
        return _galoisPermutations.GetOrAdd(galoisElement, k =>
        {
            // NTT slot j holds a(ψ^(2·rev(j)+1)); σ_k(a) there equals a(ψ^((2·rev(j)+1)·k)).
            ulong mask = 2UL * (ulong)N - 1;
            var perm = new int[N];
            for (int j = 0; j < N; j++)
            {
                ulong exponent = ((2UL * (ulong)NttTable.ReverseBits(j, LogN) + 1) * k) & mask;
                perm[j] = NttTable.ReverseBits((int)((exponent - 1) >> 1), LogN);
            }
            return perm;
        });
    }

    private byte[] ComputeHash(bool includeSecurity)
    {
        // Canonical encoding, little-endian: "VeilRin2" ‖ logN ‖ security ‖ |Q| ‖ Q ‖ |P| ‖ P; version 1 had
        // "VeilRing" and no security field.
        var buffer = new byte[8 + 4 + (includeSecurity ? 4 : 0) + 4 + 8 * Q.Count + 4 + 8 * P.Count];
        (includeSecurity ? "VeilRin2"u8 : "VeilRing"u8).CopyTo(buffer);
        int o = 8;
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(o), LogN); o += 4;
        if (includeSecurity) { BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(o), (int)Security); o += 4; }
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(o), Q.Count); o += 4;
        foreach (var v in Q) { BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(o), v); o += 8; }
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(o), P.Count); o += 4;
        foreach (var v in P) { BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(o), v); o += 8; }
        return SHA256.HashData(buffer);
    }

    /// <summary>Whether two parameter objects describe the same ring checked at the same security level.</summary>
    public bool SameRingAs(RlweParameters other) =>
        ReferenceEquals(this, other) || Hash.Span.SequenceEqual(other.Hash.Span);

    /// <inheritdoc/>
    public override string ToString() =>
        $"N = {N}, Q = {{{string.Join(", ", Q.Select(v => BitOperations.Log2(v) + 1))}}} bits, P = {{{string.Join(", ", P.Select(v => BitOperations.Log2(v) + 1))}}} bits, log2(QP) = {LogQP}, {Security}";
}
