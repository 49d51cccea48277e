using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace Veil.Protection;

/// <summary>
/// A keyring whose key-encryption keys live on a PKCS#11 token (an HSM, or SoftHSM2 for development): AES-256 keys
/// generated on the token as sensitive and non-extractable, used there for AES-GCM wrapping; the key bytes never leave it.
/// </summary>
/// <remarks>
/// <para>KEK version n is the token object labelled "veil-kek/ID/vN". The keyring's file holds what is not on the token
/// — the version list and the receiving and audit key pairs — sealed by the primary KEK on the token:
/// "VEILKEYR" ‖ version u16 (1) ‖ backend u8 (2) ‖ module path, token label (u16 length, UTF-8) ‖ keyring id (u8
/// length, ASCII) ‖ sealing version u32 ‖ IV (12) ‖ token AES-GCM of the contents ‖ tag; the AAD is every byte before
/// the IV.</para>
/// <para>Retiring a version destroys its object on the token.</para>
/// </remarks>
public sealed class Pkcs11Keyring : Keyring
{
    private readonly string _path, _module, _token;
    private readonly Pkcs11InteropFactories _factories = new();
    private readonly IPkcs11Library _library;
    private readonly ISession _session;
    private readonly Lock _gate = new();

    // Pkcs11Interop loads modules through "libdl", which current glibc ships only as libdl.so.2 (no development symlink).
    static Pkcs11Keyring()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            System.Runtime.InteropServices.NativeLibrary.SetDllImportResolver(typeof(Pkcs11InteropFactories).Assembly, (name, assembly, path) =>
                name == "libdl" && System.Runtime.InteropServices.NativeLibrary.TryLoad("libdl.so.2", assembly, path, out var handle) ? handle : IntPtr.Zero);
        }
        catch (InvalidOperationException) { } // a resolver was set already (by the host)
    }

    private Pkcs11Keyring(string path, string module, string token, string id, string pin) : base(id)
    {
        _path = path;
        _module = module;
        _token = token;
        try
        {
            _library = _factories.Pkcs11LibraryFactory.LoadPkcs11Library(_factories, module, AppType.MultiThreaded);
        }
        catch (Exception e) when (e is Pkcs11Exception or DllNotFoundException or UnmanagedException or BadImageFormatException)
        {
            throw new ProtectionException(ProtectionError.KeyUnavailable, $"The PKCS#11 module {module} could not be loaded: {e.Message}", inner: e);
        }
        var slot = _library.GetSlotList(SlotsType.WithTokenPresent).FirstOrDefault(s => s.GetTokenInfo().Label.Trim() == token)
            ?? throw new ProtectionException(ProtectionError.KeyUnavailable, $"No token labelled '{token}' in {module}.");
        _session = slot.OpenSession(SessionType.ReadWrite);
        try { _session.Login(CKU.CKU_USER, pin); }
        catch (Pkcs11Exception e) when (e.RV is CKR.CKR_PIN_INCORRECT or CKR.CKR_PIN_INVALID or CKR.CKR_PIN_LEN_RANGE)
        {
            _session.Dispose();
            _library.Dispose();
            throw new ProtectionException(ProtectionError.WrongSecret, $"Token '{token}': wrong PIN.", inner: e);
        }
    }

    /// <summary>The file it is saved in.</summary>
    public string Path => _path;

    /// <summary>Creates a keyring on the token with version 1 and saves its file.</summary>
    /// <param name="path">The keyring's file (must not exist).</param>
    /// <param name="module">The PKCS#11 module (for SoftHSM2: /usr/lib/softhsm/libsofthsm2.so).</param>
    /// <param name="tokenLabel">The token's label.</param>
    /// <param name="pin">The user PIN.</param>
    /// <param name="audit">Where its events are recorded.</param>
    public static Pkcs11Keyring Create(string path, string module, string tokenLabel, string pin, IAuditSink? audit = null)
    {
        if (File.Exists(path)) throw new IOException($"{path} exists; a keyring is never overwritten.");
        var ring = new Pkcs11Keyring(path, module, tokenLabel, NewId(), pin) { Audit = audit };
        try
        {
            ring.CreateIdentities();
            ring.CreateVersion(1);
            ring._versions.Add(new KeyVersion(1, DateTimeOffset.UtcNow, KeyState.Active));
            ring.Save();
        }
        catch { ring.Dispose(); throw; }
        audit?.Record("key.create", $"keyring:{ring.Id}", new() { ["backend"] = "pkcs11", ["token"] = tokenLabel, ["path"] = System.IO.Path.GetFullPath(path) });
        return ring;
    }

    /// <summary>Opens a keyring file with the token's PIN.</summary>
    /// <exception cref="ProtectionException">A wrong PIN, a missing token or key, or a malformed or altered file.</exception>
    public static Pkcs11Keyring Open(string path, string pin, IAuditSink? audit = null)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length > 1 << 20 || !bytes.AsSpan().StartsWith("VEILKEYR"u8) || bytes.Length < 11)
            throw new ProtectionException(ProtectionError.Format, $"{path} is not a Veil keyring.");
        if (BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) != 1 || bytes[10] != 2)
            throw new ProtectionException(ProtectionError.Unsupported, $"{path}: not a PKCS#11 keyring (backend {bytes[10]}).");
        int o = 11;
        string Str(int lengthBytes)
        {
            if (o + lengthBytes > bytes.Length) throw new ProtectionException(ProtectionError.Format, $"{path}: truncated header.");
            int n = lengthBytes == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(o)) : bytes[o];
            o += lengthBytes;
            if (n > 4096 || o + n > bytes.Length) throw new ProtectionException(ProtectionError.Format, $"{path}: truncated header.");
            var s = Encoding.UTF8.GetString(bytes, o, n);
            o += n;
            return s;
        }
        string module = Str(2), token = Str(2), id = Str(1);
        if (o + 4 + 12 + 16 > bytes.Length) throw new ProtectionException(ProtectionError.Format, $"{path}: truncated header.");
        int sealingVersion = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(o));
        int aadLength = o + 4;
        var ring = new Pkcs11Keyring(path, module, token, id, pin) { Audit = audit };
        try
        {
            var key = ring.FindKey(sealingVersion) ?? throw new ProtectionException(ProtectionError.KeyUnavailable, $"{path}: key version {sealingVersion} is not on token '{token}'.");
            byte[] contents;
            try { contents = ring.TokenGcm(decrypt: true, key, bytes.AsSpan(aadLength, 12).ToArray(), bytes.AsSpan(aadLength + 12).ToArray(), bytes.AsSpan(0, aadLength).ToArray()); }
            catch (Pkcs11Exception e) { throw new ProtectionException(ProtectionError.HeaderTampered, $"{path}: the keyring file does not authenticate on the token.", inner: e); }
            try
            {
                var (readId, versions, p256, rsa, signer) = ReadContents(contents);
                if (readId != id) throw new ProtectionException(ProtectionError.Format, $"{path}: the sealed id {readId} differs from the header's {id}.");
                ring._p256 = p256; ring._rsa = rsa; ring._auditSigner = signer;
                foreach (var (v, _) in versions) ring._versions.Add(v);
            }
            finally { CryptographicOperations.ZeroMemory(contents); }
            return ring;
        }
        catch { ring.Dispose(); throw; }
    }

    /// <summary>Whether version <paramref name="version"/>'s key on the token is sensitive and not extractable, and its value cannot be read.</summary>
    public bool IsKeyProtectedOnToken(int version)
    {
        lock (_gate)
        {
            var key = FindKey(version) ?? throw new ArgumentException($"No key version {version} on the token.", nameof(version));
            var attributes = _session.GetAttributeValue(key, [CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE]);
            bool valueHidden;
            try
            {
                var value = _session.GetAttributeValue(key, [CKA.CKA_VALUE]);
                valueHidden = value[0].CannotBeRead || value[0].GetValueAsByteArray() is null or { Length: 0 };
            }
            catch (Pkcs11Exception) { valueHidden = true; }
            return attributes[0].GetValueAsBool() && !attributes[1].GetValueAsBool() && valueHidden;
        }
    }

    private string Label(int version) => $"veil-kek/{Id}/v{version}";

    private IObjectHandle? FindKey(int version)
    {
        var found = _session.FindAllObjects([
            _factories.ObjectAttributeFactory.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
            _factories.ObjectAttributeFactory.Create(CKA.CKA_LABEL, Label(version))]);
        return found.Count == 1 ? found[0] : null;
    }

    private byte[] TokenGcm(bool decrypt, IObjectHandle key, byte[] iv, byte[] data, byte[] aad)
    {
        var parameters = _factories.MechanismParamsFactory.CreateCkGcmParams(iv, 96, aad, 128);
        var mechanism = _factories.MechanismFactory.Create(CKM.CKM_AES_GCM, parameters);
        lock (_gate) return decrypt ? _session.Decrypt(mechanism, key, data) : _session.Encrypt(mechanism, key, data);
    }

    /// <inheritdoc/>
    public override void Save()
    {
        ThrowIfDisposed();
        int sealing = Primary;
        var key = FindKey(sealing) ?? throw new ProtectionException(ProtectionError.KeyUnavailable, $"Key version {sealing} is not on the token.");
        using var header = new MemoryStream();
        header.Write("VEILKEYR"u8);
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(n, 1); header.Write(n[..2]);
        header.WriteByte(2);
        foreach (var s in new[] { _module, _token })
        {
            var b = Encoding.UTF8.GetBytes(s);
            BinaryPrimitives.WriteUInt16LittleEndian(n, (ushort)b.Length); header.Write(n[..2]); header.Write(b);
        }
        header.WriteByte((byte)Id.Length); header.Write(Encoding.ASCII.GetBytes(Id));
        BinaryPrimitives.WriteInt32LittleEndian(n, sealing); header.Write(n);
        var aad = header.ToArray();
        var iv = RandomNumberGenerator.GetBytes(12);
        var contents = Contents(_ => []);
        try
        {
            var sealedContents = TokenGcm(decrypt: false, key, iv, contents, aad);
            WriteFile(_path, [.. aad, .. iv, .. sealedContents]);
        }
        finally { CryptographicOperations.ZeroMemory(contents); }
    }

    private protected override void CreateVersion(int version)
    {
        var f = _factories.ObjectAttributeFactory;
        lock (_gate)
            _session.GenerateKey(_factories.MechanismFactory.Create(CKM.CKM_AES_KEY_GEN), [
                f.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY), f.Create(CKA.CKA_KEY_TYPE, CKK.CKK_AES), f.Create(CKA.CKA_VALUE_LEN, 32UL),
                f.Create(CKA.CKA_TOKEN, true), f.Create(CKA.CKA_PRIVATE, true), f.Create(CKA.CKA_SENSITIVE, true), f.Create(CKA.CKA_EXTRACTABLE, false),
                f.Create(CKA.CKA_ENCRYPT, true), f.Create(CKA.CKA_DECRYPT, true), f.Create(CKA.CKA_LABEL, Label(version))]);
    }

    private protected override void DestroyVersion(int version)
    {
        var key = FindKey(version);
        if (key is not null) lock (_gate) _session.DestroyObject(key);
    }

    private protected override byte[] WrapWith(int version, ReadOnlySpan<byte> dataKey, byte[] aad)
    {
        var key = FindKey(version) ?? throw new ProtectionException(ProtectionError.KeyUnavailable, $"Key version {version} is not on the token.");
        var iv = RandomNumberGenerator.GetBytes(12);
        return [.. iv, .. TokenGcm(decrypt: false, key, iv, dataKey.ToArray(), aad)];
    }

    private protected override bool TryUnwrapWith(int version, ReadOnlySpan<byte> body, byte[] aad, Span<byte> dataKey)
    {
        if (body.Length != 12 + dataKey.Length + 16) return false;
        var key = FindKey(version);
        if (key is null) return false;
        byte[]? plain = null;
        try
        {
            plain = TokenGcm(decrypt: true, key, body[..12].ToArray(), body[12..].ToArray(), aad);
            if (plain.Length != dataKey.Length) return false;
            plain.CopyTo(dataKey);
            return true;
        }
        catch (Pkcs11Exception) { return false; }
        finally { if (plain is not null) CryptographicOperations.ZeroMemory(plain); }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        try { _session?.Logout(); } catch (Pkcs11Exception) { }
        _session?.Dispose();
        _library?.Dispose();
    }
}
