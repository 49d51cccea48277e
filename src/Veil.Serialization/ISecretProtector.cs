namespace Veil.Serialization;

/// <summary>
/// Seals the serialized form of a secret (a secret key, a key share, a private context) before it is stored or sent,
/// and opens it again. Layers that save secrets take one of these; writing a secret in the clear is a separate,
/// explicitly named method. Veil.Protection implements it (authenticated encryption under a keyring or to
/// recipients).
/// </summary>
public interface ISecretProtector
{
    /// <summary>The sealed bytes of <paramref name="secret"/>, bound to <paramref name="type"/> (a sealed key cannot be opened as another object).</summary>
    byte[] Protect(ReadOnlySpan<byte> secret, ObjectType type);

    /// <summary>The secret back; the caller clears the returned array when done.</summary>
    /// <exception cref="System.Security.Cryptography.CryptographicException">The bytes were not sealed for this protector, or were altered, or hold another type.</exception>
    byte[] Unprotect(ReadOnlySpan<byte> sealedBytes, ObjectType type);

    /// <summary>Whether <paramref name="bytes"/> look sealed (so a loader knows to open them).</summary>
    bool IsProtected(ReadOnlySpan<byte> bytes);
}
