using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Konscious.Security.Cryptography;

namespace Veil.Protection;

/// <summary>Argon2id cost: memory (KiB), passes, lanes. Stored in the keyring file.</summary>
public sealed record Argon2Parameters(int MemoryKiB, int Iterations, int Parallelism)
{
    /// <summary>RFC 9106's second recommended option, 64 MiB, 3 passes, with 2 lanes (about a second on one core here).</summary>
    public static Argon2Parameters Default { get; } = new(64 * 1024, 3, 2);

    /// <summary>The cheapest cost a keyring file may ask for (OWASP's minimum for Argon2id: 19 MiB, 2 passes).</summary>
    public static Argon2Parameters Minimum { get; } = new(19 * 1024, 2, 1);

    internal void Check(bool allowWeak)
    {
        if (MemoryKiB > 4 * 1024 * 1024 || Iterations > 64 || Parallelism is < 1 or > 64)
            throw new ProtectionException(ProtectionError.Format, $"Argon2id cost {this} is beyond the limits (4 GiB, 64 passes, 64 lanes).");
        if (!allowWeak && (MemoryKiB < Minimum.MemoryKiB || Iterations < Minimum.Iterations))
            throw new ProtectionException(ProtectionError.Format, $"Argon2id cost {this} is below the minimum {Minimum}.");
        if (MemoryKiB < 8 * Parallelism || Iterations < 1) throw new ProtectionException(ProtectionError.Format, $"Argon2id cost {this} is not valid.");
    }
}

/// <summary>
/// A keyring in a file sealed under a passphrase: Argon2id (Konscious.Security.Cryptography) derives a 256-bit key
/// that AES-256-GCM-seals the versions' KEKs and the identities.
/// </summary>
/// <remarks>File: "VEILKEYR" ‖ version u16 (1) ‖ backend u8 (1) ‖ Argon2id salt (16) ‖ memory KiB, passes, lanes (u32)
/// ‖ nonce (12) ‖ sealed contents ‖ tag (16); the AAD is every byte before the nonce. Mode 0600.</remarks>
public sealed class PassphraseKeyring : Keyring
{
    private const int HeaderLength = 8 + 2 + 1 + 16 + 12;
    private readonly string _path;
    private readonly byte[] _passphrase;
    private readonly Argon2Parameters _cost;
    private readonly Dictionary<int, byte[]> _keks = [];

    private PassphraseKeyring(string path, string id, ReadOnlySpan<char> passphrase, Argon2Parameters cost) : base(id)
    {
        _path = path;
        _passphrase = GC.AllocateArray<byte>(Encoding.UTF8.GetByteCount(passphrase), pinned: true);
        Encoding.UTF8.GetBytes(passphrase, _passphrase);
        _cost = cost;
    }

    /// <summary>The file it is saved in.</summary>
    public string Path => _path;

    /// <summary>Creates a keyring with version 1 and saves it.</summary>
    /// <param name="path">Its file (must not exist).</param>
    /// <param name="passphrase">At least 12 characters.</param>
    /// <param name="cost">Argon2id cost (default <see cref="Argon2Parameters.Default"/>).</param>
    /// <param name="allowWeakCost">Accept a cost below <see cref="Argon2Parameters.Minimum"/> (tests only).</param>
    /// <param name="audit">Where its events are recorded.</param>
    /// <exception cref="IOException">The file exists.</exception>
    public static PassphraseKeyring Create(string path, ReadOnlySpan<char> passphrase, Argon2Parameters? cost = null, bool allowWeakCost = false, IAuditSink? audit = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (passphrase.Length < 12) throw new ArgumentException("A keyring passphrase has at least 12 characters.", nameof(passphrase));
        if (File.Exists(path)) throw new IOException($"{path} exists; a keyring is never overwritten.");
        cost ??= Argon2Parameters.Default;
        cost.Check(allowWeakCost);
        var ring = new PassphraseKeyring(path, NewId(), passphrase, cost) { Audit = audit };
        ring.CreateIdentities();
        ring.CreateVersion(1);
        ring._versions.Add(new KeyVersion(1, DateTimeOffset.UtcNow, KeyState.Active));
        ring.Save();
        audit?.Record("key.create", $"keyring:{ring.Id}", new() { ["backend"] = "passphrase", ["path"] = System.IO.Path.GetFullPath(path) });
        return ring;
    }

    /// <summary>Opens a keyring file.</summary>
    /// <exception cref="ProtectionException">A wrong passphrase (<see cref="ProtectionError.WrongSecret"/>) or a malformed file.</exception>
    public static PassphraseKeyring Open(string path, ReadOnlySpan<char> passphrase, bool allowWeakCost = false, IAuditSink? audit = null)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderLength + 12 + 16 + 16 || bytes.Length > 1 << 20 || !bytes.AsSpan().StartsWith("VEILKEYR"u8))
            throw new ProtectionException(ProtectionError.Format, $"{path} is not a Veil keyring.");
        if (BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) != 1 || bytes[10] != 1)
            throw new ProtectionException(ProtectionError.Unsupported, $"{path}: keyring version {BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8))}, backend {bytes[10]}; this is a passphrase keyring reader.");
        var salt = bytes.AsSpan(11, 16);
        var cost = new Argon2Parameters(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(27)), BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(31)), BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(35)));
        cost.Check(allowWeakCost);
        int aadLength = 39;
        var nonce = bytes.AsSpan(aadLength, 12);
        var sealedBody = bytes.AsSpan(aadLength + 12, bytes.Length - aadLength - 12 - 16);
        var tag = bytes.AsSpan(bytes.Length - 16);
        var pass = Encoding.UTF8.GetBytes(passphrase.ToArray());
        var key = Derive(pass, salt, cost);
        CryptographicOperations.ZeroMemory(pass);
        var contents = GC.AllocateArray<byte>(sealedBody.Length, pinned: true);
        try
        {
            using (var gcm = new AesGcm(key, 16))
            {
                try { gcm.Decrypt(nonce, sealedBody, tag, contents, bytes.AsSpan(0, aadLength)); }
                catch (AuthenticationTagMismatchException) { throw new ProtectionException(ProtectionError.WrongSecret, $"{path}: wrong passphrase, or the file was altered."); }
            }
            var (id, versions, p256, rsa, signer) = ReadContents(contents);
            var ring = new PassphraseKeyring(path, id, passphrase, cost) { Audit = audit };
            ring._p256 = p256; ring._rsa = rsa; ring._auditSigner = signer;
            foreach (var (v, secret) in versions)
            {
                ring._versions.Add(v);
                if (v.State == KeyState.Active)
                {
                    if (secret.Length != 32) throw new ProtectionException(ProtectionError.Format, $"{path}: version {v.Version} has no 32-byte key.");
                    var kek = GC.AllocateArray<byte>(32, pinned: true);
                    secret.CopyTo(kek, 0);
                    ring._keks[v.Version] = kek;
                }
                CryptographicOperations.ZeroMemory(secret);
            }
            if (!ring._versions.Any(v => v.State == KeyState.Active)) throw new ProtectionException(ProtectionError.Format, $"{path}: no active version.");
            return ring;
        }
        catch (Veil.Serialization.VeilFormatException e) { throw new ProtectionException(ProtectionError.Format, $"{path}: {e.Message}", inner: e); }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(contents);
        }
    }

    private static byte[] Derive(byte[] passphrase, ReadOnlySpan<byte> salt, Argon2Parameters cost)
    {
        using var argon = new Argon2id(passphrase) { Salt = salt.ToArray(), MemorySize = cost.MemoryKiB, Iterations = cost.Iterations, DegreeOfParallelism = cost.Parallelism };
        return argon.GetBytes(32);
    }

    /// <inheritdoc/>
    public override void Save()
    {
        ThrowIfDisposed();
        var salt = RandomNumberGenerator.GetBytes(16);
        var key = Derive(_passphrase, salt, _cost);
        var contents = Contents(v => _keks[v]);
        try
        {
            var file = new byte[39 + 12 + contents.Length + 16];
            "VEILKEYR"u8.CopyTo(file);
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), 1);
            file[10] = 1;
            salt.CopyTo(file, 11);
            BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(27), _cost.MemoryKiB);
            BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(31), _cost.Iterations);
            BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(35), _cost.Parallelism);
            RandomNumberGenerator.Fill(file.AsSpan(39, 12));
            using (var gcm = new AesGcm(key, 16))
                gcm.Encrypt(file.AsSpan(39, 12), contents, file.AsSpan(51, contents.Length), file.AsSpan(51 + contents.Length, 16), file.AsSpan(0, 39));
            WriteFile(_path, file);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(contents);
        }
    }

    private protected override void CreateVersion(int version)
    {
        var kek = GC.AllocateArray<byte>(32, pinned: true);
        RandomNumberGenerator.Fill(kek);
        _keks[version] = kek;
    }

    private protected override void DestroyVersion(int version)
    {
        CryptographicOperations.ZeroMemory(_keks[version]);
        _keks.Remove(version);
    }

    private protected override byte[] WrapWith(int version, ReadOnlySpan<byte> dataKey, byte[] aad)
    {
        var body = new byte[12 + dataKey.Length + 16];
        RandomNumberGenerator.Fill(body.AsSpan(0, 12));
        using var gcm = new AesGcm(_keks[version], 16);
        gcm.Encrypt(body.AsSpan(0, 12), dataKey, body.AsSpan(12, dataKey.Length), body.AsSpan(12 + dataKey.Length), aad);
        return body;
    }

    private protected override bool TryUnwrapWith(int version, ReadOnlySpan<byte> body, byte[] aad, Span<byte> dataKey)
    {
        if (!_keks.TryGetValue(version, out var kek) || body.Length != 12 + dataKey.Length + 16) return false;
        using var gcm = new AesGcm(kek, 16);
        try { gcm.Decrypt(body[..12], body.Slice(12, dataKey.Length), body[(12 + dataKey.Length)..], dataKey, aad); return true; }
        catch (AuthenticationTagMismatchException) { return false; }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        foreach (var k in _keks.Values) CryptographicOperations.ZeroMemory(k);
        _keks.Clear();
        CryptographicOperations.ZeroMemory(_passphrase);
    }
}
