using System.Numerics;

namespace Veil.Paillier.Tests;

/// <summary>Paillier against BigInteger: Montgomery arithmetic, every operation exact, keys below 128-bit refused.</summary>
public class PaillierTests
{
    private static readonly Lazy<(PaillierPublicKey Pk, PaillierPrivateKey Sk)> Keys2048 = new(() => PaillierScheme.GenerateKeys(2048, allowBelow128Bits: true));

    [Theory]
    [InlineData(64)]
    [InlineData(1024)]
    [InlineData(2048)]
    [InlineData(4096)]
    public void Montgomery_MatchesBigInteger(int bits)
    {
        var rng = new Random(bits);
        BigInteger Rand(int b) { var bytes = new byte[b / 8 + 1]; rng.NextBytes(bytes); bytes[^1] = 0; return new BigInteger(bytes); }
        var m = Rand(bits) | BigInteger.One | (BigInteger.One << (bits - 1));
        var ctx = new MontgomeryContext(m, allowFma: false);
        for (int t = 0; t < 20; t++)
        {
            var a = Rand(bits) % m;
            var b = Rand(bits) % m;
            var r = new ulong[ctx.Limbs];
            ctx.Multiply(ctx.ToMontgomery(a), ctx.ToMontgomery(b), r);
            Assert.Equal(a * b % m, ctx.FromMontgomery(r));
            var e = Rand(bits / 2);
            Assert.Equal(BigInteger.ModPow(a, e, m), ctx.Pow(a, e, bits / 2, secretExponent: true));
            Assert.Equal(BigInteger.ModPow(a, e, m), ctx.Pow(a, e, bits / 2 + 7, secretExponent: false));
        }
        // Edge operands: 0, 1, m − 1.
        foreach (var a in new[] { BigInteger.Zero, BigInteger.One, m - 1 })
            Assert.Equal(BigInteger.ModPow(a, 65537, m), ctx.Pow(a, 65537, 17, secretExponent: true));
        foreach (var context in new[] { ctx, new MontgomeryContext(m, allowFma: true) })
        {
            var fixedBase = new FixedBaseExponentiator(context, 12345 % m, 200);
            var exponent = Rand(200);
            var y = Rand(bits) % m;
            Assert.Equal(BigInteger.ModPow(12345 % m, exponent, m) * y % m, fixedBase.PowTimes(exponent, y));
        }
    }

    [Theory]
    [InlineData(64)]
    [InlineData(1000)]
    [InlineData(2048)]
    [InlineData(3072)]
    [InlineData(4096)]
    [InlineData(6144)]
    public void FmaMontgomery_MatchesBigInteger_IncludingOperandsNear2m(int bits)
    {
        if (!FmaMontgomery.IsSupported) return; // the 64-bit product serves alone there, and is tested above
        var rng = new Random(bits + 1);
        BigInteger Rand(int b) { var bytes = new byte[b / 8 + 1]; rng.NextBytes(bytes); bytes[^1] = 0; return new BigInteger(bytes); }
        var m = Rand(bits) | BigInteger.One | (BigInteger.One << (bits - 1));
        var ctx = new FmaMontgomery(m);
        var rInverse = PaillierPrivateKey.Inverse(BigInteger.One << (52 * ctx.K), m);
        BigInteger[] operands = [0, 1, m - 1, m, 2 * m - 1, Rand(bits) % m, Rand(bits) % m, (BigInteger.One << (52 * ctx.K - 2)) % (2 * m)];
        foreach (var a in operands)
            foreach (var b in operands)
            {
                var r = new double[ctx.Padded];
                ctx.Multiply(ctx.ToDoubles(a), ctx.ToDoubles(b), r);
                var value = ctx.FromDoubles(r);
                Assert.True(value < 2 * m, "a product left [0, 2m)");
                Assert.Equal(a * b * rInverse % m, value % m);
            }
        for (int t = 0; t < 10; t++)
        {
            var a = Rand(bits) % m;
            var e = Rand(bits / 2);
            Assert.Equal(BigInteger.ModPow(a, e, m), ctx.Pow(a, e, bits / 2, secretExponent: true));
            Assert.Equal(BigInteger.ModPow(a, e, m), ctx.Pow(a, e, bits / 2 + 3, secretExponent: false));
        }
        Assert.Equal(BigInteger.ModPow(m - 1, 65537, m), ctx.Pow(m - 1, 65537, 17, secretExponent: true));
    }

    [Fact]
    public void KeysBelow128Bits_AreRefused_WithoutTheOptOut()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PaillierScheme.GenerateKeys(2048));
        Assert.Throws<ArgumentOutOfRangeException>(() => PaillierScheme.GenerateKeys(1024, allowBelow128Bits: true));
        var (pk, _) = Keys2048.Value;
        Assert.Equal(2048, pk.Bits);
    }

    [Fact]
    public void EveryOperation_IsExactModN_IncludingEdges()
    {
        var (pk, sk) = Keys2048.Value;
        var n = pk.N;
        var rng = new Random(3);
        BigInteger Rand() { var b = new byte[256]; rng.NextBytes(b); b[^1] &= 0x3F; return new BigInteger(b, isUnsigned: true) % n; }
        BigInteger[] values = [0, 1, n - 1, n / 2, Rand(), Rand(), 123456789];
        foreach (var a in values)
        {
            var ca = PaillierScheme.Encrypt(pk, a);
            Assert.Equal(a, PaillierScheme.Decrypt(sk, ca));
            Assert.Equal(a, PaillierScheme.Decrypt(sk, PaillierScheme.EncryptStandard(pk, a)));
            foreach (var b in values.Take(4))
            {
                var cb = PaillierScheme.Encrypt(pk, b);
                Assert.Equal((a + b) % n, PaillierScheme.Decrypt(sk, PaillierScheme.Add(ca, cb)));
                Assert.Equal(((a - b) % n + n) % n, PaillierScheme.Decrypt(sk, PaillierScheme.Subtract(ca, cb)));
                Assert.Equal((a + b) % n, PaillierScheme.Decrypt(sk, PaillierScheme.AddPlain(ca, b)));
            }
            Assert.Equal((n - a) % n, PaillierScheme.Decrypt(sk, PaillierScheme.Negate(ca)));
            Assert.Equal(a * 97 % n, PaillierScheme.Decrypt(sk, PaillierScheme.MultiplyScalar(ca, 97)));
            Assert.Equal(((a * -5) % n + n) % n, PaillierScheme.Decrypt(sk, PaillierScheme.MultiplyScalar(ca, -5)));
            Assert.Equal(a, PaillierScheme.Decrypt(sk, PaillierScheme.Rerandomize(ca)));
        }
        Assert.Equal(n - 7, PaillierScheme.Decrypt(sk, PaillierScheme.Encrypt(pk, -7)));
        Assert.Throws<ArgumentOutOfRangeException>(() => PaillierScheme.Encrypt(pk, n));
    }

    [Fact]
    public void Encryption_IsRandomized_AndVectorsUseAllCores()
    {
        var (pk, sk) = Keys2048.Value;
        Assert.NotEqual(PaillierScheme.Encrypt(pk, 5).Value, PaillierScheme.Encrypt(pk, 5).Value);
        long[] xs = [1, 2, 3, -4, 1_000_000_007, 0, long.MaxValue / 3];
        long[] ys = [10, 20, 30, 40, 50, 60, 70];
        var sums = PaillierScheme.DecryptVector(sk, PaillierScheme.AddVectors(PaillierScheme.EncryptVector(pk, xs), PaillierScheme.EncryptVector(pk, ys)));
        for (int i = 0; i < xs.Length; i++) Assert.Equal((((BigInteger)xs[i] + ys[i]) % pk.N + pk.N) % pk.N, sums[i]);
    }

    [Fact]
    public void CiphertextsUnderAnotherKey_AreRefused()
    {
        var (pk, sk) = Keys2048.Value;
        var (otherPk, _) = PaillierScheme.GenerateKeys(2048, allowBelow128Bits: true);
        var foreign = PaillierScheme.Encrypt(otherPk, 1);
        Assert.Throws<ArgumentException>(() => PaillierScheme.Decrypt(sk, foreign));
        Assert.Throws<ArgumentException>(() => PaillierScheme.Add(PaillierScheme.Encrypt(pk, 1), foreign));
    }
}
