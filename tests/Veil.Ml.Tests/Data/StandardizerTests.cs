using Veil.Ml.Data;

namespace Veil.Ml.Tests.Data;

public sealed class StandardizerTests
{
    [Fact]
    public void Fit_ComputesMeanAndPopulationStandardDeviation()
    {
        var s = new Standardizer().Fit([[1, 5], [3, 5], [5, 5]]);
        Assert.Equal([3.0, 5.0], s.Means);
        Assert.Equal(Math.Sqrt(8.0 / 3), s.Scales[0], 12);
        Assert.Equal(1.0, s.Scales[1]);
    }

    [Fact]
    public void Transform_MapsConstantColumnToZero()
    {
        var z = new Standardizer().FitTransform([[1, 7.3], [3, 7.3], [5, 7.3]]);
        Assert.All(z, row => Assert.Equal(0.0, row[1]));
        Assert.Equal((1 - 3) / Math.Sqrt(8.0 / 3), z[0][0], 12);
    }

    [Fact]
    public void FitTransform_GivesZeroMeanUnitVarianceOnTrainingData()
    {
        var train = BuiltinDatasets.BreastCancer();
        var z = new Standardizer().FitTransform(train);
        for (int j = 0; j < z.Columns; j++)
        {
            double mean = z.Features.Average(r => r[j]);
            double variance = z.Features.Average(r => (r[j] - mean) * (r[j] - mean));
            Assert.Equal(0, mean, 12);
            Assert.Equal(1, variance, 10);
        }
        Assert.Equal(train.Targets, z.Targets);
        Assert.Equal(train.FeatureNames, z.FeatureNames);
    }

    [Fact]
    public void Transform_AppliesTrainingStatisticsToOtherRows()
    {
        var s = new Standardizer().Fit([[0.0], [2.0]]);
        Assert.Equal([[-1.0], [3.0]], s.Transform([[0.0], [4.0]]));
    }

    [Fact]
    public void Transform_DoesNotModifyItsInput()
    {
        double[][] x = [[1, 2], [3, 4]];
        new Standardizer().FitTransform(x);
        Assert.Equal([[1.0, 2], [3.0, 4]], x);
    }

    [Fact]
    public void Transform_ThrowsBeforeFit()
    {
        Assert.Throws<InvalidOperationException>(() => new Standardizer().Transform([[1.0]]));
        Assert.Throws<InvalidOperationException>(() => new Standardizer().Means);
    }

    [Fact]
    public void Transform_RejectsWrongColumnCount()
    {
        var s = new Standardizer().Fit([[1.0, 2], [3.0, 4]]);
        Assert.Throws<ArgumentException>(() => s.Transform([[1.0]]));
    }

    [Fact]
    public void Fit_RejectsRaggedOrNonFiniteRows()
    {
        Assert.Throws<ArgumentException>(() => new Standardizer().Fit([[1.0, 2], [3.0]]));
        Assert.Throws<ArgumentException>(() => new Standardizer().Fit([[1.0, double.NaN]]));
        Assert.Throws<ArgumentException>(() => new Standardizer().Fit([]));
    }
}
