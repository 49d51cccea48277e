using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;

namespace Veil.Ml.Tests.Encrypted;

public class EncryptedKnnTests
{
    [Fact]
    public void Iris_EncryptedPredictionsEqualPlaintextKnn()
    {
        var (train, test) = DataSplit.TrainTest(BuiltinDatasets.Iris(), 0.2, 42, stratify: true);
        using var knn = new EncryptedKnn(k: 5);
        knn.Fit(train.Features, train.Targets);
        Assert.Equal(128, (int)knn.Parameters!.Ring.Security);
        var queries = test.Features.Take(12).ToArray();
        Assert.Equal(knn.PlaintextPredict(queries), knn.Predict(queries));
        Assert.True(Metrics.Accuracy(test.Targets.Take(12).ToArray(), knn.Predict(queries)) >= 0.8);
    }

    [Fact]
    public void Distances_HoldOnlyRowTotals()
    {
        var x = new[] { new[] { 1.0, 2.0, 3.0 }, new[] { -1.0, 0.5, 2.0 }, new[] { 0.0, 0.0, 1.0 } };
        using var knn = new EncryptedKnn(k: 1);
        knn.Fit(x, [0, 1, 2]);
        // Each reference is its own nearest neighbour.
        Assert.Equal(new double[] { 0, 1, 2 }, knn.Predict(x));
        Assert.Throws<ArgumentException>(() => new EncryptedKnn(k: 5).Fit(x, [0, 1, 2]));
        Assert.Throws<InvalidOperationException>(() => new EncryptedKnn().Predict(x));
    }
}
