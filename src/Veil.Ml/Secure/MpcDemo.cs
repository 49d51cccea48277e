using System.Diagnostics;
using Veil.Ml.Data;
using Veil.Ml.Models;
using Veil.Mpc;

namespace Veil.Ml.Secure;

/// <summary>Settings of <see cref="MpcDemo"/>, the same at every party.</summary>
/// <param name="HeTriples">The parties making their triples and comparison masks with BFV instead of asking a dealer
/// (no dealer at all; the workloads are cut to fit: see <see cref="MpcDemo.Effective"/>).</param>
/// <param name="Iterations">Gradient steps of the logistic regression.</param>
/// <param name="K">Neighbours of the KNN vote.</param>
/// <param name="Seed">The train/test split.</param>
/// <param name="DigitsImages">Test images of the hybrid inference on digits (two parties).</param>
/// <param name="FashionImages">Test images of the hybrid inference on Fashion-MNIST (two parties, when installed).</param>
/// <param name="KnnQueries">Iris test queries of the KNN (all 30 by default).</param>
public sealed record MpcDemoOptions(bool HeTriples = false, int Iterations = 30, int K = 5, int Seed = 7, int DigitsImages = 100, int FashionImages = 40, int KnnQueries = 30);

/// <summary>One workload as one party saw it.</summary>
/// <param name="Workload">"logistic", "knn" or "products".</param>
/// <param name="Party">The party.</param>
/// <param name="Score">Test accuracy (logistic, knn: at the querier) or the worst absolute error (products); null where this party does not learn it.</param>
/// <param name="Items">Rows trained on, queries classified, or products computed.</param>
/// <param name="Predictions">The querier's predicted classes (knn), to compare with the twin.</param>
/// <param name="Rounds">Rounds of this workload.</param>
/// <param name="BytesSent">Bytes this party sent to the other parties in it.</param>
/// <param name="Seconds">Wall time of it at this party.</param>
public sealed record MpcWorkloadReport(string Workload, int Party, double? Score, int Items, int[]? Predictions, uint Rounds, long BytesSent, double Seconds);

/// <summary>One workload across its parties, next to its plaintext twin.</summary>
/// <param name="Workload">"logistic", "knn" or "products".</param>
/// <param name="Items">Rows, queries or products.</param>
/// <param name="Score">The secure result's accuracy (or worst error for products).</param>
/// <param name="Plaintext">The twin's accuracy, where there is a twin.</param>
/// <param name="EqualPredictions">For KNN: whether every predicted class equals the twin's.</param>
/// <param name="Seconds">The slowest party's wall time.</param>
/// <param name="Rounds">Rounds.</param>
/// <param name="BytesPerParty">Bytes each party sent, in party order.</param>
public sealed record MpcWorkloadSummary(string Workload, int Items, double? Score, double? Plaintext, bool? EqualPredictions, double Seconds, uint Rounds, long[] BytesPerParty);

/// <summary>The plaintext twins of the demo's workloads.</summary>
/// <param name="LogisticAccuracy">Test accuracy of the twin logistic regression.</param>
/// <param name="KnnPredictions">The twin KNN's classes for the test queries.</param>
/// <param name="KnnAccuracy">Their accuracy.</param>
/// <param name="Hybrid">Per hybrid workload: the quantized network's classes (the twin), their accuracy, and how many equal the float network's.</param>
public sealed record MpcDemoTwin(double LogisticAccuracy, int[] KnnPredictions, double KnnAccuracy, IReadOnlyDictionary<string, (int[] Predictions, double Accuracy, int FloatAgreement)> Hybrid);

/// <summary>
/// The MPC part of the main job, the same at every party (in one process or in separate ones): hospitals hold blocks of
/// the breast-cancer training rows and train a logistic regression together (<see cref="SecretSharedLogisticRegression"/>),
/// then hold blocks of iris and answer the last party's queries by exact KNN (<see cref="SecretSharedKnn"/>). Each
/// party loads the shipped data and keeps only its block, standing in for its own records. With HE triples (two
/// or three parties, no dealer at all: BFV-made triples and comparison masks) the same workloads run, cut to size.
/// </summary>
public static class MpcDemo
{
    /// <summary>
    /// The options as run: with HE triples (BFV makes ≈ 75,000 triples and ≈ 360 comparisons a second, against the
    /// dealer's millions and ≈ 20,000), 3 gradient steps, 5 KNN queries, 10 digits and 5 Fashion-MNIST images.
    /// </summary>
    public static MpcDemoOptions Effective(MpcDemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var o = options with { KnnQueries = Math.Clamp(options.KnnQueries, 1, 30) };
        return o.HeTriples
            ? o with { Iterations = Math.Min(o.Iterations, 3), KnnQueries = Math.Min(o.KnnQueries, 5), DigitsImages = Math.Min(o.DigitsImages, 10), FashionImages = Math.Min(o.FashionImages, 5) }
            : o;
    }

    /// <summary>Products of the HE-triples workload.</summary>
    public const int HeProducts = 64;

    /// <summary>Runs this party's side of every workload.</summary>
    public static async Task<IReadOnlyList<MpcWorkloadReport>> RunPartyAsync(MpcSession session, MpcDemoOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(options);
        var reports = new List<MpcWorkloadReport>();
        int parties = session.Parties, me = session.Party;
        options = Effective(options);
        if (options.HeTriples)
        {
            var format = FixedPointFormat.Default;
            var (x, y) = ProductInputs(options.Seed);
            // Party 0 holds x, party 1 holds y: each shares its own vector, then the products use triples made between them.
            var clock = Stopwatch.StartNew();
            var (rounds, bytes) = (session.Rounds, session.BytesSent);
            var lengths = Enumerable.Range(0, parties).Select(p => p < 2 ? HeProducts : 0).ToArray();
            var shares = await session.ShareInputsAsync(me == 0 ? format.Encode(x) : me == 1 ? format.Encode(y) : [], lengths, cancellationToken).ConfigureAwait(false);
            var product = await SecureArithmetic.MultiplyFixedAsync(session, shares[0], shares[1], format, cancellationToken).ConfigureAwait(false);
            var opened = format.Decode(await session.OpenAsync(product, cancellationToken).ConfigureAwait(false));
            double worst = opened.Select((v, i) => Math.Abs(v - x[i] * y[i])).Max();
            reports.Add(new MpcWorkloadReport("products", me, worst, HeProducts, null, session.Rounds - rounds, session.BytesSent - bytes, clock.Elapsed.TotalSeconds));
        }
        {
            var (train, test) = LogisticData(options.Seed);
            var (rows, labels) = Block(train, me, parties);
            var clock = Stopwatch.StartNew();
            var (rounds, bytes) = (session.Rounds, session.BytesSent);
            var model = await SecretSharedLogisticRegression.TrainPartyAsync(session, rows, labels, train.Columns,
                new SecureLogisticRegressionOptions { Iterations = options.Iterations }, cancellationToken: cancellationToken).ConfigureAwait(false);
            double accuracy = Metrics.Accuracy(test.Targets, model.Predict(test.Features));
            reports.Add(new MpcWorkloadReport("logistic", me, accuracy, train.Rows, null, session.Rounds - rounds, session.BytesSent - bytes, clock.Elapsed.TotalSeconds));
        }
        {
            var (train, test) = KnnData(options.Seed);
            var (rows, labels) = Block(train, me, parties);
            int querier = parties - 1;
            var clock = Stopwatch.StartNew();
            var (rounds, bytes) = (session.Rounds, session.BytesSent);
            var result = await SecretSharedKnn.ClassifyPartyAsync(session, rows, labels, train.Columns, train.ClassCount, options.K, querier,
                me == querier ? test.Features[..options.KnnQueries] : null, cancellationToken: cancellationToken).ConfigureAwait(false);
            double? accuracy = result.Predictions is null ? null : Metrics.Accuracy(test.Targets[..options.KnnQueries], [.. result.Predictions.Select(c => (double)c)]);
            reports.Add(new MpcWorkloadReport("knn", me, accuracy, options.KnnQueries, result.Predictions, session.Rounds - rounds, session.BytesSent - bytes, clock.Elapsed.TotalSeconds));
        }
        if (parties == 2)
            foreach (var (name, model, images, labels) in HybridWorkloads(options))
            {
                // Party 0 is the client with the images, party 1 the server with the network (trained on its own data).
                var quantized = me == 1 ? new QuantizedReluMlp(model) : null;
                var clock = Stopwatch.StartNew();
                var (rounds, bytes) = (session.Rounds, session.BytesSent);
                int[]? predictions = null;
                if (me == 0) predictions = (await HybridReluInference.ClientAsync(session, images, cancellationToken).ConfigureAwait(false)).Predictions;
                else await HybridReluInference.ServerAsync(session, quantized!, cancellationToken).ConfigureAwait(false);
                double? accuracy = predictions is null ? null : Metrics.Accuracy(labels, [.. predictions.Select(c => (double)c)]);
                reports.Add(new MpcWorkloadReport(name, me, accuracy, images.Length, predictions, session.Rounds - rounds, session.BytesSent - bytes, clock.Elapsed.TotalSeconds));
            }
        return reports;
    }

    /// <summary>The plaintext twins (pooled data in the clear, the same steps).</summary>
    public static MpcDemoTwin Twin(MpcDemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options = Effective(options);
        var (train, test) = LogisticData(options.Seed);
        var logistic = SecretSharedLogisticRegression.TrainPlaintext(train.Features, train.Targets, new SecureLogisticRegressionOptions { Iterations = options.Iterations });
        var (kTrain, kTest) = KnnData(options.Seed);
        var knn = SecretSharedKnn.ClassifyPlaintext(kTrain.Features, kTrain.Targets, kTrain.ClassCount, options.K, kTest.Features[..options.KnnQueries]);
        var hybrid = new Dictionary<string, (int[], double, int)>();
        foreach (var (name, model, images, labels) in HybridWorkloads(options))
        {
            var predictions = new QuantizedReluMlp(model).Predict(images);
            var floats = model.Predict(images);
            hybrid[name] = (predictions, Metrics.Accuracy(labels, [.. predictions.Select(c => (double)c)]), predictions.Zip(floats).Count(p => p.First == p.Second));
        }
        return new MpcDemoTwin(Metrics.Accuracy(test.Targets, logistic.Predict(test.Features)), knn, Metrics.Accuracy(kTest.Targets[..options.KnnQueries], [.. knn.Select(c => (double)c)]), hybrid);
    }

    /// <summary>Each workload's reports from every party gathered, beside the twin (null for the HE-triples products, which have none).</summary>
    public static IReadOnlyList<MpcWorkloadSummary> Summarize(IEnumerable<MpcWorkloadReport> reports, MpcDemoTwin? twin)
    {
        ArgumentNullException.ThrowIfNull(reports);
        return [.. reports.GroupBy(r => r.Workload).Select(g =>
        {
            var scored = g.FirstOrDefault(r => r.Score is not null) ?? g.First();
            double? plain = g.Key switch { "logistic" => twin?.LogisticAccuracy, "knn" => twin?.KnnAccuracy, _ => twin?.Hybrid.TryGetValue(g.Key, out var h) == true ? h.Accuracy : null };
            int[]? expected = g.Key == "knn" ? twin?.KnnPredictions : twin?.Hybrid.TryGetValue(g.Key, out var hp) == true ? hp.Predictions : null;
            bool? equal = expected is null ? null : scored.Predictions?.SequenceEqual(expected) ?? false;
            return new MpcWorkloadSummary(g.Key, scored.Items, scored.Score, plain, equal, g.Max(r => r.Seconds), g.Max(r => r.Rounds), [.. g.OrderBy(r => r.Party).Select(r => r.BytesSent)]);
        })];
    }

    /// <summary>Every party in this process (tasks over in-process channels, a dealer unless HE triples are asked for).</summary>
    public static IReadOnlyList<MpcWorkloadReport>[] RunInProcess(int parties, MpcDemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sources = options.HeTriples ? Enumerable.Range(0, parties).Select(_ => (ITripleSource)new BfvTriples()).ToArray() : null;
        return InProcessRun.Parties(parties, i => sources?[i] ?? DealerTriples.Instance, s => RunPartyAsync(s, options));
    }

    /// <summary>
    /// Median wall time of the whole demo (training, KNN and for two parties the hybrid inferences, every party in this
    /// process with a dealer) against its plaintext twins (which include training the ReLU networks), over <paramref name="reps"/> runs: the slowdown of MPC over the same work in the clear.
    /// </summary>
    public static (double SecureSeconds, double PlaintextSeconds) Benchmark(int parties, int reps, MpcDemoOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);
        options ??= new MpcDemoOptions();
        var secure = new double[reps];
        var plain = new double[reps];
        for (int r = 0; r < reps; r++)
        {
            var clock = Stopwatch.StartNew();
            RunInProcess(parties, options with { HeTriples = false });
            secure[r] = clock.Elapsed.TotalSeconds;
            clock.Restart();
            Twin(options);
            plain[r] = clock.Elapsed.TotalSeconds;
        }
        static double Median(double[] v) { Array.Sort(v); return v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]); }
        return (Median(secure), Median(plain));
    }

    /// <summary>
    /// The hybrid workloads: ReLU networks trained (deterministically) on digits (64-32-10, pixels/16) and, when installed,
    /// Fashion-MNIST (784-64-10 on 6,000 training images), each with its test images; a one-image digits run for latency.
    /// </summary>
    public static IEnumerable<(string Name, ReluMlp Model, double[][] Images, double[] Labels)> HybridWorkloads(MpcDemoOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.DigitsImages > 0)
        {
            var (train, test) = DataSplit.TrainTest(BuiltinDatasets.Digits(), 0.2, options.Seed, stratify: true);
            double[][] Scale(double[][] rows) => [.. rows.Select(r => r.Select(v => v / 16).ToArray())];
            var model = ReluMlp.Train(Scale(train.Features), train.Targets, hidden: 32, epochs: 15, seed: options.Seed);
            int count = Math.Min(options.DigitsImages, test.Rows);
            yield return ("hybrid-digits", model, Scale(test.Features[..count]), test.Targets[..count]);
            yield return ("hybrid-digits-latency", model, Scale(test.Features[..1]), test.Targets[..1]);
        }
        if (options.FashionImages > 0 && FashionMnist.IsInstalled())
        {
            var (train, test) = FashionMnist.Load(maxTrain: 6000, maxTest: options.FashionImages);
            yield return ("hybrid-fashion", ReluMlp.Train(train.Features, train.Targets, hidden: 64, epochs: 4, seed: options.Seed), test.Features, test.Targets);
        }
    }

    private static (double[] X, double[] Y) ProductInputs(int seed)
    {
        var rng = new Random(seed);
        return ([.. Enumerable.Range(0, HeProducts).Select(_ => (rng.NextDouble() - 0.5) * 20)], [.. Enumerable.Range(0, HeProducts).Select(_ => (rng.NextDouble() - 0.5) * 20)]);
    }

    private static (Dataset Train, Dataset Test) LogisticData(int seed) => DataSplit.TrainTest(BuiltinDatasets.BreastCancer(), 0.2, seed, stratify: true);

    private static (Dataset Train, Dataset Test) KnnData(int seed) => DataSplit.TrainTest(BuiltinDatasets.Iris(), 0.2, seed, stratify: true);

    private static (double[][] Rows, double[] Labels) Block(Dataset train, int party, int parties)
    {
        int from = train.Rows * party / parties, to = train.Rows * (party + 1) / parties;
        return (train.Features[from..to], train.Targets[from..to]);
    }
}
