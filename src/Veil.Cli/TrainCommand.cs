using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;

namespace Veil.Cli;

/// <summary>
/// veil train DATA.csv --model linear|logistic --target COLUMN: split, standardize, encrypt, train on ciphertexts,
/// decrypt the model and evaluate it on the held-out part, next to its plaintext twin.
/// </summary>
internal static class TrainCommand
{
    /// <summary>veil train DATA.csv: every model on the same split, next to its plaintext twin.</summary>
    public static int Run(string path, string model, string target, int? iterations, double? learningRate, double testFraction, int seed,
        int refreshEvery, int k, bool vote, bool json)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.");
        if (model == "mlp")
        {
            var mlpData = CsvLoader.LoadForClassification(path, target);
            Print(RunMlp(mlpData, Path.GetFileName(path), batched: true, testFraction, seed), json);
            return 0;
        }
        if (model == "knn")
        {
            var knnData = CsvLoader.LoadForClassification(path, target);
            // --vote: mode (b), the vote on ciphertexts; otherwise mode (a), the owner votes on decrypted distances.
            Print(vote ? TrainKnnVote(knnData, Path.GetFileName(path), k, testFraction, seed)
                : TrainKnn(knnData, Path.GetFileName(path), k, testFraction, seed), json);
            return 0;
        }
        bool logistic = model == "logistic";
        var defaults = logistic ? EncryptedLogisticRegression.DefaultGradientDescent : EncryptedLinearRegression.DefaultGradientDescent;
        var gd = defaults with { Iterations = iterations ?? defaults.Iterations, LearningRate = learningRate ?? defaults.LearningRate };
        var modelOptions = new EncryptedModelOptions { GradientDescent = gd, RefreshEvery = refreshEvery };
        var data = logistic ? CsvLoader.LoadForClassification(path, target) : CsvLoader.Load(path, target);
        var result = Train(data, Path.GetFileName(path), logistic, modelOptions, testFraction, seed, json: json);
        Print(result, json);
        return 0;
    }

    /// <summary>One row of results, with the keys of `veil train --json`.</summary>
    internal sealed record Result(string Model, string Dataset, string Metric, double Plaintext, double Encrypted,
        double PlaintextSeconds, double EncryptedSeconds, int Iterations, int N, int Levels, int SecurityBits, double? Auc = null, double? PlaintextAuc = null,
        double? TrainSeconds = null, int Rounds = 1, double? OrdinaryLeastSquares = null, double? PerImageSeconds = null, int? Images = null, int Bootstraps = 0);

    internal static Result Train(Dataset data, string name, bool logistic, EncryptedModelOptions options, double testFraction, int seed, bool json)
    {
        var (train, test) = DataSplit.TrainTest(data, testFraction, seed, stratify: logistic);
        var sw = Stopwatch.StartNew();
        if (!logistic)
        {
            var twin = (EncryptedLinearRegression)new EncryptedLinearRegression(options with { Encrypted = false });
            twin.Fit(train.Features, train.Targets);
            double plainSeconds = sw.Elapsed.TotalSeconds;
            var encrypted = new EncryptedLinearRegression(options);
            Status(json, "training linear regression on ciphertexts", () => encrypted.Fit(train.Features, train.Targets));
            var r = encrypted.Report!;
            // Ordinary least squares on the same standardized split, the reference the twin should approach.
            var standardizer = new Standardizer().Fit(train.Features);
            var ols = new Veil.Ml.Models.OrdinaryLeastSquares().Fit(standardizer.Transform(train.Features), train.Targets);
            double olsR2 = ols.Score(standardizer.Transform(test.Features), test.Targets);
            return new Result("linear", name, "r2", twin.Score(test.Features, test.Targets), encrypted.Score(test.Features, test.Targets),
                plainSeconds, r.TotalSeconds, r.Iterations, r.N, r.Levels, r.SecurityBits, TrainSeconds: r.TrainSeconds, Rounds: r.Rounds, OrdinaryLeastSquares: olsR2, Bootstraps: r.Bootstraps);
        }
        if (data.ClassCount > 2)
        {
            var twin = new EncryptedOneVsRest(options with { Encrypted = false });
            twin.Fit(train.Features, train.Targets);
            double plainSeconds = sw.Elapsed.TotalSeconds;
            var encrypted = new EncryptedOneVsRest(options);
            sw.Restart();
            Status(json, $"training {data.ClassCount} one-vs-rest logistic regressions on ciphertexts", () => encrypted.Fit(train.Features, train.Targets));
            var r = encrypted.Report!;
            return new Result("logistic (one-vs-rest)", name, "accuracy", twin.Score(test.Features, test.Targets), encrypted.Score(test.Features, test.Targets),
                plainSeconds, r.TotalSeconds, r.Iterations, r.N, r.Levels, r.SecurityBits, TrainSeconds: r.TrainSeconds, Rounds: r.Rounds, Bootstraps: r.Bootstraps);
        }
        {
            var twin = (EncryptedLogisticRegression)new EncryptedLogisticRegression(options with { Encrypted = false });
            twin.Fit(train.Features, train.Targets);
            double plainSeconds = sw.Elapsed.TotalSeconds;
            var encrypted = new EncryptedLogisticRegression(options);
            Status(json, "training logistic regression on ciphertexts", () => encrypted.Fit(train.Features, train.Targets));
            var r = encrypted.Report!;
            return new Result("logistic", name, "accuracy", twin.Score(test.Features, test.Targets), encrypted.Score(test.Features, test.Targets),
                plainSeconds, r.TotalSeconds, r.Iterations, r.N, r.Levels, r.SecurityBits,
                encrypted.Auc(test.Features, test.Targets), twin.Auc(test.Features, test.Targets), r.TrainSeconds, r.Rounds, Bootstraps: r.Bootstraps);
        }
    }


    /// <summary>Encrypted KNN (mode (a): the owner decrypts only distances) next to plaintext KNN with the same k.</summary>
    internal static Result TrainKnn(Dataset data, string name, int k, double testFraction, int seed) =>
        CompareKnn(data, $"knn (k = {k})", name, k, testFraction, seed, (train, test) =>
        {
            using var knn = new EncryptedKnn(k);
            knn.Fit(train.Features, train.Targets);
            return (knn.Predict(test.Features), knn.Parameters!);
        });

    /// <summary>KNN mode (b): the class vote itself taken on ciphertexts; the owner decrypts only the per-class tallies.</summary>
    internal static Result TrainKnnVote(Dataset data, string name, int k, double testFraction, int seed) =>
        CompareKnn(data, $"knn (k = {k}), encrypted vote", name, k, testFraction, seed, (train, test) =>
        {
            using var knn = new EncryptedKnnVote(k);
            knn.Fit(train.Features, train.Targets);
            return (knn.Predict(test.Features), knn.OwnerContext!.Parameters);
        });

    /// <summary>
    /// One encrypted KNN mode, timed, next to ordinary plaintext KNN with the same k and split: the accuracy cost of the
    /// encrypted mode is the gap.
    /// </summary>
    private static Result CompareKnn(Dataset data, string model, string name, int k, double testFraction, int seed,
        Func<Dataset, Dataset, (double[] Predictions, CkksParameters Parameters)> encryptedRun)
    {
        var (train, test) = DataSplit.TrainTest(data, testFraction, seed, stratify: true);
        var sw = Stopwatch.StartNew();
        var (encrypted, p) = encryptedRun(train, test);
        double encryptedSeconds = sw.Elapsed.TotalSeconds;
        sw.Restart();
        using var plainKnn = new EncryptedKnn(k);
        plainKnn.FitPlaintextOnly(train.Features, train.Targets);
        var plain = plainKnn.PlaintextPredict(test.Features);
        double plainSeconds = sw.Elapsed.TotalSeconds;
        return new Result(model, name, "accuracy", Metrics.Accuracy(test.Targets, plain), Metrics.Accuracy(test.Targets, encrypted),
            plainSeconds, encryptedSeconds, 0, p.N, p.MaxLevel, (int)p.Ring.Security);
    }

    /// <summary>
    /// The digits network (64 → 32 → 10, square activation) trained in plaintext, then run on encrypted test images:
    /// batched (one image per slot) or one image at a time; returns the encrypted accuracy and the time per image.
    /// </summary>
    internal static Result RunMlp(Dataset data, string name, bool batched, double testFraction, int seed, int? limit = null)
    {
        var (train, test) = DataSplit.TrainTest(data, testFraction, seed, stratify: true);
        // Standardized on the training part, then divided by the largest training magnitude of each feature: inputs in
        // about [−1, 1] keep the square activation's values small.
        var standardizer = new Standardizer().Fit(train.Features);
        var z = standardizer.Transform(train.Features);
        var maxAbs = Enumerable.Range(0, z[0].Length).Select(c => Math.Max(1e-12, z.Max(r => Math.Abs(r[c])))).ToArray();
        double[][] Scale(double[][] x) => standardizer.Transform(x).Select(r => r.Select((v, c) => v / maxAbs[c]).ToArray()).ToArray();
        var sw = Stopwatch.StartNew();
        // About 20,000 samples seen whatever the data size (40 epochs of digits; more for small sets), at least 40 epochs.
        int epochs = Math.Clamp(20_000 / train.Rows, 40, 400);
        var net = Veil.Ml.Models.SquareMlp.Train(Scale(train.Features), train.Targets, hidden: 32, epochs: epochs, learningRate: 0.02);
        var p = Veil.Ckks.CkksParameters.Create(EncryptedMlpInference.DefaultParameters);
        var images = Scale(test.Features).Take(Math.Min(limit ?? int.MaxValue, p.Slots)).ToArray();
        var labels = test.Targets.Take(images.Length).ToArray();
        var plainPredictions = net.Predict(images);
        double plainSeconds = sw.Elapsed.TotalSeconds;
        var inference = new EncryptedMlpInference(net, p.Slots);
        using var client = CkksContext.Create(p, batched ? [] : inference.RequiredRotations);
        var server = client.ToPublic();
        sw.Restart();
        double[] predictions;
        if (batched) predictions = inference.DecryptBatch(client, inference.EvaluateBatch(server, inference.EncryptBatch(client, images)), images.Length);
        else predictions = images.Select(img => inference.DecryptSingle(client, inference.EvaluateSingle(server, inference.EncryptSingle(client, img)))).ToArray();
        double seconds = sw.Elapsed.TotalSeconds;
        string shape = $"mlp {net.Inputs}-{net.Hidden}-{net.Outputs}";
        return new Result(batched ? $"{shape}, batched" : $"{shape}, one image at a time", name, "accuracy",
            Metrics.Accuracy(labels, plainPredictions), Metrics.Accuracy(labels, predictions), plainSeconds, seconds, 0, p.N, p.MaxLevel, (int)p.Ring.Security,
            PerImageSeconds: seconds / images.Length, Images: images.Length);
    }

    /// <summary>
    /// A CryptoNets-style network trained in plaintext on Fashion-MNIST, run on encrypted test images: a full batch
    /// (one image per slot) or one image at a time. The plaintext time includes training.
    /// </summary>
    internal static Result RunCnn(bool batched, Veil.Ml.Models.SquareCnn net, double trainSeconds, int testImages)
    {
        var (_, test) = FashionMnist.Load(null, 1, 10_000);
        var sw = Stopwatch.StartNew();
        var p = Veil.Ckks.CkksParameters.Create(EncryptedCnnInference.DefaultParameters(net));
        var images = test.Features.Take(Math.Min(testImages, batched ? p.Slots : testImages)).ToArray();
        var labels = test.Targets.Take(images.Length).ToArray();
        var plainPredictions = net.Predict(images);
        double plainSeconds = trainSeconds + sw.Elapsed.TotalSeconds;
        var inference = new EncryptedCnnInference(net, p.Slots);
        using var client = CkksContext.Create(p, batched ? [] : inference.RequiredRotations);
        var server = client.ToPublic();
        sw.Restart();
        double[] predictions;
        if (batched)
        {
            var logits = inference.DecryptBatchLogits(client, inference.EvaluateBatch(server, inference.EncryptBatch(client, images)), images.Length);
            predictions = logits.Select(l => (double)Veil.Ml.Models.SquareMlp.ArgMax(l)).ToArray();
        }
        else
        {
            predictions = images.Select(img => (double)Veil.Ml.Models.SquareMlp.ArgMax(
                inference.DecryptSingleLogits(client, inference.EvaluateSingle(server, inference.EncryptSingle(client, img))))).ToArray();
        }
        double seconds = sw.Elapsed.TotalSeconds;
        string shape = $"cnn conv{net.KernelSize}x{net.KernelSize}x{net.Maps}-{net.Hidden}-{net.Outputs}";
        return new Result(batched ? $"{shape}, batched" : $"{shape}, one image at a time", "fashion_mnist", "accuracy",
            Metrics.Accuracy(labels, plainPredictions), Metrics.Accuracy(labels, predictions), plainSeconds, seconds, 0, p.N, p.MaxLevel, (int)p.Ring.Security,
            TrainSeconds: trainSeconds, PerImageSeconds: seconds / images.Length, Images: images.Length);
    }

    private static void Status(bool quiet, string what, Action action)
    {
        if (quiet || Console.IsOutputRedirected) { action(); return; }
        AnsiConsole.Status().Start(what + " …", _ => action());
    }

    internal static object ToJson(Result r) => new
    {
        model = r.Model, dataset = r.Dataset, metric = r.Metric, plaintext = r.Plaintext, encrypted = r.Encrypted,
        plaintext_seconds = r.PlaintextSeconds, encrypted_seconds = r.EncryptedSeconds, iterations = r.Iterations,
        n = r.N, levels = r.Levels, security_bits = r.SecurityBits, rounds = r.Rounds, bootstraps = r.Bootstraps,
    };

    internal static void Print(Result r, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(ToJson(r)));
            return;
        }
        var table = new Table().AddColumns("", "plaintext twin", "encrypted");
        table.AddRow($"{r.Model} on {r.Dataset}: test {r.Metric}", F(r.Plaintext), F(r.Encrypted));
        if (r.Auc is { } auc) table.AddRow("test AUC", F(r.PlaintextAuc ?? double.NaN), F(auc));
        if (r.OrdinaryLeastSquares is { } ols) table.AddRow("test R² of ordinary least squares", F(ols), "");
        table.AddRow("seconds (end to end)", r.PlaintextSeconds.ToString("F3", CultureInfo.InvariantCulture), r.EncryptedSeconds.ToString("F1", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        string roles = r.Model.Contains("encrypted vote", StringComparison.Ordinal) ? "; the key owner decrypted only the per-class tallies (plaintext column: ordinary KNN)"
            : r.Model.StartsWith("knn", StringComparison.Ordinal) ? "; the key owner decrypted only the distances"
            : r.Model.StartsWith("mlp", StringComparison.Ordinal) ? "; trained in plaintext, run on encrypted inputs; the client decrypted only the logits" : "";
        AnsiConsole.MarkupLine(r.Iterations > 0
            ? $"{r.Iterations} iterations ({r.Rounds} round(s){(r.Bootstraps > 0 ? $", {r.Bootstraps} bootstraps by the trainer, the key owner decrypted only the final model" : "")}); CKKS N = {r.N}, {r.Levels} levels, {r.SecurityBits}-bit security."
            : $"CKKS N = {r.N}, {r.Levels} levels, {r.SecurityBits}-bit security{roles}.");
    }

    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

}
