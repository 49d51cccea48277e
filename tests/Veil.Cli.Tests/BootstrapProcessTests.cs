using System.Text.Json;

namespace Veil.Cli.Tests;

/// <summary>veil bench bootstrap as a user runs it: the plan of every preset, a run on the quick preset, and a bad name.</summary>
public sealed class BootstrapProcessTests
{
    [Fact]
    public void Bench_bootstrap_plans_the_presets_and_refuses_an_unknown_one()
    {
        using var scratch = new ScratchDirectory();
        using (var plan = JsonDocument.Parse(VeilProcess.Ok(scratch.Path, "bench", "bootstrap", "--preset", "N16", "--plan", "--json")))
        {
            var root = plan.RootElement;
            Assert.True(root.GetProperty("secure_128").GetBoolean());
            Assert.True(root.GetProperty("log_qp").GetInt32() <= root.GetProperty("he_standard_bound_128").GetInt32());
            Assert.Equal(10, root.GetProperty("levels_left").GetInt32());
            Assert.True(root.GetProperty("rotations").GetInt32() > 0);
        }
        var bad = VeilProcess.Run(scratch.Path, "bench", "bootstrap", "--preset", "N99", "--plan");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("N16", bad.Stderr);
    }
}
