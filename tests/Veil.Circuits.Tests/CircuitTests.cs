using Veil.Ckks;
using Veil.Circuits;
using Veil.Rlwe;

namespace Veil.Circuits.Tests;

/// <summary>N = 4096 with eight levels: insecure on purpose (420 bits &gt; 109), for fast deep-circuit tests.</summary>
public sealed class DeepContext
{
    public static readonly Lazy<DeepContext> Instance = new(() => new DeepContext());
    public CkksParameters Parameters { get; }
    public KeyGenerator Keys { get; }
    public RelinearizationKey Relin { get; }
    public Encryptor Encryptor { get; }
    public Decryptor Decryptor { get; }
    public CkksEncoder Encoder { get; }
    public CkksEvaluator Evaluator { get; }

    private DeepContext()
    {
        Parameters = CkksParameters.Create(new CkksParametersLiteral
        {
            LogN = 12, LogQ = [60, 40, 40, 40, 40, 40, 40, 40, 40], LogP = [60], Security = SecurityLevel.InsecureNoCheck,
        }, SecurityLevel.InsecureNoCheck);
        Keys = new KeyGenerator(Parameters.Ring);
        Relin = Keys.CreateRelinearizationKey();
        Encryptor = new Encryptor(Parameters.Ring, Keys.CreatePublicKey());
        Decryptor = new Decryptor(Parameters.Ring, Keys.SecretKey);
        Encoder = new CkksEncoder(Parameters);
        Evaluator = new CkksEvaluator(Parameters, Relin);
    }

    public Ciphertext Encrypt(double[] v) => Encryptor.Encrypt(Encoder.Encode(v));
    public double[] Decrypt(Ciphertext c) => Encoder.Decode(Decryptor.Decrypt(c));

    public static double Bits(double[] got, double[] expected, int count)
    {
        double worst = 0;
        for (int i = 0; i < count; i++) worst = Math.Max(worst, Math.Abs(got[i] - expected[i]));
        return worst == 0 ? 64 : -Math.Log2(worst);
    }

    public static double[] Uniform(int n, int seed, double lo, double hi)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * rng.NextDouble()).ToArray();
    }
}

public class ApproximationTests
{
    [Theory]
    [InlineData(3, 0.12)]
    [InlineData(7, 0.03)]
    [InlineData(15, 0.0015)]
    public void SigmoidSeries_MaxErrorOnMinus8To8_IsBelowBound(int degree, double bound)
    {
        var s = Approximations.SigmoidSeries(8, degree);
        double err = s.MaxError(Approximations.Sigmoid);
        Assert.True(err < bound, $"degree {degree}: max error {err:E3}");
    }

    [Fact]
    public void SmoothReluSeries_ApproximatesSoftplus()
    {
        double err = Approximations.SmoothReluSeries(8, 15).MaxError(Approximations.Softplus);
        Assert.True(err < 2e-3, $"max error {err:E3}");
    }

    [Fact]
    public void Interpolate_IsExactForPolynomials()
    {
        Func<double, double> f = x => 3 * x * x * x - 2 * x + 0.5;
        var s = ChebyshevSeries.Interpolate(f, -2, 3, 3);
        Assert.True(s.MaxError(f) < 1e-12);
        Assert.Throws<ArgumentException>(() => new ChebyshevSeries([1.0], 1, 1));
    }
}

public class PolynomialEvaluatorTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(12)]
    public void ChebyshevSigmoid_MatchesPlaintextSeries(int degree)
    {
        var ctx = DeepContext.Instance.Value;
        int n = ctx.Parameters.Slots;
        var x = DeepContext.Uniform(n, degree, -8, 8);
        var series = Approximations.SigmoidSeries(8, degree);
        var ct = ctx.Encrypt(x);
        var result = new PolynomialEvaluator(ctx.Evaluator).Evaluate(ct, series);
        Assert.Equal(ct.Level - series.Depth, result.Level);
        Assert.Equal(ct.Scale, result.Scale, 6);
        var expected = x.Select(series.Evaluate).ToArray();
        double bits = DeepContext.Bits(ctx.Decrypt(result), expected, n);
        Assert.True(bits >= 17, $"degree {degree}: {bits:F2} bits");
    }

    [Theory]
    [InlineData(new[] { 0.5, 0.25, 0.0, -0.125 })]
    [InlineData(new[] { 1.0, -1.0, 0.5, 0.25, -0.5, 0.125 })]
    [InlineData(new[] { 0.0, 0.0, 1.0 })]
    public void PowerBasis_MatchesPlaintext(double[] coefficients)
    {
        var ctx = DeepContext.Instance.Value;
        int n = ctx.Parameters.Slots;
        var x = DeepContext.Uniform(n, 7, -1, 1);
        var result = new PolynomialEvaluator(ctx.Evaluator).EvaluatePowerBasis(ctx.Encrypt(x), coefficients);
        var expected = x.Select(v => coefficients.Select((c, k) => c * Math.Pow(v, k)).Sum()).ToArray();
        double bits = DeepContext.Bits(ctx.Decrypt(result), expected, n);
        Assert.True(bits >= 18, $"{bits:F2} bits");
    }

    [Fact]
    public void DegreeOneAndZero_UseAtMostOneLevel()
    {
        var ctx = DeepContext.Instance.Value;
        int n = ctx.Parameters.Slots;
        var x = DeepContext.Uniform(n, 8, -4, 4);
        var ct = ctx.Encrypt(x);
        var pe = new PolynomialEvaluator(ctx.Evaluator);
        var linear = pe.Evaluate(ct, new ChebyshevSeries([0.5, 2.0], -4, 4)); // 0.5 + 2·(x/4)
        Assert.Equal(ct.Level - 1, linear.Level);
        Assert.True(DeepContext.Bits(ctx.Decrypt(linear), x.Select(v => 0.5 + v / 2).ToArray(), n) >= 20);
        var constant = pe.EvaluatePowerBasis(ct, [3.0]);
        Assert.True(DeepContext.Bits(ctx.Decrypt(constant), x.Select(_ => 3.0).ToArray(), n) >= 20);
    }

    [Fact]
    public void Evaluate_RefusesWhenLevelsRunOut()
    {
        var ctx = DeepContext.Instance.Value;
        var ct = ctx.Encryptor.Encrypt(ctx.Encoder.Encode([0.5], ctx.Parameters.DefaultScale, 2));
        var ex = Assert.Throws<InvalidOperationException>(() => new PolynomialEvaluator(ctx.Evaluator).Evaluate(ct, Approximations.SigmoidSeries(8, 7)));
        Assert.Contains("needs 4 levels", ex.Message);
    }

    [Theory]
    [InlineData(1, false, 1)]
    [InlineData(2, false, 2)]
    [InlineData(3, true, 3)]
    [InlineData(3, false, 2)]
    [InlineData(7, true, 4)]
    [InlineData(7, false, 3)]
    [InlineData(15, false, 4)]
    [InlineData(8, false, 4)]
    public void DepthOf_IsDocumentedFormula(int degree, bool affine, int depth) =>
        Assert.Equal(depth, PolynomialEvaluator.DepthOf(degree, affine));

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(13)]
    [InlineData(15)]
    public void ActualLevelsUsed_EqualDepthOf_InBothBases(int degree)
    {
        var ctx = DeepContext.Instance.Value;
        int n = ctx.Parameters.Slots;
        var x = DeepContext.Uniform(n, degree + 40, -1, 1);
        var coefficients = Enumerable.Range(0, degree + 1).Select(k => 1.0 / (k + 1)).ToArray();
        var ct = ctx.Encrypt(x);
        var pe = new PolynomialEvaluator(ctx.Evaluator);
        var power = pe.EvaluatePowerBasis(ct, coefficients);
        Assert.Equal(ct.Level - PolynomialEvaluator.DepthOf(degree, false), power.Level);
        var expected = x.Select(v => coefficients.Select((c, k) => c * Math.Pow(v, k)).Sum()).ToArray();
        Assert.True(DeepContext.Bits(ctx.Decrypt(power), expected, n) >= 17);
        var series = new ChebyshevSeries(coefficients, -1, 1);
        var cheb = pe.Evaluate(ct, series);
        Assert.Equal(ct.Level - PolynomialEvaluator.DepthOf(degree, false), cheb.Level);
        Assert.True(DeepContext.Bits(ctx.Decrypt(cheb), x.Select(series.Evaluate).ToArray(), n) >= 17);
    }
}

public class LinearTransformTests
{
    private static double[][] RandomMatrix(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, cols).Select(_ => 2 * rng.NextDouble() - 1).ToArray()).ToArray();
    }

    private static double[] Periodic(double[] v, int n, int slots) => Enumerable.Range(0, slots).Select(i => i % n < v.Length ? v[i % n] : 0).ToArray();

    [Theory]
    [InlineData(16, 16, null)]
    [InlineData(16, 16, 1)]
    [InlineData(16, 16, 16)]
    [InlineData(10, 7, null)]
    [InlineData(64, 30, 8)]
    public void MatrixVector_MatchesPlaintext_WithOnlyTheRequiredKeys(int rows, int cols, int? baby)
    {
        var ctx = DeepContext.Instance.Value;
        int slots = ctx.Parameters.Slots;
        var m = RandomMatrix(rows, cols, rows * 100 + cols);
        var transform = LinearTransform.MatrixVector(m, slots, baby);
        var keys = ctx.Keys.CreateRotationKeys(transform.RequiredRotations);
        var ev = new CkksEvaluator(ctx.Parameters, ctx.Relin, keys);
        var x = DeepContext.Uniform(cols, 3, -1, 1);
        var ct = ctx.Encrypt(Periodic(x, transform.Dimension, slots));
        var y = transform.Apply(ev, ctx.Encoder, ct);
        Assert.Equal(ct.Level - 1, y.Level);
        Assert.Equal(ct.Scale, y.Scale, 6);
        var got = ctx.Decrypt(y);
        var expected = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, cols).Sum(c => m[r][c] * x[c])).ToArray();
        Assert.True(DeepContext.Bits(got, expected, rows) >= 18, $"{DeepContext.Bits(got, expected, rows):F2} bits");
        // The output is periodic too, so transforms chain.
        for (int i = 0; i < slots; i++) Assert.True(Math.Abs(got[i] - got[i % transform.Dimension]) < 1e-4);
    }

    [Fact]
    public void VectorMatrix_IsTheTransposedProduct()
    {
        var ctx = DeepContext.Instance.Value;
        int slots = ctx.Parameters.Slots;
        var m = RandomMatrix(8, 5, 9);
        var transform = LinearTransform.VectorMatrix(m, slots);
        var ev = new CkksEvaluator(ctx.Parameters, ctx.Relin, ctx.Keys.CreateRotationKeys(transform.RequiredRotations));
        var x = DeepContext.Uniform(8, 4, -1, 1);
        var got = ctx.Decrypt(transform.Apply(ev, ctx.Encoder, ctx.Encrypt(Periodic(x, transform.Dimension, slots))));
        var expected = Enumerable.Range(0, 5).Select(c => Enumerable.Range(0, 8).Sum(r => x[r] * m[r][c])).ToArray();
        Assert.True(DeepContext.Bits(got, expected, 5) >= 18);
    }

    [Fact]
    public void RequiredRotations_AreBabyAndGiantSteps()
    {
        var t = LinearTransform.MatrixVector(RandomMatrix(64, 64, 1), 2048, 8);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 32, 40, 48, 56 }, t.RequiredRotations);
        Assert.Throws<ArgumentException>(() => LinearTransform.MatrixVector(RandomMatrix(64, 64, 1), 2048, 3));
        Assert.Throws<ArgumentException>(() => LinearTransform.MatrixVector([[1.0, 2.0], [3.0]], 2048));
    }

    [Fact]
    public void SumWithinBlocks_AndReplicate()
    {
        var ctx = DeepContext.Instance.Value;
        int slots = ctx.Parameters.Slots, n = 32;
        var steps = SlotOperations.SumRotations(n).Concat(SlotOperations.ReplicateRotations(n, slots));
        var ev = new CkksEvaluator(ctx.Parameters, ctx.Relin, ctx.Keys.CreateRotationKeys(steps));
        var v = DeepContext.Uniform(n, 5, -1, 1);
        var replicated = SlotOperations.Replicate(ev, ctx.Encrypt(v), n);
        var r = ctx.Decrypt(replicated);
        for (int i = 0; i < slots; i++) Assert.True(Math.Abs(r[i] - v[i % n]) < 1e-5);
        var sums = ctx.Decrypt(SlotOperations.SumWithinBlocks(ev, replicated, n));
        double total = v.Sum();
        for (int i = 0; i < slots; i += 97) Assert.True(Math.Abs(sums[i] - total) < 1e-4, $"{sums[i]} vs {total}");
    }
}

public class DiagonalTransformTests
{
    private static double[][] RandomMatrix(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, cols).Select(_ => 2 * rng.NextDouble() - 1).ToArray()).ToArray();
    }

    [Theory]
    [InlineData(10, 100, null)]  // wide: many blocks folded
    [InlineData(100, 40, null)]  // tall: one block, columns below the row index wrap round
    [InlineData(16, 16, 1)]      // no giant steps
    [InlineData(7, 300, 64)]
    public void Rectangular_MatchesPlaintext_IgnoringWhatLiesBeyondTheInput(int rows, int cols, int? giant)
    {
        var ctx = DeepContext.Instance.Value;
        int slots = ctx.Parameters.Slots;
        var m = RandomMatrix(rows, cols, rows * 7 + cols);
        var (transform, width) = DiagonalTransform.Rectangular(m, slots, giant);
        var steps = transform.RequiredRotations.Concat(DiagonalTransform.FoldRotations(width, slots));
        var ev = new CkksEvaluator(ctx.Parameters, ctx.Relin, ctx.Keys.CreateRotationKeys(steps));
        var x = DeepContext.Uniform(cols, 5, -1, 1);
        // Junk after the input (the partial sums a previous layer leaves) must not matter.
        var packed = x.Concat(DeepContext.Uniform(slots - cols, 6, -3, 3)).ToArray();
        var ct = ctx.Encrypt(packed);
        var y = DiagonalTransform.Fold(ev, transform.Apply(ev, ctx.Encoder, ct), width);
        Assert.Equal(ct.Level - 1, y.Level);
        var got = ctx.Decrypt(y);
        var expected = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, cols).Sum(c => m[r][c] * x[c])).ToArray();
        Assert.True(DeepContext.Bits(got, expected, rows) >= 16, $"{DeepContext.Bits(got, expected, rows):F2} bits");
    }

    [Fact]
    public void SparseOffsets_ComputeTheSumOfRotatedProducts_AndNegativeOffsetsWork()
    {
        var ctx = DeepContext.Instance.Value;
        int slots = ctx.Parameters.Slots;
        var offsets = new[] { -300, -3, 0, 5, 144, 288, 1000 };
        var diagonals = offsets.ToDictionary(o => o, o => DeepContext.Uniform(slots, 100 + o + 400, -1, 1));
        var transform = new DiagonalTransform(diagonals, slots);
        Assert.Equal(offsets.Length, transform.DiagonalCount);
        var ev = new CkksEvaluator(ctx.Parameters, ctx.Relin, ctx.Keys.CreateRotationKeys(transform.RequiredRotations));
        var x = DeepContext.Uniform(slots, 7, -1, 1);
        var got = ctx.Decrypt(transform.Apply(ev, ctx.Encoder, ctx.Encrypt(x)));
        var expected = Enumerable.Range(0, slots).Select(i => offsets.Sum(o => diagonals[o][i] * x[((i + o) % slots + slots) % slots])).ToArray();
        Assert.True(DeepContext.Bits(got, expected, slots) >= 16, $"{DeepContext.Bits(got, expected, slots):F2} bits");
    }

    [Fact]
    public void ApplyScaling_MultipliesTheScale_AndInputsOfAnyScaleShareOnePlaintextSet()
    {
        // Bootstrapping's SlotToCoeff meets inputs whose scales differ in their last bits: keyed on the target scale,
        // each would have encoded (and kept) a plaintext set of its own.
        var ctx = DeepContext.Instance.Value;
        int slots = ctx.Parameters.Slots;
        var offsets = new[] { 0, 1, 7 };
        var diagonals = offsets.ToDictionary(o => o, o => DeepContext.Uniform(slots, 30 + o, -1, 1));
        var transform = new DiagonalTransform(diagonals, slots);
        var circuit = new CkksCircuitEvaluator(new CkksEvaluator(ctx.Parameters, ctx.Relin, ctx.Keys.CreateRotationKeys(transform.RequiredRotations)), ctx.Encoder);
        var x = DeepContext.Uniform(slots, 8, -1, 1);
        var expected = Enumerable.Range(0, slots).Select(i => offsets.Sum(o => diagonals[o][i] * x[(i + o) % slots])).ToArray();
        const double factor = 1.0 / 64;
        foreach (double scale in new[] { ctx.Parameters.DefaultScale, ctx.Parameters.DefaultScale * (1 + 1e-9), ctx.Parameters.DefaultScale * 3 })
        {
            var ct = ctx.Encryptor.Encrypt(ctx.Encoder.Encode(x, scale, ctx.Parameters.MaxLevel));
            var y = transform.ApplyScaling(circuit, ct, factor);
            Assert.Equal(scale * factor, y.Scale, scale * factor * 1e-12);
            Assert.True(DeepContext.Bits(ctx.Decrypt(y), expected, slots) >= 14, $"scale {scale:E3}: {DeepContext.Bits(ctx.Decrypt(y), expected, slots):F2} bits");
        }
        Assert.Equal(1, transform.CachedPlaintextSets);
        Assert.Throws<ArgumentException>(() => transform.ApplyScaling(circuit, ctx.Encrypt(x), 0));
        Assert.Throws<ArgumentException>(() => transform.ApplyScaling(circuit, ctx.Encrypt(x), double.NaN));
    }

    [Fact]
    public void GiantStep_IsChosenToSaveRotations_AndBadInputsAreRejected()
    {
        int slots = 2048;
        var diagonals = Enumerable.Range(0, 64).ToDictionary(t => t, t => Enumerable.Repeat(1.0, slots).ToArray());
        var t = new DiagonalTransform(diagonals, slots);
        var (baby, giant) = t.RotationCount;
        // Baby steps cost an inner product each and giant steps a whole rotation (double hoisting), so 64 consecutive
        // diagonals take G = 16: 15 baby steps, 3 giant steps, 4 divisions by P — not 7 + 7 nor 63 + 0.
        Assert.True(giant <= 3 && baby <= 15, $"{baby} baby + {giant} giant steps for 64 consecutive diagonals");
        Assert.Throws<ArgumentException>(() => new DiagonalTransform(new Dictionary<int, double[]> { [1] = new double[slots - 1] }, slots));
        Assert.Throws<ArgumentException>(() => new DiagonalTransform(new Dictionary<int, double[]> { [1] = new double[slots] }, slots));
        Assert.Throws<ArgumentException>(() => new DiagonalTransform(new Dictionary<int, double[]> { [1] = Enumerable.Repeat(double.NaN, slots).ToArray() }, slots));
        Assert.Throws<ArgumentException>(() => DiagonalTransform.Rectangular(RandomMatrix(4, slots, 1), slots));
    }
}
