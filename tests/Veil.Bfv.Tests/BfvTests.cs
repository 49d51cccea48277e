using System.Numerics;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Bfv.Tests;

/// <summary>BFV: every operation exact against plaintext arithmetic mod t; noise budget; levels; presets; loaders.</summary>
public class BfvTests
{
    private static readonly Lazy<BfvContext> Small = new(() => BfvContext.Create(
        BfvParameters.Create(12, new[] { 36, 36 }, new[] { 37 }, BfvParameters.BatchingPrime(17, 12)), [1, 2, -1, 7], rowSwap: true));

    private static long[] Random(int n, long t, int seed)
    {
        var rng = new Random(seed);
        var v = new long[n];
        for (int i = 0; i < n; i++) v[i] = rng.NextInt64(-(t / 2), t / 2 + 1);
        // Edge values first: 0, ±1, the extremes of (−t/2, t/2].
        long[] edges = [0, 1, -1, t / 2, -(t / 2), t / 2 - 1];
        edges.CopyTo(v, 0);
        return v;
    }

    private static long Mod(BigInteger x, long t) { var r = (long)(x % t); if (r < 0) r += t; if (r > t / 2) r -= t; return r; }

    [Fact]
    public void BatchEncoding_RoundTrips_SignedAndUnsigned()
    {
        var ctx = Small.Value;
        long t = (long)ctx.Parameters.PlainModulus;
        var values = Random(ctx.Encoder.SlotCount, t, 1);
        Assert.Equal(values, ctx.Encoder.DecodeBatchSigned(ctx.Encoder.EncodeBatch(values)));
        var unsigned = values.Select(v => (ulong)((v % t + t) % t)).ToArray();
        Assert.Equal(unsigned, ctx.Encoder.DecodeBatch(ctx.Encoder.EncodeBatch(unsigned)));
        Assert.Equal(values, ctx.Decrypt(ctx.Encrypt(values)));
    }

    [Fact]
    public void AdditiveAndPlaintextOperations_AreExact()
    {
        var ctx = Small.Value;
        var ev = ctx.Evaluator;
        long t = (long)ctx.Parameters.PlainModulus;
        int n = ctx.Encoder.SlotCount;
        var x = Random(n, t, 2);
        var y = Random(n, t, 3);
        var cx = ctx.Encrypt(x);
        var cy = ctx.Encrypt(y);
        var py = ctx.Encoder.EncodeBatch(y);
        Assert.Equal(x.Zip(y, (a, b) => Mod((BigInteger)a + b, t)), ctx.Decrypt(ev.Add(cx, cy)));
        Assert.Equal(x.Zip(y, (a, b) => Mod((BigInteger)a - b, t)), ctx.Decrypt(ev.Sub(cx, cy)));
        Assert.Equal(x.Select(a => Mod(-(BigInteger)a, t)), ctx.Decrypt(ev.Negate(cx)));
        Assert.Equal(x.Zip(y, (a, b) => Mod((BigInteger)a + b, t)), ctx.Decrypt(ev.AddPlain(cx, py, ctx.Encoder)));
        Assert.Equal(x.Zip(y, (a, b) => Mod((BigInteger)a * b, t)), ctx.Decrypt(ev.MultiplyPlain(cx, py, ctx.Encoder)));
        Assert.Equal(x.Select(a => Mod((BigInteger)a * -12345, t)), ctx.Decrypt(ev.MultiplyScalar(cx, -12345)));
    }

    [Fact]
    public void Multiplication_Relinearization_AndSquaring_AreExact_AndTheBudgetShrinks()
    {
        var ctx = Small.Value;
        var ev = ctx.Evaluator;
        long t = (long)ctx.Parameters.PlainModulus;
        int n = ctx.Encoder.SlotCount;
        var x = Random(n, t, 4);
        var y = Random(n, t, 5);
        var cx = ctx.Encrypt(x);
        var cy = ctx.Encrypt(y);
        int fresh = ctx.NoiseBudget(cx);
        var product = ev.Multiply(cx, cy);
        Assert.Equal(3, product.Size);
        Assert.Equal(x.Zip(y, (a, b) => Mod((BigInteger)a * b, t)), ctx.Decrypt(product));
        var relinearized = ev.Relinearize(product);
        Assert.Equal(2, relinearized.Size);
        Assert.Equal(x.Zip(y, (a, b) => Mod((BigInteger)a * b, t)), ctx.Decrypt(relinearized));
        int after = ctx.NoiseBudget(relinearized);
        Assert.InRange(fresh, 20, 80);
        Assert.InRange(after, 1, fresh - 10);
        var square = ev.MultiplyRelinearize(cx, cx);
        Assert.Equal(x.Select(a => Mod((BigInteger)a * a, t)), ctx.Decrypt(square));
    }

    [Fact]
    public void Rotations_OfRowsAndTheRowSwap_MatchThePlaintextMatrix()
    {
        var ctx = Small.Value;
        var ev = ctx.Evaluator;
        int n = ctx.Encoder.SlotCount, half = n / 2;
        var x = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        var cx = ctx.Encrypt(x);
        foreach (int k in new[] { 1, 2, 7, -1, 3 })
        {
            var got = ctx.Decrypt(ev.RotateRows(cx, k));
            for (int j = 0; j < half; j++)
            {
                Assert.Equal(x[((j + k) % half + half) % half], got[j]);
                Assert.Equal(x[half + ((j + k) % half + half) % half], got[half + j]);
            }
        }
        var swapped = ctx.Decrypt(ev.RotateColumns(cx));
        Assert.Equal(x[half..].Concat(x[..half]), swapped);
    }

    [Fact]
    public void ModulusSwitching_KeepsTheMessage_AndLevelsMustMatch()
    {
        var p = BfvParameters.Default(8192);
        using var ctx = BfvContext.Create(p);
        var ev = ctx.Evaluator;
        long t = (long)p.PlainModulus;
        var x = Random(p.Slots, t, 6);
        var cx = ctx.Encrypt(x);
        var low = ev.ModSwitchTo(cx, 1);
        Assert.Equal(1, low.Level);
        Assert.Equal(x, ctx.Decrypt(low));
        Assert.True(ctx.NoiseBudget(low) > 0);
        Assert.Throws<ArgumentException>(() => ev.Add(cx, low));
        Assert.Throws<ArgumentException>(() => ev.Multiply(cx, low));
        // Lower levels multiply exactly too, and faster.
        var sq = ev.MultiplyRelinearize(low, low);
        Assert.Equal(x.Select(a => Mod((BigInteger)a * a, t)), ctx.Decrypt(sq));
    }

    [Fact]
    public void CoefficientEncoding_AnyModulus_MultipliesAsNegacyclicPolynomials()
    {
        // t = 2^16: not prime, no batching; products are negacyclic convolutions mod t.
        var p = BfvParameters.Create(12, new[] { 36, 36 }, new[] { 37 }, 1UL << 16);
        Assert.False(p.SupportsBatching);
        using var ctx = BfvContext.Create(p);
        var rng = new Random(7);
        int n = p.N;
        var a = Enumerable.Range(0, n).Select(_ => (long)rng.Next(-40, 41)).ToArray();
        var b = Enumerable.Range(0, n).Select(_ => (long)rng.Next(-40, 41)).ToArray();
        var ca = ctx.Encrypt(ctx.Encoder.EncodeCoefficients(a));
        var cb = ctx.Encrypt(ctx.Encoder.EncodeCoefficients(b));
        var got = ctx.Encoder.DecodeCoefficientsSigned(ctx.DecryptPlaintext(ctx.Evaluator.MultiplyRelinearize(ca, cb)));
        var expected = new long[n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                int k = i + j;
                long v = a[i] * b[j];
                if (k >= n) { k -= n; v = -v; }
                expected[k] += v;
            }
        Assert.Equal(expected.Select(v => Mod(v, 1 << 16)), got);
        Assert.Throws<InvalidOperationException>(() => ctx.Encoder.EncodeBatch(new long[] { 1 }));
    }

    [Fact]
    public void SecretKeyEncryption_IsSeeded_HalfTheSize_AndComputesLikeAnother()
    {
        var ctx = Small.Value;
        long t = (long)ctx.Parameters.PlainModulus;
        var x = Random(ctx.Parameters.N, t, 31);
        var y = Random(ctx.Parameters.N, t, 32);
        var cx = ctx.EncryptSymmetric(x);
        var cy = ctx.Encrypt(y);
        var saved = RlweSerializer.Save(cx);
        var savedPublic = RlweSerializer.Save(cy);
        Assert.InRange(saved.Length, savedPublic.Length / 2 - 256, savedPublic.Length / 2 + 512);
        var loaded = RlweSerializer.LoadCiphertext(saved, ctx.Parameters.Ring);
        Assert.Equal(x, ctx.Decrypt(loaded));
        var product = ctx.Evaluator.MultiplyRelinearize(loaded, cy);
        var got = ctx.Decrypt(product);
        for (int i = 0; i < x.Length; i++) Assert.Equal(Mod((BigInteger)x[i] * y[i], t), got[i]);
        Assert.Throws<InvalidOperationException>(() => ctx.ToPublic().EncryptSymmetric(x));
    }

    [Fact]
    public void NoiseExhaustion_IsVisibleInTheBudget()
    {
        var ctx = Small.Value;
        var ev = ctx.Evaluator;
        long t = (long)ctx.Parameters.PlainModulus;
        var x = Random(ctx.Encoder.SlotCount, t, 8);
        var c = ctx.Encrypt(x);
        var expected = x.Select(v => (BigInteger)v).ToArray();
        int budget = ctx.NoiseBudget(c);
        for (int step = 0; step < 6 && budget > 0; step++)
        {
            c = ev.MultiplyRelinearize(c, c);
            for (int i = 0; i < expected.Length; i++) expected[i] = expected[i] * expected[i] % t;
            int next = ctx.NoiseBudget(c);
            Assert.True(next < budget, $"the budget must shrink: {budget} → {next}");
            budget = next;
            if (budget > 0) Assert.Equal(expected.Select(v => Mod(v, t)), ctx.Decrypt(c));
        }
        Assert.Equal(0, budget); // the small set runs out within six squarings, and says so
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ForDepth_Presets_HoldTheirDepth(int depth)
    {
        var p = BfvParameters.ForDepth(depth);
        Assert.Equal(128, (int)p.Ring.Security);
        using var ctx = BfvContext.Create(p);
        long t = (long)p.PlainModulus;
        var x = Random(p.Slots, t, 9);
        var c = ctx.Encrypt(x);
        var expected = x.Select(v => (BigInteger)v).ToArray();
        for (int d = 0; d < depth; d++)
        {
            c = ctx.Evaluator.MultiplyRelinearize(c, c);
            for (int i = 0; i < expected.Length; i++) expected[i] = expected[i] * expected[i] % t;
        }
        Assert.True(ctx.NoiseBudget(c) > 0);
        Assert.Equal(expected.Select(v => Mod(v, t)), ctx.Decrypt(c));
    }

    [Fact]
    public void AllPresets_Are128Bit()
    {
        for (int d = 1; d <= 10; d++) Assert.Equal(128, (int)BfvParameters.ForDepth(d).Ring.Security);
        foreach (int n in new[] { 4096, 8192, 16384, 32768 }) Assert.Equal(128, (int)BfvParameters.Default(n).Ring.Security);
        Assert.Throws<ArgumentException>(() => BfvParameters.Create(12, new[] { 50, 50 }, new[] { 50 }, 65537));
        Assert.Throws<ArgumentOutOfRangeException>(() => BfvParameters.ForDepth(11));
    }

    [Fact]
    public void CiphertextsUnderAnotherKey_AreRefused_InMemoryAndFromTheWire()
    {
        var ctx = Small.Value;
        using var other = BfvContext.Create(ctx.Parameters, [1]); // same parameters, another secret
        var mine = ctx.Encrypt([3, 4]);
        var theirs = other.Encrypt([5, 6]);
        var seeded = other.EncryptSymmetric([7]);
        Assert.Throws<KeyMismatchException>(() => ctx.Decrypt(theirs));
        Assert.Throws<KeyMismatchException>(() => ctx.Decrypt(seeded));
        Assert.Throws<KeyMismatchException>(() => ctx.NoiseBudget(theirs));
        Assert.Throws<KeyMismatchException>(() => ctx.Evaluator.Add(mine, theirs));
        Assert.Throws<KeyMismatchException>(() => ctx.Evaluator.Multiply(mine, theirs));
        Assert.Throws<KeyMismatchException>(() => ctx.Evaluator.Relinearize(other.Evaluator.Multiply(theirs, theirs)));
        Assert.Throws<KeyMismatchException>(() => ctx.Evaluator.RotateRows(theirs, 1));
        // Through the wire: the key id travels with the ciphertext, seeded or not.
        foreach (var ct in new[] { theirs, seeded, other.Evaluator.Multiply(theirs, theirs) })
        {
            var loaded = RlweSerializer.LoadCiphertext(RlweSerializer.Save(ct), ctx.Parameters.Ring);
            Assert.Throws<KeyMismatchException>(() => ctx.Decrypt(loaded));
            Assert.Equal(other.Decrypt(ct), other.Decrypt(loaded));
        }
        // Products, relinearized and switched down, stay bound to their key and decrypt under it.
        var product = ctx.Evaluator.MultiplyRelinearize(mine, mine);
        var down = ctx.Evaluator.ModSwitchToNext(product);
        Assert.Equal(mine.KeyId, down.KeyId);
        Assert.Equal([9, 16], ctx.Decrypt(down)[..2]);
    }

    [Fact]
    public void OtherParameters_AndPublicContexts_AreRefused()
    {
        var ctx = Small.Value;
        using var other = BfvContext.Create(BfvParameters.Default(8192));
        var foreign = other.Encrypt([1, 2, 3]);
        Assert.Throws<ArgumentException>(() => ctx.Evaluator.Add(ctx.Encrypt([1]), foreign));
        var pub = ctx.ToPublic();
        Assert.Throws<InvalidOperationException>(() => pub.Decrypt(pub.Encrypt([5])));
    }

    [Fact]
    public void ParameterFiles_RoundTrip_AndMutationsGiveTypedErrors()
    {
        var p = BfvParameters.Default(8192);
        var bytes = BfvContext.SaveParameters(p);
        var back = BfvContext.LoadParameters(bytes);
        Assert.Equal(p.PlainModulus, back.PlainModulus);
        Assert.Equal(p.Ring.Q, back.Ring.Q);
        var rng = new Random(10);
        for (int i = 0; i < 2000; i++)
        {
            var m = bytes.ToArray();
            for (int f = 0, c = 1 + rng.Next(3); f < c; f++) m[rng.Next(m.Length)] = (byte)rng.Next(256);
            if (rng.Next(5) == 0) m = m[..rng.Next(m.Length)];
            try { BfvContext.LoadParameters(m); }
            catch (VeilFormatException) { }
        }
        // An insecure ring is refused from bytes unless the receiver opts out in code.
        var weak = BfvContext.SaveParameters(BfvParameters.Create(12, new[] { 50, 50 }, new[] { 50 }, 65537, SecurityLevel.InsecureNoCheck));
        Assert.Throws<VeilFormatException>(() => BfvContext.LoadParameters(weak));
        Assert.Equal(65537UL, BfvContext.LoadParameters(weak, minimumSecurity: SecurityLevel.InsecureNoCheck).PlainModulus);
    }
}

/// <summary>Decryption's 128-bit accumulations at their limits: many 60-bit primes and a small even t.</summary>
public class BfvWideModulusTests
{
    [Fact]
    public void ManyLargePrimes_AndASmallEvenT_DecryptExactly()
    {
        var p = BfvParameters.Create(12, Enumerable.Repeat(60, 12).ToArray(), new[] { 60 }, 1UL << 16, SecurityLevel.InsecureNoCheck);
        using var ctx = BfvContext.Create(p);
        var rng = new Random(11);
        var a = Enumerable.Range(0, p.N).Select(_ => (long)rng.Next(-32768, 32768)).ToArray();
        var c = ctx.Encrypt(ctx.Encoder.EncodeCoefficients(a));
        Assert.Equal(a, ctx.Encoder.DecodeCoefficientsSigned(ctx.DecryptPlaintext(c)));
        var doubled = ctx.Encoder.DecodeCoefficientsSigned(ctx.DecryptPlaintext(ctx.Evaluator.Add(c, c)));
        Assert.Equal(a.Select(v => { long r = (2 * v) % 65536; if (r < 0) r += 65536; return r >= 32768 ? r - 65536 : r; }), doubled);
    }
}
