using Veil.Federated.Privacy;

namespace Veil.Federated.Tests;

public class RdpAccountantTests
{
    // TensorFlow Privacy's MNIST tutorial table (tutorials/README.md): 60,000 examples, batches of 256, δ = 1e-5.
    [Theory]
    [InlineData(1.12, 60, 2.92)]
    [InlineData(0.6, 30, 9.74)]
    [InlineData(1.2, 10, 1.20)]
    public void MatchesTensorFlowPrivacysPublishedEpsilons(double sigma, int epochs, double published)
    {
        var accountant = new RdpAccountant();
        accountant.Step(sigma, 256.0 / 60000, epochs * 60000L / 256);
        var (eps, _) = accountant.GetEpsilon(1e-5, RdpConversion.Classic);
        Assert.InRange(eps, published - 0.015, published + 0.015);
        // The tighter conversion never gives more.
        Assert.True(accountant.GetEpsilon(1e-5, RdpConversion.Improved).Epsilon <= eps);
    }

    [Fact]
    public void FullParticipationIsTheGaussianMechanismsClosedForm()
    {
        var accountant = new RdpAccountant([2, 8, 32]);
        accountant.Step(2.0, 1, 5);
        Assert.Equal(5 * 2 / (2 * 4.0), accountant.Rdp[0], 12);
        Assert.Equal(5 * 32 / (2 * 4.0), accountant.Rdp[2], 12);
        // ε = min over α of 5α/8 + log(1/δ)/(α − 1), at the three orders.
        double expected = new[] { 2.0, 8, 32 }.Min(a => 5 * a / 8 + Math.Log(1e5) / (a - 1));
        Assert.Equal(expected, accountant.GetEpsilon(1e-5, RdpConversion.Classic).Epsilon, 12);
    }

    [Fact]
    public void IntegerAndFractionalSeriesAgreeNearAnInteger()
    {
        // The fractional series at α = 4 ± 10⁻⁶ must meet the exact binomial sum at α = 4.
        double exact = RdpAccountant.SampledGaussianRdp(0.01, 1.1, 4);
        Assert.Equal(exact, RdpAccountant.SampledGaussianRdp(0.01, 1.1, 4 + 1e-6), 5);
        Assert.Equal(exact, RdpAccountant.SampledGaussianRdp(0.01, 1.1, 4 - 1e-6), 5);
        Assert.True(exact < 4 / (2 * 1.1 * 1.1), "Subsampling must cost less than the full mechanism.");
    }

    [Fact]
    public void EpsilonGrowsWithStepsAndShrinksWithNoise()
    {
        double Eps(double sigma, int steps) { var a = new RdpAccountant(); a.Step(sigma, 0.1, steps); return a.GetEpsilon(1e-5).Epsilon; }
        Assert.True(Eps(1, 100) < Eps(1, 200));
        Assert.True(Eps(2, 100) < Eps(1, 100));
        Assert.Equal(0, new RdpAccountant().GetEpsilon(1e-5).Epsilon);
    }

    [Fact]
    public void RestoredAccountantGivesTheSameEpsilon()
    {
        var a = new RdpAccountant();
        a.Step(1.3, 0.05, 70);
        var b = RdpAccountant.Restore(a.Orders, a.Rdp, a.Steps);
        Assert.Equal(a.GetEpsilon(1e-6).Epsilon, b.GetEpsilon(1e-6).Epsilon);
        Assert.Throws<ArgumentException>(() => RdpAccountant.Restore(a.Orders, a.Rdp.Take(3).ToArray(), 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Step(-1, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Step(1, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.GetEpsilon(0));
    }

    [Fact]
    public void LogErfcMatchesKnownValues()
    {
        Assert.Equal(Math.Log(1.0), RdpAccountant.LogErfc(0), 6);
        Assert.Equal(Math.Log(0.157299207050285), RdpAccountant.LogErfc(1), 5);
        Assert.Equal(Math.Log(1.842700792949715), RdpAccountant.LogErfc(-1), 5);
        // Far tail: erfc(10) = 2.088487583762545e-45.
        Assert.Equal(Math.Log(2.088487583762545e-45), RdpAccountant.LogErfc(10), 5);
    }
}
