using System.Security.Cryptography;

namespace Veil.Protection;

/// <summary>The kinds of wrapped key a protected object can carry.</summary>
public enum StanzaType : byte
{
    /// <summary>Wrapped by a keyring's key-encryption key (AES-256-GCM, in memory or on an HSM).</summary>
    Keyring = 1,
    /// <summary>Wrapped to an RSA-3072 public key with OAEP-SHA-256.</summary>
    RsaOaep = 2,
    /// <summary>Wrapped to a P-256 public key: ephemeral ECDH, HKDF-SHA-256, AES-256-GCM (HPKE-style).</summary>
    P256 = 3,
    /// <summary>Wrapped by an external key-management service (<see cref="IKeyEncryptionKey"/>).</summary>
    Kms = 4,
}

/// <summary>One wrapped copy of an object's data key: its kind, the key it was wrapped to, and the wrapped bytes.</summary>
/// <param name="Type">How it was wrapped.</param>
/// <param name="KeyId">Which key wrapped it (a keyring id and version, or a public-key fingerprint); ASCII, at most 255 bytes.</param>
/// <param name="Body">The wrapped key (at most 4096 bytes).</param>
public sealed record WrappedKey(StanzaType Type, string KeyId, byte[] Body);

/// <summary>Someone a data key can be wrapped for (a keyring, a public key, a KMS key).</summary>
public interface IRecipient
{
    /// <summary>The data key wrapped for this recipient.</summary>
    WrappedKey Wrap(ReadOnlySpan<byte> dataKey);
}

/// <summary>Someone who can unwrap data keys (a keyring, a private key).</summary>
public interface IIdentity
{
    /// <summary>Unwraps <paramref name="wrapped"/> into <paramref name="dataKey"/> when it is addressed to this identity.</summary>
    /// <returns>False when the wrapped key is for someone else, or does not open.</returns>
    bool TryUnwrap(WrappedKey wrapped, Span<byte> dataKey);
}

/// <summary>
/// A key-encryption key held by an external service (a cloud KMS, Vault's transit engine): Veil sends it the 32-byte
/// data key to wrap and the wrapped bytes to unwrap, never holding the key itself. Implement it for a provider and use
/// <see cref="KmsRecipient"/>.
/// </summary>
public interface IKeyEncryptionKey
{
    /// <summary>The provider's name for the key (and version), recorded with each wrapped key.</summary>
    string KeyId { get; }
    /// <summary>Wraps a data key, binding <paramref name="context"/> (the provider's encryption context / AAD).</summary>
    byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> context);
    /// <summary>Unwraps; throws <see cref="CryptographicException"/> when the bytes or the context do not match.</summary>
    byte[] Unwrap(ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> context);
}

/// <summary>An <see cref="IKeyEncryptionKey"/> as a recipient and identity.</summary>
public sealed class KmsRecipient(IKeyEncryptionKey key) : IRecipient, IIdentity
{
    private static readonly byte[] Context = "veil-wrap/kms/v1"u8.ToArray();

    /// <inheritdoc/>
    public WrappedKey Wrap(ReadOnlySpan<byte> dataKey) => new(StanzaType.Kms, key.KeyId, key.Wrap(dataKey, Context));

    /// <inheritdoc/>
    public bool TryUnwrap(WrappedKey wrapped, Span<byte> dataKey)
    {
        if (wrapped.Type != StanzaType.Kms || wrapped.KeyId != key.KeyId) return false;
        byte[]? plain = null;
        try
        {
            plain = key.Unwrap(wrapped.Body, Context);
            if (plain.Length != dataKey.Length) return false;
            plain.CopyTo(dataKey);
            return true;
        }
        catch (CryptographicException) { return false; }
        finally { if (plain is not null) CryptographicOperations.ZeroMemory(plain); }
    }
}

/// <summary>Fingerprints of public keys: "rsa:" or "p256:" and the first 16 bytes of SHA-256 of the SubjectPublicKeyInfo, in hex.</summary>
public static class KeyFingerprint
{
    /// <summary>The fingerprint of an RSA public key.</summary>
    public static string Of(RSA key) => "rsa:" + Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo())[..16]);
    /// <summary>The fingerprint of an EC public key.</summary>
    public static string Of(ECDiffieHellman key) => "p256:" + Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo())[..16]);
}

/// <summary>A recipient's RSA public key (3072 bits or more): the data key encrypted with RSA-OAEP-SHA-256.</summary>
public sealed class RsaRecipient : IRecipient
{
    private readonly RSA _key;
    private readonly string _id;

    /// <summary>Wraps to <paramref name="publicKey"/>.</summary>
    /// <exception cref="ArgumentException">A key shorter than 3072 bits.</exception>
    public RsaRecipient(RSA publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        if (publicKey.KeySize < 3072) throw new ArgumentException($"RSA recipients need at least 3072 bits (128-bit security); got {publicKey.KeySize}.", nameof(publicKey));
        _key = publicKey;
        _id = KeyFingerprint.Of(publicKey);
    }

    /// <summary>The recipient's fingerprint.</summary>
    public string KeyId => _id;

    /// <inheritdoc/>
    public WrappedKey Wrap(ReadOnlySpan<byte> dataKey) => new(StanzaType.RsaOaep, _id, _key.Encrypt(dataKey.ToArray(), RSAEncryptionPadding.OaepSHA256));
}

/// <summary>The holder of an RSA private key.</summary>
public sealed class RsaIdentity(RSA privateKey) : IIdentity
{
    private readonly string _id = KeyFingerprint.Of(privateKey);

    /// <inheritdoc/>
    public bool TryUnwrap(WrappedKey wrapped, Span<byte> dataKey)
    {
        if (wrapped.Type != StanzaType.RsaOaep || wrapped.KeyId != _id) return false;
        var buffer = new byte[privateKey.KeySize / 8];
        try
        {
            if (!privateKey.TryDecrypt(wrapped.Body, buffer, RSAEncryptionPadding.OaepSHA256, out int written) || written != dataKey.Length) return false;
            buffer.AsSpan(0, written).CopyTo(dataKey);
            return true;
        }
        catch (CryptographicException) { return false; }
        finally { CryptographicOperations.ZeroMemory(buffer); }
    }
}

/// <summary>
/// A recipient's P-256 public key. Wrapping: an ephemeral key pair E; Z = ECDH(E, R); K = HKDF-SHA-256(Z, salt =
/// E_pub ‖ R_pub, info = "veil-wrap/p256/v1"); body = E_pub (65 bytes, uncompressed) ‖ AES-256-GCM_K(nonce 0, dataKey) ‖ tag.
/// K is used once, so the zero nonce is safe.
/// </summary>
public sealed class P256Recipient : IRecipient
{
    private readonly ECDiffieHellman _key;
    private readonly byte[] _point;
    private readonly string _id;

    /// <summary>Wraps to <paramref name="publicKey"/> (a P-256 key).</summary>
    /// <exception cref="ArgumentException">Another curve.</exception>
    public P256Recipient(ECDiffieHellman publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        if (publicKey.KeySize != 256) throw new ArgumentException("P-256 recipients only.", nameof(publicKey));
        _key = publicKey;
        _point = P256.Point(publicKey);
        _id = KeyFingerprint.Of(publicKey);
    }

    /// <summary>The recipient's fingerprint.</summary>
    public string KeyId => _id;

    /// <inheritdoc/>
    public WrappedKey Wrap(ReadOnlySpan<byte> dataKey)
    {
        using var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var e = P256.Point(ephemeral);
        var body = new byte[65 + dataKey.Length + 16];
        e.CopyTo(body, 0);
        var k = P256.Key(ephemeral.DeriveRawSecretAgreement(_key.PublicKey), e, _point);
        try
        {
            using var gcm = new AesGcm(k, 16);
            gcm.Encrypt(new byte[12], dataKey, body.AsSpan(65, dataKey.Length), body.AsSpan(65 + dataKey.Length, 16));
        }
        finally { CryptographicOperations.ZeroMemory(k); }
        return new WrappedKey(StanzaType.P256, _id, body);
    }
}

/// <summary>The holder of a P-256 private key.</summary>
public sealed class P256Identity : IIdentity
{
    private readonly ECDiffieHellman _key;
    private readonly byte[] _point;
    private readonly string _id;

    /// <summary>Unwraps with <paramref name="privateKey"/>.</summary>
    public P256Identity(ECDiffieHellman privateKey)
    {
        ArgumentNullException.ThrowIfNull(privateKey);
        _key = privateKey;
        _point = P256.Point(privateKey);
        _id = KeyFingerprint.Of(privateKey);
    }

    /// <inheritdoc/>
    public bool TryUnwrap(WrappedKey wrapped, Span<byte> dataKey)
    {
        if (wrapped.Type != StanzaType.P256 || wrapped.KeyId != _id || wrapped.Body.Length != 65 + dataKey.Length + 16) return false;
        byte[]? k = null;
        try
        {
            var e = wrapped.Body.AsSpan(0, 65).ToArray();
            if (e[0] != 4) return false;
            using var ephemeral = ECDiffieHellman.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = e[1..33], Y = e[33..65] } });
            k = P256.Key(_key.DeriveRawSecretAgreement(ephemeral.PublicKey), e, _point);
            using var gcm = new AesGcm(k, 16);
            gcm.Decrypt(new byte[12], wrapped.Body.AsSpan(65, dataKey.Length), wrapped.Body.AsSpan(65 + dataKey.Length, 16), dataKey);
            return true;
        }
        catch (CryptographicException) { return false; }
        finally { if (k is not null) CryptographicOperations.ZeroMemory(k); }
    }
}

internal static class P256
{
    public static byte[] Point(ECDiffieHellman key)
    {
        var q = key.ExportParameters(false).Q;
        return [4, .. q.X!, .. q.Y!];
    }

    public static byte[] Key(byte[] shared, byte[] ephemeral, byte[] recipient)
    {
        try { return HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, 32, [.. ephemeral, .. recipient], "veil-wrap/p256/v1"u8.ToArray()); }
        finally { CryptographicOperations.ZeroMemory(shared); }
    }
}
