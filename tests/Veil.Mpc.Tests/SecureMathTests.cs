namespace Veil.Mpc.Tests;

public class SecureMathTests
{
    private static readonly FixedPointFormat F = FixedPointFormat.Default;

    private static async Task<double[]> Evaluate(int parties, double[] x, Func<MpcSession, ulong[], Task<ulong[]>> function)
    {
        var shares = Sharing.Split(F.Encode(x), parties);
        var results = await Harness.Run(parties, async s => F.Decode(await s.OpenAsync(await function(s, shares[s.Party]))));
        Assert.All(results, r => Assert.Equal(results[0], r));
        return results[0];
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Exp_FollowsTheLimitMethod_WithinItsErrorBound(int parties)
    {
        double[] x = [-12, -5.5, -2, -1, -0.25, 0, 1e-3, 0.5, 1, 2.5, 4, 5.3];
        var got = await Evaluate(parties, x, (s, v) => SecureMath.ExpAsync(s, v, F));
        for (int i = 0; i < x.Length; i++)
        {
            double exact = Math.Exp(x[i]);
            // The method's relative error x²/2^(n+1), and 2^−(f − n) from rounding doubled by each squaring.
            double bound = exact * (x[i] * x[i] / 512 * 1.2 + Math.ScaleB(1, -7)) + Math.ScaleB(1, -14);
            Assert.True(Math.Abs(got[i] - exact) <= bound, $"exp({x[i]}) = {got[i]}, expected {exact} ± {bound}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Reciprocal_AndDivision_ConvergeOnTheirDomain(int parties)
    {
        double[] y = [0.05, 0.3, 1, 1.5, 2, 7, 31.25, 100, 200];
        double[] x = [1, -2, 3.5, 0.1, -7, 100, 1, -50, 3];
        var inverse = await Evaluate(parties, y, (s, v) => SecureMath.ReciprocalAsync(s, v, F));
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(inverse[i] - 1 / y[i]) <= 1e-3 / y[i] + Math.ScaleB(1, -14), $"1/{y[i]} = {inverse[i]}");
        var xs = Sharing.Split(F.Encode(x), parties);
        var ys = Sharing.Split(F.Encode(y), parties);
        var quotients = await Harness.Run(parties, async s => F.Decode(await s.OpenAsync(await SecureMath.DivideAsync(s, xs[s.Party], ys[s.Party], F))));
        for (int i = 0; i < y.Length; i++)
        {
            double exact = x[i] / y[i];
            Assert.True(Math.Abs(quotients[0][i] - exact) <= 2e-3 * Math.Abs(exact) + Math.ScaleB(1, -12), $"{x[i]}/{y[i]} = {quotients[0][i]}, expected {exact}");
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Sigmoid_IsWithinItsBound_OverTheWholeFormat(int parties)
    {
        var rng = new Random(parties);
        var x = new double[] { 0, 1e-4, -1e-4, 0.5, -0.5, 3, -3, 10, -10, 40, -40, 255.9, -255.9 }
            .Concat(Enumerable.Range(0, 40).Select(_ => (rng.NextDouble() - 0.5) * 24)).ToArray();
        var got = await Evaluate(parties, x, (s, v) => SecureMath.SigmoidAsync(s, v, F));
        for (int i = 0; i < x.Length; i++)
        {
            double exact = 1 / (1 + Math.Exp(-x[i]));
            Assert.True(Math.Abs(got[i] - exact) <= Math.ScaleB(1, -8), $"σ({x[i]}) = {got[i]}, expected {exact}");
        }
    }

    [Fact]
    public async Task Sigmoid_TakesTheDocumentedRounds()
    {
        var shares = Sharing.Split(F.Encode([0.3, -2]), 2);
        var rounds = await Harness.Run(2, async s => { await SecureMath.SigmoidAsync(s, shares[s.Party], F); return s.Rounds; });
        Assert.Equal(29u, rounds[0]);
    }

    [Fact]
    public async Task Exp_RefusesAnIterationCountOutsideTheFormat()
    {
        var shares = Sharing.Split(F.Encode([1.0]), 2);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Harness.Run(2, s => SecureMath.ExpAsync(s, shares[s.Party], F, 17)));
    }
}
