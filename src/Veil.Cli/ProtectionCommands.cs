using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Spectre.Console;
using Veil.Protection;

namespace Veil.Cli;

/// <summary>
/// Keyring, file protection and audit commands: each parses, makes one call to Veil.Protection (mostly
/// <see cref="ProtectionHome"/>) and prints.
/// </summary>
internal static class ProtectionCommands
{
    private const long ProgressThreshold = 64L << 20;

    /// <summary>The passphrase or PIN: --passphrase-file, else $VEIL_PASSPHRASE / $VEIL_PKCS11_PIN, else a prompt on a terminal.</summary>
    public static string Secret(string? file, bool pin, bool confirm = false)
    {
        string what = pin ? "PIN" : "passphrase", variable = pin ? "VEIL_PKCS11_PIN" : "VEIL_PASSPHRASE";
        if (file is not null) return File.ReadAllText(file).TrimEnd('\r', '\n');
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value) return value;
        if (Console.IsInputRedirected || Console.IsOutputRedirected)
            throw new UsageException($"The keyring's {what} is needed: set ${variable} or pass --passphrase-file FILE.");
        var entered = AnsiConsole.Prompt(new TextPrompt<string>($"Keyring {what}:").Secret());
        if (confirm && AnsiConsole.Prompt(new TextPrompt<string>($"Again:").Secret()) != entered) throw new UsageException($"The two {what}s differ.");
        return entered;
    }

    public static ProtectionHome OpenHome(string? home, string? passphraseFile)
    {
        string dir = home ?? ProtectionHome.DefaultDirectory;
        bool pin = ProtectionHome.IsPkcs11(dir);
        return ProtectionHome.Open(dir, () => Secret(passphraseFile, pin));
    }

    public static int Init(string? home, string? passphraseFile, string? module, string? token, int memoryMiB, int passes, bool json)
    {
        string dir = home ?? ProtectionHome.DefaultDirectory;
        if (File.Exists(ProtectionHome.KeyringPath(dir))) throw new UsageException($"{ProtectionHome.KeyringPath(dir)} exists; a keyring is never overwritten.");
        if ((module is null) != (token is null)) throw new UsageException("A PKCS#11 keyring needs both --pkcs11-module and --token.");
        using var created = module is not null
            ? ProtectionHome.InitWithPkcs11(dir, module, token!, Secret(passphraseFile, pin: true))
            : ProtectionHome.InitWithPassphrase(dir, Secret(passphraseFile, pin: false, confirm: true), new Argon2Parameters(memoryMiB * 1024, passes, 2));
        File.WriteAllText(Path.Combine(dir, "audit-key.pem"), created.Keyring.ExportAuditPublicKey());
        File.WriteAllText(Path.Combine(dir, "public.pem"), created.Keyring.ExportPublicKeys());
        Report(json, new { command = "keys init", keyring = created.Keyring.Id, backend = module is null ? "passphrase" : "pkcs11", home = Path.GetFullPath(dir) },
            $"keyring {created.Keyring.Id} ({(module is null ? $"passphrase, Argon2id {memoryMiB} MiB × {passes}" : $"PKCS#11 token '{token}'")}) in {Path.GetFullPath(dir)}; " +
            $"public keys for senders: {Path.Combine(dir, "public.pem")}; audit log: {ProtectionHome.AuditPath(dir)}.");
        return 0;
    }

    public static int List(string? home, string? passphraseFile, bool json)
    {
        using var h = OpenHome(home, passphraseFile);
        var k = h.Keyring;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                keyring = k.Id, backend = k is Pkcs11Keyring ? "pkcs11" : "passphrase", primary = k.Primary,
                versions = k.Versions.Select(v => new { version = v.Version, state = v.State.ToString().ToLowerInvariant(), created = v.Created }),
                p256 = KeyFingerprint.Of(k.P256Key), rsa = KeyFingerprint.Of(k.RsaKey),
            }));
            return 0;
        }
        var table = new Table().AddColumns("version", "state", "created");
        foreach (var v in k.Versions) table.AddRow(v.Version.ToString(CultureInfo.InvariantCulture) + (v.Version == k.Primary ? " (primary)" : ""), v.State.ToString(), v.Created.ToString("u", CultureInfo.InvariantCulture));
        AnsiConsole.WriteLine($"keyring {k.Id} ({(k is Pkcs11Keyring ? "PKCS#11" : "passphrase")}); receiving keys {KeyFingerprint.Of(k.P256Key)}, {KeyFingerprint.Of(k.RsaKey)}");
        AnsiConsole.Write(table);
        return 0;
    }

    public static int Rotate(string? home, string? passphraseFile, string[] rewrap, bool json)
    {
        using var h = OpenHome(home, passphraseFile);
        int version = h.Keyring.Rotate();
        foreach (var file in rewrap) h.Keyring.RewrapFile(file);
        Report(json, new { command = "keys rotate", version, rewrapped = rewrap.Length },
            $"version {version} is now the primary; older versions still open until retired. Rewrapped {rewrap.Length} file(s) without re-encrypting them.");
        return 0;
    }

    public static int Retire(string? home, string? passphraseFile, int version, bool json)
    {
        using var h = OpenHome(home, passphraseFile);
        try { h.Keyring.Retire(version); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        Report(json, new { command = "keys retire", version }, $"version {version} destroyed: data keys wrapped only under it no longer open.");
        return 0;
    }

    public static int ExportPublic(string? home, string? passphraseFile, string? output, bool auditKey)
    {
        using var h = OpenHome(home, passphraseFile);
        string pem = auditKey ? h.Keyring.ExportAuditPublicKey() : h.Keyring.ExportPublicKeys();
        if (output is null) Console.Write(pem);
        else File.WriteAllText(output, pem);
        return 0;
    }

    public static int WrapFor(string? home, string? passphraseFile, string file, string recipientPem, bool json)
    {
        var recipient = Recipient(recipientPem);
        using var h = OpenHome(home, passphraseFile);
        h.Keyring.WrapFileFor(file, recipient.Recipient, recipient.Name);
        Report(json, new { command = "keys wrap-for", file, recipient = recipient.Name }, $"{file} can now also be opened by {recipient.Name}.");
        return 0;
    }

    private static (IRecipient Recipient, string Name) Recipient(string pemPath)
    {
        if (!File.Exists(pemPath)) throw new FileNotFoundException($"{pemPath}: no such file.");
        IRecipient r;
        try { r = RecipientKeys.FromPem(File.ReadAllText(pemPath))[0]; }
        catch (ArgumentException e) { throw new UsageException($"{pemPath}: {e.Message}"); }
        return (r, r is P256Recipient p ? p.KeyId : ((RsaRecipient)r).KeyId);
    }

    public static int Protect(string? home, string? passphraseFile, string file, string[] to, string? output, bool chacha, bool noKeyring, bool json)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: no such file.");
        output ??= file + ".vp";
        var pems = to.Select(p => File.Exists(p) ? File.ReadAllText(p) : throw new FileNotFoundException($"{p}: no such file.")).ToArray();
        using var h = OpenHome(home, passphraseFile);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long bytes = WithProgress(new FileInfo(file).Length, "protecting", p => h.Protect(file, output, pems, !noKeyring, chacha ? AeadAlgorithm.ChaCha20Poly1305 : AeadAlgorithm.Aes256Gcm, p));
        double seconds = clock.Elapsed.TotalSeconds;
        Report(json, new { command = "protect", input = file, output, bytes, seconds, recipients = to.Length + (noKeyring ? 0 : 1), peak_rss_bytes = PeakRss() },
            $"{file} → {output}: {bytes:N0} bytes in {seconds:F2} s ({bytes / Math.Max(seconds, 1e-9) / 1e6:F0} MB/s), for {(noKeyring ? "" : "this keyring")}{(to.Length > 0 ? $"{(noKeyring ? "" : " and ")}{to.Length} recipient(s)" : "")}.");
        return 0;
    }

    public static int Unprotect(string? home, string? passphraseFile, string file, string? output, bool json)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: no such file.");
        output ??= file.EndsWith(".vp", StringComparison.Ordinal) ? file[..^3] : file + ".plain";
        using var h = OpenHome(home, passphraseFile);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        WithProgress(new FileInfo(file).Length, "verifying and decrypting", p => { h.Unprotect(file, output, p); return 0; });
        double seconds = clock.Elapsed.TotalSeconds;
        long bytes = new FileInfo(output).Length;
        Report(json, new { command = "unprotect", input = file, output, bytes, seconds, peak_rss_bytes = PeakRss() }, $"{file} → {output}: {bytes:N0} bytes, every chunk verified, in {seconds:F2} s.");
        return 0;
    }

    private static long WithProgress(long total, string what, Func<IProgress<long>?, long> work)
    {
        if (total < ProgressThreshold || Console.IsOutputRedirected) return work(null);
        long result = 0;
        AnsiConsole.Progress().Start(ctx =>
        {
            var task = ctx.AddTask(what, maxValue: total);
            result = work(new Progress<long>(done => task.Value = done));
            task.Value = total;
        });
        return result;
    }

    public static int AuditVerify(string? home, string? keyPath, bool json)
    {
        string dir = home ?? ProtectionHome.DefaultDirectory;
        string log = ProtectionHome.AuditPath(dir);
        if (!File.Exists(log)) throw new FileNotFoundException($"{log}: no audit log.");
        keyPath ??= Path.Combine(dir, "audit-key.pem");
        using var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(keyPath));
        var result = AuditLog.Verify(log, key);
        Report(json, new { command = "audit verify", valid = result.IsValid, records = result.Records, signed_through = result.SignedThrough, problem = result.Problem },
            result.IsValid ? $"{log}: {result.Records} records intact; signed through record {result.SignedThrough}." : $"{log}: NOT intact — {result.Problem}");
        return result.IsValid ? 0 : CommandLine.FailureExit;
    }

    public static int AuditReport(string? home, bool json)
    {
        string log = ProtectionHome.AuditPath(home ?? ProtectionHome.DefaultDirectory);
        if (!File.Exists(log)) throw new FileNotFoundException($"{log}: no audit log.");
        var report = AuditLog.Report(log);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(report.Select(r => new { subject = r.Subject, actors = r.Actors, actions = r.Actions, first = r.First, last = r.Last })));
            return 0;
        }
        var table = new Table().AddColumns("subject", "who", "actions", "first", "last");
        foreach (var r in report)
            table.AddRow(Markup.Escape(r.Subject), Markup.Escape(string.Join(", ", r.Actors)), Markup.Escape(string.Join(", ", r.Actions.Select(a => $"{a.Key} ×{a.Value}"))),
                r.First.ToString("u", CultureInfo.InvariantCulture), r.Last.ToString("u", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        return 0;
    }

    /// <summary>The process's peak resident set (VmHWM), in bytes; the working set where /proc is absent.</summary>
    private static long PeakRss()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            if (line is not null) return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return Environment.WorkingSet;
    }

    private static void Report(bool json, object value, string text)
    {
        if (json) Console.WriteLine(JsonSerializer.Serialize(value));
        else AnsiConsole.WriteLine(text);
    }
}
