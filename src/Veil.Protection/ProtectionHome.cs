using System.Security.Cryptography;
using Veil.Serialization;

namespace Veil.Protection;

/// <summary>Reading recipients' public keys.</summary>
public static class RecipientKeys
{
    /// <summary>
    /// The recipients in a PEM text (SubjectPublicKeyInfo blocks: P-256 keys become <see cref="P256Recipient"/>s,
    /// RSA keys of 3072 bits or more <see cref="RsaRecipient"/>s). A keyring's <see cref="Keyring.ExportPublicKeys"/>
    /// holds one of each; the first usable block is taken unless <paramref name="all"/>.
    /// </summary>
    /// <exception cref="ArgumentException">No usable public key in the text.</exception>
    public static IReadOnlyList<IRecipient> FromPem(string pem, bool all = false)
    {
        ArgumentNullException.ThrowIfNull(pem);
        var result = new List<IRecipient>();
        int at = 0;
        while (PemEncoding.TryFind(pem.AsSpan(at), out var fields))
        {
            var rest = pem.AsSpan(at);
            string label = rest[fields.Label].ToString(), block = rest[fields.Location].ToString();
            at += fields.Location.End.Value;
            if (label != "PUBLIC KEY") continue;
            try
            {
                var ec = ECDiffieHellman.Create();
                ec.ImportFromPem(block);
                if (ec.KeySize == 256) { result.Add(new P256Recipient(ec)); if (!all) break; continue; }
            }
            catch (CryptographicException) { }
            try
            {
                var rsa = RSA.Create();
                rsa.ImportFromPem(block);
                result.Add(new RsaRecipient(rsa));
                if (!all) break;
            }
            catch (CryptographicException) { }
        }
        if (result.Count == 0) throw new ArgumentException("No P-256 or RSA-3072 public key in the PEM text.", nameof(pem));
        return result;
    }
}

/// <summary>
/// A user's protection setup in one folder (default ~/.veil, or $VEIL_HOME): the keyring (keyring.vkr) and the audit
/// log (audit.log) whose checkpoints the keyring signs. The front ends' entry point: each operation is one call, and
/// each is audited.
/// </summary>
public sealed class ProtectionHome : IDisposable
{
    private ProtectionHome(string directory, Keyring keyring, AuditLog audit)
    {
        Directory = directory;
        Keyring = keyring;
        Audit = audit;
        keyring.Audit = audit;
    }

    /// <summary>$VEIL_HOME, else ~/.veil.</summary>
    public static string DefaultDirectory => Environment.GetEnvironmentVariable("VEIL_HOME") is { Length: > 0 } home ? home
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".veil");

    /// <summary>The folder.</summary>
    public string Directory { get; }
    /// <summary>The keyring.</summary>
    public Keyring Keyring { get; }
    /// <summary>The audit log.</summary>
    public AuditLog Audit { get; }

    /// <summary>The keyring file in <paramref name="directory"/>.</summary>
    public static string KeyringPath(string directory) => Path.Combine(directory, "keyring.vkr");
    /// <summary>The audit log in <paramref name="directory"/>.</summary>
    public static string AuditPath(string directory) => Path.Combine(directory, "audit.log");

    /// <summary>Creates a passphrase keyring in <paramref name="directory"/>.</summary>
    public static ProtectionHome InitWithPassphrase(string directory, string passphrase, Argon2Parameters? cost = null, bool allowWeakCost = false)
    {
        var keyring = PassphraseKeyring.Create(KeyringPath(directory), passphrase, cost, allowWeakCost);
        return Started(directory, keyring, "passphrase");
    }

    /// <summary>Creates a keyring on a PKCS#11 token, its file in <paramref name="directory"/>.</summary>
    public static ProtectionHome InitWithPkcs11(string directory, string module, string tokenLabel, string pin)
    {
        var keyring = Pkcs11Keyring.Create(KeyringPath(directory), module, tokenLabel, pin);
        return Started(directory, keyring, "pkcs11");
    }

    private static ProtectionHome Started(string directory, Keyring keyring, string backend)
    {
        var home = new ProtectionHome(directory, keyring, new AuditLog(AuditPath(directory), keyring.AuditSigner));
        home.Audit.Record("key.create", $"keyring:{keyring.Id}", new() { ["backend"] = backend });
        return home;
    }

    /// <summary>Opens the keyring in <paramref name="directory"/> (passphrase or PKCS#11, from its file), asking <paramref name="secret"/> for the passphrase or PIN.</summary>
    /// <exception cref="FileNotFoundException">No keyring there ("veil keys init" makes one).</exception>
    /// <exception cref="ProtectionException">A wrong secret or a damaged file.</exception>
    public static ProtectionHome Open(string directory, Func<string> secret, bool allowWeakCost = false)
    {
        ArgumentNullException.ThrowIfNull(secret);
        string path = KeyringPath(directory);
        if (!File.Exists(path)) throw new FileNotFoundException($"No keyring at {path}; create one with 'veil keys init'.", path);
        Span<byte> head = stackalloc byte[11];
        using (var f = File.OpenRead(path))
            if (f.ReadAtLeast(head, 11, throwOnEndOfStream: false) < 11) throw new ProtectionException(ProtectionError.Format, $"{path} is not a Veil keyring.");
        Keyring keyring = head[10] switch
        {
            1 => PassphraseKeyring.Open(path, secret(), allowWeakCost),
            2 => Pkcs11Keyring.Open(path, secret()),
            _ => throw new ProtectionException(ProtectionError.Unsupported, $"{path}: unknown keyring backend {head[10]}."),
        };
        return new ProtectionHome(directory, keyring, new AuditLog(AuditPath(directory), keyring.AuditSigner));
    }

    /// <summary>Whether the keyring in <paramref name="directory"/> is on a PKCS#11 token (asks for a PIN, not a passphrase).</summary>
    public static bool IsPkcs11(string directory)
    {
        var path = KeyringPath(directory);
        if (!File.Exists(path)) return false;
        using var f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[11];
        return f.ReadAtLeast(head, 11, throwOnEndOfStream: false) == 11 && head[10] == 2;
    }

    /// <summary>Seals a file for the keyring (unless <paramref name="includeKeyring"/> is false) and the recipients in <paramref name="recipientPems"/>.</summary>
    public long Protect(string input, string output, IEnumerable<string> recipientPems, bool includeKeyring = true, AeadAlgorithm algorithm = AeadAlgorithm.Aes256Gcm,
        IProgress<long>? progress = null, CancellationToken cancellation = default)
    {
        var recipients = new List<IRecipient>();
        if (includeKeyring) recipients.Add(Keyring);
        var names = new List<string>();
        foreach (var pem in recipientPems)
        {
            var r = RecipientKeys.FromPem(pem);
            recipients.AddRange(r);
            names.AddRange(r.Select(x => x is P256Recipient p ? p.KeyId : ((RsaRecipient)x).KeyId));
        }
        if (recipients.Count == 0) throw new ArgumentException("Nobody could open the file: give --to or keep the keyring.", nameof(recipientPems));
        long bytes = ProtectedStream.EncryptFile(input, output, recipients, new ProtectionOptions { Algorithm = algorithm }, progress, cancellation);
        Audit.Record("data.protect", Path.GetFullPath(input), new()
        {
            ["output"] = Path.GetFullPath(output), ["bytes"] = bytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["keyring"] = includeKeyring ? Keyring.Id : "", ["recipients"] = string.Join(' ', names), ["algorithm"] = algorithm.ToString(),
        });
        return bytes;
    }

    /// <summary>Opens a protected file with the keyring's identities; the output appears only when all of it verified. Failures are audited too.</summary>
    public ProtectedHeader Unprotect(string input, string output, IProgress<long>? progress = null, CancellationToken cancellation = default)
    {
        try
        {
            var header = ProtectedStream.DecryptFile(input, output, Keyring.Identities, progress, cancellation);
            Audit.Record("data.unprotect", Path.GetFullPath(input), new() { ["output"] = Path.GetFullPath(output) });
            return header;
        }
        catch (ProtectionException e)
        {
            Audit.Record("data.unprotect.refused", Path.GetFullPath(input), new() { ["reason"] = e.Reason.ToString() });
            throw;
        }
    }

    /// <summary>Seals secrets (HE secret keys, private contexts) for this keyring.</summary>
    public ISecretProtector SecretProtector => new SecretProtector([Keyring], Keyring.Identities, Audit);

    /// <summary>Checkpoints the audit log and clears the keyring's key material.</summary>
    public void Dispose()
    {
        Audit.Checkpoint();
        Keyring.Dispose();
    }
}
