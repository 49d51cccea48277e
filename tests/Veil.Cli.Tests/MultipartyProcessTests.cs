using System.Text.Json;

namespace Veil.Cli.Tests;

/// <summary>
/// Three parties as separate OS processes, each with its own keyring, a shared folder as the bulletin board and an
/// aggregator with no secret: collective keys, a computation, and a decryption no party could make alone.
/// </summary>
public class MultipartyProcessTests
{
    [Fact]
    public void ThreeParties_AsSeparateProcesses_BuildKeysAndDecryptTogether()
    {
        using var dir = new ScratchDirectory();
        string board = Directory.CreateDirectory(dir.File("board")).FullName;
        var homes = Enumerable.Range(0, 3).Select(i =>
        {
            var env = new Dictionary<string, string> { ["VEIL_HOME"] = dir.File($"home-{i}"), ["VEIL_PASSPHRASE"] = $"party {i} passphrase, long enough" };
            VeilProcess.OkWith(dir.Path, env, "keys", "init", "--kdf-memory-mib", "19", "--kdf-passes", "2");
            return env;
        }).ToArray();
        string State(int i) => dir.File($"party-{i}.state");

        VeilProcess.Ok(dir.Path, "multiparty", "init", "--dir", board, "--parties", "3", "--label", "test");
        for (int i = 0; i < 3; i++) VeilProcess.OkWith(dir.Path, homes[i], "multiparty", "join", "--dir", board, "--party", $"{i}", "--state", State(i));
        // A party's state is sealed for its own keyring: another party's keyring cannot open it.
        Assert.True(File.ReadAllBytes(State(0)).AsSpan().StartsWith("VEILPROT"u8));
        var refused = VeilProcess.RunWith(dir.Path, homes[1], "multiparty", "round2", "--dir", board, "--party", "0", "--state", State(0));
        Assert.NotEqual(0, refused.ExitCode);

        VeilProcess.Ok(dir.Path, "multiparty", "combine", "--dir", board, "--step", "keys");
        for (int i = 0; i < 3; i++) VeilProcess.OkWith(dir.Path, homes[i], "multiparty", "round2", "--dir", board, "--party", $"{i}", "--state", State(i));
        VeilProcess.Ok(dir.Path, "multiparty", "combine", "--dir", board, "--step", "relin");

        double[] x = [0.5, 0.75, -0.25, 0.9];
        VeilProcess.Ok(dir.Path, "multiparty", "encrypt", "--dir", board, "--values", string.Join(',', x.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))), "--out", "x.veil");
        VeilProcess.Ok(dir.Path, "multiparty", "square", "--dir", board, "--in", "x.veil", "--out", "y.veil");
        // Two of three shares are not enough: the aggregator names what is missing.
        for (int i = 0; i < 2; i++) VeilProcess.OkWith(dir.Path, homes[i], "multiparty", "decrypt-share", "--dir", board, "--party", $"{i}", "--state", State(i), "--in", "y.veil", "--error-bits", "12");
        var early = VeilProcess.Run(dir.Path, "multiparty", "decrypt", "--dir", board, "--in", "y.veil");
        Assert.NotEqual(0, early.ExitCode);
        Assert.Contains("missing", early.Stdout + early.Stderr);
        VeilProcess.OkWith(dir.Path, homes[2], "multiparty", "decrypt-share", "--dir", board, "--party", "2", "--state", State(2), "--in", "y.veil", "--error-bits", "12");
        using var doc = JsonDocument.Parse(VeilProcess.Ok(dir.Path, "multiparty", "decrypt", "--dir", board, "--in", "y.veil", "--count", "3", "--json"));
        var values = doc.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        // Rotated by one slot; flooded at √(12·16)·2^20·2^12 = 2^35.8 per party (x², relinearized and rescaled, has an error below 2^12 here).
        for (int i = 0; i < 3; i++) Assert.Equal(x[i + 1] * x[i + 1], values[i], 0.05);
        // A party cannot join twice (its shares would be a second sample of its key).
        Assert.NotEqual(0, VeilProcess.RunWith(dir.Path, homes[0], "multiparty", "join", "--dir", board, "--party", "0", "--state", State(0)).ExitCode);
    }
}
