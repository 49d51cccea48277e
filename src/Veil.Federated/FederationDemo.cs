using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Veil.Ml.Data;

namespace Veil.Federated;

/// <summary>What <see cref="FederationDemo"/> runs.</summary>
/// <param name="Data">A built-in data set (breast_cancer, iris, diabetes, digits) or a CSV file.</param>
/// <param name="Target">The CSV file's target column (built-in sets know theirs).</param>
/// <param name="Model">logistic (one-vs-rest beyond two classes) or linear.</param>
/// <param name="Participants">Participant processes.</param>
/// <param name="Rounds">FedAvg rounds.</param>
/// <param name="Epsilon">DP-FedAvg with this (ε, 10⁻⁵) budget; null trains without DP.</param>
/// <param name="Dropout">The share of participants killed with SIGKILL in the middle of round 2 and restarted after half the rounds.</param>
/// <param name="Split">How rows are dealt.</param>
/// <param name="Aggregation">Threshold CKKS or the plaintext baseline.</param>
/// <param name="LocalSteps">Local gradient steps per round.</param>
/// <param name="LearningRate">Local learning rate (default 0.5 for linear classifiers, 0.03 for the MLP, 0.1 for linear regression, whose local Hessians on a few rows of correlated features can pass 2/0.5 and make local steps diverge).</param>
/// <param name="Seed">Splits and shuffles.</param>
/// <param name="Scaffold">SCAFFOLD's drift correction (a gradient sum before each round's local steps).</param>
public sealed record FederationDemoOptions(string Data = "breast_cancer", string? Target = null, string Model = "logistic", int Participants = 3, int Rounds = 10,
    double? Epsilon = null, double Dropout = 0, SplitKind Split = SplitKind.Iid, AggregationMode Aggregation = AggregationMode.Threshold, int LocalSteps = 5, double? LearningRate = null, int Seed = 1,
    bool Scaffold = false);

/// <summary>One round as the demo reports it.</summary>
public sealed record FederationDemoRound(int Round, double Score, double? Epsilon, int Contributors, double Seconds);

/// <summary>What the demo measured.</summary>
public sealed record FederationDemoResult(string Model, string Dataset, int Participants, int Threshold, int Rounds, string Metric, double Centralized, double Federated,
    double? LeastSquares, double? PooledLeastSquares, double? Epsilon, double Delta, double Seconds, double SetupSeconds, long BytesPerParticipant,
    IReadOnlyList<FederationDemoRound> History, IReadOnlyList<int> Killed, string StopReason, string Aggregation, IReadOnlyList<string> ParticipantLog);

/// <summary>
/// A federation on one machine: the coordinator in this process (gRPC, mutual TLS on loopback), each participant a
/// separate OS process started by the caller's command with its own keyring, certificate, state folder and share of
/// the rows; the result next to centralized plaintext training with the same number of gradient steps on the same rows.
/// </summary>
public static class FederationDemo
{
    /// <summary>The environment variable a participant process reads its passphrase from (never the command line, which others can read).</summary>
    public const string PassphraseVariable = "VEIL_FEDERATION_PASSPHRASE";

    /// <summary>Loads a built-in set by name, or a CSV file with its target column.</summary>
    public static Dataset LoadData(string data, string? target)
    {
        return data.Replace('-', '_').ToLowerInvariant() switch
        {
            "breast_cancer" => BuiltinDatasets.BreastCancer(),
            "iris" => BuiltinDatasets.Iris(),
            "diabetes" => BuiltinDatasets.Diabetes(),
            "digits" => BuiltinDatasets.Digits(),
            _ => CsvLoader.Load(data, target ?? throw new FederationConfigurationException("target", "A CSV file needs --target (its label column).")),
        };
    }

    /// <summary>Runs the demo; <paramref name="participantCommand"/> turns a participant's arguments into a process to start.</summary>
    public static async Task<FederationDemoResult> RunAsync(FederationDemoOptions options, Func<IReadOnlyList<string>, ProcessStartInfo> participantCommand,
        IProgress<RoundReport>? progress = null, ILogger? logger = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(participantCommand);
        var clock = Stopwatch.StartNew();
        var (data, train, test, template, regression, kind, threshold) = Plan(options);
        int kill = Math.Min((int)Math.Round(options.Dropout * options.Participants), options.Participants - threshold);
        string dir = Path.Combine(Path.GetTempPath(), "veil-federation-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
        string passphrase = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        var processes = new Process?[options.Participants];
        var errors = new List<string>();
        try
        {
            // Demo keyrings take Argon2id's minimum cost so that n of them open in seconds; real members keep the default.
            var (settings, id) = FederationSetup.Create(dir, template, options.Participants, passphrase, Protection.Argon2Parameters.Minimum, allowWeakCost: true);
            string federationFile = Path.Combine(dir, FederationSetup.FileName);
            var shares = FederationSetup.Split(train, options.Participants, options.Split, options.Seed);
            for (int i = 0; i < shares.Length; i++) FederationSetup.WriteCsv(shares[i], Path.Combine(FederationSetup.ParticipantDirectory(dir, i), "data.csv"));
            var score = Scorer(settings, test);
            var coordinator = new FederationCoordinator(settings, id, logger, score, new SqliteFederationStore(Path.Combine(FederationSetup.CoordinatorDirectory(dir), "federation.db")));
            using var cert = FederationSetup.LoadCertificate(Path.Combine(FederationSetup.CoordinatorDirectory(dir), "tls.pfx"), passphrase);
            var (app, port) = await FederationServer.StartAsync(coordinator, cert, 0, null, cancellation).ConfigureAwait(false);
            await using var server = app.ConfigureAwait(false);
            Process Start(int i)
            {
                string pdir = FederationSetup.ParticipantDirectory(dir, i);
                var info = participantCommand(["federate", "participant", "--federation", federationFile, "--index", i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "--data", Path.Combine(pdir, "data.csv"), "--target", data.TargetName, "--directory", pdir, "--coordinator", $"https://127.0.0.1:{port}", "--json"]);
                info.Environment[PassphraseVariable] = FederationSetup.PassphraseOf(passphrase, i);
                info.RedirectStandardOutput = info.RedirectStandardError = true;
                info.UseShellExecute = false;
                var p = Process.Start(info) ?? throw new InvalidOperationException($"Participant {i}'s process did not start.");
                p.OutputDataReceived += (_, _) => { };
                p.ErrorDataReceived += (_, a) =>
                {
                    if (a.Data is not { Length: > 0 } line) return;
                    logger?.LogInformation("participant {Index}: {Line}", i, line);
                    lock (errors) if (errors.Count < 200) errors.Add($"participant {i}: {line}");
                };
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
                return p;
            }
            for (int i = 0; i < processes.Length; i++) processes[i] = Start(i);
            double setupSeconds = clock.Elapsed.TotalSeconds;
            var killed = Enumerable.Range(0, options.Participants).Reverse().Take(kill).ToArray();
            int restartAfter = Math.Max(2, (options.Rounds + 1) / 2);
            var inner = progress;
            var events = new InlineProgress(r =>
            {
                inner?.Report(r);
            });
            var outcome = await coordinator.RunAsync(events, cancellation, async (round, ct) =>
            {
                if (round == 2 && killed.Length > 0)
                {
                    // SIGKILL in the middle of round 2: once each victim has taken its work and before it answers; no goodbye, its state as it was on disk.
                    _ = Task.Run(async () =>
                    {
                        foreach (int k in killed)
                        {
                            for (int w = 0; w < 400 && !coordinator.HoldsWork(k); w++) await Task.Delay(5, ct).ConfigureAwait(false);
                            processes[k]!.Kill(entireProcessTree: true);
                        }
                    }, ct);
                }
                if (round != restartAfter + 1 || killed.Length == 0) return;
                // The killed come back from their folders; the round waits until they have polled (a process takes about a second to start).
                var since = DateTime.UtcNow;
                foreach (int k in killed) processes[k] = Start(k);
                foreach (int k in killed) await coordinator.WaitUntilSeenAsync(k, since, TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
            foreach (var p in processes)
                if (p is not null && !p.HasExited)
                    await p.WaitForExitAsync(cancellation).WaitAsync(TimeSpan.FromSeconds(30), cancellation).ConfigureAwait(false);

            for (int i = 0; i < processes.Length; i++)
                if (processes[i] is { HasExited: true, ExitCode: not 0 } p) lock (errors) errors.Add($"participant {i} exited with code {p.ExitCode}");
            var rounds = outcome.Rounds.Where(r => r.Purpose == "train").ToList();
            double centralized = CentralizedScore(settings, train, test);
            double federated = score(outcome.Model, outcome.Means, outcome.Scales);
            double? ls = outcome.LeastSquares is null ? null : score(outcome.LeastSquares, outcome.Means, outcome.Scales);
            double? pooled = null;
            if (regression)
            {
                var st = new Standardizer().Fit(train);
                pooled = new Ml.Models.OrdinaryLeastSquares().Fit(st.Transform(train.Features), train.Targets).Score(st.Transform(test.Features), test.Targets);
            }
            return new FederationDemoResult(kind.ToString().ToLowerInvariant(), Path.GetFileNameWithoutExtension(options.Data), options.Participants, threshold, rounds.Count,
                regression ? "r2" : "accuracy", centralized, federated, ls, pooled, outcome.Epsilon, 1e-5, clock.Elapsed.TotalSeconds, setupSeconds,
                outcome.BytesPerParticipant.Sum() / options.Participants,
                [.. rounds.Select(r => new FederationDemoRound(r.Round, r.Score ?? double.NaN, r.Epsilon, r.Contributors.Count, r.Seconds))], killed, outcome.StopReason,
                options.Aggregation switch { AggregationMode.Threshold => "threshold-ckks", AggregationMode.Paillier => "paillier-3072", _ => "plaintext" }, [.. errors]);
        }
        finally
        {
            foreach (var p in processes)
            {
                try { if (p is not null && !p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                p?.Dispose();
            }
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    // The rows, their split and the settings a demo or an initialized folder uses.
    private static (Dataset Data, Dataset Train, Dataset Test, FederationSettings Template, bool Regression, FederatedModelKind Kind, int Threshold) Plan(FederationDemoOptions options)
    {
        var data = LoadData(options.Data, options.Target);
        bool regression = options.Model switch
        {
            "linear" => true,
            "logistic" => false,
            "mlp" => false,
            _ => throw new FederationConfigurationException("model", $"Unknown model '{options.Model}': logistic, linear or mlp."),
        };
        int classes = regression ? 0 : (int)data.Targets.Max() + 1;
        var kind = regression ? FederatedModelKind.Linear : options.Model == "mlp" ? FederatedModelKind.Mlp : classes > 2 ? FederatedModelKind.OneVsRest : FederatedModelKind.Logistic;
        var (train, test) = DataSplit.TrainTest(data, 0.25, options.Seed, stratify: !regression);
        int threshold = Math.Max(2, (options.Participants + 1) / 2);
        var template = new FederationSettings
        {
            Name = $"demo-{Path.GetFileNameWithoutExtension(options.Data)}", Threshold = threshold, Aggregation = options.Aggregation, Model = kind, Features = data.Columns,
            Classes = kind is FederatedModelKind.OneVsRest or FederatedModelKind.Mlp ? classes : 0, Hidden = kind == FederatedModelKind.Mlp ? 16 : 0, Rounds = options.Rounds, LocalSteps = options.LocalSteps, LearningRate = options.LearningRate ?? (regression ? 0.1 : kind == FederatedModelKind.Mlp ? 0.03 : 0.5),
            PhaseTimeoutSeconds = 5, LogN = 13, Scaffold = options.Scaffold,
            // Without DP the clip only guards against a runaway update; a network's first epochs move far (norms in the hundreds), so its bound is wider.
            ClipNorm = kind == FederatedModelKind.Mlp ? 1e4 : 100,
            Privacy = options.Epsilon is { } e ? new DifferentialPrivacySettings { NoiseMultiplier = NoiseFor(e, options.Rounds, 1e-5), ClipNorm = 1, Delta = 1e-5, EpsilonBudget = e } : null,
        };
        return (data, train, test, template, regression, kind, threshold);
    }

    /// <summary>
    /// Writes a federation into <paramref name="directory"/> for running its roles by hand (`veil federate coordinator`
    /// and `veil federate participant`): the file, each participant's keyring, certificate and rows, the held-out rows
    /// (test.csv). All members are made on one machine here, so one passphrase (returned) derives all of theirs: for trying
    /// the roles out, not for a real federation, whose members each make their own keys.
    /// </summary>
    public static (FederationSettings Settings, string Passphrase) Initialize(FederationDemoOptions options, string directory)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any()) throw new FederationConfigurationException("directory", $"{directory} is not empty.");
        var (data, train, test, template, _, _, _) = Plan(options);
        string passphrase = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        var (settings, _) = FederationSetup.Create(directory, template, options.Participants, passphrase, Protection.Argon2Parameters.Minimum, allowWeakCost: true);
        var shares = FederationSetup.Split(train, options.Participants, options.Split, options.Seed);
        for (int i = 0; i < shares.Length; i++) FederationSetup.WriteCsv(shares[i], Path.Combine(FederationSetup.ParticipantDirectory(directory, i), "data.csv"));
        FederationSetup.WriteCsv(test, Path.Combine(directory, "test.csv"));
        _ = data;
        return (settings, passphrase);
    }

    /// <summary>The smallest noise multiplier (to 0.01) whose ε after <paramref name="rounds"/> full-participation rounds is within <paramref name="epsilon"/>.</summary>
    public static double NoiseFor(double epsilon, int rounds, double delta)
    {
        if (!(epsilon > 0)) throw new FederationConfigurationException("epsilon", "ε must be positive.");
        double lo = 0.01, hi = 1e4;
        for (int i = 0; i < 60; i++)
        {
            double mid = Math.Sqrt(lo * hi);
            var a = new Privacy.RdpAccountant();
            a.Step(mid, 1, rounds);
            if (a.GetEpsilon(delta).Epsilon > epsilon) lo = mid; else hi = mid;
        }
        return Math.Ceiling(hi * 100) / 100;
    }

    /// <summary>Scores (θ, pooled means, scales) on held-out rows: accuracy, or R² for linear regression.</summary>
    public static Func<double[], double[], double[], double> Scorer(FederationSettings s, Dataset test) => (theta, means, scales) =>
    {
        var x = FederationPlan.Standardize(test.Features, means[..s.Features], scales[..s.Features]);
        var y = s.Model == FederatedModelKind.Linear ? test.Targets.Select(v => (v - means[s.Features]) / scales[s.Features]).ToArray() : test.Targets;
        return LocalModels.Score(s.Model, s.Classes, theta, x, y);
    };

    /// <summary>Centralized plaintext training: the same model and the same rounds × local steps of gradient descent on the pooled rows.</summary>
    public static double CentralizedScore(FederationSettings s, Dataset train, Dataset test)
    {
        var st = new Standardizer().Fit(train);
        var yMean = train.Targets.Average();
        var yScale = Math.Sqrt(train.Targets.Select(v => (v - yMean) * (v - yMean)).Average());
        var y = s.Model == FederatedModelKind.Linear ? train.Targets.Select(v => (v - yMean) / (yScale > 0 ? yScale : 1)).ToArray() : train.Targets;
        var theta = LocalModels.Train(s.Model, s.Classes, LocalModels.Initial(s.Model, s.Features, s.Classes, s.Hidden, 1), st.Transform(train.Features), y, s.Rounds * s.LocalSteps, s.LearningRate, seed: 1);
        var yTest = s.Model == FederatedModelKind.Linear ? test.Targets.Select(v => (v - yMean) / (yScale > 0 ? yScale : 1)).ToArray() : test.Targets;
        return LocalModels.Score(s.Model, s.Classes, theta, st.Transform(test.Features), yTest);
    }

    private sealed class InlineProgress(Action<RoundReport> action) : IProgress<RoundReport>
    {
        public void Report(RoundReport value) => action(value);
    }
}
