using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Veil.Ckks;
using Veil.Multiparty;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Cli;

/// <summary>
/// veil multiparty: the collective-key workflow across separate processes, through a shared folder that plays the
/// bulletin board: each party keeps its key share sealed in its own state file (for its own keyring), writes only
/// shares to the folder, and an aggregator with no secret combines them. Each command parses, calls Veil.Multiparty
/// and prints.
/// </summary>
internal static class MultipartyCommands
{
    private const string SessionFile = "session.veil", PublicKeyFile = "public-key.veil", Round1File = "round1.veil",
        RelinearizationFile = "relinearization.veil", GaloisFile = "galois.veil";

    public static int Init(string dir, int parties, string label, int logN, bool json)
    {
        Directory.CreateDirectory(dir);
        var literal = logN switch
        {
            13 => new CkksParametersLiteral { LogN = 13, LogQ = [60, 50, 50], LogP = [58], LogDefaultScale = 50 },
            14 => new CkksParametersLiteral { LogN = 14, LogQ = [60, 55, 55, 55], LogP = [60], LogDefaultScale = 55 },
            _ => throw new UsageException("--log-n is 13 or 14."),
        };
        var p = CkksParameters.Create(literal);
        var session = new MultipartySession(p.Ring, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), parties, label);
        File.WriteAllBytes(Path.Combine(dir, SessionFile), MultipartySerializer.Save(session, literal.LogDefaultScale));
        Report(json, new { command = "multiparty init", session = Convert.ToHexString(session.Id), parties, n = p.N, log_qp = p.Ring.LogQP },
            $"session {Convert.ToHexString(session.Id)[..16]}… for {parties} parties, N = {p.N}, log QP = {p.Ring.LogQP} → {Path.Combine(dir, SessionFile)}");
        return 0;
    }

    public static int Join(string dir, int party, string statePath, int budget, string? home, string? pass, bool json)
    {
        var (session, _) = Session(dir);
        using var protection = ProtectionCommands.OpenHome(home, pass);
        using var me = new MultipartyParty(session, party, budget);
        if (File.Exists(statePath)) throw new UsageException($"{statePath} exists: a party joins once (its shares would otherwise be a second sample of its key).");
        var pkShare = me.CreatePublicKeyShare();
        var r1Share = me.CreateRelinearizationShare1();
        // The state (with its "made" marks) is on disk before any share leaves.
        WriteAtomically(statePath, me.Save(protection.SecretProtector));
        File.WriteAllBytes(Path.Combine(dir, $"pk-{party}.veil"), MultipartySerializer.Save(pkShare));
        File.WriteAllBytes(Path.Combine(dir, $"r1-{party}.veil"), MultipartySerializer.Save(r1Share));
        Report(json, new { command = "multiparty join", party, state = statePath }, $"party {party}: public-key and round-1 shares → {dir}; key share sealed for your keyring → {statePath}");
        return 0;
    }

    public static int Round2(string dir, int party, string statePath, string? home, string? pass, bool json)
    {
        var (session, _) = Session(dir);
        using var protection = ProtectionCommands.OpenHome(home, pass);
        using var me = LoadParty(session, statePath, protection);
        if (me.Index != party) throw new UsageException($"{statePath} is party {me.Index}'s state, not party {party}'s.");
        var round1 = MultipartySerializer.LoadRelinearizationRound1(File.ReadAllBytes(Path.Combine(dir, Round1File)), session);
        var r2Share = me.CreateRelinearizationShare2(round1);
        var galoisShare = me.CreateGaloisKeyShare(GaloisElements.ForRotation(1, session.Parameters.N));
        WriteAtomically(statePath, me.Save(protection.SecretProtector));
        File.WriteAllBytes(Path.Combine(dir, $"r2-{party}.veil"), MultipartySerializer.Save(r2Share));
        File.WriteAllBytes(Path.Combine(dir, $"galois-{party}.veil"), MultipartySerializer.Save(galoisShare));
        Report(json, new { command = "multiparty round2", party }, $"party {party}: round-2 and rotation-key shares → {dir}");
        return 0;
    }

    public static int Combine(string dir, string step, bool json)
    {
        var (session, _) = Session(dir);
        switch (step)
        {
            case "keys":
                var pk = Collective.PublicKey(session, Read(dir, "pk", session, b => MultipartySerializer.LoadPublicKeyShare(b, session)));
                File.WriteAllBytes(Path.Combine(dir, PublicKeyFile), RlweSerializer.Save(pk));
                var round1 = Collective.RelinearizationRound1(session, Read(dir, "r1", session, b => MultipartySerializer.LoadRelinearizationShare1(b, session)));
                File.WriteAllBytes(Path.Combine(dir, Round1File), MultipartySerializer.Save(round1, session.Parameters));
                break;
            case "relin":
                var r1 = MultipartySerializer.LoadRelinearizationRound1(File.ReadAllBytes(Path.Combine(dir, Round1File)), session);
                var rlk = Collective.RelinearizationKey(session, r1, Read(dir, "r2", session, b => MultipartySerializer.LoadRelinearizationShare2(b, session)));
                File.WriteAllBytes(Path.Combine(dir, RelinearizationFile), MultipartySerializer.Save(rlk));
                var gk = Collective.GaloisKeys(session, Read(dir, "galois", session, b => MultipartySerializer.LoadGaloisKeyShare(b, session)));
                File.WriteAllBytes(Path.Combine(dir, GaloisFile), RlweSerializer.Save(gk));
                break;
            default: throw new UsageException("--step is keys or relin.");
        }
        Report(json, new { command = "multiparty combine", step, parties = session.Parties }, $"combined the {session.Parties} parties' {step} shares → {dir}");
        return 0;
    }

    public static int Encrypt(string dir, string values, string output, bool json)
    {
        var (session, logScale) = Session(dir);
        var p = CkksParameters.FromRing(session.Parameters, logScale);
        var pk = RlweSerializer.LoadPublicKey(File.ReadAllBytes(Path.Combine(dir, PublicKeyFile)), session.Parameters);
        var v = values.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        var ct = new Encryptor(p.Ring, pk).Encrypt(new CkksEncoder(p).Encode(v));
        File.WriteAllBytes(Path.Combine(dir, output), RlweSerializer.Save(ct));
        Report(json, new { command = "multiparty encrypt", values = v.Length, output }, $"{v.Length} values encrypted under the collective key → {Path.Combine(dir, output)}");
        return 0;
    }

    public static int Square(string dir, string input, string output, bool json)
    {
        var (session, logScale) = Session(dir);
        var p = CkksParameters.FromRing(session.Parameters, logScale);
        var rlk = MultipartySerializer.LoadCollectiveRelinearizationKey(File.ReadAllBytes(Path.Combine(dir, RelinearizationFile)), session.Parameters);
        var gk = RlweSerializer.LoadGaloisKeys(File.ReadAllBytes(Path.Combine(dir, GaloisFile)), session.Parameters);
        var ev = new CkksEvaluator(p, rlk, gk);
        var ct = RlweSerializer.LoadCiphertext(File.ReadAllBytes(Path.Combine(dir, input)), session.Parameters);
        var squared = ev.Rotate(ev.Rescale(ev.Relinearize(ev.Multiply(ct, ct))), 1);
        File.WriteAllBytes(Path.Combine(dir, output), RlweSerializer.Save(squared));
        Report(json, new { command = "multiparty square", output, level = squared.Level }, $"x², relinearized, rescaled and rotated by one slot with the collective keys → {Path.Combine(dir, output)}");
        return 0;
    }

    public static int DecryptShare(string dir, int party, string statePath, string input, double errorBits, string? home, string? pass, bool json)
    {
        var (session, _) = Session(dir);
        using var protection = ProtectionCommands.OpenHome(home, pass);
        using var me = LoadParty(session, statePath, protection);
        if (me.Index != party) throw new UsageException($"{statePath} is party {me.Index}'s state, not party {party}'s.");
        var ct = RlweSerializer.LoadCiphertext(File.ReadAllBytes(Path.Combine(dir, input)), session.Parameters);
        var share = me.CreateDecryptionShare(ct, new FloodingPolicy(40, errorBits));
        // The spent budget is saved before the share leaves: a crash in between loses a decryption, never the count.
        WriteAtomically(statePath, me.Save(protection.SecretProtector));
        File.WriteAllBytes(Path.Combine(dir, $"{input}.share-{party}"), MultipartySerializer.Save(share));
        Report(json, new { command = "multiparty decrypt-share", party, flooding_bits = share.FloodingBits, remaining = me.DecryptionsRemaining },
            $"party {party}: decryption share of {input}, flooded at 2^{share.FloodingBits:F1}; {me.DecryptionsRemaining} decryptions left on this share");
        return 0;
    }

    public static int Decrypt(string dir, string input, int count, bool json)
    {
        var (session, logScale) = Session(dir);
        var p = CkksParameters.FromRing(session.Parameters, logScale);
        var ct = RlweSerializer.LoadCiphertext(File.ReadAllBytes(Path.Combine(dir, input)), session.Parameters);
        var shares = Read(dir, $"{input}.share", session, b => MultipartySerializer.LoadDecryptionShare(b, session));
        var values = new CkksEncoder(p).Decode(Collective.Decrypt(session, ct, shares)).Take(count).ToArray();
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { command = "multiparty decrypt", values }));
        else AnsiConsole.WriteLine(string.Join(", ", values.Select(v => v.ToString("G6", CultureInfo.InvariantCulture))));
        return 0;
    }

    private static (MultipartySession, double) Session(string dir)
    {
        string path = Path.Combine(dir, SessionFile);
        if (!File.Exists(path)) throw new UsageException($"{path} does not exist; run veil multiparty init first.");
        return MultipartySerializer.LoadSession(File.ReadAllBytes(path));
    }

    private static MultipartyParty LoadParty(MultipartySession session, string statePath, Veil.Protection.ProtectionHome protection)
    {
        if (!File.Exists(statePath)) throw new UsageException($"{statePath} does not exist; run veil multiparty join first.");
        return MultipartyParty.Load(session, File.ReadAllBytes(statePath), protection.SecretProtector);
    }

    // Every party's file of one kind (prefix-<party>.veil, or prefix-<party> for decryption shares), loaded against the session.
    private static T[] Read<T>(string dir, string prefix, MultipartySession session, Func<byte[], T> load)
    {
        var files = Enumerable.Range(0, session.Parties).Select(i => Path.Combine(dir, prefix.EndsWith(".share", StringComparison.Ordinal) ? $"{prefix}-{i}" : $"{prefix}-{i}.veil")).ToArray();
        var missing = files.Where(f => !File.Exists(f)).ToArray();
        if (missing.Length > 0) throw new UsageException($"{missing.Length} of {session.Parties} parties' {prefix} files are missing ({Path.GetFileName(missing[0])} …).");
        return [.. files.Select(f => load(File.ReadAllBytes(f)))];
    }

    // Temporary file then rename: the only copy of a key share is never half written.
    private static void WriteAtomically(string path, byte[] bytes)
    {
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }

    private static void Report(bool json, object value, string text)
    {
        if (json) Console.WriteLine(JsonSerializer.Serialize(value));
        else AnsiConsole.WriteLine(text);
    }
}
