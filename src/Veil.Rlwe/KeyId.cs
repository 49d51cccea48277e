using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Veil.Rlwe;

/// <summary>
/// Which secret a ciphertext decrypts under: 16 bytes of SHA-256 over the parameters' fingerprint and the key (its
/// coefficients for a single key; b and the seed of a for a collective public key, whose secret nobody holds).
/// <see cref="None"/> marks a ciphertext that is not bound (built from bare polynomials, or read from a file written
/// before ciphertexts carried key ids).
/// </summary>
/// <remarks>
/// The id guards against mistakes (a ciphertext decrypted, added or relinearized under a key it was not made for gives
/// noise silently), not against an adversary, who can write any id; the hash of a key's ternary coefficients reveals
/// nothing usable about them.
/// </remarks>
public readonly record struct KeyId(UInt128 Value)
{
    /// <summary>Size on the wire.</summary>
    public const int Size = 16;

    /// <summary>No key: the ciphertext is not bound.</summary>
    public static KeyId None => default;

    /// <summary>Whether this is <see cref="None"/>.</summary>
    public bool IsNone => Value == UInt128.Zero;

    /// <summary>The id read from 16 bytes (little-endian).</summary>
    /// <exception cref="ArgumentException">Not 16 bytes.</exception>
    public static KeyId Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size) throw new ArgumentException($"A key id is {Size} bytes; got {bytes.Length}.", nameof(bytes));
        return new KeyId(BinaryPrimitives.ReadUInt128LittleEndian(bytes));
    }

    /// <summary>Writes the 16 bytes (little-endian).</summary>
    public void Write(Span<byte> destination) => BinaryPrimitives.WriteUInt128LittleEndian(destination, Value);

    /// <summary>The first 8 bytes in hex, enough to tell keys apart in a message.</summary>
    public override string ToString() => IsNone ? "none" : ((ulong)Value).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The id of a single secret key.</summary>
    internal static KeyId OfSecret(RlweParameters parameters, ReadOnlySpan<sbyte> coefficients) =>
        Derive("Veil.Rlwe key id v1: secret"u8, parameters, System.Runtime.InteropServices.MemoryMarshal.AsBytes(coefficients));

    /// <summary>The id of a public key that no single secret stands behind (a collective key): from its public parts.</summary>
    internal static KeyId OfPublic(RlweParameters parameters, ReadOnlySpan<ulong> b, ReadOnlySpan<byte> seedOfA)
    {
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(b);
        var data = new byte[seedOfA.Length + bytes.Length];
        seedOfA.CopyTo(data);
        bytes.CopyTo(data.AsSpan(seedOfA.Length));
        return Derive("Veil.Rlwe key id v1: public"u8, parameters, data);
    }

    private static KeyId Derive(ReadOnlySpan<byte> domain, RlweParameters parameters, ReadOnlySpan<byte> key)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        h.AppendData(domain);
        h.AppendData(parameters.Hash.Span);
        h.AppendData(key);
        Span<byte> digest = stackalloc byte[32];
        h.GetHashAndReset(digest);
        var id = BinaryPrimitives.ReadUInt128LittleEndian(digest);
        CryptographicOperations.ZeroMemory(digest);
        return new KeyId(id == UInt128.Zero ? UInt128.One : id); // zero is reserved for None
    }

    /// <summary>
    /// The key of a result computed from two operands: the one that is bound (either, when both are the same key).
    /// </summary>
    /// <exception cref="KeyMismatchException">The operands are bound to different keys.</exception>
    public static KeyId Combine(KeyId a, KeyId b, string paramName)
    {
        if (a.IsNone) return b;
        if (b.IsNone || a == b) return a;
        throw new KeyMismatchException(paramName, $"The operands are encrypted under different keys ({a} and {b}); their result would decrypt to noise.");
    }

    /// <summary>Throws unless <paramref name="ciphertext"/> is unbound or bound to <paramref name="expected"/>.</summary>
    /// <exception cref="KeyMismatchException">The ids differ.</exception>
    public static void Check(KeyId ciphertext, KeyId expected, string paramName, string what)
    {
        if (ciphertext.IsNone || expected.IsNone || ciphertext == expected) return;
        throw new KeyMismatchException(paramName, $"The ciphertext is encrypted under key {ciphertext}, not under {what} ({expected}).");
    }
}

/// <summary>A ciphertext met a key (or another ciphertext) of a different secret.</summary>
public sealed class KeyMismatchException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public KeyMismatchException(string? paramName, string message) : base(message, paramName) { }
}
