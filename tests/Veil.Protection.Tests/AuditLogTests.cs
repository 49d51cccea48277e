using System.Security.Cryptography;

namespace Veil.Protection.Tests;

/// <summary>The hash chain and signed checkpoints catch every edit, deletion, reordering and rewrite.</summary>
public class AuditLogTests
{
    private static (string Path, ECDsa Key) Log(Scratch dir, int records)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var log = new AuditLog(dir.File("audit.log"), key, "alice") { CheckpointInterval = 4 };
        for (int i = 0; i < records; i++) log.Record(i % 2 == 0 ? "data.protect" : "secret.open", $"file{i % 3}", new() { ["n"] = i.ToString(), ["z"] = "ü\"" });
        log.Checkpoint();
        return (log.FilePath, key);
    }

    [Fact]
    public void AnIntactLog_Verifies_WithCheckpointsSigned()
    {
        using var dir = new Scratch();
        var (path, key) = Log(dir, 10);
        var result = AuditLog.Verify(path, key);
        Assert.True(result.IsValid, result.Problem);
        Assert.Equal(10 + 2 + 1, result.Records); // 10 events, checkpoints after the 4th and 8th, one at the end
        Assert.Equal(result.Records - 1, result.SignedThrough);
        var report = AuditLog.Report(path);
        Assert.Equal(["file0", "file1", "file2"], report.Select(r => r.Subject));
        Assert.Equal(4, report[0].Actions.Values.Sum());
        Assert.Equal(["alice"], report[0].Actors);
    }

    [Fact]
    public void Edits_Deletions_Reordering_AndRewrites_AreDetected()
    {
        using var dir = new Scratch();
        var (path, key) = Log(dir, 10);
        var lines = File.ReadAllLines(path);
        void Check(string[] tampered, string expected)
        {
            File.WriteAllLines(dir.File("t.log"), tampered);
            var r = AuditLog.Verify(dir.File("t.log"), key);
            Assert.False(r.IsValid);
            Assert.Contains(expected, r.Problem);
        }
        Check([.. lines.Select((l, i) => i == 3 ? l.Replace("file0", "file9") : l)], "edited");
        Check([.. lines.Where((_, i) => i != 5)], "sequence");
        Check([.. lines.Take(2), lines[3], lines[2], .. lines.Skip(4)], "sequence");
        Check([.. lines.Take(6), "{not json", .. lines.Skip(6)], "not a record");
        // A rewrite that recomputes every hash still fails at the first checkpoint's signature.
        var rewritten = Rechain(lines.Select(l => l.Replace("alice", "mallory")).ToArray());
        Check(rewritten, "signature");
        // A cut tail leaves a valid log; a head kept elsewhere shows it.
        var head = new AuditLog(path).Head();
        File.WriteAllLines(dir.File("cut.log"), lines[..^3]);
        Assert.True(AuditLog.Verify(dir.File("cut.log"), key).IsValid);
        Assert.Contains("cut", AuditLog.Verify(dir.File("cut.log"), key, head).Problem);
        Assert.True(AuditLog.Verify(path, key, head).IsValid);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Assert.Contains("another key", AuditLog.Verify(path, otherKey).Problem);
    }

    /// <summary>What an attacker without the signing key can do: recompute every prev and hash.</summary>
    private static string[] Rechain(string[] lines)
    {
        string prev = new('0', 64);
        var result = new List<string>();
        foreach (var line in lines)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(line)!.AsObject();
            node["prev"] = prev;
            node.Remove("hash");
            var details = node["details"]!.AsObject().OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
            var body = System.Text.Json.JsonSerializer.Serialize(node);
            string hash = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(body)));
            node["hash"] = hash;
            result.Add(node.ToJsonString());
            prev = hash;
            _ = details;
        }
        return [.. result];
    }

    [Fact]
    public void ConcurrentWriters_LoseNoRecord()
    {
        using var dir = new Scratch();
        var logs = Enumerable.Range(0, 4).Select(i => new AuditLog(dir.File("audit.log"), actor: $"w{i}")).ToArray();
        Parallel.For(0, 200, i => logs[i % 4].Record("data.protect", $"f{i}"));
        var result = AuditLog.Verify(dir.File("audit.log"));
        Assert.True(result.IsValid, result.Problem);
        Assert.Equal(200, result.Records);
    }
}
