using System.Numerics;
using Veil.Ckks;
using Veil.Rlwe;
using static Veil.Ckks.Tests.CkksTestContext;

namespace Veil.Ckks.Tests;

public class CkksEvaluatorTests
{
    public static TheoryData<string> Sets => new() { "small", "two-special", "A" };

    [Theory, MemberData(nameof(Sets))]
    public void EncodeDecode_WithoutEncryption_IsPreciseTo30Bits(string set)
    {
        var ctx = ByName(set).Value;
        var x = RandomComplex(ctx.Parameters.Slots, 1);
        var decoded = ctx.Encoder.DecodeComplex(ctx.Encoder.Encode(x, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel));
        Assert.True(PrecisionBits(decoded, x) >= 30, $"{PrecisionBits(decoded, x):F2} bits");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void EncodeSparse_RepeatsTheValuesAndRefusesBadCounts(int slots)
    {
        var ctx = ByName("small").Value;
        var x = RandomComplex(slots, 4);
        var decoded = ctx.Encoder.DecodeComplex(ctx.Encoder.EncodeSparse(x, slots, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel));
        var expected = Enumerable.Range(0, ctx.Parameters.Slots).Select(j => x[j % slots]).ToArray();
        Assert.True(PrecisionBits(decoded, expected) >= 30, $"{PrecisionBits(decoded, expected):F2} bits");
        // Repeating n values is invariance under rotation by n: the polynomial lies in the subring of X^(N/2n).
        var rotated = ctx.DecryptComplex(ctx.Evaluator.Rotate(ctx.Encryptor.Encrypt(ctx.Encoder.EncodeSparse(x, slots, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel)), slots));
        Assert.True(PrecisionBits(rotated, expected) >= 20, $"rotated: {PrecisionBits(rotated, expected):F2} bits");
        var reals = x.Select(v => v.Real).ToArray();
        var decodedReals = ctx.Encoder.Decode(ctx.Encoder.EncodeSparse(reals, slots, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel));
        Assert.True(PrecisionBits(decodedReals, Enumerable.Range(0, ctx.Parameters.Slots).Select(j => reals[j % slots]).ToArray()) >= 30);
        Assert.Throws<ArgumentException>(() => ctx.Encoder.EncodeSparse(reals, 3, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel));
        Assert.Throws<ArgumentException>(() => ctx.Encoder.EncodeSparse(x, 3, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel));
        Assert.Throws<ArgumentException>(() => ctx.Encoder.EncodeSparse(RandomComplex(slots + 1, 5), slots, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel));
        Assert.Throws<ArgumentException>(() => ctx.Encoder.EncodeSparse(x, 2 * ctx.Parameters.Slots, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel));
    }

    [Theory, MemberData(nameof(Sets))]
    public void EncryptDecrypt_PublicKey_AtLeast25Bits(string set)
    {
        var ctx = ByName(set).Value;
        var x = RandomComplex(ctx.Parameters.Slots, 2);
        var bits = PrecisionBits(ctx.DecryptComplex(ctx.Encrypt(x)), x);
        Assert.True(bits >= 25, $"fresh public-key encryption: {bits:F2} bits");
    }

    [Theory, MemberData(nameof(Sets))]
    public void EncryptDecrypt_SecretKey_AtLeast25Bits_AndSeeded(string set)
    {
        var ctx = ByName(set).Value;
        var x = RandomReals(ctx.Parameters.Slots, 3);
        var ct = ctx.SymmetricEncryptor.Encrypt(ctx.Encoder.Encode(x));
        Assert.NotNull(ct.Seed);
        var bits = PrecisionBits(ctx.Decrypt(ct), x);
        Assert.True(bits >= 25, $"fresh secret-key encryption: {bits:F2} bits");
    }

    [Theory, MemberData(nameof(Sets))]
    public void AddSubNegate_MatchPlaintext(string set)
    {
        var ctx = ByName(set).Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        var x = RandomComplex(n, 4); var y = RandomComplex(n, 5);
        var cx = ctx.Encrypt(x); var cy = ctx.Encrypt(y);
        var sum = ctx.DecryptComplex(ev.Add(cx, cy));
        var diff = ctx.DecryptComplex(ev.Sub(cx, cy));
        var neg = ctx.DecryptComplex(ev.Negate(cx));
        var py = ctx.Encoder.Encode(y, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel);
        var sumPlain = ctx.DecryptComplex(ev.AddPlain(cx, py));
        var diffPlain = ctx.DecryptComplex(ev.SubPlain(cx, py));
        var c = new Complex(0.25, -0.75);
        var sumScalar = ctx.DecryptComplex(ev.AddScalar(cx, c));
        for (int i = 0; i < n; i++)
        {
            Assert.True(Complex.Abs(sum[i] - (x[i] + y[i])) < 1e-7);
            Assert.True(Complex.Abs(diff[i] - (x[i] - y[i])) < 1e-7);
            Assert.True(Complex.Abs(neg[i] + x[i]) < 1e-7);
            Assert.True(Complex.Abs(sumPlain[i] - (x[i] + y[i])) < 1e-7);
            Assert.True(Complex.Abs(diffPlain[i] - (x[i] - y[i])) < 1e-7);
            Assert.True(Complex.Abs(sumScalar[i] - (x[i] + c)) < 1e-7);
        }
    }

    [Theory, MemberData(nameof(Sets))]
    public void MultiplyRelinearizeRescale_AtLeast22Bits(string set)
    {
        var ctx = ByName(set).Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        var x = RandomReals(n, 6); var y = RandomReals(n, 7);
        var product = ev.Multiply(ctx.Encrypt(x), ctx.Encrypt(y));
        Assert.Equal(3, product.Size);
        ev.Relinearize(product, product);
        Assert.Equal(2, product.Size);
        ev.Rescale(product, product);
        Assert.Equal(ctx.Parameters.MaxLevel - 1, product.Level);
        var expected = x.Zip(y, (a, b) => a * b).ToArray();
        var bits = PrecisionBits(ctx.Decrypt(product), expected);
        Assert.True(bits >= 22, $"x·y after relinearize+rescale: {bits:F2} bits");
        Assert.True(Math.Abs(Math.Log2(product.Scale) - 40) < 0.01);
    }

    [Theory, MemberData(nameof(Sets))]
    public void ComplexMultiply_MatchesPlaintext(string set)
    {
        var ctx = ByName(set).Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        var x = RandomComplex(n, 8); var y = RandomComplex(n, 9);
        var r = ctx.DecryptComplex(ev.MultiplyRelinearizeRescale(ctx.Encrypt(x), ctx.Encrypt(y)));
        var bits = PrecisionBits(r, x.Zip(y, (a, b) => a * b).ToArray());
        Assert.True(bits >= 21, $"complex x·y: {bits:F2} bits");
    }

    [Theory, MemberData(nameof(Sets))]
    public void PlainScalarAndIntegerMultiplications_MatchPlaintext(string set)
    {
        var ctx = ByName(set).Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        var x = RandomReals(n, 10); var y = RandomReals(n, 11);
        var cx = ctx.Encrypt(x);
        var byPlain = ev.Rescale(ev.MultiplyPlain(cx, ctx.Encoder.Encode(y)));
        var byScalar = ev.MultiplyScalar(cx, new Complex(-1.75, 0));
        Assert.Equal(cx.Scale * ctx.Parameters.Ring.Q[cx.Level], byScalar.Scale);
        ev.Rescale(byScalar, byScalar);
        Assert.Equal(cx.Scale, byScalar.Scale, 6);
        var byInteger = ev.MultiplyInteger(cx, -3);
        Assert.Equal(cx.Level, byInteger.Level);
        var bp = PrecisionBits(ctx.Decrypt(byPlain), x.Zip(y, (a, b) => a * b).ToArray());
        var bs = PrecisionBits(ctx.Decrypt(byScalar), x.Select(v => -1.75 * v).ToArray());
        var bi = PrecisionBits(ctx.Decrypt(byInteger), x.Select(v => -3 * v).ToArray());
        Assert.True(bp >= 22, $"plain: {bp:F2}");
        Assert.True(bs >= 22, $"scalar: {bs:F2}");
        Assert.True(bi >= 22, $"integer: {bi:F2}");
    }

    [Theory, MemberData(nameof(Sets))]
    public void MultiplicationChain_DownToLastLevel_KeepsPrecision(string set)
    {
        var ctx = ByName(set).Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        // Values in [0.9, 1.1]: products of up to L factors stay near 1, so the test measures noise, not overflow.
        var rngSeed = 12;
        var factors = Enumerable.Range(0, ctx.Parameters.MaxLevel + 1).Select(k => RandomReals(n, rngSeed + k, 0.1).Select(v => 1 + v).ToArray()).ToArray();
        var acc = ctx.Encrypt(factors[0]);
        var expected = (double[])factors[0].Clone();
        for (int k = 1; k <= ctx.Parameters.MaxLevel; k++)
        {
            var next = ctx.Encrypt(factors[k], level: acc.Level);
            // acc sits at scale Δ_k ≠ 2^40 after rescaling; encode the next factor at the same scale.
            next = ctx.Encryptor.Encrypt(ctx.Encoder.Encode(factors[k], acc.Scale, acc.Level));
            acc = ev.MultiplyRelinearizeRescale(acc, next);
            for (int i = 0; i < n; i++) expected[i] *= factors[k][i];
        }
        Assert.Equal(0, acc.Level);
        var bits = PrecisionBits(ctx.Decrypt(acc), expected);
        Assert.True(bits >= 17, $"after {ctx.Parameters.MaxLevel} multiplications: {bits:F2} bits");
    }

    [Fact]
    public void Rotate_EveryStepBothDirections_ComposedFromPowerOfTwoKeys()
    {
        var ctx = Tiny.Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        var x = RandomComplex(n, 20);
        var cx = ctx.Encrypt(x);
        double worst = 64;
        for (int step = -n + 1; step < n; step++)
        {
            var r = ctx.DecryptComplex(ev.Rotate(cx, step));
            var expected = new Complex[n];
            for (int i = 0; i < n; i++) expected[i] = x[((i + step) % n + n) % n];
            worst = Math.Min(worst, PrecisionBits(r, expected));
        }
        Assert.True(worst >= 20, $"worst rotation: {worst:F2} bits");
    }

    [Theory, MemberData(nameof(Sets))]
    public void Rotate_WithExactKeys_MatchesPlaintext(string set)
    {
        var ctx = ByName(set).Value;
        int n = ctx.Parameters.Slots;
        int[] steps = [1, -1, 3, -7, 100, n / 2 + 5];
        var keys = ctx.KeyGenerator.CreateRotationKeys(steps);
        var ev = new CkksEvaluator(ctx.Parameters, ctx.RelinearizationKey, keys);
        var x = RandomComplex(n, 21);
        var cx = ctx.Encrypt(x);
        foreach (int step in steps)
        {
            Assert.Single(ev.PlanRotation(((step % n) + n) % n));
            var r = ctx.DecryptComplex(ev.Rotate(cx, step));
            var expected = Enumerable.Range(0, n).Select(i => x[((i + step) % n + n) % n]).ToArray();
            Assert.True(PrecisionBits(r, expected) >= 22, $"step {step}: {PrecisionBits(r, expected):F2} bits");
        }
    }

    [Theory, MemberData(nameof(Sets))]
    public void Conjugate_MatchesPlaintext(string set)
    {
        var ctx = ByName(set).Value;
        var x = RandomComplex(ctx.Parameters.Slots, 22);
        var r = ctx.DecryptComplex(ctx.Evaluator.Conjugate(ctx.Encrypt(x)));
        Assert.True(PrecisionBits(r, x.Select(Complex.Conjugate).ToArray()) >= 22);
    }

    [Fact]
    public void Rotate_WithoutComposableKeys_ThrowsNamingTheStep()
    {
        var ctx = Small.Value;
        var keys = ctx.KeyGenerator.CreateRotationKeys([4]);
        var ev = new CkksEvaluator(ctx.Parameters, ctx.RelinearizationKey, keys);
        var ex = Assert.Throws<InvalidOperationException>(() => ev.Rotate(ctx.Encrypt([1.0]), 3));
        Assert.Contains("rotates by 3", ex.Message);
        Assert.Throws<InvalidOperationException>(() => new CkksEvaluator(ctx.Parameters).Rotate(ctx.Encrypt([1.0]), 1));
    }

    [Fact]
    public void OperandsAtDifferentLevels_AreBroughtToTheLowerOne()
    {
        var ctx = Small.Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        var x = RandomReals(n, 30); var y = RandomReals(n, 31);
        var high = ctx.Encrypt(x);
        var low = ctx.Encrypt(y, level: ctx.Parameters.MaxLevel - 2);
        var sum = ev.Add(high, low);
        Assert.Equal(low.Level, sum.Level);
        Assert.True(PrecisionBits(ctx.Decrypt(sum), x.Zip(y, (a, b) => a + b).ToArray()) >= 24);
        var product = ev.MultiplyRelinearizeRescale(high, low);
        Assert.Equal(low.Level - 1, product.Level);
        Assert.True(PrecisionBits(ctx.Decrypt(product), x.Zip(y, (a, b) => a * b).ToArray()) >= 22);
        // In place, destination aliasing the higher operand.
        ev.Add(high, low, high);
        Assert.Equal(low.Level, high.Level);
        Assert.True(PrecisionBits(ctx.Decrypt(high), x.Zip(y, (a, b) => a + b).ToArray()) >= 24);
    }

    [Fact]
    public void InPlaceOperations_GiveTheSameResults()
    {
        var ctx = Small.Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        var x = RandomReals(n, 32); var y = RandomReals(n, 33);
        var a = ctx.Encrypt(x); var b = ctx.Encrypt(y);
        ev.Multiply(a, b, a);
        ev.Relinearize(a, a);
        ev.Rescale(a, a);
        ev.Rotate(a, 5, a);
        var expected = Enumerable.Range(0, n).Select(i => x[(i + 5) % n] * y[(i + 5) % n]).ToArray();
        Assert.True(PrecisionBits(ctx.Decrypt(a), expected) >= 21);
    }

    [Fact]
    public void Add_RefusesMismatchedScales_NamingBoth()
    {
        var ctx = Small.Value;
        var a = ctx.Encrypt([1.0]);
        var b = ctx.Encrypt([1.0], scale: Math.Pow(2, 35));
        var ex = Assert.Throws<ArgumentException>(() => ctx.Evaluator.Add(a, b));
        Assert.Contains("2^40", ex.Message);
        Assert.Contains("2^35", ex.Message);
    }

    [Fact]
    public void Rescale_ThrowsAtLastLevel()
    {
        var ctx = Small.Value;
        var ct = ctx.Encrypt([1.0], level: 0);
        Assert.Throws<InvalidOperationException>(() => ctx.Evaluator.Rescale(ct));
    }

    [Fact]
    public void Relinearize_WithoutKey_Throws()
    {
        var ctx = Small.Value;
        var ev = new CkksEvaluator(ctx.Parameters);
        var ct = ev.Multiply(ctx.Encrypt([1.0]), ctx.Encrypt([1.0]));
        Assert.Throws<InvalidOperationException>(() => ev.Relinearize(ct));
    }

    [Fact]
    public void Relinearize_SizeFiveCiphertext_Decrypts()
    {
        var ctx = Small.Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        var x = RandomReals(n, 34);
        var cx = ctx.Encrypt(x);
        var x2 = ev.Multiply(cx, cx);             // size 3
        var x4 = ev.Multiply(x2, x2);             // size 5, scale Δ^4
        Assert.Equal(5, x4.Size);
        ev.Relinearize(x4, x4);
        ev.Rescale(x4, x4); ev.Rescale(x4, x4); ev.Rescale(x4, x4);
        Assert.True(PrecisionBits(ctx.Decrypt(x4), x.Select(v => v * v * v * v).ToArray()) >= 18);
    }

    [Fact]
    public void Encoder_RefusesTooManyValuesAndNonFinite()
    {
        var ctx = Small.Value;
        Assert.Throws<ArgumentException>(() => ctx.Encoder.Encode(new double[ctx.Parameters.Slots + 1]));
        Assert.Throws<ArgumentException>(() => ctx.Encoder.Encode([double.NaN]));
        // 2^40 · 2^200 overflows Q at level 0.
        Assert.Throws<ArgumentException>(() => ctx.Encoder.Encode([Math.Pow(2, 200)], Math.Pow(2, 40), 0));
    }

    [Fact]
    public void Encoder_LargeScaledValues_AreReducedExactly()
    {
        var ctx = Small.Value;
        // 2^40 · 2^30 = 2^70 > 2^63 exercises the exact double reduction.
        double[] x = [Math.Pow(2, 30) * 0.75, -Math.Pow(2, 29) * 1.5, 12345.678];
        var pt = ctx.Encoder.Encode(x, Math.Pow(2, 40), ctx.Parameters.MaxLevel);
        var back = ctx.Encoder.Decode(pt);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(back[i] - x[i]) < 1e-3 * Math.Max(1, Math.Abs(x[i])) , $"{back[i]} vs {x[i]}");
    }
}

public class HoistedRotationTests
{
    [Theory]
    [InlineData("small")]
    [InlineData("two-special")]
    [InlineData("A")]
    public void RotateHoisted_MatchesSeparateRotations(string set)
    {
        var ctx = CkksTestContext.ByName(set).Value;
        int n = ctx.Parameters.Slots;
        int[] steps = [1, 2, 3, 5, 8, -1, -4, 100, 0];
        var keys = ctx.KeyGenerator.CreateRotationKeys(steps);
        var ev = new CkksEvaluator(ctx.Parameters, ctx.RelinearizationKey, keys);
        var x = CkksTestContext.RandomComplex(n, 50);
        var cx = ctx.Encrypt(x);
        // At a lower level too, after a multiplication.
        var lower = ev.MultiplyRelinearizeRescale(cx, ctx.Encrypt(CkksTestContext.RandomComplex(n, 51)));
        foreach (var input in new[] { cx, lower })
        {
            var expectedValues = ctx.DecryptComplex(input);
            var rotated = ev.RotateHoisted(input, steps);
            Assert.Equal(steps.Length, rotated.Length);
            for (int k = 0; k < steps.Length; k++)
            {
                Assert.Equal(input.Level, rotated[k].Level);
                var got = ctx.DecryptComplex(rotated[k]);
                var expected = Enumerable.Range(0, n).Select(i => expectedValues[((i + steps[k]) % n + n) % n]).ToArray();
                double bits = CkksTestContext.PrecisionBits(got, expected);
                Assert.True(bits >= 20, $"step {steps[k]}: {bits:F2} bits");
            }
        }
    }

    [Fact]
    public void RotateHoisted_IntoDestinations_EqualsAllocatingFormAndInPlaceRotate()
    {
        var ctx = CkksTestContext.Small.Value;
        int n = ctx.Parameters.Slots;
        int[] steps = [1, 7, -3];
        var keys = ctx.KeyGenerator.CreateRotationKeys(steps);
        var ev = new CkksEvaluator(ctx.Parameters, ctx.RelinearizationKey, keys);
        var cx = ctx.Encrypt(CkksTestContext.RandomComplex(n, 52));
        var allocated = ev.RotateHoisted(cx, steps);
        // Destinations of another shape (a fresh 3-polynomial product at a lower level) are resized.
        var destinations = steps.Select(_ => ev.Multiply(cx, cx)).ToArray();
        ev.RotateHoisted(cx, steps, destinations);
        for (int k = 0; k < steps.Length; k++)
        {
            Assert.Equal(allocated[k].Level, destinations[k].Level);
            Assert.Equal(2, destinations[k].Size);
            Assert.True(allocated[k].Poly(0).SequenceEqual(destinations[k].Poly(0)) && allocated[k].Poly(1).SequenceEqual(destinations[k].Poly(1)), $"step {steps[k]}");
            // Key switching is deterministic, so the in-place rotation gives the same words too.
            var inPlace = cx.Clone();
            ev.Rotate(inPlace, steps[k], inPlace);
            Assert.True(allocated[k].Poly(0).SequenceEqual(inPlace.Poly(0)) && allocated[k].Poly(1).SequenceEqual(inPlace.Poly(1)), $"in place, step {steps[k]}");
        }
        var ex = Assert.Throws<ArgumentException>(() => ev.RotateHoisted(cx, steps, [destinations[0], cx, destinations[2]]));
        Assert.Equal("destinations", ex.ParamName);
        Assert.Throws<ArgumentException>(() => ev.RotateHoisted(cx, steps, destinations[..2]));
        var same = Assert.Throws<ArgumentException>(() => ev.RotateHoisted(cx, steps, [destinations[0], destinations[1], destinations[0]]));
        Assert.Contains("same ciphertext", same.Message);
    }

    [Fact]
    public void RotateHoisted_RequiresAKeyPerStep()
    {
        var ctx = CkksTestContext.Small.Value;
        var ex = Assert.Throws<InvalidOperationException>(() => ctx.Evaluator.RotateHoisted(ctx.Encrypt([1.0]), [3]));
        Assert.Contains("3", ex.Message);
    }
}

public class MultiplyRotationsSumTests
{
    /// <summary>Σ w ⊙ Rot_s(x) per group, double hoisted, against the same sums of separate rotations and products.</summary>
    [Theory]
    [InlineData("small")]
    [InlineData("two-special")]
    [InlineData("A")]
    public void GroupSums_MatchSeparateRotationsAndProducts(string set)
    {
        var ctx = CkksTestContext.ByName(set).Value;
        int n = ctx.Parameters.Slots;
        (int Step, int Seed)[][] plan =
        [
            [(0, 1), (1, 2), (5, 3)],
            [(-4, 4)],
            [(1, 5), (100, 6), (0, 7), (-4, 8)],
        ];
        var keys = ctx.KeyGenerator.CreateRotationKeys(plan.SelectMany(g => g.Select(t => t.Step)).Where(s => s != 0).Distinct());
        var ev = new CkksEvaluator(ctx.Parameters, ctx.RelinearizationKey, keys);
        var cx = ctx.Encrypt(CkksTestContext.RandomComplex(n, 70));
        var lower = ev.MultiplyRelinearizeRescale(cx, ctx.Encrypt(CkksTestContext.RandomComplex(n, 71)));
        foreach (var input in new[] { cx, lower })
        {
            int level = input.Level;
            double scale = ctx.Parameters.Ring.Q[level];
            var weights = plan.Select(g => g.Select(t => ctx.Encoder.Encode(CkksTestContext.RandomReals(n, t.Seed), scale, level)).ToArray()).ToArray();
            var groups = plan.Select((g, gi) => g.Select((t, ti) => (t.Step, new LiftedPlaintext(weights[gi][ti]))).ToArray()).ToArray();
            var destinations = plan.Select(_ => new Ciphertext(ctx.Parameters.Ring, 0)).ToArray();
            ev.MultiplyRotationsSum(input, groups, destinations);
            for (int g = 0; g < plan.Length; g++)
            {
                Ciphertext? expected = null;
                for (int t = 0; t < plan[g].Length; t++)
                {
                    var term = ev.MultiplyPlain(ev.Rotate(input, plan[g][t].Step), weights[g][t]);
                    expected = expected is null ? term : ev.Add(expected, term);
                }
                Assert.Equal(level, destinations[g].Level);
                Assert.Equal(expected!.Scale, destinations[g].Scale, 6);
                double bits = CkksTestContext.PrecisionBits(ctx.DecryptComplex(ev.Rescale(destinations[g])), ctx.DecryptComplex(ev.Rescale(expected)));
                Assert.True(bits >= 20, $"group {g} at level {level}: {bits:F2} bits");
            }
        }
    }

    [Fact]
    public void BadGroupsAreRefused()
    {
        var ctx = CkksTestContext.Small.Value;
        int n = ctx.Parameters.Slots;
        var ev = new CkksEvaluator(ctx.Parameters, ctx.RelinearizationKey, ctx.KeyGenerator.CreateRotationKeys([1]));
        var cx = ctx.Encrypt(CkksTestContext.RandomReals(n, 80));
        var w = new LiftedPlaintext(ctx.Encoder.Encode(CkksTestContext.RandomReals(n, 81), 1 << 20, cx.Level));
        var other = new LiftedPlaintext(ctx.Encoder.Encode(CkksTestContext.RandomReals(n, 82), 1 << 21, cx.Level));
        var low = new LiftedPlaintext(ctx.Encoder.Encode(CkksTestContext.RandomReals(n, 83), 1 << 20, 0));
        var d = new Ciphertext(ctx.Parameters.Ring, 0);
        Assert.Throws<ArgumentException>(() => ev.MultiplyRotationsSum(cx, [Array.Empty<(int, LiftedPlaintext)>()], [d]));
        Assert.Throws<ArgumentException>(() => ev.MultiplyRotationsSum(cx, [[(1, w)]], [cx]));
        Assert.Throws<ArgumentException>(() => ev.MultiplyRotationsSum(cx, [[(1, w)]], [d, d]));
        var same = Assert.Throws<ArgumentException>(() => ev.MultiplyRotationsSum(cx, [[(1, w)], [(0, w)]], [d, d]));
        Assert.Contains("same ciphertext", same.Message);
        Assert.Throws<ArgumentException>(() => ev.MultiplyRotationsSum(cx, [[(1, w), (0, other)]], [d]));
        Assert.Throws<ArgumentException>(() => ev.MultiplyRotationsSum(cx, [[(1, low)]], [d]));
        var ex = Assert.Throws<InvalidOperationException>(() => ev.MultiplyRotationsSum(cx, [[(3, w)]], [d]));
        Assert.Contains("3", ex.Message);
        Assert.Throws<ArgumentException>(() => new LiftedPlaintext(new Plaintext(ctx.Parameters.Ring, 0, 1, isNttForm: false)));
    }
}

public class MultiplyScalarAddTests
{
    [Fact]
    public void AccumulatesWeightedSums_AndRefusesMismatchedAccumulators()
    {
        var ctx = CkksTestContext.Small.Value;
        var ev = ctx.Evaluator;
        int n = ctx.Parameters.Slots;
        var xs = Enumerable.Range(0, 5).Select(i => CkksTestContext.RandomReals(n, 60 + i)).ToArray();
        double[] w = [0.5, -1.25, 3.0, 0.0, -0.001];
        var cts = xs.Select(x => ctx.Encrypt(x)).ToArray();
        int level = cts[0].Level;
        double q = ctx.Parameters.Ring.Q[level];
        var acc = ev.Zero(level, cts[0].Scale * q);
        for (int i = 0; i < cts.Length; i++) ev.MultiplyScalarAdd(cts[i], w[i], q, acc);
        ev.Rescale(acc, acc);
        var got = ctx.Decrypt(acc);
        var expected = Enumerable.Range(0, n).Select(j => Enumerable.Range(0, 5).Sum(i => w[i] * xs[i][j])).ToArray();
        Assert.True(CkksTestContext.PrecisionBits(got.AsSpan(0, n), expected) >= 18);
        Assert.Throws<ArgumentException>(() => ev.MultiplyScalarAdd(cts[0], 1.0, q, ev.Zero(level, cts[0].Scale)));          // scale
        Assert.Throws<ArgumentException>(() => ev.MultiplyScalarAdd(cts[0], 1.0, q, ev.Zero(level - 1, cts[0].Scale * q))); // level
        Assert.Throws<ArgumentException>(() => ev.MultiplyScalarAdd(cts[0], double.NaN, q, acc));
    }
}

public class EncoderConcurrencyTests
{
    [Fact]
    public void OneEncoder_ServesManyThreadsAtOnce()
    {
        var ctx = CkksTestContext.Small.Value;
        var encoder = new CkksEncoder(ctx.Parameters);
        int n = ctx.Parameters.Slots;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            for (int round = 0; round < 5; round++)
            {
                var x = CkksTestContext.RandomReals(n, 1000 * t + round);
                var back = encoder.Decode(encoder.Encode(x));
                double worst = x.Select((v, i) => Math.Abs(v - back[i])).Max();
                if (worst > 1e-6) failures.Add($"thread {t}, round {round}: error {worst}");
            }
        });
        Assert.Empty(failures);
    }
}

/// <summary>Run alone: while other tests load the thread pool, the pool may start a thread from this one (an allocation that is not the operation's).</summary>
[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public class AllocationCollection { }

[Collection(nameof(AllocationTests))]
public class AllocationTests
{
    /// <summary>
    /// Bytes allocated on this thread by one call, after enough calls that every path is compiled and pooled: the least
    /// of five windows, since the thread pool's queue now and then grows a segment (amortized to nothing).
    /// </summary>
    private static long AllocatedPerCall(Action action)
    {
        for (int i = 0; i < 60; i++) action();
        long least = long.MaxValue;
        for (int window = 0; window < 5; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++) action();
            least = Math.Min(least, (GC.GetAllocatedBytesForCurrentThread() - before) / 20);
        }
        return least;
    }

    [Theory]
    [InlineData(1)] // with two threads, Parallel.For's task bookkeeping allocates a few KB per operation
    public void Operations_IntoExistingDestinations_AllocateNothing(int threads)
    {
        var ctx = CkksTestContext.Small.Value;
        int[] steps = [1, 2, 4, 5];
        var ev = new CkksEvaluator(ctx.Parameters, ctx.RelinearizationKey, ctx.KeyGenerator.CreateRotationKeys(steps)) { MaxDegreeOfParallelism = threads };
        var encoder = new CkksEncoder(ctx.Parameters) { MaxDegreeOfParallelism = threads };
        var encryptor = new Veil.Rlwe.Encryptor(ctx.Parameters.Ring, ctx.KeyGenerator.CreatePublicKey()) { MaxDegreeOfParallelism = threads };
        var decryptor = new Veil.Rlwe.Decryptor(ctx.Parameters.Ring, ctx.KeyGenerator.SecretKey);
        var values = CkksTestContext.RandomReals(ctx.Parameters.Slots, 3);
        var pt = encoder.Encode(values);
        var x = encryptor.Encrypt(pt); var y = encryptor.Encrypt(pt);
        var product = ev.Multiply(x, y); var rescaled = ev.Rescale(x); var rotated = x.Clone(); var fresh = x.Clone();
        var hoisted = steps.Select(_ => x.Clone()).ToArray();
        var decoded = new System.Numerics.Complex[ctx.Parameters.Slots];
        var cases = new (string Name, Action Run)[]
        {
            ("add", () => ev.Add(x, y, rotated)),
            ("multiply + relinearize", () => { ev.Multiply(x, y, product); ev.Relinearize(product, product); }),
            ("rescale", () => ev.Rescale(x, rescaled)),
            ("rotate", () => ev.Rotate(x, 1, rotated)),
            ("rotate composed", () => ev.Rotate(x, 3, rotated)),
            ("hoisted rotations", () => ev.RotateHoisted(x, steps, hoisted)),
            ("encode", () => encoder.Encode(values, ctx.Parameters.DefaultScale, ctx.Parameters.MaxLevel, pt)),
            ("encrypt", () => encryptor.Encrypt(pt, fresh)),
            ("decrypt", () => decryptor.Decrypt(x, pt)),
            ("decode", () => encoder.Decode(pt, decoded)),
        };
        foreach (var (name, run) in cases) Assert.True(AllocatedPerCall(run) == 0, $"{name} on {threads} thread(s) allocates {AllocatedPerCall(run)} bytes a call");
    }
}

public class RecycledBufferTests
{
    [Fact]
    public void Allocating_forms_write_every_word_even_when_handed_a_recycled_buffer_full_of_garbage()
    {
        // N = 2^14 so that ciphertexts are large enough for the shared buffers; insecure on purpose (test only).
        var parameters = CkksParameters.Create(new CkksParametersLiteral { LogN = 14, LogQ = [60, 40, 40, 40], LogP = [60], LogDefaultScale = 40, Security = SecurityLevel.InsecureNoCheck },
            SecurityLevel.InsecureNoCheck);
        var keys = new KeyGenerator(parameters.Ring);
        var ev = new CkksEvaluator(parameters, keys.CreateRelinearizationKey(), keys.CreatePowerOfTwoRotationKeys(includeConjugation: true));
        var encoder = new CkksEncoder(parameters);
        var encryptor = new Encryptor(parameters.Ring, keys.CreatePublicKey());
        var x = encryptor.Encrypt(encoder.Encode(CkksTestContext.RandomReals(parameters.Slots, 1)));
        var y = encryptor.Encrypt(encoder.Encode(CkksTestContext.RandomReals(parameters.Slots, 2)));
        var product = ev.Multiply(x, y);
        int n = parameters.N;
        void Poison()
        {
            for (int level = 0; level <= parameters.MaxLevel; level++)
                for (int size = 2; size <= 3; size++)
                    for (int copies = 0; copies < 2; copies++)
                    {
                        var garbage = new ulong[size * (level + 1) * n];
                        Array.Fill(garbage, ulong.MaxValue);
                        CiphertextBuffers.Give(garbage);
                    }
        }
        var cases = new (string Name, Func<Ciphertext> Allocating, Action<Ciphertext> IntoZeroed)[]
        {
            ("multiply", () => ev.Multiply(x, y), d => ev.Multiply(x, y, d)),
            ("relinearize", () => ev.Relinearize(product), d => ev.Relinearize(product, d)),
            ("rescale", () => ev.Rescale(x), d => ev.Rescale(x, d)),
            ("divide by last prime", () => ev.DivideByLastPrime(x), d => ev.DivideByLastPrime(x, d)),
            ("drop to level", () => ev.DropToLevel(x, 1), d => ev.DropToLevel(x, 1, d)),
            ("drop to own level", () => ev.DropToLevel(x, x.Level), d => ev.DropToLevel(x, x.Level, d)),
            ("rotate", () => ev.Rotate(x, 1), d => ev.Rotate(x, 1, d)),
            ("rotate composed", () => ev.Rotate(x, 3), d => ev.Rotate(x, 3, d)),
            ("conjugate", () => ev.Conjugate(x), d => ev.Conjugate(x, d)),
            ("add scalar", () => ev.AddScalar(x, 0.25), d => ev.AddScalar(x, 0.25, d)),
            ("multiply scalar", () => ev.MultiplyScalar(x, 0.25), d => ev.MultiplyScalar(x, 0.25, d)),
            ("multiply scalar at a scale", () => ev.MultiplyScalar(x, 0.25, 1 << 20), d => ev.MultiplyScalar(x, 0.25, 1 << 20, d)),
            ("add scalar, size 3", () => ev.AddScalar(product, 0.25), d => ev.AddScalar(product, 0.25, d)),
        };
        foreach (var (name, allocating, intoZeroed) in cases)
        {
            CiphertextBuffers.Clear(); // so that the reference's reshapes take fresh arrays, not the poison
            var expected = new Ciphertext(parameters.Ring, x.Level, 2);
            intoZeroed(expected);
            Poison();
            long held = CiphertextBuffers.HeldWords;
            var actual = allocating();
            Assert.True(CiphertextBuffers.HeldWords < held, $"{name}: took no recycled buffer, so the test proves nothing"); // no other test here uses N = 2^14
            Assert.True(expected.Level == actual.Level && expected.Size == actual.Size && expected.Scale == actual.Scale, $"{name}: shape or scale differs");
            Assert.True(expected.Data.AsSpan().SequenceEqual(actual.Data), $"{name}: the allocating form left words the destination form writes");
        }
        CiphertextBuffers.Clear();
    }
}
