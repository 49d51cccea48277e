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
        if (_publicKey is not null) EncryptZeroPublic(level, destination);
        else destination.Seed = EncryptZeroSymmetric(level, destination);
        var ring = _parameters.Ring;
        ring.Add(destination.Poly(0), plaintext.Data, destination.Poly(0), 0, level + 1);
    }

    private void EncryptZeroPublic(int level, Ciphertext destination)
    {
        var p = _parameters;
        var ring = p.Ring;
        int n = ring.N, qLimbs = level + 1, pLimbs = p.PCount, all = ring.LimbCount;
        // Sample u and the errors over every prime, then use only Q_ℓ and P.
        var u = new ulong[all * n];
        var uSmall = new sbyte[n];
        var seed = Prng.NewSeed();
        using (var prng = new Prng(seed, "veil/encrypt/u")) Samplers.Ternary(prng, uSmall);
        CryptographicOperations.ZeroMemory(seed);
        Samplers.SmallToRns(uSmall, ring, u, 0, all);
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(uSmall.AsSpan()));
        ring.Forward(u, 0, all);
        var divided = new ulong[qLimbs * n];
        var pk = _publicKey!;
        for (int c = 0; c < 2; c++)
        {
            var e = new ulong[all * n];
            KeyGenerator.SampleErrorNtt(p, e);
            var key = c == 0 ? pk.B : pk.A;
            // x over Q_ℓ·P, laid out Q_0 … Q_ℓ then P.
            var x = new ulong[(qLimbs + pLimbs) * n];
            ring.MulPointwise(key, u, x, 0, qLimbs);
            ring.Add(x, e, x, 0, qLimbs);
            var xp = x.AsSpan(qLimbs * n);
            ring.MulPointwise(key.AsSpan(p.PStart * n), u.AsSpan(p.PStart * n), xp, p.PStart, pLimbs);
            ring.Add(xp, e.AsSpan(p.PStart * n), xp, p.PStart, pLimbs);
            KeySwitcher.ModDown(p, level, x, 0, divided, 1);
            divided.AsSpan().CopyTo(destination.Poly(c));
        }
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(u.AsSpan()));
    }

    private byte[] EncryptZeroSymmetric(int level, Ciphertext destination)
    {
        var p = _parameters;
        var ring = p.Ring;
        int n = ring.N, qLimbs = level + 1;
        var seed = Prng.NewSeed();
        var a = destination.Poly(1);
        using (var prng = new Prng(seed, "veil/encrypt/a")) Samplers.Uniform(prng, ring, a, 0, qLimbs);
        var e = new ulong[ring.LimbCount * n];
        KeyGenerator.SampleErrorNtt(p, e);
        var c0 = destination.Poly(0);
        ring.MulPointwise(a, _secretKey!.Ntt, c0, 0, qLimbs);
        ring.Sub(e, c0, c0, 0, qLimbs);
        return seed;
    }

    /// <summary>Re-expands c_1 of a seeded ciphertext (used when loading one).</summary>
    internal static void ExpandSeededC1(RlweParameters parameters, ReadOnlySpan<byte> seed, int level, Span<ulong> destination)
    {
        using var prng = new Prng(seed, "veil/encrypt/a");
        Samplers.Uniform(prng, parameters.Ring, destination, 0, level + 1);
    }
}
