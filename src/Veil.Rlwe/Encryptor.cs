using System.Buffers;
using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe;

/// <summary>
/// Encrypts plaintexts (in NTT form) under a public key, or under the secret key with a seeded, half-size output.
/// </summary>
public sealed class Encryptor
{
    private readonly RlweParameters _parameters;
    private readonly PublicKey? _publicKey;
    private readonly SecretKey? _secretKey;

    /// <summary>Threads used inside one encryption (default: the processor count).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Public-key encryptor.</summary>
    /// <exception cref="ArgumentException">The key belongs to other parameters.</exception>
    public Encryptor(RlweParameters parameters, PublicKey publicKey)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(publicKey);
        if (!publicKey.Parameters.SameRingAs(parameters)) ThrowHelper.Argument(nameof(publicKey), "The public key belongs to other parameters.");
        _parameters = parameters;
        _publicKey = publicKey;
    }

    /// <summary>Secret-key encryptor; its ciphertexts carry a seed in place of c_1.</summary>
    /// <exception cref="ArgumentException">The key belongs to other parameters.</exception>
    public Encryptor(RlweParameters parameters, SecretKey secretKey)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(secretKey);
        if (!secretKey.Parameters.SameRingAs(parameters)) ThrowHelper.Argument(nameof(secretKey), "The secret key belongs to other parameters.");
        _parameters = parameters;
        _secretKey = secretKey;
    }

    /// <summary>Encrypts a plaintext into a new ciphertext at the plaintext's level and scale.</summary>
    public Ciphertext Encrypt(Plaintext plaintext)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        var ct = new Ciphertext(_parameters, plaintext.Level, 2, plaintext.Scale);
        Encrypt(plaintext, ct);
        return ct;
    }

    /// <summary>Encrypts into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The plaintext or the destination belongs to other parameters, or the plaintext is not in NTT form.</exception>
    /// <remarks>
    /// Public key: (c_0, c_1) = ((b·u + e_0)/P + m, (a·u + e_1)/P) computed over Q_ℓ·P and divided by P, which leaves
    /// only rounding noise (as SEAL does). Secret key: (−a·s + e + m, a) with a expanded from a fresh seed.
    /// </remarks>
    public void Encrypt(Plaintext plaintext, Ciphertext destination)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(destination);
        if (!plaintext.Parameters.SameRingAs(_parameters)) ThrowHelper.Argument(nameof(plaintext), "The plaintext belongs to other parameters.");
        if (!plaintext.IsNttForm) ThrowHelper.Argument(nameof(plaintext), "The plaintext must be in NTT form.");
        if (!destination.Parameters.SameRingAs(_parameters)) ThrowHelper.Argument(nameof(destination), "The destination ciphertext belongs to other parameters.");
        int level = plaintext.Level;
        destination.Resize(level, 2);
        destination.Scale = plaintext.Scale;
        destination.IsNttForm = true;
        destination.KeyId = _publicKey?.Id ?? _secretKey!.Id;
        if (_publicKey is not null) EncryptZeroPublic(level, destination);
        else destination.Seed = EncryptZeroSymmetric(level, destination);
        var ring = _parameters.Ring;
        ring.Add(destination.Poly(0), plaintext.Data, destination.Poly(0), 0, level + 1);
    }

    private void EncryptZeroPublic(int level, Ciphertext destination)
    {
        var p = _parameters;
        var ring = p.Ring;
        int n = ring.N, qLimbs = level + 1, pLimbs = p.PCount, extLimbs = qLimbs + pLimbs;
        var pk = _publicKey!;
        sbyte[] small = ArrayPool<sbyte>.Shared.Rent(3 * n); // u, e_0, e_1
        ulong[] x = ArrayPool<ulong>.Shared.Rent(2 * extLimbs * n);
        try
        {
            // Fresh randomness from the operating system for every encryption, as SEAL draws a fresh generator each
            // time: no stream state lives here whose leak would give away u and e of earlier ciphertexts.
            Samplers.Ternary(SystemRandom.Instance, small.AsSpan(0, n));
            Samplers.Gaussian(SystemRandom.Instance, small.AsSpan(n, 2 * n));
            // x_c = key_c·u + e_c over Q_ℓ·P (limbs Q_0 … Q_ℓ, then P), one limb per task.
            Parallelism.For(extLimbs, MaxDegreeOfParallelism, new PublicKeyProducts(p, pk, level, small, x));
            for (int c = 0; c < 2; c++)
                KeySwitcher.ModDown(p, level, x, c * extLimbs * n, destination.Data, MaxDegreeOfParallelism, c * destination.PolyLength, sensitive: true);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(small.AsSpan(0, 3 * n)));
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan(0, 2 * extLimbs * n)));
            ArrayPool<sbyte>.Shared.Return(small);
            ArrayPool<ulong>.Shared.Return(x);
        }
    }

    private readonly struct PublicKeyProducts(RlweParameters p, PublicKey pk, int level, sbyte[] small, ulong[] x) : IParallelBody
    {
        public void Invoke(int e)
        {
            var ring = p.Ring;
            int n = ring.N, qLimbs = level + 1, extLimbs = qLimbs + p.PCount;
            int ringIndex = e < qLimbs ? e : p.PStart + (e - qLimbs);
            var ntt = ring.Ntt[ringIndex];
            ulong[] tmp = ArrayPool<ulong>.Shared.Rent(2 * n);
            try
            {
                var u = tmp.AsSpan(0, n);
                var err = tmp.AsSpan(n, n);
                Samplers.SmallToRns(small.AsSpan(0, n), ring, u, ringIndex, 1);
                ntt.Forward(u);
                for (int c = 0; c < 2; c++)
                {
                    var key = (c == 0 ? pk.B : pk.A).AsSpan(ringIndex * n, n);
                    var dst = x.AsSpan((c * extLimbs + e) * n, n);
                    Samplers.SmallToRns(small.AsSpan((1 + c) * n, n), ring, err, ringIndex, 1);
                    ntt.Forward(err);
                    ring.MulPointwise(key, u, dst, ringIndex, 1);
                    ring.Add(dst, err, dst, ringIndex, 1);
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(tmp.AsSpan(0, 2 * n)));
                ArrayPool<ulong>.Shared.Return(tmp);
            }
        }
    }

    private byte[] EncryptZeroSymmetric(int level, Ciphertext destination)
    {
        var p = _parameters;
        var ring = p.Ring;
        int n = ring.N, qLimbs = level + 1;
        var seed = Prng.NewSeed();
        var a = destination.Poly(1);
        using (var prng = new Prng(seed, "veil/encrypt/a")) Samplers.Uniform(prng, ring, a, 0, qLimbs);
        sbyte[] small = ArrayPool<sbyte>.Shared.Rent(n);
        ulong[] e = ArrayPool<ulong>.Shared.Rent(qLimbs * n);
        try
        {
            Samplers.Gaussian(SystemRandom.Instance, small.AsSpan(0, n));
            var ev = e.AsSpan(0, qLimbs * n);
            Samplers.SmallToRns(small.AsSpan(0, n), ring, ev, 0, qLimbs);
            Parallelism.For(qLimbs, MaxDegreeOfParallelism, j => ring.Ntt[j].Forward(e.AsSpan(j * n, n)));
            var c0 = destination.Poly(0);
            ring.MulPointwise(a, _secretKey!.Ntt, c0, 0, qLimbs);
            ring.Sub(ev, c0, c0, 0, qLimbs);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(small.AsSpan(0, n)));
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(e.AsSpan(0, qLimbs * n)));
            ArrayPool<sbyte>.Shared.Return(small);
            ArrayPool<ulong>.Shared.Return(e);
        }
        return seed;
    }

    /// <summary>Re-expands c_1 of a seeded ciphertext (used when loading one).</summary>
    internal static void ExpandSeededC1(RlweParameters parameters, ReadOnlySpan<byte> seed, int level, Span<ulong> destination)
    {
        using var prng = new Prng(seed, "veil/encrypt/a");
        Samplers.Uniform(prng, parameters.Ring, destination, 0, level + 1);
    }
}
