using Veil.Ml.Data;
using Veil.Ml.Models;
using Xunit.Abstractions;

namespace Veil.Ml.Tests.Models;

public sealed class LinearRegressionTests(ITestOutputHelper output)
{
    [Fact]
    public void GradientDescent_OnStandardizedDiabetes_IsWithinTwoHundredthsOfOls()
    {
        // Acceptance criterion of the issue: seeded 80/20 split, test R² of GD within 0.02 of OLS.
        var (train, test) = ModelData.Diabetes;
        double ols = new OrdinaryLeastSquares().Fit(train.Features, train.Targets).Score(test.Features, test.Targets);
        var gd = new LinearRegressionGd().Fit(train.Features, train.Targets); // 20 iterations, η = 0.25
        double r2 = gd.Score(test.Features, test.Targets);
        output.WriteLine($"test R²: OLS {ols:F4}, GD (T = {gd.Options.Iterations}, η = {gd.Options.LearningRate}) {r2:F4}");
        for (int t = 1; t <= 20; t++)
            output.WriteLine($"  T = {t,2}: R² {new LinearRegressionGd(new() { Iterations = t }).Fit(train.Features, train.Targets).Score(test.Features, test.Targets):F4}");
        Assert.InRange(r2, ols - 0.02, ols + 0.02);
        Assert.InRange(ols, 0.35, 0.55);
    }

    [Fact]
    public void GradientDescent_FirstStepFollowsTheDocumentedUpdate()
    {
        // x = (1, −1), y = (3, 1), η = 0.5, from zero: r = (−3, −1);
        // b ← 0 − (0.5/2)·(−4) = 1, w ← 0 − (0.5/2)·(−3·1 + (−1)·(−1)) = 0.5.
        var model = new LinearRegressionGd(new() { Iterations = 1, LearningRate = 0.5 }).Fit([[1], [-1]], [3, 1]);
        Assert.Equal(1, model.Intercept, 15);
        Assert.Equal(0.5, model.Weights[0], 15);
    }

    [Fact]
    public void GradientDescent_InterceptFollowsClosedFormOnStandardizedFeatures()
    {
        var (train, _) = ModelData.Diabetes;
        double mean = train.Targets.Average();
        foreach (int t in new[] { 1, 3, 10 })
        {
            var model = new LinearRegressionGd(new() { Iterations = t, LearningRate = 0.25 }).Fit(train.Features, train.Targets);
            Assert.Equal(mean * (1 - Math.Pow(0.75, t)), model.Intercept, 9);
        }
    }

    [Fact]
    public void GradientDescent_ConvergesToOlsOnWellConditionedData()
    {
        var random = new Random(1);
        var x = Enumerable.Range(0, 200).Select(_ => new[] { random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1 }).ToArray();
        var y = x.Select(r => 3 + 2 * r[0] - r[1] + 0.1 * (random.NextDouble() - 0.5)).ToArray();
        var z = new Standardizer().FitTransform(x);
        var ols = new OrdinaryLeastSquares().Fit(z, y);
        var gd = new LinearRegressionGd(new() { Iterations = 500, LearningRate = 0.5 }).Fit(z, y);
        // Agreement to ~1e-9: the OLS ridge (1e-9) is what is left.
        Assert.Equal(ols.Intercept, gd.Intercept, 7);
        for (int j = 0; j < 2; j++) Assert.Equal(ols.Weights[j], gd.Weights[j], 7);
    }

    [Fact]
    public void Ols_RecoversExactCoefficients()
    {
        double[][] x = [[0, 1], [1, 0], [2, 3], [3, 1], [4, 4], [5, 2]];
        var y = x.Select(r => 3 + 2 * r[0] - r[1]).ToArray();
        var model = new OrdinaryLeastSquares().Fit(x, y);
        Assert.Equal(3, model.Intercept, 6);
        Assert.Equal(2, model.Weights[0], 6);
        Assert.Equal(-1, model.Weights[1], 6);
        Assert.Equal(1, model.Score(x, y), 9);
        Assert.Equal(y[2], model.Predict([x[2]])[0], 6);
    }

    [Fact]
    public void Ols_ToleratesDuplicatedColumnThanksToTheRidge()
    {
        double[][] x = [[1, 1], [2, 2], [3, 3], [4, 4]];
        var model = new OrdinaryLeastSquares().Fit(x, [2, 4, 6, 8]);
        Assert.Equal(2, model.Weights[0] + model.Weights[1], 6);
    }

    [Fact]
    public void GradientDescent_ThrowsWhenTheStepDiverges()
    {
        var (train, _) = ModelData.Diabetes;
        var model = new LinearRegressionGd(new() { Iterations = 400, LearningRate = 5 });
        Assert.Throws<InvalidOperationException>(() => model.Fit(train.Features, train.Targets));
    }

    [Fact]
    public void Models_ThrowBeforeFitAndOnShapeMismatch()
    {
        Assert.Throws<InvalidOperationException>(() => new LinearRegressionGd().Predict([[1.0]]));
        Assert.Throws<InvalidOperationException>(() => new OrdinaryLeastSquares().Weights);
        Assert.Throws<InvalidOperationException>(() => new LinearRegressionGd().Intercept);
        var model = new LinearRegressionGd().Fit([[1.0, 2], [2.0, 1]], [1, 2]);
        Assert.Throws<ArgumentException>(() => model.Predict([[1.0]]));
        Assert.Throws<ArgumentException>(() => model.Score([[1.0, 2]], [1, 2]));
        Assert.Throws<ArgumentException>(() => new LinearRegressionGd().Fit([[1.0]], [1, 2]));
        Assert.Throws<ArgumentNullException>(() => new LinearRegressionGd().Fit(null!, [1.0]));
    }

    [Fact]
    public void Options_AreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearRegressionGd(new() { Iterations = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearRegressionGd(new() { LearningRate = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LinearRegressionGd(new() { LearningRate = double.NaN }));
    }
}
