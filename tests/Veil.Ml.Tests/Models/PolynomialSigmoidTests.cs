using Veil.Ml.Models;
using Xunit.Abstractions;

namespace Veil.Ml.Tests.Models;

public sealed class PolynomialSigmoidTests(ITestOutputHelper output)
{
    public static TheoryData<int, double> ErrorBounds => new()
    {
        // Measured max |σ̃ − σ| on [−8, 8]: 0.1138 (degree 3), 0.0613 (degree 5), 0.0321 (degree 7).
        { 3, 0.12 },
        { 5, 0.065 },
        { 7, 0.035 },
    };

    [Theory, MemberData(nameof(ErrorBounds))]
    public void MaxError_OnMinusEightToEight_IsBelowBound(int degree, double bound)
    {
        var sigmoid = new PolynomialSigmoid(degree);
        output.WriteLine($"{sigmoid}: {string.Join(", ", sigmoid.Coefficients.Select(c => c.ToString("G6")))}");
        Assert.True(sigmoid.MaxError < bound, $"max error {sigmoid.MaxError}");
        Assert.True(sigmoid.MaxError > bound / 2, "the bound should be tight, not vacuous");
        for (double x = -8; x <= 8; x += 0.01)
            Assert.True(Math.Abs(sigmoid.Evaluate(x) - PolynomialSigmoid.Exact(x)) <= sigmoid.MaxError + 1e-9);
    }

    [Fact]
    public void Degree3_MatchesKimEtAl2018()
    {
        // Kim, Song, Kim, Lee, Cheon (2018): σ₃(x) = 0.5 + 0.15012·x − 0.001593·x³ on [−8, 8].
        var c = new PolynomialSigmoid(3, 8).Coefficients;
        Assert.Equal(0.5, c[0]);
        Assert.Equal(0.15012, c[1], 4);
        Assert.Equal(0, c[2]);
        Assert.Equal(-0.001593, c[3], 6);
    }

    [Fact]
    public void Degree7_MatchesKimEtAl2018()
    {
        // σ₇(x) = 0.5 + 0.216884·x − 0.00819276·x³ + 0.000165861·x⁵ − 0.00000119581·x⁷.
        var c = new PolynomialSigmoid(7, 8).Coefficients;
        Assert.Equal(1, 0.216884 / c[1], 3);
        Assert.Equal(1, -0.00819276 / c[3], 3);
        Assert.Equal(1, 0.000165861 / c[5], 3);
        Assert.Equal(1, -0.00000119581 / c[7], 3);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(9)]
    public void Coefficients_AreHalfPlusOddPowers(int degree)
    {
        var s = new PolynomialSigmoid(degree, 8);
        Assert.Equal(degree, s.Degree);
        Assert.Equal(degree + 1, s.Coefficients.Count);
        Assert.Equal(0.5, s.Coefficients[0]);
        for (int k = 2; k <= degree; k += 2) Assert.Equal(0, s.Coefficients[k]);
        foreach (double x in new[] { 0.3, 2.5, 7.9 })
        {
            Assert.Equal(1, s.Evaluate(x) + s.Evaluate(-x), 12);
            double powerSum = s.Coefficients.Select((c, k) => c * Math.Pow(x, k)).Sum();
            Assert.Equal(powerSum, s.Evaluate(x), 12);
        }
    }

    [Fact]
    public void MaxError_ShrinksWithDegreeAndGrowsWithBound()
    {
        Assert.True(new PolynomialSigmoid(5).MaxError < new PolynomialSigmoid(3).MaxError);
        Assert.True(new PolynomialSigmoid(7).MaxError < new PolynomialSigmoid(5).MaxError);
        Assert.True(new PolynomialSigmoid(3, 16).MaxError > new PolynomialSigmoid(3, 8).MaxError);
        Assert.Equal(16, new PolynomialSigmoid(3, 16).Bound);
    }

    [Theory]
    [InlineData(0, 8)]
    [InlineData(2, 8)]
    [InlineData(11, 8)]
    [InlineData(3, 0)]
    [InlineData(3, double.NaN)]
    [InlineData(3, double.PositiveInfinity)]
    public void Constructor_RejectsUnsupportedDegreeOrBound(int degree, double bound)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PolynomialSigmoid(degree, bound));
    }

    [Fact]
    public void Exact_DoesNotOverflow()
    {
        Assert.Equal(1.0, PolynomialSigmoid.Exact(800));
        Assert.Equal(0.0, PolynomialSigmoid.Exact(-800));
        Assert.Equal(0.5, PolynomialSigmoid.Exact(0));
    }
}
