using Veil.Ml.Data;
using Veil.Ml.Models;
using Xunit.Abstractions;

namespace Veil.Ml.Tests.Models;

public sealed class LogisticRegressionTests(ITestOutputHelper output)
{
    [Fact]
    public void Defaults_OnStandardizedBreastCancer_ReachAccuracy094WithDegree3()
    {
        // Acceptance criterion of the issue: degree-3 polynomial sigmoid, at most 10 iterations, held-out accuracy ≥ 0.94.
        var (train, test) = ModelData.BreastCancer;
        var model = new LogisticRegressionGd().Fit(train.Features, train.Targets);
        Assert.Equal(3, model.Sigmoid.Degree);
        Assert.True(model.Options.Iterations <= 10);
        double accuracy = model.Score(test.Features, test.Targets);
        double auc = Metrics.Auc(test.Targets, model.PredictProbability(test.Features));
        output.WriteLine($"T = {model.Options.Iterations}: accuracy {accuracy:F4}, AUC {auc:F4}, max |margin| {model.MaxAbsMargin:F1}");
        Assert.True(accuracy >= 0.94, $"accuracy {accuracy}");
        Assert.True(auc >= 0.99, $"AUC {auc}");
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(7)]
    public void AccuracyPerIteration_IsReported(int degree)
    {
        var (train, test) = ModelData.BreastCancer;
        for (int t = 1; t <= 20; t++)
        {
            try
            {
                var m = new LogisticRegressionGd(new() { Iterations = t, SigmoidDegree = degree }).Fit(train.Features, train.Targets);
                double accuracy = m.Score(test.Features, test.Targets);
                output.WriteLine($"degree {degree}, T = {t,2}: accuracy {accuracy:F4}, AUC {Metrics.Auc(test.Targets, m.PredictProbability(test.Features)):F4}, max |margin| {m.MaxAbsMargin:G4}");
                if (t is >= 5 and <= 7) Assert.True(accuracy >= 0.94, $"degree {degree}, T = {t}: accuracy {accuracy}");
            }
            catch (InvalidOperationException e)
            {
                output.WriteLine($"degree {degree}, T = {t,2}: {e.Message}");
                Assert.True(t > 10 && degree != 5, "only long runs with degree 3 or 7 may diverge");
            }
        }
    }

    [Theory]
    [InlineData(3, 0.92)]
    [InlineData(5, 0.94)]
    public void Defaults_AcrossTenSplits_KeepTheirMeanAccuracy(int degree, double floor)
    {
        // Measured means over seeds 0–9: 0.936 (degree 3), 0.950 (degree 5); the seed-42 split is among the easier ones.
        var accuracies = Enumerable.Range(0, 10).Select(seed =>
        {
            var (train, test) = ModelData.Split(BuiltinDatasets.BreastCancer(), seed, stratify: true);
            return new LogisticRegressionGd(new() { SigmoidDegree = degree }).Fit(train.Features, train.Targets).Score(test.Features, test.Targets);
        }).ToArray();
        output.WriteLine($"degree {degree}: mean {accuracies.Average():F4}, min {accuracies.Min():F4}, max {accuracies.Max():F4}");
        Assert.True(accuracies.Average() >= floor, $"mean {accuracies.Average()}");
    }

    [Fact]
    public void Fit_FollowsTheDocumentedUpdateExactly()
    {
        var random = new Random(3);
        var x = Enumerable.Range(0, 40).Select(_ => Enumerable.Range(0, 3).Select(_ => random.NextDouble() * 2 - 1).ToArray()).ToArray();
        var y = x.Select(r => r[0] - 0.5 * r[1] + 0.3 * random.NextDouble() > 0.1 ? 1.0 : 0.0).ToArray();
        foreach (bool nesterov in new[] { true, false })
        foreach (bool decay in new[] { false, true })
        {
            var options = new LogisticRegressionGdOptions { Iterations = 6, LearningRate = 0.9, Nesterov = nesterov, DecayLearningRate = decay, SigmoidDegree = 5 };
            var model = new LogisticRegressionGd(options).Fit(x, y);
            var expected = Reference(x, y, options);
            Assert.Equal(expected[0], model.Intercept, 12);
            for (int j = 0; j < 3; j++) Assert.Equal(expected[j + 1], model.Weights[j], 12);
        }
    }

    /// <summary>The remarks' formulas written out naively: θ = (b, w), λ_0 = 0, γ_t = (1 − λ_t)/λ_{t+1}.</summary>
    private static double[] Reference(double[][] x, double[] y, LogisticRegressionGdOptions o)
    {
        var sigma = new PolynomialSigmoid(o.SigmoidDegree, o.SigmoidBound);
        int d = x[0].Length + 1, n = x.Length;
        double[] w = new double[d], v = new double[d];
        double lambda = 0;
        for (int t = 1; t <= o.Iterations; t++)
        {
            double lambdaT = (1 + Math.Sqrt(1 + 4 * lambda * lambda)) / 2;
            double lambdaNext = (1 + Math.Sqrt(1 + 4 * lambdaT * lambdaT)) / 2;
            double gamma = o.Nesterov ? (1 - lambdaT) / lambdaNext : 0;
            lambda = lambdaT;
            var g = new double[d];
            for (int i = 0; i < n; i++)
            {
                double[] xt = [1, .. x[i]];
                double e = sigma.Evaluate(xt.Zip(v, (a, b) => a * b).Sum()) - y[i];
                for (int j = 0; j < d; j++) g[j] += e * xt[j] / n;
            }
            double alpha = o.DecayLearningRate ? o.LearningRate / t : o.LearningRate;
            var wNext = v.Zip(g, (vj, gj) => vj - alpha * gj).ToArray();
            v = wNext.Zip(w, (a, b) => (1 - gamma) * a + gamma * b).ToArray();
            w = wNext;
        }
        return w;
    }

    [Fact]
    public void MomentumSchedule_MatchesNesterovSequence()
    {
        var gamma = LogisticRegressionGd.MomentumSchedule(4);
        Assert.Equal(0, gamma[0], 15);                 // λ₁ = 1
        Assert.Equal(-0.28175, gamma[1], 5);           // (1 − 1.618034)/2.193527
        Assert.Equal(-0.43404, gamma[2], 5);           // (1 − 2.193527)/2.749791
        Assert.True(gamma[3] < gamma[2] && gamma[3] > -1);
        Assert.Empty(LogisticRegressionGd.MomentumSchedule(0));
    }

    [Fact]
    public void LearningRateAt_DecaysAsEtaOverT()
    {
        var o = new LogisticRegressionGdOptions { LearningRate = 3, DecayLearningRate = true };
        Assert.Equal([3.0, 1.5, 1.0], new[] { 1, 2, 3 }.Select(o.LearningRateAt));
        Assert.Equal(3.0, (o with { DecayLearningRate = false }).LearningRateAt(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => o.LearningRateAt(0));
    }

    [Fact]
    public void PredictProbability_UsesTheExactSigmoid()
    {
        var (train, test) = ModelData.BreastCancer;
        var model = new LogisticRegressionGd().Fit(train.Features, train.Targets);
        var margins = model.DecisionFunction(test.Features);
        var probabilities = model.PredictProbability(test.Features);
        var labels = model.Predict(test.Features);
        for (int i = 0; i < margins.Length; i++)
        {
            Assert.Equal(1 / (1 + Math.Exp(-margins[i])), probabilities[i], 12);
            Assert.Equal(margins[i] >= 0 ? 1 : 0, labels[i]);
        }
    }

    [Fact]
    public void Fit_RejectsLabelsOtherThanZeroOrOne()
    {
        Assert.Throws<ArgumentException>(() => new LogisticRegressionGd().Fit([[1.0], [2.0]], [0, 2]));
        Assert.Throws<ArgumentException>(() => new LogisticRegressionGd().Fit([[1.0], [2.0]], [0, 0.5]));
    }

    [Fact]
    public void Model_ThrowsBeforeFit()
    {
        Assert.Throws<InvalidOperationException>(() => new LogisticRegressionGd().Predict([[1.0]]));
        Assert.Throws<InvalidOperationException>(() => new LogisticRegressionGd().Weights);
        Assert.Throws<InvalidOperationException>(() => new LogisticRegressionGd().MaxAbsMargin);
    }

    [Fact]
    public void Options_AreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogisticRegressionGd(new() { Iterations = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogisticRegressionGd(new() { LearningRate = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogisticRegressionGd(new() { SigmoidDegree = 4 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogisticRegressionGd(new() { SigmoidBound = 0 }));
    }
}
