using Veil.Ml.Data;
using Veil.Ml.Models;

namespace Veil.Ml.Tests.Data;

public sealed class DatasetTests
{
    [Fact]
    public void Constructor_CopiesItsArguments()
    {
        double[][] x = [[1, 2], [3, 4]];
        double[] y = [0, 1];
        string[] names = ["a", "b"];
        var data = new Dataset(x, y, names, "t", ["no", "yes"]);
        x[0][0] = 99;
        y[0] = 1;
        names[0] = "z";
        Assert.Equal(1, data.Features[0][0]);
        Assert.Equal(0, data.Targets[0]);
        Assert.Equal("a", data.FeatureNames[0]);
        Assert.Equal((2, 2, 2), (data.Rows, data.Columns, data.ClassCount));
    }

    [Fact]
    public void Constructor_ValidatesShapesValuesAndClassIndices()
    {
        Assert.Throws<ArgumentException>(() => new Dataset([[1.0], [2.0, 3.0]], [0, 0], ["a"], "t"));
        Assert.Throws<ArgumentException>(() => new Dataset([[1.0]], [0, 1], ["a"], "t"));
        Assert.Throws<ArgumentException>(() => new Dataset([[1.0]], [0], ["a", "b"], "t"));
        Assert.Throws<ArgumentException>(() => new Dataset([[double.PositiveInfinity]], [0], ["a"], "t"));
        Assert.Throws<ArgumentException>(() => new Dataset([[1.0]], [2], ["a"], "t", ["x", "y"]));
        Assert.Throws<ArgumentException>(() => new Dataset([[1.0]], [0.5], ["a"], "t", ["x", "y"]));
        Assert.Throws<ArgumentException>(() => new Dataset([], [], ["a"], "t"));
        Assert.Throws<ArgumentNullException>(() => new Dataset([[1.0]], [0], ["a"], null!));
    }

    [Fact]
    public void Subset_SelectsRowsInOrder()
    {
        var data = new Dataset([[1.0], [2.0], [3.0]], [10, 20, 30], ["a"], "t");
        var subset = data.Subset([2, 0, 2]);
        Assert.Equal([30.0, 10, 30], subset.Targets);
        Assert.Equal(3.0, subset.Features[0][0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => data.Subset([3]));
        Assert.Throws<ArgumentException>(() => data.Subset([]));
    }

    [Fact]
    public void WithFeatures_KeepsTargetsAndRequiresTheSameShape()
    {
        var data = new Dataset([[1.0], [2.0]], [0, 1], ["a"], "t", ["n", "p"]);
        var other = data.WithFeatures([[5.0], [6.0]]);
        Assert.Equal([0.0, 1], other.Targets);
        Assert.Equal(["n", "p"], other.ClassNames!);
        Assert.Throws<ArgumentException>(() => data.WithFeatures([[5.0]]));
        Assert.Throws<ArgumentException>(() => data.WithFeatures([[5.0, 1], [6.0, 1]]));
    }

    [Fact]
    public void Models_AcceptDatasetsDirectly()
    {
        var (train, test) = Tests.Models.ModelData.BreastCancer;
        var logistic = new LogisticRegressionGd().Fit(train);
        Assert.Equal(logistic.Score(test.Features, test.Targets), logistic.Score(test));
        var (rTrain, rTest) = Tests.Models.ModelData.Diabetes;
        Assert.Equal(new OrdinaryLeastSquares().Fit(rTrain.Features, rTrain.Targets).Score(rTest.Features, rTest.Targets),
            new OrdinaryLeastSquares().Fit(rTrain).Score(rTest));
        Assert.Equal(new LinearRegressionGd().Fit(rTrain.Features, rTrain.Targets).Score(rTest.Features, rTest.Targets),
            new LinearRegressionGd().Fit(rTrain).Score(rTest));
    }
}
