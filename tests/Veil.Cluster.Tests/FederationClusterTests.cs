using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit.Abstractions;
using Veil.Federated;
using Veil.Ml.Data;

namespace Veil.Cluster.Tests;

/// <summary>
/// A federation whose coordinator is a grain on a cluster of three `veil federate coordinator --cluster` processes,
/// with three participant processes that know all three silos; the silo hosting the coordinator is SIGKILLed during
/// training. VEIL_POSTGRES and VEIL_REDIS name the servers (.ci/run starts both); without them the test skips.
/// </summary>
public sealed class FederationClusterTests(ITestOutputHelper output)
{
    private static readonly string CliPath = Path.GetFullPath(typeof(FederationClusterTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "VeilCli").Value!);
    private const int Rounds = 40;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Role(Process process, List<string> log, string name) : IAsyncDisposable
    {
        public Process Process { get; } = process;
        public string Name { get; } = name;
        public string Log { get { lock (log) return string.Join('\n', log); } }
        public string Output { get { lock (log) return string.Join('\n', log.Where(l => l.StartsWith("out: ", StringComparison.Ordinal)).Select(l => l[5..])); } }

        public async ValueTask DisposeAsync()
        {
            if (!Process.HasExited) { Process.Kill(true); await Process.WaitForExitAsync(); }
            Process.Dispose();
        }
    }

    private static Role Start(string name, string passphrase, IEnumerable<string> arguments, TaskCompletionSource? ready = null, string? readyText = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment[FederationDemo.PassphraseVariable] = passphrase;
        start.ArgumentList.Add(CliPath);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        var log = new List<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.Add("out: " + e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (log) log.Add(e.Data);
            if (readyText is not null && e.Data.Contains(readyText, StringComparison.Ordinal)) ready?.TrySetResult();
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new Role(process, log, name);
    }

    /// <summary>Redis membership and PostgreSQL checkpoints (the servers .ci/run starts), or one SQLite file of each (no server: runs everywhere).</summary>
    public static TheoryData<string> Kinds => ["redis", "sqlite"];

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public async Task AFederationCoordinatedByAGrainFinishesEveryRoundOnceWhenItsSiloIsKilled(string kind)
    {
        string top = Directory.CreateTempSubdirectory("veil-fed-cluster-").FullName, root = Path.Combine(top, "federation");
        string membership, storeArgument;
        string[] storeOption;
        IFederationStore store;
        if (kind == "redis")
        {
            string? configured = Environment.GetEnvironmentVariable("VEIL_POSTGRES"), redis = Environment.GetEnvironmentVariable("VEIL_REDIS");
            if (string.IsNullOrEmpty(configured) || string.IsNullOrEmpty(redis))
            {
                Assert.False(Environment.GetEnvironmentVariable("VEIL_REQUIRE_REDIS") == "1", "VEIL_REQUIRE_REDIS=1 but VEIL_POSTGRES or VEIL_REDIS names no server.");
                Skip.If(true, "No PostgreSQL and Redis (set VEIL_POSTGRES and VEIL_REDIS; .ci/run starts both).");
            }
            string schema = "veil_f_" + Guid.NewGuid().ToString("N")[..12];
            await using (var connection = new NpgsqlConnection(configured))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"CREATE SCHEMA {schema}", connection);
                await command.ExecuteNonQueryAsync();
            }
            storeArgument = new NpgsqlConnectionStringBuilder(configured) { SearchPath = schema }.ToString();
            storeOption = ["--postgres", storeArgument];
            store = new PostgresFederationStore(storeArgument);
            membership = redis!;
        }
        else
        {
            storeArgument = Path.Combine(top, "checkpoints.db");
            storeOption = ["--store", storeArgument];
            membership = "sqlite:" + Path.Combine(top, "membership.db");
            store = new SqliteFederationStore(storeArgument);
        }
        string clusterId = "fed-" + Guid.NewGuid().ToString("N")[..8];
        var options = new FederationDemoOptions("breast_cancer", null, "logistic", 3, Rounds);
        var (settings, passphrase) = FederationDemo.Initialize(options, root);
        string file = Path.Combine(root, FederationSetup.FileName);
        var (_, id) = FederationFile.Load(file);
        using var disposeStore = store as IDisposable;
        var roles = new List<Role>();
        try
        {
            var silos = new List<(Role Role, int Port, ClusterSettings Cluster)>();
            for (int s = 0; s < 3; s++)
            {
                var cluster = new ClusterSettings(membership, clusterId, SiloPort: FreePort(), GatewayPort: FreePort());
                int port = FreePort();
                var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var role = Start($"silo {s}", passphrase, ["federate", "coordinator", "--federation", file, "--certificate", Path.Combine(FederationSetup.CoordinatorDirectory(root), "tls.pfx"),
                    "--port", port.ToString(), "--cluster", membership, "--cluster-id", clusterId, .. storeOption,
                    "--silo-port", cluster.SiloPort.ToString(), "--gateway-port", cluster.GatewayPort.ToString(), "--json"], ready, "coordinator silo of");
                roles.Add(role);
                try { await ready.Task.WaitAsync(TimeSpan.FromSeconds(90)); }
                catch (TimeoutException) { Assert.Fail($"silo {s} did not start in 90 s:\n{role.Log}"); }
                silos.Add((role, port, cluster));
            }
            string addresses = string.Join(',', silos.Select(s => $"https://127.0.0.1:{s.Port}"));
            var participants = Enumerable.Range(0, 3).Select(i =>
            {
                string dir = FederationSetup.ParticipantDirectory(root, i);
                var role = Start($"participant {i}", FederationSetup.PassphraseOf(passphrase, i), ["federate", "participant", "--federation", file, "--index", i.ToString(),
                    "--data", Path.Combine(dir, "data.csv"), "--target", "diagnosis", "--directory", dir, "--coordinator", addresses, "--allow-weak-keyring-cost", "--json"]);
                roles.Add(role);
                return role;
            }).ToList();

            // The silos speak mutual TLS with the coordinator's key: a client with another key is never answered (checked
            // beside the run: a refused client may retry for a while before it gives up).
            var stranger = Task.Run(async () =>
            {
                using var key = Veil.Protection.Tls.CreateDevelopmentCertificate("stranger");
                try
                {
                    using var refused = await VeilCluster.ConnectAsync(silos[0].Cluster with { Certificate = key, PeerPins = [settings.CoordinatorPin] }).WaitAsync(TimeSpan.FromSeconds(12));
                    await refused.Services.GetRequiredService<IGrainFactory>().GetGrain<IFederationGrain>(Convert.ToHexStringLower(id)).StatusAsync().WaitAsync(TimeSpan.FromSeconds(15));
                    return "answered";
                }
                catch (Exception e) { return e.GetType().Name + ": " + e.Message.Split('\n')[0]; }
            });
            using var coordinatorCertificate = FederationSetup.LoadCertificate(Path.Combine(FederationSetup.CoordinatorDirectory(root), "tls.pfx"), passphrase);
            using var client = await VeilCluster.ConnectAsync(silos[0].Cluster with { Certificate = coordinatorCertificate, PeerPins = [settings.CoordinatorPin] });
            var grains = (IGrainFactory)client.Services.GetService(typeof(IGrainFactory))!;
            var grain = grains.GetGrain<IFederationGrain>(Convert.ToHexStringLower(id));
            var clock = Stopwatch.StartNew();
            FederationCheckpoint? before = null;
            while (clock.Elapsed < TimeSpan.FromSeconds(120))
            {
                before = store.Load(id);
                if (before is { Round: >= 3 }) break;
                Assert.True(participants.All(p => !p.Process.HasExited), "A participant exited before round 3:\n" + string.Join("\n", participants.Select(p => p.Log)));
                await Task.Delay(50);
            }
            Assert.True(before is { Round: >= 3 }, "Training did not reach round 3 in 120 s:\n" + string.Join("\n---\n", roles.Select(r => r.Name + "\n" + r.Log)));
            var hosting = await grain.StatusAsync();
            var victim = silos.Single(s => s.Role.Process.Id == hosting.ProcessId);
            victim.Role.Process.Kill(true);
            await victim.Role.Process.WaitForExitAsync();
            var killedAt = Stopwatch.StartNew();
            int killedAfter = store.Load(id)!.Round;
            Assert.True(killedAfter < Rounds, $"Training ended (round {killedAfter}) before the coordinating silo was killed; the test needs more rounds.");
            while (store.Load(id)!.Round <= killedAfter && killedAt.Elapsed < TimeSpan.FromSeconds(90)) await Task.Delay(50);
            output.WriteLine($"coordinating silo (process {hosting.ProcessId}) killed after round {killedAfter} at {clock.Elapsed.TotalSeconds:F1} s; round {killedAfter + 1} completed {killedAt.Elapsed.TotalSeconds:F1} s later");

            var moved = new List<FederationStatus>();
            var final = await FederationClusterRun.WaitAsync(grains, Convert.ToHexStringLower(id), new InlineProgress(moved.Add), TimeSpan.FromSeconds(90));
            Assert.True(final.Finished, $"The federation did not finish: {final.Stop}\n" + string.Join("\n---\n", roles.Select(r => r.Name + "\n" + r.Log)));
            Assert.NotEqual(hosting.ProcessId, final.ProcessId);
            Assert.Contains(silos.Where(s => s != victim), s => s.Role.Process.Id == final.ProcessId);
            // The last sum was added up where the contributions arrived: one partial sum per surviving front end (the
            // participant of the killed one moved to the next), none from the dead silo, every contributor in one.
            Assert.Equal(2, final.LastSum.Count);
            Assert.DoesNotContain(final.LastSum, p => p.Silo == hosting.Silo);
            Assert.Equal(3, final.LastSum.Sum(p => p.Contributions));
            output.WriteLine($"last round's partial sums: {string.Join("; ", final.LastSum.Select(p => $"{p.Silo} {p.Contributions} contributions {p.Seconds * 1000:F1} ms"))}");

            foreach (var p in participants)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                await p.Process.WaitForExitAsync(timeout.Token);
                Assert.True(p.Process.ExitCode == 0, $"{p.Name} exited {p.Process.ExitCode}:\n{p.Log}");
                using var answer = JsonDocument.Parse(p.Output);
                Assert.Equal($"all {Rounds} rounds done", answer.RootElement.GetProperty("message").GetString());
            }
            foreach (var s in silos.Where(s => s != victim))
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await s.Role.Process.WaitForExitAsync(timeout.Token);
                Assert.True(s.Role.Process.ExitCode == 0, $"{s.Role.Name} exited {s.Role.Process.ExitCode}:\n{s.Role.Log}");
            }

            string refusal = await stranger;
            Assert.NotEqual("answered", refusal);
            output.WriteLine($"a client with another key: {refusal}");

            // Every round once: the resumed coordinator went on after the last checkpointed round, none repeated or skipped.
            var end = store.Load(id)!;
            Assert.Equal(Rounds, end.Round);
            Assert.Equal(Enumerable.Range(1, Rounds), end.Reports.Where(r => r.Purpose == "train").Select(r => r.Round));
            Assert.Single(end.Reports, r => r.Purpose == "statistics");
            if (store is PostgresFederationStore pg) Assert.Equal(Enumerable.Range(1, Rounds), pg.Rounds(id));
            Assert.All(end.Reports, r => Assert.True(r.Contributors.Count >= settings.Threshold));

            // The model is as good as training on the pooled rows (breast cancer: the federation equals centralized to 4 decimals in the single-process runs).
            var test = CsvLoader.Load(Path.Combine(root, "test.csv"), "diagnosis");
            double score = FederationDemo.Scorer(settings, test)(end.Model, end.Statistics[..(settings.Features + 1)], end.Statistics[(settings.Features + 1)..]);
            Assert.True(score >= 0.95, $"Accuracy {score:F4} after the failover.");
            output.WriteLine($"all {Rounds} rounds in {clock.Elapsed.TotalSeconds:F1} s, accuracy {score:F4}, coordinated last by process {final.ProcessId}");
        }
        finally
        {
            foreach (var r in roles) await r.DisposeAsync();
            try { Directory.Delete(top, true); } catch (IOException) { }
        }
    }

    private sealed class InlineProgress(Action<FederationStatus> action) : IProgress<FederationStatus>
    {
        public void Report(FederationStatus value) => action(value);
    }
}
