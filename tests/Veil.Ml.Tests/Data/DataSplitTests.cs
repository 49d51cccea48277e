using Veil.Ml.Data;

namespace Veil.Ml.Tests.Data;

public sealed class DataSplitTests
{
    private static string Key(double[] row) => string.Join(",", row);

    [Fact]
    public void TrainTest_IsDeterministicForASeed()
    {
        var data = BuiltinDatasets.BreastCancer();
        var (train1, test1) = DataSplit.TrainTest(data, 0.2, seed: 7, stratify: false);
        var (train2, test2) = DataSplit.TrainTest(data, 0.2, seed: 7, stratify: false);
        var (_, test3) = DataSplit.TrainTest(data, 0.2, seed: 8, stratify: false);
        Assert.Equal(test1.Features, test2.Features);
        Assert.Equal(train1.Targets, train2.Targets);
        Assert.NotEqual(test1.Features.Select(Key), test3.Features.Select(Key));
    }

    [Fact]
    public void TrainTest_PartitionsTheRowsWithRoundedTestSize()
    {
        var data = BuiltinDatasets.BreastCancer();
        var (train, test) = DataSplit.TrainTest(data, 0.2, seed: 1, stratify: false);
        Assert.Equal(114, test.Rows); // round(569 · 0.2) = round(113.8)
        Assert.Equal(455, train.Rows);
        var all = train.Features.Concat(test.Features).Select(Key).Order().ToArray();
        Assert.Equal(data.Features.Select(Key).Order().ToArray(), all);
        Assert.Equal(data.FeatureNames, train.FeatureNames);
        Assert.Equal(data.ClassNames!, test.ClassNames!);
    }

    [Fact]
    public void TrainTest_StratifiesClasses()
    {
        var iris = BuiltinDatasets.Iris();
        var (train, test) = DataSplit.TrainTest(iris, 0.2, seed: 3, stratify: true);
        Assert.Equal(30, test.Rows);
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(10, test.Targets.Count(t => t == k));
            Assert.Equal(40, train.Targets.Count(t => t == k));
        }
    }

    [Fact]
    public void TrainTest_StratifiedQuotasSumToTheTestSize()
    {
        var data = BuiltinDatasets.BreastCancer(); // 212 malignant, 357 benign
        var (_, test) = DataSplit.TrainTest(data, 0.25, seed: 5, stratify: true);
        Assert.Equal(142, test.Rows); // round(142.25)
        Assert.Equal(53, test.Targets.Count(t => t == 0)); // 212 · 142 / 569 = 52.9
        Assert.Equal(89, test.Targets.Count(t => t == 1)); // 357 · 142 / 569 = 89.1
    }

    [Fact]
    public void TrainTest_KeepsOriginalRowOrderWithinEachPart()
    {
        var data = new Dataset([.. Enumerable.Range(0, 20).Select(i => new[] { (double)i })], new double[20], ["i"], "y");
        var (train, test) = DataSplit.TrainTest(data, 0.3, seed: 2, stratify: false);
        Assert.Equal(6, test.Rows);
        Assert.True(train.Features.Select(r => r[0]).SequenceEqual(train.Features.Select(r => r[0]).Order()));
        Assert.True(test.Features.Select(r => r[0]).SequenceEqual(test.Features.Select(r => r[0]).Order()));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void TrainTest_RejectsFractionOutsideZeroOne(double fraction)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSplit.TrainTest(BuiltinDatasets.Iris(), fraction, 0));
    }

    [Fact]
    public void TrainTest_RejectsStratifyingContinuousTargets()
    {
        var data = new Dataset([[1.0], [2.0], [3.0]], [0.5, 1.5, 2.5], ["x"], "y");
        Assert.Throws<ArgumentException>(() => DataSplit.TrainTest(data, 0.3, 0, stratify: true));
    }

    [Fact]
    public void TrainTest_AlwaysLeavesAtLeastOneRowEachSide()
    {
        var data = new Dataset([[1.0], [2.0]], [0, 1], ["x"], "y");
        var (train, test) = DataSplit.TrainTest(data, 0.01, 0);
        Assert.Equal((1, 1), (train.Rows, test.Rows));
    }
}
