using Veil.Ckks;
using Veil.Ml.Encrypted;
using Veil.Rlwe;

namespace Veil.Ml.Tests.Encrypted;

public class EncryptedGradientDescentTests
{
    private static (double[][] x, double[] y) Sample(int rows, int features, int seed, bool logistic)
    {
        var rng = new Random(seed);
        var trueW = Enumerable.Range(0, features).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var x = new double[rows][];
        var y = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            x[i] = Enumerable.Range(0, features).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            double z = 0.3 + x[i].Zip(trueW, (a, b) => a * b).Sum();
            y[i] = logistic ? (z + 0.3 * (rng.NextDouble() - 0.5) > 0 ? 1 : 0) : z + 0.1 * (rng.NextDouble() - 0.5);
        }
        return (x, y);
    }

    private static CkksContext Context(int depth, int features)
    {
        // N = 8192 with 30-bit primes: insecure on purpose for depth > 5 (test only), keeps the test fast.
        var literal = new CkksParametersLiteral
        {
            LogN = 13, LogQ = [60, .. Enumerable.Repeat(30, depth)], LogP = [60], LogDefaultScale = 30, Security = SecurityLevel.InsecureNoCheck,
        };
        var p = CkksParameters.Create(literal, SecurityLevel.InsecureNoCheck);
        return CkksContext.Create(p, EncryptedTrainingSet.RequiredRotations(features, p.Slots));
    }

    [Theory]
    [InlineData(false, 3)]
    [InlineData(true, 2)]
    public void EncryptedFit_MatchesPlaintextTwin(bool logistic, int iterations)
    {
        const int features = 6, rows = 200;
        var (x, y) = Sample(rows, features, logistic ? 1 : 2, logistic);
        var options = new GradientDescentOptions { Iterations = iterations, LearningRate = 1.0 };
        int depth = iterations * EncryptedGradientDescent.DepthPerIteration(logistic, options) + 1;
        using var owner = Context(depth, features);
        var data = EncryptedTrainingSet.Encrypt(owner, x, y);
        var trainer = owner.ToPublic();
        Assert.Throws<InvalidOperationException>(() => trainer.Decrypt(data.Features[0]));
        var encryptedWeights = EncryptedGradientDescent.Fit(trainer, data, options, logistic);
        var (b, w) = EncryptedGradientDescent.DecryptWeights(owner, encryptedWeights, features);
        var (b0, w0) = EncryptedGradientDescent.FitPlaintext(x, y, options, logistic);
        Assert.True(Math.Abs(b - b0) < 1e-3, $"intercept {b} vs {b0}");
        for (int j = 0; j < features; j++) Assert.True(Math.Abs(w[j] - w0[j]) < 1e-3, $"w[{j}] {w[j]} vs {w0[j]}");
    }

    [Fact]
    public void Fit_RefusesMoreIterationsThanLevels()
    {
        var (x, y) = Sample(16, 3, 3, false);
        using var owner = Context(4, 3);
        var data = EncryptedTrainingSet.Encrypt(owner, x, y);
        var ex = Assert.Throws<InvalidOperationException>(() => EncryptedGradientDescent.Fit(owner.ToPublic(), data, new GradientDescentOptions { Iterations = 3 }, false));
        Assert.Contains("levels", ex.Message);
    }

    [Fact]
    public void ParameterSelector_PicksTheSmallestSecureRing()
    {
        var literal = ParameterSelector.Select(depth: 25, slots: 4096, logScale: 30);
        Assert.Equal(15, literal.LogN);
        var p = CkksParameters.Create(literal);
        Assert.Equal(25, p.MaxLevel);
        Assert.True(p.Ring.LogQP <= 881);
        var small = ParameterSelector.Select(depth: 3, slots: 1000);
        Assert.Equal(13, small.LogN);
        Assert.Equal(32, small.LogDefaultScale); // (218 − 120) / 3, the largest scale that fits
        var deep = ParameterSelector.Select(depth: 21, slots: 14560);
        Assert.Equal(3, deep.LogP.Length); // 22 chain primes in ≤ 8 digits
        Assert.Equal(30, deep.LogDefaultScale);
        Assert.True(CkksParameters.Create(deep).Ring.LogQP <= 881);
        Assert.Throws<ArgumentException>(() => ParameterSelector.Select(depth: 200, slots: 4096));
    }

    [Fact]
    public void RefreshMode_DecryptsOnlyTheWeights_AndReencryptsTheirLayout()
    {
        // The review: refresh said it decrypted "only the weights" but decrypted and re-encrypted every slot.
        using var owner = Context(3, 5);
        int slots = owner.Parameters.Slots, width = EncryptedTrainingSet.WidthFor(5);
        var state = new double[slots];
        for (int i = 0; i < slots; i++) state[i] = i % width <= 5 ? 0.1 * (i % width) - 0.2 : 1000 + i; // garbage beyond the weights
        var refreshed = EncryptedGradientDescent.RefreshWeights(owner, owner.Encrypt(state), 5, width);
        Assert.Equal(owner.Parameters.MaxLevel, refreshed.Level);
        var back = owner.Decrypt(refreshed);
        for (int i = 0; i < slots; i++)
        {
            double expected = i % width <= 5 ? 0.1 * (i % width) - 0.2 : 0; // the first block's weights, repeated; padding zero
            Assert.True(Math.Abs(back[i] - expected) < 1e-4, $"slot {i}: {back[i]} vs {expected}");
        }
        Assert.Throws<ArgumentException>(() => EncryptedGradientDescent.RefreshWeights(owner, refreshed, 5, 6));
    }
}
