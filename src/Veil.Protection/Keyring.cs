using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Veil.Serialization;

namespace Veil.Protection;

/// <summary>The state of a key-encryption-key version.</summary>
public enum KeyState : byte
{
    /// <summary>Wraps (when newest) and unwraps.</summary>
    Active = 1,
    /// <summary>Destroyed: data keys wrapped under it no longer open.</summary>
    Retired = 2,
}

/// <summary>One version of a keyring's key-encryption key.</summary>
public sealed record KeyVersion(int Version, DateTimeOffset Created, KeyState State);

/// <summary>
/// Envelope encryption's key holder: versioned key-encryption keys (KEKs) that wrap each object's data key, and the
/// identities a keyring's owner receives data with (a P-256 and an RSA-3072 key pair) and signs its audit log with.
/// </summary>
/// <remarks>
/// <para>Wrapping uses the newest active version (the primary); unwrapping any active version, so that data wrapped
/// before a <see cref="Rotate"/> still opens until its version is <see cref="Retire">retired</see>.
/// <see cref="RewrapFile"/> moves an object to the primary version without touching its chunks. A wrapped key's id is
/// "keyring-id/vN" and its body the backend's AES-256-GCM of the data key with AAD "veil-wrap/keyring/v1" ‖ id.</para>
/// <para>Backends: <see cref="PassphraseKeyring"/> (a file sealed under Argon2id of a passphrase) and
/// <see cref="Pkcs11Keyring"/> (KEKs generated on an HSM token, never extractable). Cloud KMSs plug in through
/// <see cref="IKeyEncryptionKey"/>.</para>
/// </remarks>
public abstract class Keyring : IRecipient, IIdentity, IDisposable
{
    private protected readonly List<KeyVersion> _versions = [];
    private protected ECDiffieHellman _p256 = null!;
    private protected RSA _rsa = null!;
    private protected ECDsa _auditSigner = null!;
    private bool _disposed;

    private protected Keyring(string id) => Id = id;

    /// <summary>The keyring's random identifier (16 hex digits).</summary>
    public string Id { get; }

    /// <summary>Every version, oldest first.</summary>
    public IReadOnlyList<KeyVersion> Versions => _versions;

    /// <summary>The version new data keys are wrapped with.</summary>
    public int Primary => _versions.Where(v => v.State == KeyState.Active).Max(v => v.Version);

    /// <summary>Where security events are recorded (null: nowhere).</summary>
    public IAuditSink? Audit { get; set; }

    /// <summary>The keyring's P-256 key pair, for receiving data (<see cref="ExportPublicKeys"/>).</summary>
    public ECDiffieHellman P256Key => _p256;
    /// <summary>The keyring's RSA-3072 key pair, for receiving data from RSA-only senders.</summary>
    public RSA RsaKey => _rsa;
    /// <summary>The ECDSA P-256 key that signs audit checkpoints.</summary>
    public ECDsa AuditSigner => _auditSigner;

    /// <summary>Every identity the keyring holds: its KEKs and its two receiving key pairs.</summary>
    public IReadOnlyList<IIdentity> Identities => [this, new P256Identity(_p256), new RsaIdentity(_rsa)];

    /// <summary>Public keys others wrap data to (PEM: P-256 and RSA SubjectPublicKeyInfo) and the audit verification key.</summary>
    public string ExportPublicKeys() =>
        string.Join('\n', PemEncoding.WriteString("PUBLIC KEY", _p256.ExportSubjectPublicKeyInfo()), PemEncoding.WriteString("PUBLIC KEY", _rsa.ExportSubjectPublicKeyInfo())) + '\n';

    /// <summary>The audit-verification public key (PEM).</summary>
    public string ExportAuditPublicKey() => PemEncoding.WriteString("PUBLIC KEY", _auditSigner.ExportSubjectPublicKeyInfo()) + '\n';

    /// <summary>A new primary version; the older ones keep unwrapping. Saved at once.</summary>
    public int Rotate()
    {
        ThrowIfDisposed();
        int version = _versions.Max(v => v.Version) + 1;
        CreateVersion(version);
        _versions.Add(new KeyVersion(version, DateTimeOffset.UtcNow, KeyState.Active));
        Save();
        Audit?.Record("key.rotate", $"keyring:{Id}", new() { ["version"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return version;
    }

    /// <summary>Destroys a version's key material; data wrapped only under it no longer opens. Saved at once.</summary>
    /// <exception cref="ArgumentException">The primary version, or no such active version.</exception>
    public void Retire(int version)
    {
        ThrowIfDisposed();
        int index = _versions.FindIndex(v => v.Version == version && v.State == KeyState.Active);
        if (index < 0) throw new ArgumentException($"No active version {version}.", nameof(version));
        if (version == Primary) throw new ArgumentException($"Version {version} is the primary; rotate first.", nameof(version));
        DestroyVersion(version);
        _versions[index] = _versions[index] with { State = KeyState.Retired };
        Save();
        Audit?.Record("key.retire", $"keyring:{Id}", new() { ["version"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    /// <summary>Moves a protected file's keyring-wrapped data key to the primary version (other recipients' wrapped keys stay), without re-encrypting it.</summary>
    public void RewrapFile(string path)
    {
        ThrowIfDisposed();
        ProtectedStream.RewrapFile(path, Identities, [this], w => !(w.Type == StanzaType.Keyring && w.KeyId.StartsWith(Id + "/", StringComparison.Ordinal)));
        Audit?.Record("key.rewrap", Path.GetFullPath(path), new() { ["keyring"] = Id, ["version"] = Primary.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    /// <summary>Adds a wrapped key for <paramref name="recipient"/> to a protected file (sharing it with exactly that party).</summary>
    public void WrapFileFor(string path, IRecipient recipient, string recipientName)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(recipient);
        ProtectedStream.RewrapFile(path, Identities, [recipient]);
        Audit?.Record("key.wrap-for", Path.GetFullPath(path), new() { ["recipient"] = recipientName, ["keyring"] = Id });
    }

    /// <inheritdoc/>
    public WrappedKey Wrap(ReadOnlySpan<byte> dataKey)
    {
        ThrowIfDisposed();
        int version = Primary;
        string id = $"{Id}/v{version}";
        return new WrappedKey(StanzaType.Keyring, id, WrapWith(version, dataKey, Aad(id)));
    }

    /// <inheritdoc/>
    public bool TryUnwrap(WrappedKey wrapped, Span<byte> dataKey)
    {
        ThrowIfDisposed();
        if (wrapped.Type != StanzaType.Keyring || !wrapped.KeyId.StartsWith(Id + "/v", StringComparison.Ordinal)) return false;
        if (!int.TryParse(wrapped.KeyId.AsSpan(Id.Length + 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int version)) return false;
        var v = _versions.Find(x => x.Version == version);
        if (v is null) return false;
        if (v.State != KeyState.Active) throw new ProtectionException(ProtectionError.KeyUnavailable, $"The data key is wrapped under {wrapped.KeyId}, which has been retired.");
        return TryUnwrapWith(version, wrapped.Body, Aad(wrapped.KeyId), dataKey);
    }

    private static byte[] Aad(string id) => [.. "veil-wrap/keyring/v1"u8, .. Encoding.ASCII.GetBytes(id)];

    /// <summary>A secret protector sealing for this keyring (and optional further recipients), opening with its identities.</summary>
    public ISecretProtector Protector(params IRecipient[] alsoFor) => new SecretProtector([this, .. alsoFor], Identities, Audit);

    private protected abstract void CreateVersion(int version);
    private protected abstract void DestroyVersion(int version);
    private protected abstract byte[] WrapWith(int version, ReadOnlySpan<byte> dataKey, byte[] aad);
    private protected abstract bool TryUnwrapWith(int version, ReadOnlySpan<byte> body, byte[] aad, Span<byte> dataKey);

    /// <summary>Writes the keyring's file (atomically).</summary>
    public abstract void Save();

    private protected void CreateIdentities()
    {
        _p256 = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        _rsa = RSA.Create(3072);
        _auditSigner = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    }

    /// <summary>The sealed contents common to every backend: id, versions, identities (and a backend's extra bytes per version).</summary>
    private protected byte[] Contents(Func<int, byte[]> versionSecret)
    {
        using var stream = new MemoryStream();
        void Bytes(ReadOnlySpan<byte> b) { Span<byte> n = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(n, b.Length); stream.Write(n); stream.Write(b); }
        Bytes(Encoding.ASCII.GetBytes(Id));
        Span<byte> u = stackalloc byte[13];
        BinaryPrimitives.WriteInt32LittleEndian(u, _versions.Count);
        stream.Write(u[..4]);
        foreach (var v in _versions)
        {
            BinaryPrimitives.WriteInt32LittleEndian(u, v.Version);
            BinaryPrimitives.WriteInt64LittleEndian(u[4..], v.Created.ToUnixTimeSeconds());
            u[12] = (byte)v.State;
            stream.Write(u);
            Bytes(v.State == KeyState.Active ? versionSecret(v.Version) : []);
        }
        Bytes(_p256.ExportPkcs8PrivateKey());
        Bytes(_rsa.ExportPkcs8PrivateKey());
        Bytes(_auditSigner.ExportPkcs8PrivateKey());
        return stream.ToArray();
    }

    /// <summary>Reads <see cref="Contents"/>; every length is bounded.</summary>
    private protected static (string Id, List<(KeyVersion Version, byte[] Secret)> Versions, ECDiffieHellman P256, RSA Rsa, ECDsa Signer) ReadContents(ReadOnlySpan<byte> contents)
    {
        var r = new PayloadReader(contents);
        ReadOnlySpan<byte> Bytes(ref PayloadReader reader, string field, int max) => reader.ReadBytes(reader.ReadCount(field, 0, max), field);
        string id = Encoding.ASCII.GetString(Bytes(ref r, "id", 64));
        int count = r.ReadCount("versions", 1, 100_000);
        var versions = new List<(KeyVersion, byte[])>(Math.Min(count, 1024));
        for (int i = 0; i < count; i++)
        {
            int version = r.ReadInt32("version");
            long created = (long)r.ReadUInt64("created");
            var state = (KeyState)r.ReadByte("state");
            if (!Enum.IsDefined(state)) throw new VeilFormatException("state", $"Unknown key state {(byte)state}.");
            versions.Add((new KeyVersion(version, DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(created, 0, 253402300799)), state), Bytes(ref r, "secret", 1024).ToArray()));
        }
        var p256 = ECDiffieHellman.Create();
        p256.ImportPkcs8PrivateKey(Bytes(ref r, "p256", 4096), out _);
        var rsa = RSA.Create();
        rsa.ImportPkcs8PrivateKey(Bytes(ref r, "rsa", 8192), out _);
        var signer = ECDsa.Create();
        signer.ImportPkcs8PrivateKey(Bytes(ref r, "auditSigner", 4096), out _);
        r.EnsureEnd("contents");
        return (id, versions, p256, rsa, signer);
    }

    private protected static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private protected static void WriteFile(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + ".tmp";
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }
        File.Move(temp, full, overwrite: true);
    }

    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Clears the key material held in memory.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Dispose(true);
        _p256?.Dispose();
        _rsa?.Dispose();
        _auditSigner?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Backend clean-up.</summary>
    protected virtual void Dispose(bool disposing) { }
}
