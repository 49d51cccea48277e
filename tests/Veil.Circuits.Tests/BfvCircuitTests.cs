using System.Numerics;
using Veil.Bfv;

namespace Veil.Circuits.Tests;

/// <summary>The circuits written once, run on BFV: exact results mod t where CKKS gives approximations.</summary>
public class BfvCircuitTests
{
    private static readonly Lazy<BfvContext> Context = new(() =>
    {
        var p = BfvParameters.Create(14, new[] { 54, 54, 54, 54, 54 }, new[] { 55 }, BfvParameters.BatchingPrime(20, 14));
        return BfvContext.Create(p, SlotOperations.SumRotations(16).Concat(LinearTransform.MatrixVector(Identity(8), p.N / 2).RequiredRotations));
    });

    private static double[][] Identity(int n) => Enumerable.Range(0, n).Select(r => Enumerable.Range(0, n).Select(c => r == c ? 1.0 : 0).ToArray()).ToArray();

    private static long Mod(BigInteger x, long t) { var r = (long)(x % t); if (r < 0) r += t; if (r > t / 2) r -= t; return r; }

    [Fact]
    public void PolynomialEvaluator_OnBfv_IsExactModT()
    {
        var ctx = Context.Value;
        long t = (long)ctx.Parameters.PlainModulus;
        var ev = new BfvCircuitEvaluator(ctx.Evaluator, ctx.Encoder);
        int half = ctx.Parameters.N / 2;
        var rng = new Random(1);
        var x = Enumerable.Range(0, half).Select(_ => (long)rng.Next(-300, 301)).ToArray();
        var ct = ctx.Encrypt([.. x, .. x]);
        double[] coefficients = [3, 2, -1, 5, 0, 0, 0, 1]; // 3 + 2x − x² + 5x³ + x⁷
        var result = new PolynomialEvaluator(ev).EvaluatePowerBasis(ct, coefficients);
        var got = ctx.Decrypt(result);
        for (int i = 0; i < half; i++)
        {
            BigInteger v = x[i], expected = 3 + 2 * v - v * v + 5 * v * v * v + BigInteger.Pow(v, 7);
            Assert.Equal(Mod(expected, t), got[i]);
        }
        Assert.True(ctx.NoiseBudget(result) > 0);
    }

    [Fact]
    public void SlotSums_AndALinearTransform_OnBfv_AreExact()
    {
        var ctx = Context.Value;
        long t = (long)ctx.Parameters.PlainModulus;
        var ev = new BfvCircuitEvaluator(ctx.Evaluator, ctx.Encoder);
        int half = ctx.Parameters.N / 2;
        var x = Enumerable.Range(0, half).Select(i => (long)(i % 16 + 1000 * (i / 16 % 3))).ToArray();
        var sums = ctx.Decrypt(SlotOperations.SumWithinBlocks(ev, ctx.Encrypt([.. x, .. x]), 16));
        for (int block = 0; block < 4; block++)
            Assert.Equal(Mod(Enumerable.Range(block * 16, 16).Aggregate(BigInteger.Zero, (s, i) => s + x[i]), t), sums[block * 16]);

        // M·x for a period-8 vector: the baby-step giant-step transform, exact.
        var m = Enumerable.Range(0, 8).Select(r => Enumerable.Range(0, 8).Select(c => (double)((r * 3 + c * 5) % 7 - 3)).ToArray()).ToArray();
        var transform = LinearTransform.MatrixVector(m, half);
        var v = Enumerable.Range(0, half).Select(i => (long)(i % 8 * 11 - 20)).ToArray();
        var y = ctx.Decrypt(transform.Apply(ev, ctx.Encrypt([.. v, .. v])));
        for (int r = 0; r < 8; r++)
            Assert.Equal(Mod(Enumerable.Range(0, 8).Aggregate(BigInteger.Zero, (s, c) => s + (BigInteger)(long)m[r][c] * v[c]), t), y[r]);
    }
}
