namespace Veil.Cli.Tests;

/// <summary>veil keys / protect / unprotect / audit as separate processes, with two parties' homes.</summary>
public class ProtectionProcessTests
{
    private static Dictionary<string, string> Home(ScratchDirectory dir, string name) => new()
    {
        ["VEIL_HOME"] = dir.File(name), ["VEIL_PASSPHRASE"] = $"{name}'s passphrase, long enough",
    };

    [Fact]
    public void ProtectUnprotect_Tampering_Sharing_Rotation_AndTheAuditTrail()
    {
        using var dir = new ScratchDirectory();
        var a = Home(dir, "hospital-a");
        var b = Home(dir, "hospital-b");
        VeilProcess.OkWith(dir.Path, a, "keys", "init", "--kdf-memory-mib", "19", "--kdf-passes", "2");
        VeilProcess.OkWith(dir.Path, b, "keys", "init", "--kdf-memory-mib", "19", "--kdf-passes", "2");
        var data = new byte[300_000];
        new Random(1).NextBytes(data);
        File.WriteAllBytes(dir.File("records.csv"), data);

        // A protects for itself and for B's published public key.
        VeilProcess.OkWith(dir.Path, a, "protect", "records.csv", "--to", Path.Combine(b["VEIL_HOME"], "public.pem"), "--json");
        VeilProcess.OkWith(dir.Path, b, "unprotect", "records.csv.vp", "--out", "b-copy.csv");
        Assert.Equal(data, File.ReadAllBytes(dir.File("b-copy.csv")));

        // A wrong passphrase and a tampered file both fail with exit 1, and leave no output behind.
        var wrong = VeilProcess.RunWith(dir.Path, new Dictionary<string, string> { ["VEIL_HOME"] = a["VEIL_HOME"], ["VEIL_PASSPHRASE"] = "not the passphrase at all" }, "unprotect", "records.csv.vp", "--out", "x.csv");
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("passphrase", wrong.Stderr);
        var bytes = File.ReadAllBytes(dir.File("records.csv.vp"));
        bytes[^100] ^= 4;
        File.WriteAllBytes(dir.File("tampered.vp"), bytes);
        var tampered = VeilProcess.RunWith(dir.Path, a, "unprotect", "tampered.vp", "--out", "t.csv");
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains("Chunk", tampered.Stderr);
        Assert.False(File.Exists(dir.File("t.csv")));

        // Only-for-A file shared later with B by wrap-for; then A rotates, rewraps, retires the old version.
        VeilProcess.OkWith(dir.Path, a, "protect", "records.csv", "--out", "mine.vp");
        Assert.Equal(1, VeilProcess.RunWith(dir.Path, b, "unprotect", "mine.vp", "--out", "no.csv").ExitCode);
        VeilProcess.OkWith(dir.Path, a, "keys", "wrap-for", "mine.vp", "--recipient", Path.Combine(b["VEIL_HOME"], "public.pem"));
        VeilProcess.OkWith(dir.Path, b, "unprotect", "mine.vp", "--out", "yes.csv");
        Assert.Equal(data, File.ReadAllBytes(dir.File("yes.csv")));
        VeilProcess.OkWith(dir.Path, a, "keys", "rotate", "--rewrap", "mine.vp");
        VeilProcess.OkWith(dir.Path, a, "keys", "retire", "1");
        VeilProcess.OkWith(dir.Path, a, "unprotect", "mine.vp", "--out", "again.csv");
        Assert.Equal(data, File.ReadAllBytes(dir.File("again.csv")));
        Assert.Equal(1, VeilProcess.RunWith(dir.Path, a, "unprotect", "records.csv.vp", "--out", "old.csv").ExitCode); // still under retired v1 for A

        // The audit trail verifies, and an edited record is caught.
        Assert.Contains("intact", VeilProcess.OkWith(dir.Path, a, "audit", "verify"));
        var report = VeilProcess.OkWith(dir.Path, a, "audit", "report", "--json");
        Assert.Contains("data.unprotect.refused", report);
        Assert.Contains("key.wrap-for", report);
        string log = Path.Combine(a["VEIL_HOME"], "audit.log");
        File.WriteAllLines(log, File.ReadAllLines(log).Select((l, i) => i == 2 ? l.Replace("data.protect", "data.protecx") : l));
        var broken = VeilProcess.RunWith(dir.Path, a, "audit", "verify");
        Assert.Equal(1, broken.ExitCode);
        Assert.Contains("edited", broken.Stdout);
    }
}
