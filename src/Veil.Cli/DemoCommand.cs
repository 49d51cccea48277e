using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;

namespace Veil.Cli;

/// <summary>
/// veil demo: Veil's main job. Every model trained or run on encrypted data from the shipped data sets, next to its
/// plaintext twin, ending with one table (or, with --json, one JSON array with the keys of `veil train --json`).
/// </summary>
internal static class DemoCommand
{
    private sealed record Step(string Title, Func<TrainCommand.Result> Run);

    public static int Run(bool json, bool quick, int seed)
    {
        var logistic = new EncryptedModelOptions { GradientDescent = EncryptedLogisticRegression.DefaultGradientDescent };
        var linear = new EncryptedModelOptions { GradientDescent = EncryptedLinearRegression.DefaultGradientDescent };
        var steps = new List<Step>
        {
            new("linear regression on diabetes", () => TrainCommand.Train(BuiltinDatasets.Diabetes(), "diabetes", false, linear, 0.2, seed, json: true)),
            new("logistic regression on breast cancer", () => TrainCommand.Train(BuiltinDatasets.BreastCancer(), "breast_cancer", true, logistic, 0.2, seed, json: true)),
            new("KNN on iris", () => TrainCommand.TrainKnn(BuiltinDatasets.Iris(), "iris", 5, 0.2, seed)),
            new("network on digits, batched", () => TrainCommand.RunMlp(BuiltinDatasets.Digits(), "digits", batched: true, 0.2, seed)),
            new("network on digits, one image at a time", () => TrainCommand.RunMlp(BuiltinDatasets.Digits(), "digits", batched: false, 0.2, seed, limit: quick ? 10 : 40)),
        };
        if (!quick)
        {
            steps.Add(new("KNN on breast cancer", () => TrainCommand.TrainKnn(BuiltinDatasets.BreastCancer(), "breast_cancer", 5, 0.2, seed)));
            steps.Add(new("KNN on iris, vote on ciphertexts", () => TrainCommand.TrainKnnVote(BuiltinDatasets.Iris(), "iris", 5, 0.2, seed)));
            steps.Add(new("one-vs-rest logistic regression on iris", () => TrainCommand.Train(BuiltinDatasets.Iris(), "iris", true, logistic, 0.2, seed, json: true)));
        }
        bool fashion = FashionMnist.IsInstalled();
        if (fashion)
        {
            // One network, trained once, serves both packings.
            Veil.Ml.Models.SquareCnn? cnn = null;
            double trainSeconds = 0;
            int trainRows = quick ? 10_000 : 60_000, epochs = quick ? 2 : Veil.Ml.Models.SquareCnn.DefaultEpochs;
            TrainCommand.Result Cnn(bool batched, int images)
            {
                if (cnn is null)
                {
                    var (train, _) = FashionMnist.Load(null, trainRows, 1);
                    var sw = Stopwatch.StartNew();
                    cnn = Veil.Ml.Models.SquareCnn.Train(train.Features, train.Targets, epochs: epochs, seed: seed);
                    trainSeconds = sw.Elapsed.TotalSeconds;
                }
                return TrainCommand.RunCnn(batched, cnn, trainSeconds, images);
            }
            steps.Add(new("CNN on Fashion-MNIST, one image at a time", () => Cnn(false, quick ? 3 : 20)));
            if (!quick) steps.Add(new("CNN on Fashion-MNIST, batched", () => Cnn(true, 10_000)));
        }
        var results = new List<TrainCommand.Result>();
        var total = Stopwatch.StartNew();
        if (json || Console.IsOutputRedirected)
        {
            foreach (var step in steps) results.Add(step.Run());
        }
        else
        {
            AnsiConsole.MarkupLine("[bold]Veil demo[/]: models trained or run on encrypted data by a party holding only public keys; the data owner decrypts only the result.");
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var tasks = steps.Select(s => ctx.AddTask(s.Title, autoStart: false, maxValue: 1)).ToArray();
                    for (int i = 0; i < steps.Count; i++)
                    {
                        tasks[i].StartTask();
                        tasks[i].IsIndeterminate = true;
                        results.Add(steps[i].Run());
                        tasks[i].IsIndeterminate = false;
                        tasks[i].Increment(1);
                        tasks[i].StopTask();
                    }
                });
        }
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(results.Select(TrainCommand.ToJson)));
            return 0;
        }
        var table = new Table().AddColumns("model", "data set", "metric", "plaintext", "encrypted", "encrypted s", "plaintext s", "N", "levels", "security");
        foreach (var r in results)
            table.AddRow(r.Model, r.Dataset, r.Metric, F(r.Plaintext), F(r.Encrypted), r.EncryptedSeconds.ToString("F1", CultureInfo.InvariantCulture),
                r.PlaintextSeconds.ToString("F3", CultureInfo.InvariantCulture), r.N.ToString(CultureInfo.InvariantCulture),
                r.Levels.ToString(CultureInfo.InvariantCulture), $"{r.SecurityBits}-bit");
        AnsiConsole.Write(table);
        foreach (var r in results.Where(r => r.PerImageSeconds is not null))
            AnsiConsole.MarkupLine($"{r.Model}: {r.Images} test images, {1000 * r.PerImageSeconds!.Value:F1} ms an image" +
                (r.Model.Contains("batched", StringComparison.Ordinal) ? $" ({1 / r.PerImageSeconds.Value:F0} images/s on this batch; a full batch holds {r.N / 2} images)" : " (latency)"));
        AnsiConsole.MarkupLine($"total {total.Elapsed.TotalSeconds:F1} s. Training: 5 iterations on ciphertexts (Nesterov for logistic regression); KNN: k = 5, the owner decrypts only distances."
            + (quick ? " (--quick: without KNN on breast cancer, the encrypted KNN vote, one-vs-rest on iris, the batched CNN, the imported ONNX model, the federation on Orleans and bootstrapping)" : ""));
        if (!fashion) AnsiConsole.MarkupLine($"Fashion-MNIST is not installed, so the convolutional network was skipped: {FashionMnist.InstallHint} (or set {FashionMnist.DirectoryVariable}).");
        AnsiConsole.MarkupLine("Encrypted statistics (mean and variance of every breast-cancer feature): veil stats.");
        var exact = ExactAggregationCheck.Run(seed);
        AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Exact and additive schemes on breast cancer split between {exact.Parties} hospitals ({exact.Rows} rows): BFV count and sum by diagnosis × radius bucket, " +
            $"{exact.CellsExact} of {exact.Cells} cells exact, {exact.LookupsExact} of {exact.Lookups} private lookups right ({exact.BfvSeconds:F1} s); " +
            $"Paillier sums of {exact.PaillierColumns} real columns, worst error {exact.PaillierSumError:E1} ({exact.PaillierSeconds:F1} s); " +
            $"EC-ElGamal tally of {exact.TallyClass} diagnoses {exact.Tally}, {(exact.TallyExact ? "exact" : "WRONG")} ({exact.ElGamalSeconds:F1} s)."));
        var mhe = Veil.Multiparty.MultipartyPrecision.Measure(
            Veil.Ckks.CkksParameters.Create(new Veil.Ckks.CkksParametersLiteral { LogN = 14, LogQ = [60, 55, 55, 55], LogP = [60], LogDefaultScale = 55 }),
            parties: 3, new Veil.Multiparty.FloodingPolicy(40, 12), budget: 16);
        AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Multiparty CKKS: {mhe.Parties} hospitals built one public, relinearization and rotation key from their shares (no one holds the secret); x·y, relinearized, rescaled and rotated, " +
            $"decrypted together keeps {mhe.CollectiveBits:F1} bits (single key {mhe.SingleKeyBits:F1}), and {mhe.FloodedBits:F1} bits with each share flooded at 2^{mhe.SigmaBits:F1} " +
            $"(s = 40, 16 decryptions per key) ({mhe.Seconds:F1} s). veil bench multiparty."));
        // Federated learning: participants are real processes (gRPC, mutual TLS); the full demo also kills some mid-round.
        var fed = Veil.Federated.FederationDemo.RunAsync(new Veil.Federated.FederationDemoOptions("breast_cancer", Participants: quick ? 3 : 5, Rounds: 8, Dropout: quick ? 0 : 0.4, Seed: seed),
            FederateCommands.ParticipantStart).GetAwaiter().GetResult();
        string killedNote = fed.Killed.Count > 0 ? $"; {fed.Killed.Count} killed (SIGKILL) mid-round, the round finished without them, and they rejoined from their sealed state" : "";
        AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Federated learning: {fed.Participants} hospitals as separate processes (gRPC over mutual TLS) trained logistic regression on breast cancer for {fed.Rounds} rounds; each update encrypted under one collective key, " +
            $"summed by a coordinator that never sees one, decrypted by any {fed.Threshold} of them with flooding: {fed.Federated:P2} vs centralized plaintext training {fed.Centralized:P2}{killedNote}" +
            $"; {fed.BytesPerParticipant / 1048576.0:F1} MiB per participant ({fed.Seconds:F1} s). veil federate demo --epsilon 3 adds DP-FedAvg."));
        // The same federation on Orleans (three silo processes, SQLite membership: no server), its coordinating silo killed: the full demo only.
        if (!quick)
        {
            var cl = Veil.Cluster.FederationClusterDemo.RunAsync(FederateCommands.VeilStart, seed: seed).GetAwaiter().GetResult();
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Federation on Orleans: the coordinator is a grain on a cluster of {cl.Silos} silo processes (SQLite membership and checkpoints, no server), each silo a front end for the {cl.Participants} participant processes; " +
                $"the silo coordinating it was killed (SIGKILL) after round {cl.KilledAfterRound}, and the grain {(cl.Moved ? "re-activated on another silo" : "did NOT move")} and resumed from its checkpoint in {cl.ResumeSeconds:F1} s; " +
                $"{cl.Rounds} rounds {(cl.EveryRoundOnce ? "each recorded once" : "NOT each recorded once")}, accuracy {cl.Accuracy:P2}; the last round added up as {cl.PartialSums} partial sums where the updates arrived ({cl.Seconds:F1} s). " +
                $"veil federate coordinator --cluster; veil bench federation."));
        }
        var mpc = Veil.Mpc.MpcSelfCheck.Run();
        AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Secret-sharing MPC: 2 parties multiplied {mpc.Elements} shared fixed-point pairs with Beaver triples they made between themselves by Paillier (no dealer, 3072-bit keys), " +
            $"worst error {mpc.WorstError:E1} against plaintext, {mpc.PaillierTriplesPerSecond:F0} triples/s, {mpc.Rounds} rounds, {mpc.BytesPerParty / 1024.0:F0} KiB sent per party; " +
            $"a trusted dealer deals {mpc.DealerTriplesPerSecond / 1e6:F1} M triples/s ({mpc.Seconds:F1} s)."));
        var mpcOptions = new Veil.Ml.Secure.MpcDemoOptions(Iterations: quick ? 15 : 30, Seed: seed, DigitsImages: quick ? 30 : 100, FashionImages: quick ? 10 : 40);
        var mpcClock = System.Diagnostics.Stopwatch.StartNew();
        var shared = Veil.Ml.Secure.MpcDemo.Summarize(Veil.Ml.Secure.MpcDemo.RunInProcess(2, mpcOptions).SelectMany(r => r), Veil.Ml.Secure.MpcDemo.Twin(mpcOptions));
        var lr = shared.Single(w => w.Workload == "logistic");
        var knn = shared.Single(w => w.Workload == "knn");
        string hybrid = string.Join("; ", shared.Where(w => w.Workload is "hybrid-digits" or "hybrid-fashion").Select(w => string.Create(CultureInfo.InvariantCulture,
            $"HE + MPC ReLU network on {(w.Workload == "hybrid-digits" ? "digits" : "Fashion-MNIST")} (BFV linear layers, exact ReLU and argmax on shares) {w.Score:P1} on {w.Items} images, " +
            $"{(w.EqualPredictions == true ? "every prediction equal to" : "predictions DIFFER from")} the quantized twin, {1000 * w.Seconds / w.Items:F0} ms an image")));
        AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"MPC on secret-shared rows (2 hospitals, dealer triples): logistic regression on breast cancer ({lr.Items} rows, {mpcOptions.Iterations} steps, exact-sign sigmoid) {lr.Score:P2} vs plaintext twin {lr.Plaintext:P2}, " +
            $"{lr.Rounds} rounds, {lr.BytesPerParty[0] / 1048576.0:F0} MiB per party; exact KNN (k = {mpcOptions.K}) on iris by secure top-k {knn.Score:P2}, " +
            $"{(knn.EqualPredictions == true ? "every prediction equal to" : "predictions DIFFER from")} plaintext KNN; {hybrid} ({mpcClock.Elapsed.TotalSeconds:F1} s). As separate processes over TLS: veil mpc demo --parties 2|3."));
        var service = ServeCommands.DemoRun(quick ? 10 : 40);
        AnsiConsole.WriteLine(FormattableString.Invariant(
            $"Encrypted-inference service (HTTPS on loopback, SQLite and sealed blobs in a temporary folder): a hospital's client registered its keys once ({service.KeyBytes / 1048576.0:F1} MiB with rotations, {service.BatchedKeyBytes / 1048576.0:F1} MiB batched-only), sent {service.Single} digits one at a time (p50 {service.P50Ms:F0} ms, encryption and decryption included) and {service.Batched} as a background job: {service.ServiceAccuracy:P2} vs plaintext {service.PlainAccuracy:P2}, {(service.EqualPredictions ? "every prediction equal" : "predictions DIFFER")}; after a restart its keys {(service.RestartKept ? "still served" : "were LOST")} ({service.Seconds:F1} s). veil serve / deploy / predict; veil bench serve."));
        // The ONNX line costs ~6 s (30 rotation keys at N = 16384): the full demo only, so --quick stays under a minute.
        var onnx = quick ? null : Veil.Onnx.OnnxDemo.Run(20);
        if (onnx is not null) AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Bring your own model: a PyTorch CNN for digits (ONNX: padded convolution, BatchNorm, ReLU, average pool) imported and compiled in {onnx.CompileSeconds:F1} s, its ReLU fitted on training digits as a degree-{onnx.Degree} polynomial ({onnx.Layers} layers, depth {onnx.Depth}, N = {onnx.N}); " +
            $"{onnx.Images} test digits encrypted one at a time: {onnx.EncryptedAccuracy:P2} vs the exact graph {onnx.ExactAccuracy:P2}, median {onnx.MedianMs:F0} ms. veil compile / veil infer MODEL.onnx."));
        // A secure bootstrap needs N = 2^15 and 5.6 GiB of keys (~50 s): the full demo only.
        if (!quick)
        {
            var boot = Veil.Circuits.BootstrapMeasurement.Run(Veil.Circuits.BootstrappingPreset.N15);
            var t = boot.Timings[0];
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Bootstrapping (N = 2^{boot.LogN}, log QP = {boot.LogQP}, 128-bit; dense secret, weight-32 ephemeral secret for ModRaise): a ciphertext with no levels left came back with {boot.LevelsLeft} level(s) " +
                $"without the key owner, {boot.MeanBits:F1} bits mean precision (min {boot.MinBits:F1}); keys {boot.KeySeconds:F0} s, bootstrap {t.Total.TotalSeconds:F1} s " +
                $"(CoeffToSlot {t.CoeffToSlot.TotalSeconds:F1}, EvalMod {t.EvalMod.TotalSeconds:F1}, SlotToCoeff {t.SlotToCoeff.TotalSeconds:F1}). veil bench bootstrap; veil train --iterations 30 bootstraps on its own."));
        }
        var protection = Veil.Protection.ProtectionSelfCheck.Run();
        AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Protection at rest: {protection.Bytes >> 20} MiB sealed for a keyring at {protection.SealMBps:F0} MB/s and opened at {protection.OpenMBps:F0} MB/s (AES-256-GCM, file to file); " +
            $"{protection.TamperDetected} of {protection.TamperCases} tampering cases refused; audit log of {protection.AuditRecords} records {(protection.AuditIntact ? "verified" : "NOT verified")} ({protection.Seconds:F1} s). veil protect / unprotect / keys / audit."));
        return 0;
    }

    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);
}
