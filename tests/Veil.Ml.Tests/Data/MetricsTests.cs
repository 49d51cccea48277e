using Veil.Ml.Data;

namespace Veil.Ml.Tests.Data;

public sealed class MetricsTests
{
    [Fact]
    public void Accuracy_CountsMatches()
    {
        Assert.Equal(0.75, Metrics.Accuracy([0, 1, 2, 1], [0, 1, 1, 1]));
    }

    [Fact]
    public void MeanSquaredErrorAndR2_MatchHandValues()
    {
        double[] y = [1, 2, 3, 4];
        double[] p = [1.5, 2, 2.5, 4];
        Assert.Equal(0.125, Metrics.MeanSquaredError(y, p), 15); // (0.25 + 0 + 0.25 + 0) / 4
        Assert.Equal(0.9, Metrics.R2(y, p), 15);                 // 1 − 0.5 / 5
        Assert.Equal(1.0, Metrics.R2(y, y));
        Assert.Equal(-3.0, Metrics.R2([0, 2], [2, 0]), 15);      // SSres = 8, SStot = 2
    }

    [Fact]
    public void R2_OfConstantTruthIsOneOrZero()
    {
        Assert.Equal(1.0, Metrics.R2([3, 3], [3, 3]));
        Assert.Equal(0.0, Metrics.R2([3, 3], [3, 4]));
    }

    [Fact]
    public void Auc_PerfectAndReversedRankings()
    {
        Assert.Equal(1.0, Metrics.Auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9]));
        Assert.Equal(0.0, Metrics.Auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.9]));
        Assert.Equal(0.5, Metrics.Auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]));
    }

    [Fact]
    public void Auc_AveragesTiedRanks()
    {
        // Positives 0.35, 0.8, 0.4; negatives 0.1, 0.4, 0.4. Pairs won: 1 + 3 + (1 + ½ + ½) = 6 of 9.
        // By ranks: 0.1→1, 0.35→2, 0.4×3→4 (mean of 3, 4, 5), 0.8→6; R₊ = 2 + 4 + 6 = 12; (12 − 6) / 9.
        Assert.Equal(6.0 / 9, Metrics.Auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.4, 0.4]), 15);
    }

    [Fact]
    public void Auc_RejectsSingleClassAndNonBinaryLabels()
    {
        Assert.Throws<ArgumentException>(() => Metrics.Auc([1, 1], [0.2, 0.3]));
        Assert.Throws<ArgumentException>(() => Metrics.Auc([0, 2], [0.2, 0.3]));
    }

    [Fact]
    public void ConfusionMatrix_CountsTrueByPredicted()
    {
        var m = Metrics.ConfusionMatrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2]);
        Assert.Equal(new int[,] { { 1, 1, 0 }, { 0, 1, 0 }, { 1, 0, 2 } }, m);
        Assert.Equal(4, Metrics.ConfusionMatrix([0], [0], classCount: 4).GetLength(0));
    }

    [Fact]
    public void ConfusionMatrix_RejectsIndexBeyondClassCount()
    {
        Assert.Throws<ArgumentException>(() => Metrics.ConfusionMatrix([0, 3], [0, 1], classCount: 3));
        Assert.Throws<ArgumentException>(() => Metrics.ConfusionMatrix([0.5], [0]));
    }

    [Fact]
    public void Metrics_RejectMismatchedOrEmptyInputs()
    {
        Assert.Throws<ArgumentException>(() => Metrics.Accuracy([1, 2], [1]));
        Assert.Throws<ArgumentException>(() => Metrics.R2([], []));
        Assert.Throws<ArgumentException>(() => Metrics.MeanSquaredError([double.NaN], [1]));
    }
}
