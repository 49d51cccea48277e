using System.Diagnostics;
using Veil.Federated;

namespace Veil.Cluster;

/// <summary>What the cluster federation demo saw.</summary>
/// <param name="Silos">Coordinator silo processes.</param>
/// <param name="Participants">Participant processes.</param>
/// <param name="Rounds">Training rounds recorded (each once: <paramref name="EveryRoundOnce"/>).</param>
/// <param name="KilledAfterRound">The last round checkpointed when the coordinating silo was SIGKILLed.</param>
/// <param name="ResumeSeconds">From the kill to the next round's checkpoint (made by the coordinator on another silo).</param>
/// <param name="Accuracy">The final model's accuracy on the held-out rows.</param>
/// <param name="Moved">Whether the coordinator ended on another silo than the killed one.</param>
/// <param name="PartialSums">Partial sums of the last round (one per surviving silo its participants reached).</param>
/// <param name="EveryRoundOnce">Whether the checkpoint's reports hold rounds 1 … R, each once.</param>
/// <param name="Seconds">The whole run, process starts included.</param>
public sealed record FederationClusterDemoResult(int Silos, int Participants, int Rounds, int KilledAfterRound, double ResumeSeconds, double Accuracy, bool Moved, int PartialSums, bool EveryRoundOnce, double Seconds);

/// <summary>
/// `veil demo`'s cluster line, with no server: three `veil federate coordinator --cluster sqlite:…` processes (SQLite
/// membership and checkpoints in a temporary folder), three participant processes knowing all three, and the silo that
/// coordinates SIGKILLed during training.
/// </summary>
public static class FederationClusterDemo
{
    /// <summary>Runs it; <paramref name="command"/> makes the start info of `veil` with the given arguments.</summary>
    /// <exception cref="InvalidOperationException">A process did not start, or the federation did not finish (its log in the message).</exception>
    public static async Task<FederationClusterDemoResult> RunAsync(Func<IReadOnlyList<string>, ProcessStartInfo> command, int rounds = 20, int seed = 1, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var clock = Stopwatch.StartNew();
        string top = Directory.CreateTempSubdirectory("veil-demo-cluster-").FullName, root = Path.Combine(top, "federation");
        var processes = new List<(Process Process, List<string> Log)>();
        try
        {
            var (settings, passphrase) = FederationDemo.Initialize(new FederationDemoOptions("breast_cancer", null, "logistic", 3, rounds, Seed: seed), root);
            string file = Path.Combine(root, FederationSetup.FileName), checkpoints = Path.Combine(top, "checkpoints.db");
            var (_, id) = FederationFile.Load(file);
            var store = new SqliteFederationStore(checkpoints);
            string membership = "sqlite:" + Path.Combine(top, "membership.db"), clusterId = "demo";
            var silos = new List<(Process Process, int Port, ClusterSettings Cluster)>();
            for (int s = 0; s < 3; s++)
            {
                var cluster = new ClusterSettings(membership, clusterId, SiloPort: FreePort(), GatewayPort: FreePort());
                int port = FreePort();
                var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var p = Start(command, passphrase, ["federate", "coordinator", "--federation", file, "--certificate", Path.Combine(FederationSetup.CoordinatorDirectory(root), "tls.pfx"),
                    "--port", port.ToString(), "--cluster", membership, "--cluster-id", clusterId, "--store", checkpoints,
                    "--silo-port", cluster.SiloPort.ToString(), "--gateway-port", cluster.GatewayPort.ToString(), "--json"], processes, ready, "coordinator silo of");
                try { await ready.Task.WaitAsync(TimeSpan.FromSeconds(90), cancellation).ConfigureAwait(false); }
                catch (TimeoutException) { throw new InvalidOperationException("A coordinator silo did not start in 90 s:\n" + Log(processes[^1].Log)); }
                silos.Add((p, port, cluster));
            }
            string addresses = string.Join(',', silos.Select(s => $"https://127.0.0.1:{s.Port}"));
            var participants = Enumerable.Range(0, 3).Select(i =>
            {
                string dir = FederationSetup.ParticipantDirectory(root, i);
                return Start(command, FederationSetup.PassphraseOf(passphrase, i), ["federate", "participant", "--federation", file, "--index", i.ToString(),
                    "--data", Path.Combine(dir, "data.csv"), "--target", "diagnosis", "--directory", dir, "--coordinator", addresses, "--allow-weak-keyring-cost", "--json"], processes);
            }).ToList();

            using var coordinator = FederationSetup.LoadCertificate(Path.Combine(FederationSetup.CoordinatorDirectory(root), "tls.pfx"), passphrase);
            using var client = await VeilCluster.ConnectAsync(silos[0].Cluster with { Certificate = coordinator, PeerPins = [settings.CoordinatorPin] }, cancellation).ConfigureAwait(false);
            var grains = (IGrainFactory)client.Services.GetService(typeof(IGrainFactory))!;
            string key = Convert.ToHexStringLower(id);
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(120);
            while (store.Load(id) is not { Round: >= 3 })
            {
                if (DateTime.UtcNow > until || participants.Any(p => p.HasExited)) throw new InvalidOperationException("The federation did not reach round 3:\n" + string.Join("\n---\n", processes.Select(p => Log(p.Log))));
                await Task.Delay(50, cancellation).ConfigureAwait(false);
            }
            var hosting = await grains.GetGrain<IFederationGrain>(key).StatusAsync().ConfigureAwait(false);
            var victim = silos.Single(s => s.Process.Id == hosting.ProcessId);
            victim.Process.Kill(true);
            var killed = Stopwatch.StartNew();
            int killedAfter = store.Load(id)!.Round;
            while (store.Load(id)!.Round == killedAfter && killedAfter < rounds && killed.Elapsed < TimeSpan.FromSeconds(90)) await Task.Delay(50, cancellation).ConfigureAwait(false);
            double resume = killed.Elapsed.TotalSeconds;
            var final = await FederationClusterRun.WaitAsync(grains, key, patience: TimeSpan.FromSeconds(90), cancellation: cancellation).ConfigureAwait(false);
            foreach (var p in participants)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
                timeout.CancelAfter(TimeSpan.FromSeconds(60));
                await p.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            var end = store.Load(id)!;
            var test = Veil.Ml.Data.CsvLoader.Load(Path.Combine(root, "test.csv"), "diagnosis");
            double accuracy = FederationDemo.Scorer(settings, test)(end.Model, end.Statistics[..(settings.Features + 1)], end.Statistics[(settings.Features + 1)..]);
            bool once = end.Reports.Where(r => r.Purpose == "train").Select(r => r.Round).SequenceEqual(Enumerable.Range(1, end.Round));
            return new FederationClusterDemoResult(silos.Count, participants.Count, end.Round, killedAfter, resume, accuracy,
                final.Finished && final.ProcessId != hosting.ProcessId, final.LastSum.Count, once && participants.All(p => p.ExitCode == 0), clock.Elapsed.TotalSeconds);
        }
        finally
        {
            foreach (var (p, _) in processes)
            {
                try { if (!p.HasExited) { p.Kill(true); p.WaitForExit(5000); } } catch (InvalidOperationException) { }
                p.Dispose();
            }
            try { Directory.Delete(top, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string Log(List<string> log) { lock (log) return string.Join('\n', log.TakeLast(40)); }

    private static Process Start(Func<IReadOnlyList<string>, ProcessStartInfo> command, string passphrase, IReadOnlyList<string> arguments, List<(Process, List<string>)> processes,
        TaskCompletionSource? ready = null, string? readyText = null)
    {
        var start = command(arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.Environment[FederationDemo.PassphraseVariable] = passphrase;
        var process = Process.Start(start) ?? throw new InvalidOperationException("A process did not start.");
        var log = new List<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.Add(e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (log) log.Add(e.Data);
            if (readyText is not null && e.Data.Contains(readyText, StringComparison.Ordinal)) ready?.TrySetResult();
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        processes.Add((process, log));
        return process;
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
