using Veil.Ml.Data;
using Veil.Ml.Encrypted;
using Veil.Rlwe;

namespace Veil.Ml.Tests.Encrypted;

public class EncryptedColumnStatisticsTests
{
    [Fact]
    public void SharedStatistics_AreReleasedWithinTheirBounds_AndOnlyOnce()
    {
        var x = BuiltinDatasets.BreastCancer().Features;
        int rows = x.Length, features = x[0].Length;
        using var owner = new ColumnStatisticsOwner(x);
        Assert.True(owner.PublicContext.IsPublic);
        var (mean, variance) = EncryptedColumnStatistics.Compute(owner.PublicContext, owner.Blocks, rows, features, owner.Stride);
        var released = owner.Release(mean, variance);
        for (int c = 0; c < features; c++)
        {
            double m = x.Average(r => r[c]);
            double v = x.Sum(r => (r[c] - m) * (r[c] - m)) / (rows - 1);
            Assert.True(Math.Abs(released.Mean[c] - m) <= released.MeanErrorBound[c], $"mean {c}: {released.Mean[c]} vs {m}");
            Assert.True(Math.Abs(released.Variance[c] - v) <= released.VarianceErrorBound[c], $"variance {c}: {released.Variance[c]} vs {v}");
            // The bound is useful, not vacuous: within 1 % of each value.
            Assert.True(released.VarianceErrorBound[c] < 0.01 * v + 1e-12 || released.VarianceErrorBound[c] < 1e-2 * owner.ColumnScales[c] * owner.ColumnScales[c]);
        }
        Assert.True(released.PrecisionBits.Mean > 15);
        // The key was made for these two results: a third release is refused.
        Assert.Throws<DecryptionBudgetExhaustedException>(() => owner.Release(mean, variance));
    }
}
