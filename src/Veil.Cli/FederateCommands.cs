using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Veil.Federated;
using Veil.Ml.Data;

namespace Veil.Cli;

/// <summary>veil federate: the demo, a coordinator and a participant. Each command parses, calls Veil.Federated and prints.</summary>
internal static class FederateCommands
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static int Demo(FederationDemoOptions options, bool json, string? plot = null)
    {
        var progress = json ? null : new Progress<RoundReport>(r =>
        {
            if (r.Purpose == "train")
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  round {r.Round}: score {r.Score:F4}{(r.Epsilon is { } e ? $", ε {e:F2}" : "")}, {r.Contributors.Count} contributors, decrypted by [{string.Join(", ", r.Decryptors)}], {r.Seconds:F2} s"));
            else Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {r.Purpose}: {r.Contributors.Count} contributors, {r.Seconds:F2} s"));
        });
        // VEIL_FEDERATION_LOG=1 shows the coordinator's log (refusals, dropouts) and the participants' on standard error.
        using var log = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; }).SetMinimumLevel(LogLevel.Information));
        var logger = Environment.GetEnvironmentVariable("VEIL_FEDERATION_LOG") == "1" ? log.CreateLogger("federation") : null;
        var result = FederationDemo.RunAsync(options, ParticipantStart, progress, logger).GetAwaiter().GetResult();
        plot ??= json ? null : $"federation-{result.Dataset}.png";
        if (plot is not null) Plot(result, plot);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = result.Model, dataset = result.Dataset, participants = result.Participants, rounds = result.Rounds, centralized = result.Centralized, federated = result.Federated,
                epsilon = result.Epsilon, delta = result.Epsilon is null ? (double?)null : result.Delta, seconds = result.Seconds, bytes_per_participant = result.BytesPerParticipant,
                metric = result.Metric, threshold = result.Threshold, aggregation = result.Aggregation, least_squares = result.LeastSquares, pooled_least_squares = result.PooledLeastSquares,
                killed = result.Killed, stop = result.StopReason, history = result.History,
            }, Json));
            return 0;
        }
        var table = new Table().Title($"Federated {result.Model} on {result.Dataset}: {result.Participants} participant processes, gRPC over mutual TLS, {result.Aggregation} (t = {result.Threshold})")
            .AddColumns("round", result.Metric, "ε", "contributors", "seconds");
        foreach (var r in result.History)
            table.AddRow(r.Round.ToString(CultureInfo.InvariantCulture), r.Score.ToString("F4", CultureInfo.InvariantCulture), r.Epsilon?.ToString("F2", CultureInfo.InvariantCulture) ?? "-",
                r.Contributors.ToString(CultureInfo.InvariantCulture), r.Seconds.ToString("F2", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"federated {result.Metric} {result.Federated:F4} vs centralized plaintext training {result.Centralized:F4} (same rows, same {result.Rounds} × local steps){(result.Epsilon is { } eps ? $"; ε = {eps:F2}, δ = {result.Delta}" : "")}"));
        if (result.LeastSquares is { } ls)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"one-shot least squares from encrypted XᵀX, Xᵀy: R² {ls:F4} (pooled OLS {result.PooledLeastSquares:F4})"));
        if (result.Killed.Count > 0)
            Console.WriteLine($"participants {string.Join(", ", result.Killed)} were killed (SIGKILL) in the middle of round 2 and restarted from their sealed state after round {result.History.Count / 2}");
        foreach (var line in result.ParticipantLog.TakeLast(10)) Console.WriteLine("  " + line);
        if (plot is not null) Console.WriteLine($"plot: {Path.GetFullPath(plot)}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.StopReason}; {result.BytesPerParticipant / 1024.0:F0} KiB per participant; {result.Seconds:F1} s ({result.SetupSeconds:F1} s setup)"));
        return 0;
    }

    public static int Init(FederationDemoOptions options, string directory, bool json)
    {
        var (settings, passphrase) = FederationDemo.Initialize(options, directory);
        string secret = Path.Combine(directory, "passphrase");
        File.WriteAllText(secret, passphrase);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string file = Path.Combine(directory, FederationSetup.FileName);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { federation = file, participants = settings.Participants, threshold = settings.Threshold, passphrase_file = secret, target = "see data.csv's last column" }, Json));
            return 0;
        }
        Console.WriteLine($"{settings.Participants} participants (t = {settings.Threshold}) in {directory}; the setup passphrase is in {secret} (participant i's is it followed by -i).");
        Console.WriteLine($"coordinator:   {FederationDemo.PassphraseVariable}=… veil federate coordinator --federation {file} --certificate {Path.Combine(FederationSetup.CoordinatorDirectory(directory), "tls.pfx")} --port 7443");
        Console.WriteLine($"participant i: {FederationDemo.PassphraseVariable}=…-i veil federate participant --federation {file} --index i --data {Path.Combine(directory, "participant-i", "data.csv")} --target TARGET --directory {Path.Combine(directory, "participant-i")} --coordinator https://127.0.0.1:7443 --allow-weak-keyring-cost");
        return 0;
    }

    public static int Participant(string federation, int index, string data, string target, string directory, string coordinator, bool allowWeakKeyring, bool json)
    {
        string passphrase = Environment.GetEnvironmentVariable(FederationDemo.PassphraseVariable)
            ?? throw new UsageException($"Set {FederationDemo.PassphraseVariable} to this participant's passphrase (it opens its keyring and certificate).");
        var (settings, id) = FederationFile.Load(federation);
        var rows = CsvLoader.Load(data, target);
        using var keyring = Veil.Protection.PassphraseKeyring.Open(Path.Combine(directory, "keyring.vkr"), passphrase, allowWeakKeyring);
        using var cert = FederationSetup.LoadCertificate(Path.Combine(directory, "tls.pfx"), passphrase);
        var addresses = coordinator.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (addresses.Length == 0) throw new UsageException("--coordinator names no address.");
        // Participant i starts at address i mod k, so a cluster's front ends share the participants.
        using var channel = new FailoverFederationChannel([.. addresses.Select(a => new FederationGrpcChannel(new Uri(a), settings.CoordinatorPin, cert))], index);
        using var log = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }).SetMinimumLevel(LogLevel.Warning));
        using var me = new FederationParticipant(settings, id, index, rows, Path.Combine(directory, "state"), keyring, log.CreateLogger("participant"));
        var outcome = me.RunAsync(channel).GetAwaiter().GetResult();
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { index, contributions = outcome.Contributions, decryption_shares = outcome.DecryptionShares, message = outcome.Message, parameters = outcome.Model.Length }, Json));
        else Console.WriteLine($"participant {index}: {outcome.Message}; {outcome.Contributions} vectors sent, {outcome.DecryptionShares} decryption shares made");
        return 0;
    }

    public static int Coordinator(string federation, string certificate, int port, string? store, bool json)
    {
        string passphrase = Environment.GetEnvironmentVariable(FederationDemo.PassphraseVariable)
            ?? throw new UsageException($"Set {FederationDemo.PassphraseVariable} to the passphrase of the coordinator's certificate file.");
        var (settings, id) = FederationFile.Load(federation);
        using var cert = FederationSetup.LoadCertificate(certificate, passphrase);
        using var log = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
        // Rounds are checkpointed in SQLite: the same command after a crash resumes after the last completed round.
        var coordinator = new FederationCoordinator(settings, id, log.CreateLogger("coordinator"), store: new SqliteFederationStore(store ?? Path.ChangeExtension(federation, ".db")));
        var (app, actual) = FederationServer.StartAsync(coordinator, cert, port).GetAwaiter().GetResult();
        Console.Error.WriteLine($"coordinator of {settings.Name} ({settings.Participants} participants, t = {settings.Threshold}) on https://127.0.0.1:{actual}");
        var outcome = coordinator.RunAsync(new Progress<RoundReport>(r => Console.Error.WriteLine($"{r.Purpose} {r.Round}: {r.Contributors.Count} contributors"))).GetAwaiter().GetResult();
        Thread.Sleep(1500); // participants poll once more to take the final model
        app.StopAsync().GetAwaiter().GetResult();
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { model = outcome.Model, means = outcome.Means, scales = outcome.Scales, epsilon = outcome.Epsilon, stop = outcome.StopReason, rounds = outcome.Rounds.Count(r => r.Purpose == "train") }, Json));
        else Console.WriteLine($"{outcome.StopReason}; θ has {outcome.Model.Length} parameters");
        return 0;
    }

    public static int ClusterCoordinator(string federation, string certificate, int port, string? postgres, string? storeFile, Veil.Cluster.ClusterSettings cluster, bool json)
    {
        if (postgres is null && cluster.SqliteMembership is null)
            throw new UsageException("--cluster HOST:PORT needs --postgres: the silos resume the coordinator from one shared checkpoint store (a SQLite file serves only silos on one machine, with --cluster sqlite:FILE).");
        string passphrase = Environment.GetEnvironmentVariable(FederationDemo.PassphraseVariable)
            ?? throw new UsageException($"Set {FederationDemo.PassphraseVariable} to the passphrase of the coordinator's certificate file.");
        var (settings, id) = FederationFile.Load(federation);
        using var cert = FederationSetup.LoadCertificate(certificate, passphrase);
        // The silos talk over mutual TLS with the coordinator's certificate, which every silo of the federation holds.
        cluster = cluster with { Certificate = cert, PeerPins = [settings.CoordinatorPin] };
        using var postgresStore = postgres is null ? null : new Veil.Cluster.PostgresFederationStore(postgres);
        IFederationStore store = postgresStore ?? (IFederationStore)new SqliteFederationStore(storeFile ?? Path.ChangeExtension(federation, ".db"));
        var hosted = new Veil.Cluster.HostedFederation(settings, id, store);
        using var log = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; }));
        var plan = new FederationPlan(settings);
        var (app, actual) = FederationServer.StartAsync(plan, sp => new Veil.Cluster.ClusterFederationFrontEnd(plan, id, sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<Orleans.Runtime.ILocalSiloDetails>().SiloAddress.ToString()), cert, port,
            new ForwardingLoggerProvider(log), b => Veil.Cluster.VeilCluster.AddFederationSilo(b, cluster, hosted)).GetAwaiter().GetResult();
        Console.Error.WriteLine($"coordinator silo of {settings.Name} ({settings.Participants} participants, t = {settings.Threshold}) on https://127.0.0.1:{actual}, cluster {cluster.ClusterId} (membership {cluster.Redis}), silo port {cluster.SiloPort}");
        var status = Veil.Cluster.FederationClusterRun.WaitAsync(app.Services.GetRequiredService<IGrainFactory>(), hosted.Key,
            new Progress<Veil.Cluster.FederationStatus>(s => Console.Error.WriteLine($"coordinator now on silo {s.Silo} (process {s.ProcessId})"))).GetAwaiter().GetResult();
        Thread.Sleep(1500); // participants poll once more to take the final model
        app.StopAsync().GetAwaiter().GetResult();
        var checkpoint = store.Load(id);
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { model = checkpoint?.Model, stop = status.Stop, failed = status.Failed, rounds = checkpoint?.Round, last_silo = status.Silo, last_process = status.ProcessId,
            partial_sums = status.LastSum.Select(p => new { silo = p.Silo, contributions = p.Contributions, seconds = p.Seconds }) }, Json));
        else Console.WriteLine($"{status.Stop}; last coordinated on silo {status.Silo}");
        return status.Failed ? 1 : 0;
    }

    private sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => factory.CreateLogger(categoryName);
        public void Dispose() { }
    }

    // Score per round against centralized training, and ε on the right axis when DP is on.
    private static void Plot(FederationDemoResult result, string path)
    {
        var plt = new ScottPlot.Plot();
        double[] rounds = [.. result.History.Select(r => (double)r.Round)];
        var federated = plt.Add.Scatter(rounds, [.. result.History.Select(r => r.Score)]);
        federated.LegendText = $"federated ({result.Aggregation})";
        var centralized = plt.Add.HorizontalLine(result.Centralized);
        centralized.LegendText = "centralized plaintext";
        if (result.History.All(r => r.Epsilon is not null) && result.History.Count > 0)
        {
            var eps = plt.Add.Scatter(rounds, [.. result.History.Select(r => r.Epsilon!.Value)]);
            eps.LegendText = "ε spent";
            eps.Axes.YAxis = plt.Axes.Right;
            plt.Axes.Right.Label.Text = "ε (δ = 1e-5)";
        }
        plt.Title($"{result.Model} on {result.Dataset}, {result.Participants} participants");
        plt.Axes.Bottom.Label.Text = "round";
        plt.Axes.Left.Label.Text = result.Metric;
        plt.ShowLegend();
        plt.SavePng(path, 900, 540);
    }

    internal static ProcessStartInfo ParticipantStart(IReadOnlyList<string> args) => VeilStart([.. args, "--allow-weak-keyring-cost"]);

    /// <summary>This veil executable with <paramref name="args"/>.</summary>
    internal static ProcessStartInfo VeilStart(IReadOnlyList<string> args)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(FederateCommands).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }
}
