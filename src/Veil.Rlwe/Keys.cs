using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe;

/// <summary>
/// The secret key s, ternary, kept both as its signed coefficients and in NTT form over every prime of Q·P.
/// Its memory is cleared on <see cref="Dispose"/>.
/// </summary>
public sealed class SecretKey : IDisposable
{
    private sbyte[] _coefficients;
    private ulong[] _ntt;
    private bool _disposed;

    /// <summary>The parameters the key belongs to.</summary>
    public RlweParameters Parameters { get; }

    internal SecretKey(RlweParameters parameters, sbyte[] coefficients)
    {
        Parameters = parameters;
        _coefficients = coefficients;
        var ring = parameters.Ring;
        _ntt = new ulong[ring.LimbCount * ring.N];
        Samplers.SmallToRns(coefficients, ring, _ntt, 0, ring.LimbCount);
        ring.Forward(_ntt, 0, ring.LimbCount);
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

    internal PublicKey(RlweParameters parameters, ulong[] b, ulong[] a, byte[] seed)
    {
        Parameters = parameters;
        B = b;
        A = a;
        Seed = seed;
    }
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
        return new KeySwitchingKey(Parameters, B, A, (byte[])Seed.ToArray(), galoisElement);
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
        var ring = parameters.Ring;
        var a = new ulong[ring.LimbCount * ring.N];
        using var prng = new Prng(seed, "veil/ksk/a", digit);
        Samplers.Uniform(prng, ring, a, 0, ring.LimbCount);
        return a;
    }
}

/// <summary>The relinearization key: a key-switching key from s² to s.</summary>
public sealed class RelinearizationKey
{
    /// <summary>The underlying key-switching key.</summary>
    public KeySwitchingKey Key { get; }
    internal RelinearizationKey(KeySwitchingKey key) => Key = key;
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
