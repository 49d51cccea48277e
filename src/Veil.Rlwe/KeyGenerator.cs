using System.Buffers;
using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe;

/// <summary>
/// Generates the secret key and the public, relinearization and Galois keys derived from it.
/// Every seed comes from the operating system's cryptographic generator.
/// </summary>
public sealed class KeyGenerator
{
    private readonly RlweParameters _parameters;

    /// <summary>The secret key the generated keys belong to.</summary>
    public SecretKey SecretKey { get; }

    /// <summary>Threads used to generate independent keys and digits (default: the processor count).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Checked between keys and between digits: a signalled token stops key generation with <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Reports the fraction of a Galois key set generated so far, key by key.</summary>
    public IProgress<double>? Progress { get; init; }

    /// <summary>Creates a generator with a fresh ternary secret key.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="releaseBudget">How many decryptions whose results leave the key holder the key will allow (see
    /// <see cref="DecryptionBudget"/>): release noise grows with √budget, so a key made for a few results should say so.</param>
    /// <exception cref="ArgumentOutOfRangeException">The budget is outside [0, <see cref="DecryptionBudget.MaxLimit"/>].</exception>
    public KeyGenerator(RlweParameters parameters, int releaseBudget = DecryptionBudget.DefaultLimit)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var budget = new DecryptionBudget(releaseBudget);
        _parameters = parameters;
        var coefficients = GC.AllocateArray<sbyte>(parameters.N, pinned: true); // the key takes it over
        var seed = Prng.NewSeed();
        using (var prng = new Prng(seed, "veil/secret"))
            Samplers.Ternary(prng, coefficients);
        CryptographicOperations.ZeroMemory(seed);
        SecretKey = new SecretKey(parameters, coefficients, budget);
    }

    /// <summary>
    /// Creates a generator with a fresh sparse ternary secret of exactly <paramref name="hammingWeight"/> nonzero
    /// coefficients. The security check of the parameters assumes a dense secret, so this is refused unless they were
    /// built with <see cref="SecurityLevel.InsecureNoCheck"/>; secure bootstrapping keeps a dense main secret and uses
    /// <see cref="SparseSecretEncapsulation"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The weight is outside [1, N], or the budget out of range.</exception>
    /// <exception cref="ArgumentException">The parameters claim a security level.</exception>
    public static KeyGenerator WithSparseSecret(RlweParameters parameters, int hammingWeight, int releaseBudget = DecryptionBudget.DefaultLimit)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (hammingWeight < 1 || hammingWeight > parameters.N)
            throw new ArgumentOutOfRangeException(nameof(hammingWeight), hammingWeight, $"The Hamming weight must be in [1, {parameters.N}].");
        if (parameters.Security != SecurityLevel.InsecureNoCheck)
            ThrowHelper.Argument(nameof(parameters), "A sparse main secret is not covered by the security check (it assumes a dense ternary secret); use SparseSecretEncapsulation, or parameters built with SecurityLevel.InsecureNoCheck.");
        var budget = new DecryptionBudget(releaseBudget);
        var coefficients = GC.AllocateArray<sbyte>(parameters.N, pinned: true); // the key takes it over
        Samplers.SparseTernary(SystemRandom.Instance, hammingWeight, coefficients);
        return new KeyGenerator(parameters, new SecretKey(parameters, coefficients, budget));
    }

    /// <summary>Creates a generator for an existing secret key.</summary>
    /// <exception cref="ArgumentException">The key belongs to other parameters.</exception>
    public KeyGenerator(RlweParameters parameters, SecretKey secretKey)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(secretKey);
        if (!secretKey.Parameters.SameRingAs(parameters)) ThrowHelper.Argument(nameof(secretKey), "The secret key belongs to other parameters.");
        _parameters = parameters;
        SecretKey = secretKey;
    }

    /// <summary>Samples an error polynomial into all limbs of Q·P in NTT form.</summary>
    internal static void SampleErrorNtt(RlweParameters parameters, Span<ulong> destination)
    {
        var ring = parameters.Ring;
        var buffer = SecretArrayPool<sbyte>.Rent(ring.N);
        var e = buffer.AsSpan(0, ring.N);
        Samplers.Gaussian(SystemRandom.Instance, e);
        Samplers.SmallToRns(e, ring, destination, 0, ring.LimbCount);
        SecretArrayPool<sbyte>.Return(buffer, ring.N);
        ring.Forward(destination, 0, ring.LimbCount);
    }

    /// <summary>A public key (−a·s + e, a) with a expanded from a fresh seed.</summary>
    public PublicKey CreatePublicKey() => CreatePublicKey(Prng.NewSeed());

    /// <summary>
    /// A public key (−a·s + e, a) with a expanded from <paramref name="seedOfA"/>: with a common reference string's
    /// <see cref="CommonReferenceString.PublicKeySeed"/>, its b is this party's share of a collective public key.
    /// </summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public PublicKey CreatePublicKey(ReadOnlySpan<byte> seedOfA)
    {
        if (seedOfA.Length != Prng.SeedSize) ThrowHelper.Argument(nameof(seedOfA), $"A seed is {Prng.SeedSize} bytes; got {seedOfA.Length}.");
        var ring = _parameters.Ring;
        int len = ring.LimbCount * ring.N;
        var seed = seedOfA.ToArray();
        var a = new ulong[len];
        ExpandPublicA(_parameters, seed, a);
        var b = new ulong[len];
        MinusASPlusError(a, b);
        return new PublicKey(_parameters, b, a, seed, SecretKey.Id);
    }

    /// <summary>Expands the uniform half a of a public key from its seed (shared by generation and loading).</summary>
    internal static void ExpandPublicA(RlweParameters parameters, ReadOnlySpan<byte> seed, Span<ulong> destination)
    {
        using var prng = new Prng(seed, "veil/pk/a");
        Samplers.Uniform(prng, parameters.Ring, destination, 0, parameters.Ring.LimbCount);
    }

    /// <summary>The relinearization key (switching s² to s).</summary>
    public RelinearizationKey CreateRelinearizationKey() => CreateRelinearizationKey(Prng.NewSeed());

    /// <summary>The relinearization key, its a_i expanded from <paramref name="seedOfA"/>.</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public RelinearizationKey CreateRelinearizationKey(ReadOnlySpan<byte> seedOfA)
    {
        var ring = _parameters.Ring;
        int len = ring.LimbCount * ring.N;
        var s2 = SecretArrayPool<ulong>.Rent(len);
        try
        {
            ring.MulPointwise(SecretKey.Ntt, SecretKey.Ntt, s2, 0, ring.LimbCount);
            return new RelinearizationKey(CreateSwitchingKey(s2.AsSpan(0, len), seedOfA));
        }
        finally
        {
            SecretArrayPool<ulong>.Return(s2, len);
        }
    }

    /// <summary>Galois keys for the given elements (see <see cref="GaloisElements"/>).</summary>
    /// <exception cref="ArgumentException">An element is even or not below 2N.</exception>
    public GaloisKeys CreateGaloisKeys(IEnumerable<ulong> galoisElements) => CreateGaloisKeys(galoisElements, null);

    /// <summary>
    /// Galois keys for the given elements, the a_i of each expanded from the reference string's seed for that element
    /// (fresh seeds when <paramref name="reference"/> is null).
    /// </summary>
    /// <exception cref="ArgumentException">An element is even or not below 2N.</exception>
    public GaloisKeys CreateGaloisKeys(IEnumerable<ulong> galoisElements, CommonReferenceString? reference)
    {
        ArgumentNullException.ThrowIfNull(galoisElements);
        var elements = galoisElements.Distinct().ToArray();
        var ring = _parameters.Ring;
        var keys = new KeySwitchingKey[elements.Length];
        foreach (var k in elements) _parameters.GaloisPermutation(k); // validates each element up front
        _ = SecretKey.Ntt; // a disposed key fails here, before any work
        // Keys are independent; generate them on all cores.
        int done = 0;
        Parallelism.For(elements.Length, MaxDegreeOfParallelism, idx =>
        {
            var seed = reference?.GaloisKeySeed(elements[idx]) ?? Prng.NewSeed();
            keys[idx] = WithGaloisSecret(elements[idx], sigma => CreateSwitchingKey(sigma, seed));
            Progress?.Report((double)Interlocked.Increment(ref done) / elements.Length);
        }, Cancellation);
        var dict = new Dictionary<ulong, KeySwitchingKey>();
        for (int i = 0; i < elements.Length; i++) dict[elements[i]] = keys[i];
        return new GaloisKeys(_parameters, dict);
    }

    /// <summary>Galois keys for rotations by the given steps (and conjugation when asked).</summary>
    public GaloisKeys CreateRotationKeys(IEnumerable<int> steps, bool includeConjugation = false) => CreateRotationKeys(steps, includeConjugation, null);

    /// <summary>Galois keys for rotations by the given steps, seeded from a reference string (see <see cref="CreateGaloisKeys(IEnumerable{ulong}, CommonReferenceString?)"/>).</summary>
    public GaloisKeys CreateRotationKeys(IEnumerable<int> steps, bool includeConjugation, CommonReferenceString? reference)
    {
        ArgumentNullException.ThrowIfNull(steps);
        var elements = steps.Select(s => GaloisElements.ForRotation(s, _parameters.N)).Where(k => k != 1).ToList();
        if (includeConjugation) elements.Add(GaloisElements.ForConjugation(_parameters.N));
        return CreateGaloisKeys(elements, reference);
    }

    /// <summary>Rotation keys for ±2^i, i = 0 … log2(N/2) − 1, and conjugation: any rotation is a composition of these.</summary>
    public GaloisKeys CreatePowerOfTwoRotationKeys(bool includeConjugation = true)
    {
        var steps = new List<int>();
        for (int s = 1; s < _parameters.N / 2; s <<= 1) { steps.Add(s); steps.Add(-s); }
        return CreateRotationKeys(steps, includeConjugation);
    }

    /// <summary>A key switching from s' (given in NTT form over all of Q·P) to s.</summary>
    public KeySwitchingKey CreateSwitchingKey(ReadOnlySpan<ulong> sPrimeNtt) => CreateSwitchingKey(sPrimeNtt, Prng.NewSeed());

    /// <summary>A key switching from <paramref name="target"/> to this generator's key, its a_i expanded from <paramref name="seedOfA"/> (b_i + a_i·s ≈ g_i·target).</summary>
    /// <exception cref="ArgumentException">The target belongs to other parameters, or the seed is not 32 bytes.</exception>
    public KeySwitchingKey CreateSwitchingKey(SecretKey target, ReadOnlySpan<byte> seedOfA)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.Parameters.SameRingAs(_parameters)) ThrowHelper.Argument(nameof(target), "The target key belongs to other parameters.");
        return CreateSwitchingKey(target.Ntt, seedOfA);
    }

    /// <summary>A key switching from s' to s, its a_i expanded from <paramref name="seedOfA"/> (digit i: domain "veil/ksk/a", index i).</summary>
    /// <exception cref="ArgumentException">s' is shorter than Q·P, or the seed is not 32 bytes.</exception>
    public KeySwitchingKey CreateSwitchingKey(ReadOnlySpan<ulong> sPrimeNtt, ReadOnlySpan<byte> seedOfA)
    {
        var (bs, @as) = SwitchingKeyParts(sPrimeNtt, seedOfA, keepA: true);
        return new KeySwitchingKey(_parameters, bs, @as!, seedOfA.ToArray()) { KeyId = SecretKey.Id };
    }

    /// <summary>
    /// The parts (b_i, a_i) of the key switching from <paramref name="target"/> to this generator's key, handed over
    /// without copies: for protocols that send the b_i and use the a_i (round 1 of the collective relinearization key).
    /// </summary>
    /// <exception cref="ArgumentException">The target belongs to other parameters, or the seed is not 32 bytes.</exception>
    public (RnsPolynomial[] B, RnsPolynomial[] A) CreateSwitchingKeyParts(SecretKey target, ReadOnlySpan<byte> seedOfA)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.Parameters.SameRingAs(_parameters)) ThrowHelper.Argument(nameof(target), "The target key belongs to other parameters.");
        var (bs, @as) = SwitchingKeyParts(target.Ntt, seedOfA, keepA: true);
        return (Wrap(bs), Wrap(@as!));
    }

    /// <summary>
    /// The b_i = −a_i·s + e_i + P·g_i·σ_k(s) of the Galois key for element k with the a_i expanded from
    /// <paramref name="seedOfA"/>, without the a_i: a party's share of a collective Galois key, whose a_i every party
    /// derives from the reference string.
    /// </summary>
    /// <exception cref="ArgumentException">The element is even or not below 2N, or the seed is not 32 bytes.</exception>
    public RnsPolynomial[] CreateGaloisKeyB(ulong galoisElement, ReadOnlySpan<byte> seedOfA)
    {
        var seed = seedOfA.ToArray();
        return WithGaloisSecret(galoisElement, sigma => Wrap(SwitchingKeyParts(sigma, seed, keepA: false).B));
    }

    private delegate T SecretUse<T>(ReadOnlySpan<ulong> secret);

    /// <summary>Runs <paramref name="use"/> on σ_k(s) (NTT form over Q·P) in pinned scratch that is wiped afterwards.</summary>
    private T WithGaloisSecret<T>(ulong galoisElement, SecretUse<T> use)
    {
        var perm = _parameters.SharedGaloisPermutation(galoisElement); // validates the element
        var ring = _parameters.Ring;
        int len = ring.LimbCount * ring.N;
        var permuted = SecretArrayPool<ulong>.Rent(len);
        try
        {
            KeySwitcher.Gather(SecretKey.Ntt, permuted, perm, ring.LimbCount);
            return use(permuted.AsSpan(0, len));
        }
        finally
        {
            SecretArrayPool<ulong>.Return(permuted, len);
        }
    }

    /// <summary>b = −a·s + e over Q·P for the a expanded from <paramref name="seedOfA"/>, without a: a party's share of a collective public key.</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public RnsPolynomial CreatePublicKeyB(ReadOnlySpan<byte> seedOfA)
    {
        if (seedOfA.Length != Prng.SeedSize) ThrowHelper.Argument(nameof(seedOfA), $"A seed is {Prng.SeedSize} bytes; got {seedOfA.Length}.");
        var ring = _parameters.Ring;
        int len = ring.LimbCount * ring.N;
        var a = ArrayPool<ulong>.Shared.Rent(len); // public: the shared pool is fine
        try
        {
            ExpandPublicA(_parameters, seedOfA, a.AsSpan(0, len));
            var b = GC.AllocateUninitializedArray<ulong>(len); // every word written below
            MinusASPlusError(a.AsSpan(0, len), b);
            return RnsPolynomial.Wrap(ring.N, ring.LimbCount, b);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(a);
        }
    }

    /// <summary>b = −a·s + e over Q·P for a public key's a expanded beforehand (<see cref="ExpandedReference.ForPublicKey"/>).</summary>
    /// <exception cref="ArgumentException">The polynomials are a switching key's, or of other parameters.</exception>
    public RnsPolynomial CreatePublicKeyB(ExpandedReference a)
    {
        ArgumentNullException.ThrowIfNull(a);
        a.CheckFor(_parameters, switchingKey: false, default, nameof(a));
        var ring = _parameters.Ring;
        var b = GC.AllocateUninitializedArray<ulong>(ring.LimbCount * ring.N); // every word written below
        MinusASPlusError(a[0], b);
        return RnsPolynomial.Wrap(ring.N, ring.LimbCount, b);
    }

    /// <summary>
    /// The b_i of <see cref="CreateSwitchingKeyParts(SecretKey, ReadOnlySpan{byte})"/> for a_i expanded beforehand (the
    /// a_i stay in <paramref name="a"/>, read-only, rather than being handed out as writable polynomials).
    /// </summary>
    /// <exception cref="ArgumentException">The target or the polynomials belong to other parameters, or they are a public key's.</exception>
    public RnsPolynomial[] CreateSwitchingKeyB(SecretKey target, ExpandedReference a)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(a);
        if (!target.Parameters.SameRingAs(_parameters)) ThrowHelper.Argument(nameof(target), "The target key belongs to other parameters.");
        a.CheckFor(_parameters, switchingKey: true, default, nameof(a));
        var (bs, _) = SwitchingKeyParts(target.Ntt, a.Seed.Span, keepA: false, a);
        return Wrap(bs);
    }

    /// <summary><see cref="CreateGaloisKeyB(ulong, ReadOnlySpan{byte})"/> for a_i expanded beforehand.</summary>
    /// <exception cref="ArgumentException">The element is even or not below 2N, or the polynomials are of other parameters or a public key's.</exception>
    public RnsPolynomial[] CreateGaloisKeyB(ulong galoisElement, ExpandedReference a)
    {
        ArgumentNullException.ThrowIfNull(a);
        a.CheckFor(_parameters, switchingKey: true, default, nameof(a));
        var seed = a.Seed.ToArray();
        return WithGaloisSecret(galoisElement, sigma => Wrap(SwitchingKeyParts(sigma, seed, keepA: false, a).B));
    }

    private RnsPolynomial[] Wrap(ulong[][] polys) =>
        [.. polys.Select(p => RnsPolynomial.Wrap(_parameters.N, _parameters.Ring.LimbCount, p))];

    /// <summary>b = −a·s + e (NTT form over Q·P), b fully overwritten.</summary>
    private void MinusASPlusError(ReadOnlySpan<ulong> a, Span<ulong> b)
    {
        var ring = _parameters.Ring;
        int limbs = ring.LimbCount;
        // −(e' + a·s) with e' Gaussian is −a·s + e for e = −e', as Gaussian as e' (the sampler's sign is uniform): one
        // pass into b and no scratch holding a·s (which with the public a would give s, so it had to be wiped).
        SampleErrorNtt(_parameters, b);
        ring.MulPointwiseAdd(a, SecretKey.Ntt, b, 0, limbs);
        ring.Negate(b, b, 0, limbs);
    }

    /// <summary>The b_i (and, when <paramref name="keepA"/>, the a_i) of the key switching from s' to s.</summary>
    private (ulong[][] B, ulong[][]? A) SwitchingKeyParts(ReadOnlySpan<ulong> sPrimeNtt, ReadOnlySpan<byte> seedOfA, bool keepA, ExpandedReference? expanded = null)
    {
        var p = _parameters;
        var ring = p.Ring;
        int n = ring.N, limbs = ring.LimbCount, digits = p.MaxDigitCount;
        if (sPrimeNtt.Length < limbs * n) ThrowHelper.Argument(nameof(sPrimeNtt), $"s' needs {limbs * n} words (NTT form over Q·P); got {sPrimeNtt.Length}.");
        if (seedOfA.Length != Prng.SeedSize) ThrowHelper.Argument(nameof(seedOfA), $"A seed is {Prng.SeedSize} bytes; got {seedOfA.Length}.");
        var seed = seedOfA.ToArray();
        var bs = new ulong[digits][];
        var @as = keepA ? new ulong[digits][] : null;
        var sPrime = SecretArrayPool<ulong>.Rent(limbs * n);
        sPrimeNtt[..(limbs * n)].CopyTo(sPrime);
        try
        {
            Parallelism.For(digits, MaxDegreeOfParallelism, i =>
            {
                ulong[]? pooled = keepA || expanded is not null ? null : ArrayPool<ulong>.Shared.Rent(limbs * n);
                var a = expanded is not null ? null : keepA ? new ulong[limbs * n] : pooled!;
                try
                {
                    if (a is not null) KeySwitchingKey.ExpandA(p, seed, i, a.AsSpan(0, limbs * n));
                    var b = GC.AllocateUninitializedArray<ulong>(limbs * n); // every word written below
                    MinusASPlusError(a is not null ? a.AsSpan(0, limbs * n) : expanded![i], b);
                    // + P·s' on the primes of digit i only (the CRT indicator g_i is 1 there and 0 on the other primes of Q, and P·g_i ≡ 0 mod P).
                    int start = i * p.PCount, end = Math.Min(start + p.PCount, p.MaxLevel + 1);
                    if (end > start)
                        ring.MulScalarAdd(sPrime.AsSpan(start * n, (end - start) * n), p.PModQ.AsSpan(start, end - start), b.AsSpan(start * n, (end - start) * n), start, end - start);
                    bs[i] = b;
                    if (keepA) @as![i] = a!;
                }
                finally
                {
                    if (pooled is not null) ArrayPool<ulong>.Shared.Return(pooled);
                }
            }, Cancellation);
        }
        finally
        {
            SecretArrayPool<ulong>.Return(sPrime, limbs * n); // wiped even when cancelled
        }
        return (bs, @as);
    }
}
