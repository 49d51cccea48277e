using Veil.Serialization;

namespace Veil.Protection;

/// <summary>
/// Seals serialized secrets (HE secret keys, key shares, private contexts) in the protected-object format, bound to
/// their object type, for a set of recipients; opens them with a set of identities. Each seal and open is audited.
/// </summary>
public sealed class SecretProtector(IReadOnlyList<IRecipient> recipients, IReadOnlyList<IIdentity> identities, IAuditSink? audit = null) : ISecretProtector
{
    /// <inheritdoc/>
    public byte[] Protect(ReadOnlySpan<byte> secret, ObjectType type)
    {
        var sealedBytes = ProtectedStream.Protect(secret, recipients, new ProtectionOptions { ContentType = type });
        audit?.Record("secret.seal", type.ToString(), new() { ["recipients"] = recipients.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return sealedBytes;
    }

    /// <inheritdoc/>
    public byte[] Unprotect(ReadOnlySpan<byte> sealedBytes, ObjectType type)
    {
        var secret = ProtectedStream.Unprotect(sealedBytes, identities, type);
        audit?.Record("secret.open", type.ToString());
        return secret;
    }

    /// <inheritdoc/>
    public bool IsProtected(ReadOnlySpan<byte> bytes) => ProtectedStream.IsProtected(bytes);
}
