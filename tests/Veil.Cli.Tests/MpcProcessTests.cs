using System.Text.Json;

namespace Veil.Cli.Tests;

/// <summary>
/// Parties (and the dealer) as separate OS processes over mutual TLS on loopback: each makes its own key, the launcher
/// relays only pins and ports, and the results match the plaintext twins; a party that misbehaves stops the group.
/// </summary>
public class MpcProcessTests
{
    [Theory]
    [InlineData(2, 30)]
    [InlineData(3, 8)]
    public void PartiesAsProcesses_TrainAndClassify_AsThePlaintextTwins(int parties, int iterations)
    {
        using var dir = new ScratchDirectory();
        using var doc = JsonDocument.Parse(VeilProcess.Ok(dir.Path, "mpc", "demo", "--parties", $"{parties}", "--iterations", $"{iterations}", "--json"));
        var root = doc.RootElement;
        Assert.True(root.GetProperty("processes").GetBoolean());
        var workloads = root.GetProperty("workloads").EnumerateArray().ToDictionary(w => w.GetProperty("workload").GetString()!);
        var logistic = workloads["logistic"];
        Assert.True(Math.Abs(logistic.GetProperty("score").GetDouble() - logistic.GetProperty("plaintext").GetDouble()) <= 0.01, logistic.ToString());
        Assert.Equal(455, logistic.GetProperty("items").GetInt32());
        var knn = workloads["knn"];
        Assert.True(knn.GetProperty("equal_predictions").GetBoolean(), knn.ToString());
        Assert.Equal(parties, knn.GetProperty("bytes_per_party").GetArrayLength());
        Assert.All(knn.GetProperty("bytes_per_party").EnumerateArray(), b => Assert.True(b.GetInt64() > 0));
        // Two parties also run the hybrid HE + MPC inference (client and server): equal to the quantized twin.
        Assert.Equal(parties == 2, workloads.ContainsKey("hybrid-digits"));
        foreach (var (name, w) in workloads.Where(w => w.Key.StartsWith("hybrid", StringComparison.Ordinal)))
            Assert.True(w.GetProperty("equal_predictions").GetBoolean(), $"{name}: {w}");
    }

    // Three parties without a dealer run too (veil mpc demo --parties 3 --he-triples, about 3 minutes: every truncation
    // then costs a 64-bit mask), checked in-process by Veil.Mpc.Tests.BfvTriplesTests; here two, as processes.
    [Theory]
    [InlineData(2)]
    public void PartiesWithoutADealer_TrainAndInfer_WithBfvTriplesAndMasks(int parties)
    {
        using var dir = new ScratchDirectory();
        using var doc = JsonDocument.Parse(VeilProcess.Ok(dir.Path, "mpc", "demo", "--parties", $"{parties}", "--he-triples", "--iterations", "2", "--fashion-images", "0", "--json"));
        Assert.Equal("bfv", doc.RootElement.GetProperty("triples").GetString());
        var workloads = doc.RootElement.GetProperty("workloads").EnumerateArray().ToDictionary(w => w.GetProperty("workload").GetString()!);
        Assert.InRange(workloads["products"].GetProperty("score").GetDouble(), 0, 1e-3); // fixed point, f = 16, values below 10
        // Two gradient steps leave borderline rows: two test rows of 114 (1.75 points) of slack here; the 1-point goal is
        // asserted on the full 30- and 15-step runs (SecretSharedLogisticRegressionTests, and the dealer runs above).
        var logistic = workloads["logistic"];
        Assert.True(Math.Abs(logistic.GetProperty("score").GetDouble() - logistic.GetProperty("plaintext").GetDouble()) <= 0.018, logistic.ToString());
        Assert.True(workloads["knn"].GetProperty("equal_predictions").GetBoolean());
        Assert.Equal(parties == 2, workloads.ContainsKey("hybrid-digits"));
        if (parties == 2) Assert.True(workloads["hybrid-digits"].GetProperty("equal_predictions").GetBoolean());
    }

    [Theory]
    [InlineData("garbage", "magic")]
    [InlineData("disconnect", "closed")]
    public void APartyThatMisbehaves_StopsTheGroup_AndNothingIsReleased(string fault, string field)
    {
        using var dir = new ScratchDirectory();
        var result = VeilProcess.Run(dir.Path, "mpc", "demo", "--parties", "3", "--iterations", "2", "--fault", fault, "--json");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout.Trim()); // no table, no JSON: no partial result
        Assert.Contains("no result released", result.Stderr);
        Assert.Contains($"party 0 exited 1: veil mpc node 0: {field}", result.Stderr);
    }

    [Fact]
    public void DealerAndHeTriplesTogether_IsAUsageError()
    {
        using var dir = new ScratchDirectory();
        Assert.Equal(2, VeilProcess.Run(dir.Path, "mpc", "demo", "--dealer", "--he-triples").ExitCode);
    }
}
