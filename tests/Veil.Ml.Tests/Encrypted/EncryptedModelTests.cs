using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;
using Veil.Rlwe;

namespace Veil.Ml.Tests.Encrypted;

public class EncryptedModelTests
{
    // N = 4096 with 30-bit primes: insecure on purpose (test only) so that keys take a fraction of a second.
    private static CkksParametersLiteral Small(int depth) => new()
    {
        LogN = 12, LogQ = [60, .. Enumerable.Repeat(30, depth)], LogP = [60], LogDefaultScale = 30, Security = SecurityLevel.InsecureNoCheck,
    };

    private static (Dataset Train, Dataset Test) Sample(Dataset data, int rows, int features, int seed, bool stratify)
    {
        var rng = new Random(seed);
        var picked = Enumerable.Range(0, data.Rows).OrderBy(_ => rng.Next()).Take(rows).ToArray();
        var x = picked.Select(i => data.Features[i][..features]).ToArray();
        var y = picked.Select(i => data.Targets[i]).ToArray();
        var small = new Dataset(x, y, data.FeatureNames[..features], data.TargetName, data.ClassNames);
        return DataSplit.TrainTest(small, 0.25, seed, stratify);
    }

    [Fact]
    public void LogisticRegression_EncryptedAgreesWithTwin_OnBreastCancerSample()
    {
        var (train, test) = Sample(BuiltinDatasets.BreastCancer(), 160, 10, 1, stratify: true);
        var options = new EncryptedModelOptions { GradientDescent = new GradientDescentOptions { Iterations = 2, LearningRate = 2 }, Parameters = Small(9), MinimumSecurity = SecurityLevel.InsecureNoCheck };
        var encrypted = new EncryptedLogisticRegression(options);
        encrypted.Fit(train.Features, train.Targets);
        var twin = (EncryptedLogisticRegression)encrypted.PlaintextTwin();
        twin.Fit(train.Features, train.Targets);
        Assert.Null(twin.Report);
        Assert.Equal(2, encrypted.Report!.Iterations);
        Assert.Equal(twin.Predict(test.Features), encrypted.Predict(test.Features));
        Assert.True(Math.Abs(encrypted.Intercept - twin.Intercept) < 2e-3);
        for (int j = 0; j < 10; j++) Assert.True(Math.Abs(encrypted.Weights[j] - twin.Weights[j]) < 2e-3, $"w[{j}]");
        Assert.True(twin.Score(test.Features, test.Targets) > 0.85);
    }

    [Fact]
    public void NesterovLogisticRegression_EncryptedAgreesWithTwin()
    {
        var (train, test) = Sample(BuiltinDatasets.BreastCancer(), 160, 10, 5, stratify: true);
        var gd = new GradientDescentOptions { Iterations = 3, LearningRate = 2, Nesterov = true };
        var options = new EncryptedModelOptions { GradientDescent = gd, Parameters = Small(13), MinimumSecurity = SecurityLevel.InsecureNoCheck };
        var encrypted = new EncryptedLogisticRegression(options);
        encrypted.Fit(train.Features, train.Targets);
        var twin = (EncryptedLogisticRegression)encrypted.PlaintextTwin();
        twin.Fit(train.Features, train.Targets);
        Assert.Equal(twin.Predict(test.Features), encrypted.Predict(test.Features));
        for (int j = 0; j < 10; j++) Assert.True(Math.Abs(encrypted.Weights[j] - twin.Weights[j]) < 3e-3, $"w[{j}] {encrypted.Weights[j]} vs {twin.Weights[j]}");
        // Momentum changes the result: the twin without it ends elsewhere.
        var plain = new EncryptedLogisticRegression(options with { Encrypted = false, GradientDescent = gd with { Nesterov = false } });
        plain.Fit(train.Features, train.Targets);
        double largestDifference = Enumerable.Range(0, 10).Max(j => Math.Abs(plain.Weights[j] - twin.Weights[j]));
        Assert.True(largestDifference > 1e-3, $"momentum made no difference ({largestDifference})");
    }

    [Fact]
    public void LinearRegression_EncryptedR2WithinAHundredthOfTwin_OnDiabetesSample()
    {
        var (train, test) = Sample(BuiltinDatasets.Diabetes(), 200, 10, 2, stratify: false);
        var options = new EncryptedModelOptions { GradientDescent = new GradientDescentOptions { Iterations = 3, LearningRate = 0.3 }, Parameters = Small(10), MinimumSecurity = SecurityLevel.InsecureNoCheck };
        var encrypted = new EncryptedLinearRegression(options);
        encrypted.Fit(train.Features, train.Targets);
        var twin = (EncryptedLinearRegression)encrypted.PlaintextTwin();
        twin.Fit(train.Features, train.Targets);
        double e = encrypted.Score(test.Features, test.Targets), p = twin.Score(test.Features, test.Targets);
        Assert.True(Math.Abs(e - p) < 0.01, $"R² encrypted {e} vs twin {p}");
        Assert.True(p > 0.2, $"twin R² {p}");
    }

    [Fact]
    public void RefreshMode_RunsMoreIterationsThanOneChainHolds_AndMatchesTwin()
    {
        var (train, test) = Sample(BuiltinDatasets.BreastCancer(), 120, 8, 3, stratify: true);
        var options = new EncryptedModelOptions
        {
            GradientDescent = new GradientDescentOptions { Iterations = 4, LearningRate = 1 },
            RefreshEvery = 2,
            Parameters = Small(9), MinimumSecurity = SecurityLevel.InsecureNoCheck, // holds 2 iterations, not 4
        };
        var encrypted = new EncryptedLogisticRegression(options);
        encrypted.Fit(train.Features, train.Targets);
        Assert.Equal(2, encrypted.Report!.Rounds);
        var twin = (EncryptedLogisticRegression)encrypted.PlaintextTwin();
        twin.Fit(train.Features, train.Targets);
        Assert.Equal(twin.Predict(test.Features), encrypted.Predict(test.Features));
        for (int j = 0; j < 8; j++) Assert.True(Math.Abs(encrypted.Weights[j] - twin.Weights[j]) < 3e-3, $"w[{j}]");
        // Without refresh the same chain is refused.
        var noRefresh = new EncryptedLogisticRegression(options with { RefreshEvery = 0 });
        Assert.Throws<InvalidOperationException>(() => noRefresh.Fit(train.Features, train.Targets));
    }

    [Fact]
    public void OneVsRest_OnIris_AgreesWithTwin()
    {
        var iris = BuiltinDatasets.Iris();
        var (train, test) = DataSplit.TrainTest(iris, 0.3, 4, stratify: true);
        var options = new EncryptedModelOptions { GradientDescent = new GradientDescentOptions { Iterations = 2, LearningRate = 2 }, Parameters = Small(9), MinimumSecurity = SecurityLevel.InsecureNoCheck };
        var encrypted = new EncryptedOneVsRest(options);
        encrypted.Fit(train.Features, train.Targets);
        var twin = encrypted.PlaintextTwin();
        twin.Fit(train.Features, train.Targets);
        Assert.Equal(twin.Predict(test.Features), encrypted.Predict(test.Features));
        Assert.True(twin.Score(test.Features, test.Targets) >= 0.7, $"{twin.Score(test.Features, test.Targets)}");
    }

    // N = 4096 bootstrappable chain, insecure on purpose (test only): 5 levels for computation, restored by each bootstrap.
    private static Veil.Circuits.BootstrappingPreset SmallBootstrapping => Veil.Circuits.BootstrappingPreset.Layout("ml-test", 12, 55, 5, 40,
        new Veil.Circuits.BootstrappingParameters { CoeffToSlotLevels = 2, SlotToCoeffLevels = 2, SecretHammingWeight = 32 },
        logSlotToCoeff: 45, logEvalMod: 60, logCoeffToSlot: 58, logP: [61, 61], SecurityLevel.InsecureNoCheck);

    [Fact]
    public void Logistic_regression_bootstraps_past_its_chain_and_agrees_with_its_twin()
    {
        var (train, test) = Sample(BuiltinDatasets.BreastCancer(), 160, 6, 5, stratify: true);
        var options = new EncryptedModelOptions
        {
            // 4 levels an iteration, 5 left after a bootstrap: one iteration per bootstrap, from the bootstrap's output level.
            GradientDescent = new GradientDescentOptions { Iterations = 3, LearningRate = 2 },
            Bootstrapping = SmallBootstrapping, MinimumSecurity = SecurityLevel.InsecureNoCheck,
        };
        var encrypted = new EncryptedLogisticRegression(options);
        encrypted.Fit(train.Features, train.Targets);
        Assert.Equal(1, encrypted.Report!.Rounds); // the key owner decrypted only the final model
        Assert.Equal(2, encrypted.Report.Bootstraps);
        var twin = (EncryptedLogisticRegression)encrypted.PlaintextTwin();
        twin.Fit(train.Features, train.Targets);
        Assert.Equal(twin.Predict(test.Features), encrypted.Predict(test.Features));
        Assert.True(Math.Abs(encrypted.Intercept - twin.Intercept) < 1e-3, $"intercept {encrypted.Intercept} vs {twin.Intercept}");
        for (int j = 0; j < 6; j++) Assert.True(Math.Abs(encrypted.Weights[j] - twin.Weights[j]) < 1e-3, $"w[{j}] {encrypted.Weights[j]} vs {twin.Weights[j]}");
        // Bootstrapping and refresh rounds exclude each other.
        Assert.Throws<ArgumentException>(() => new EncryptedLogisticRegression(options with { RefreshEvery = 2 }).Fit(train.Features, train.Targets));
    }
}
