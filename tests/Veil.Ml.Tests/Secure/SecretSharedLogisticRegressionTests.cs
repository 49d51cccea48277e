using Veil.Ml.Data;
using Veil.Ml.Secure;
using Veil.Mpc;

namespace Veil.Ml.Tests.Secure;

public class SecretSharedLogisticRegressionTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void BreastCancer_PartiesTrainTogether_WithinOnePointOfThePlaintextTwin(int parties)
    {
        var (train, test) = DataSplit.TrainTest(BuiltinDatasets.BreastCancer(), 0.2, seed: 7, stratify: true);
        var options = new SecureLogisticRegressionOptions { Iterations = parties == 2 ? 30 : 15 };
        // Hospital p holds a contiguous block of the training rows.
        var blocks = Enumerable.Range(0, parties).Select(p =>
        {
            int from = train.Rows * p / parties, to = train.Rows * (p + 1) / parties;
            return (Rows: train.Features[from..to], Labels: train.Targets[from..to]);
        }).ToArray();
        var models = InProcessRun.Parties(parties, _ => DealerTriples.Instance,
            s => SecretSharedLogisticRegression.TrainPartyAsync(s, blocks[s.Party].Rows, blocks[s.Party].Labels, train.Columns, options));
        var twin = SecretSharedLogisticRegression.TrainPlaintext(train.Features, train.Targets, options);
        Assert.All(models, m => Assert.Equal(models[0].Weights, m.Weights));
        double secure = Metrics.Accuracy(test.Targets, models[0].Predict(test.Features));
        double plain = Metrics.Accuracy(test.Targets, twin.Predict(test.Features));
        Assert.True(Math.Abs(secure - plain) <= 0.01, $"secure {secure:P2}, plaintext twin {plain:P2}");
        Assert.True(plain > 0.93, $"the twin itself reaches only {plain:P2}");
        // The pooled standardization equals the twin's, and the weights follow the twin's closely.
        for (int j = 0; j < train.Columns; j++)
        {
            Assert.Equal(twin.Standardizer.Means[j], models[0].Standardizer.Means[j], 1e-4 * Math.Max(1, Math.Abs(twin.Standardizer.Means[j])));
            Assert.Equal(twin.Standardizer.Scales[j], models[0].Standardizer.Scales[j], 1e-3 * twin.Standardizer.Scales[j]);
            Assert.True(Math.Abs(twin.Weights[j] - models[0].Weights[j]) < 0.05, $"w[{j}] = {models[0].Weights[j]}, twin {twin.Weights[j]}");
        }
        Assert.Equal(train.Rows, models[0].Rows);
    }

    [Fact]
    public void LabelsOtherThanZeroOrOne_AreRefused_BeforeAnythingIsSent()
    {
        var e = Assert.ThrowsAny<Exception>(() => InProcessRun.Parties(2, _ => DealerTriples.Instance,
            s => SecretSharedLogisticRegression.TrainPartyAsync(s, [[1.0, 2.0]], [s.Party == 0 ? 2.0 : 1.0], 2)));
        Assert.IsType<ArgumentException>(e);
        Assert.Contains("labels are 0 or 1", e.Message);
    }
}
