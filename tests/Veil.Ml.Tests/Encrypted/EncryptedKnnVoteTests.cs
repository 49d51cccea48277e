using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;
using Veil.Rlwe;

namespace Veil.Ml.Tests.Encrypted;

public class EncryptedKnnVoteTests
{
    // N = 4096 with 29-bit primes: insecure on purpose (test only) so that keys take a fraction of a second.
    private static CkksParametersLiteral Small(int depth, int logN = 12) => new()
    {
        LogN = logN, LogQ = [60, .. Enumerable.Repeat(29, depth)], LogP = [60, 60], LogDefaultScale = 29, Security = SecurityLevel.InsecureNoCheck,
    };

    /// <summary>Every other training row of iris (60 references) and the test rows, split as the CLI does.</summary>
    private static (double[][] X, double[] Y, double[][] Queries) IrisSample()
    {
        var (train, test) = DataSplit.TrainTest(BuiltinDatasets.Iris(), 0.2, 42, stratify: true);
        var rows = Enumerable.Range(0, train.Rows).Where(i => i % 2 == 0).ToArray();
        return (rows.Select(i => train.Features[i]).ToArray(), rows.Select(i => train.Targets[i]).ToArray(), test.Features);
    }

    private static EncryptedKnnVote FitSmall(double[][] x, double[] y, int radii)
    {
        var knn = new EncryptedKnnVote(k: 5, radii);
        knn.FitPlaintext(x, y);
        knn.Fit(x, y, Small(knn.Circuit!.Depth), SecurityLevel.InsecureNoCheck);
        return knn;
    }

    private static double PlaintextKnn(double[][] references, double[] labels, double[] query, int k)
    {
        var d = references.Select(r => r.Zip(query, (a, b) => (a - b) * (a - b)).Sum()).ToArray();
        var nearest = Enumerable.Range(0, d.Length).OrderBy(i => d[i]).Take(k).ToArray();
        return nearest.GroupBy(i => labels[i]).OrderByDescending(g => g.Count()).ThenBy(g => g.Min(i => d[i])).First().Key;
    }

    [Fact]
    public void EncryptedTallies_MatchPlaintextTwin_OnIrisSample()
    {
        var (x, y, queries) = IrisSample();
        using var knn = FitSmall(x, y, radii: 32);
        Assert.Equal(1, knn.QueriesPerCiphertext);
        var sample = queries.Take(4).ToArray();
        var twin = knn.PlaintextTallies(sample);
        var encrypted = knn.Tallies(sample);
        for (int i = 0; i < sample.Length; i++)
            for (int c = 0; c < 3; c++)
                Assert.True(Math.Abs(encrypted[i][c] - twin[i][c]) < 0.05, $"query {i}, class {c}: {encrypted[i][c]} vs {twin[i][c]}");
        Assert.Equal(knn.PlaintextPredict(sample), knn.Predict(sample));
    }

    [Fact]
    public void Batch_SharesOneCiphertext_AndEveryLaneHoldsOnlyItsTallies()
    {
        var (x, y, queries) = IrisSample();
        using var knn = FitSmall(x, y, radii: 8);
        int lanes = knn.QueriesPerCiphertext;
        Assert.Equal(4, lanes); // 60 references × 8 radii × 4 queries = 1920 ≤ 2048 slots
        var batch = queries.Skip(8).Take(lanes).ToArray();
        var owner = knn.OwnerContext!;
        var tallies = knn.Vote(owner.ToPublic(), knn.EncryptQueries(batch));
        Assert.Equal(3, tallies.Count);
        var twin = knn.PlaintextTallies(batch);
        double alpha = knn.Circuit!.Alpha;
        for (int c = 0; c < 3; c++)
        {
            // The owner sees the class's tally of query g in every slot ≡ g (mod G): no distance, no partial sum.
            var slots = owner.Decrypt(tallies[c]);
            for (int i = 0; i < slots.Length; i++)
                Assert.True(Math.Abs(slots[i] / alpha - twin[i % lanes][c]) < 0.05, $"slot {i}, class {c}: {slots[i] / alpha} vs {twin[i % lanes][c]}");
        }
        var decrypted = knn.DecryptTallies(tallies, lanes);
        Assert.Equal(lanes, decrypted.Length);
    }

    [Theory]
    [InlineData("iris")]
    [InlineData("breast_cancer")]
    public void Twin_AgreesWithPlaintextKnn_OnTheCliSplit(string name)
    {
        var data = name == "iris" ? BuiltinDatasets.Iris() : BuiltinDatasets.BreastCancer();
        var (train, test) = DataSplit.TrainTest(data, 0.2, 42, stratify: true);
        using var knn = new EncryptedKnnVote(k: 5);
        knn.FitPlaintext(train.Features, train.Targets);
        var standardizer = new Standardizer().Fit(train.Features);
        var references = standardizer.Transform(train.Features);
        var knnPredictions = standardizer.Transform(test.Features).Select(q => PlaintextKnn(references, train.Targets, q, 5)).ToArray();
        var twin = knn.PlaintextPredict(test.Features);
        int agree = twin.Zip(knnPredictions, (a, b) => a == b ? 1 : 0).Sum();
        Assert.True(agree >= 0.9 * twin.Length, $"{agree} of {twin.Length} agree");
        Assert.True(Metrics.Accuracy(test.Targets, twin) >= Metrics.Accuracy(test.Targets, knnPredictions) - 0.02);
        Assert.Equal(24, knn.Circuit!.Depth);
    }

    [Fact]
    public void Circuit_CompressesMonotonically_AndItsStepsAreFlat()
    {
        var (x, y, _) = IrisSample();
        using var knn = new EncryptedKnnVote(k: 5);
        knn.FitPlaintext(x, y);
        var circuit = knn.Circuit!;
        Assert.Equal(circuit.HighestPower + 17, circuit.Depth);
        Assert.Equal(1, circuit.Compress(0), 12);
        Assert.Equal(0, circuit.Compress(1), 12);
        for (int i = 1; i <= 1000; i++) Assert.True(circuit.Compress(i / 1000.0) < circuit.Compress((i - 1) / 1000.0));
        for (int s = 1; s < circuit.BlockWidth; s++) Assert.True(circuit.Thresholds[s] < circuit.Thresholds[s - 1]);
        for (double z = -1; z <= 1; z += 1.0 / 512)
        {
            double step = circuit.RadiusStep(z) / circuit.Alpha;
            if (z <= -0.15) Assert.True(Math.Abs(step) < 1e-3, $"P1({z}) = {step}");
            if (z >= 0.15) Assert.True(Math.Abs(step - 1) < 1e-3, $"P1({z}) = {step}");
        }
        double Count(double n) => circuit.CountStep(circuit.Alpha * n - 1 + KnnVoteCircuit.CountOffset);
        Assert.True(Count(0) < 0.01);
        Assert.True(Count(1) < 0.01);
        for (int n = 12; n <= circuit.References; n++) Assert.True(Math.Abs(Count(n) - 1) < 1e-3, $"P2 at {n} = {Count(n)}");
    }

    [Fact]
    public void RejectsBadArguments()
    {
        var (x, y, queries) = IrisSample();
        Assert.Throws<ArgumentOutOfRangeException>(() => new EncryptedKnnVote(k: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EncryptedKnnVote(radii: 12));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EncryptedKnnVote(radii: 4));
        using var knn = new EncryptedKnnVote(k: 5);
        Assert.Throws<InvalidOperationException>(() => knn.Predict(queries));
        Assert.Throws<InvalidOperationException>(() => knn.PlaintextPredict(queries));
        Assert.Throws<ArgumentException>(() => knn.FitPlaintext(x, y[1..]));
        Assert.Throws<ArgumentException>(() => knn.FitPlaintext(x[..5], y[..5]));
        Assert.Throws<ArgumentException>(() => knn.FitPlaintext(x, y.Select(v => v + 0.5).ToArray()));
        knn.FitPlaintext(x, y);
        int depth = knn.Circuit!.Depth;
        Assert.Throws<InvalidOperationException>(() => knn.Predict(queries)); // the twin alone holds no keys
        Assert.Throws<ArgumentException>(() => knn.PlaintextPredict([[1.0, 2.0]]));
        Assert.Throws<ArgumentException>(() => knn.Fit(x, y, Small(depth - 1), SecurityLevel.InsecureNoCheck));
        Assert.Throws<ArgumentException>(() => knn.Fit(x, y, Small(depth, logN: 10), SecurityLevel.InsecureNoCheck)); // 512 slots < 60 × 32
        knn.Fit(x, y, Small(depth), SecurityLevel.InsecureNoCheck);
        Assert.Throws<ArgumentException>(() => knn.EncryptQueries([[1.0, 2.0]]));
        Assert.Throws<ArgumentException>(() => knn.EncryptQueries([queries[0], queries[1]]));
        Assert.Throws<ArgumentException>(() => knn.EncryptQueries([]));
        var tallies = knn.Vote(knn.OwnerContext!.ToPublic(), knn.EncryptQueries([queries[0]]));
        Assert.Throws<ArgumentException>(() => knn.DecryptTallies(tallies.Take(2).ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => knn.DecryptTallies(tallies, 2));
        Assert.Throws<InvalidOperationException>(() => knn.OwnerContext!.ToPublic().Decrypt(tallies[0])); // the computing party cannot read them
    }
}
