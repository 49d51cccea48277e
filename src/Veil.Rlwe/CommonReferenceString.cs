using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe;

/// <summary>
/// A public random seed from which every party derives the same uniform polynomials: the a of a collective public key,
/// the a_i of collective relinearization and Galois keys. Each purpose gets its own 32-byte seed,
/// SHAKE256("VeilCRS" ‖ seed ‖ purpose ‖ index), so that no two keys share an a.
/// </summary>
/// <remarks>The seed is public; what it must be is unpredictable before the parties commit to their secrets (a fresh
/// <see cref="Create"/>, or a value all parties agree on such as a hash of the session's transcript).</remarks>
public sealed class CommonReferenceString
{
    private readonly byte[] _seed;

    /// <summary>Wraps a 32-byte public seed.</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public CommonReferenceString(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != Prng.SeedSize) ThrowHelper.Argument(nameof(seed), $"A reference seed is {Prng.SeedSize} bytes; got {seed.Length}.");
        _seed = seed.ToArray();
    }

    /// <summary>A fresh reference string from the operating system's generator.</summary>
    public static CommonReferenceString Create() => new(Prng.NewSeed());

    /// <summary>The public seed.</summary>
    public ReadOnlyMemory<byte> Seed => _seed;

    /// <summary>The seed of the public key's a.</summary>
    public byte[] PublicKeySeed() => Derive("publickey", 0);

    /// <summary>The seed of the relinearization key's a_i.</summary>
    public byte[] RelinearizationKeySeed() => Derive("relinearization", 0);

    /// <summary>The seed of the a_i of the Galois key for <paramref name="galoisElement"/>.</summary>
    public byte[] GaloisKeySeed(ulong galoisElement) => Derive("galois", galoisElement);

    /// <summary>A seed for any other purpose (a protocol's own uniform polynomials).</summary>
    public byte[] Derive(string purpose, ulong index)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        var label = System.Text.Encoding.UTF8.GetBytes(purpose);
        var input = new byte[7 + _seed.Length + 4 + label.Length + 8];
        "VeilCRS"u8.CopyTo(input);
        _seed.CopyTo(input, 7);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(input.AsSpan(7 + _seed.Length), label.Length);
        label.CopyTo(input, 11 + _seed.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(input.AsSpan(11 + _seed.Length + label.Length), index);
        return Shake256.HashData(input, Prng.SeedSize);
    }
}
