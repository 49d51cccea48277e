using System.Numerics;

namespace Veil.Arithmetic.Tests;

public class ModulusTests
{
    private const int Samples = 4000;

    /// <summary>Primes of 20, 40, 50, 60 and 61 bits (NTT-friendly and not), plus odd composites.</summary>
    public static TheoryData<ulong> Moduli()
    {
        var data = new TheoryData<ulong>();
        foreach (int bits in new[] { 20, 40, 50, 60, 61 }) data.Add(TestData.Prime(bits));
        data.Add((1UL << 61) - 1);           // Mersenne prime M61, the largest value allowed
        data.Add(3);                         // smallest modulus allowed
        data.Add(1_000_000_007);
        data.Add((1UL << 61) - 3);           // odd 61-bit value just below the cap
        data.Add(3UL * 5 * 7 * 11 * 13 * 17 * 19 * 23 * 29 * 31 * 37 * 41 * 43); // odd composite
        return data;
    }

    private static IEnumerable<ulong> Pairs64(ulong q, int seed)
    {
        var rng = new Random(seed);
        yield return 0; yield return 1; yield return q - 1; yield return q; yield return q + 1;
        yield return 2 * q - 1; yield return ulong.MaxValue; yield return ulong.MaxValue - 1;
        yield return ulong.MaxValue / q * q; yield return ulong.MaxValue / q * q - 1;
        for (int i = 0; i < Samples; i++) yield return rng.NextUInt64();
    }

    [Theory, MemberData(nameof(Moduli))]
    public void Constructor_ComputesBitCountAndBarrettRatio(ulong q)
    {
        var m = new Modulus(q);
        Assert.Equal(q, m.Value);
        Assert.Equal((int)(BigInteger.Log2(q) + 1), m.BitCount);
        var ratio = (BigInteger.One << 128) / q;
        Assert.Equal((ulong)(ratio >> 64), m.RatioHi);
        Assert.Equal((ulong)(ratio & ulong.MaxValue), m.RatioLo);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(4UL)]
    [InlineData(1UL << 40)]
    [InlineData(1UL << 61)]
    [InlineData((1UL << 61) + 1)]
    [InlineData((1UL << 62) + 1)]
    [InlineData(ulong.MaxValue)]
    public void Constructor_RejectsEvenTinyOrOversizedValues(ulong q)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Modulus(q));
        Assert.Equal("value", ex.ParamName);
    }

    [Theory]
    [InlineData(3UL)]
    [InlineData(5UL)]
    [InlineData((1UL << 61) - 1)]
    public void Constructor_AcceptsOddValuesInRange(ulong q) => Assert.Equal(q, new Modulus(q).Value);

    [Theory, MemberData(nameof(Moduli))]
    public void Reduce_MatchesBigIntegerForAll64BitInputs(ulong q)
    {
        var m = new Modulus(q);
        foreach (var x in Pairs64(q, 1))
            Assert.Equal(x % q, m.Reduce(x));
    }

    [Theory, MemberData(nameof(Moduli))]
    public void Reduce128_MatchesBigIntegerForInputsBelowQTimes2To64(ulong q)
    {
        var m = new Modulus(q);
        var rng = new Random(2);
        var his = TestData.ReducedValues(q, Samples, 3);
        for (int i = 0; i < his.Length; i++)
        {
            ulong hi = his[i];
            ulong lo = i % 7 == 0 ? ulong.MaxValue : i % 11 == 0 ? 0 : rng.NextUInt64();
            var expected = (((BigInteger)hi << 64) + lo) % q;
            Assert.Equal((ulong)expected, m.Reduce128(hi, lo));
        }
    }

    [Theory, MemberData(nameof(Moduli))]
    public void Mul_MatchesBigInteger(ulong q)
    {
        var m = new Modulus(q);
        var a = TestData.ReducedValues(q, Samples, 4);
        var b = TestData.ReducedValues(q, Samples, 5);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal((ulong)((UInt128)a[i] * b[i] % q), m.Mul(a[i], b[i]));
            Assert.Equal((ulong)((UInt128)a[i] * a[i] % q), m.Mul(a[i], a[i]));
        }
        Assert.Equal(1UL, m.Mul(q - 1, q - 1)); // (−1)² = 1
    }

    [Theory, MemberData(nameof(Moduli))]
    public void AddSubNegate_MatchBigIntegerAndStayReduced(ulong q)
    {
        var m = new Modulus(q);
        var a = TestData.ReducedValues(q, Samples, 6);
        var b = TestData.ReducedValues(q, Samples, 7);
        Array.Reverse(b); // pair edge values with random ones too
        var all = a.Concat(b).ToArray();
        for (int i = 0; i < all.Length; i++)
        {
            ulong x = all[i], y = all[(i * 7 + 3) % all.Length];
            Assert.Equal((ulong)(((BigInteger)x + y) % q), m.Add(x, y));
            Assert.Equal((ulong)((((BigInteger)x - y) % q + q) % q), m.Sub(x, y));
            ulong neg = m.Negate(x);
            Assert.True(neg < q);
            Assert.Equal(0UL, m.Add(x, neg));
        }
        Assert.Equal(0UL, m.Negate(0));
        Assert.Equal(1UL, m.Negate(q - 1));
        Assert.Equal(q - 2, m.Add(q - 1, q - 1));
        Assert.Equal(q - 1, m.Sub(0, 1));
    }

    [Theory, MemberData(nameof(Moduli))]
    public void ShoupPrecompute_IsFloorOfWTimes2To64OverQ(ulong q)
    {
        var m = new Modulus(q);
        foreach (var w in TestData.ReducedValues(q, 200, 8))
            Assert.Equal((ulong)(((BigInteger)w << 64) / q), m.ShoupPrecompute(w));
    }

    [Theory, MemberData(nameof(Moduli))]
    public void ShoupPrecompute_RejectsUnreducedConstant(ulong q)
    {
        var m = new Modulus(q);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.ShoupPrecompute(q));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.ShoupPrecompute(ulong.MaxValue));
    }

    [Theory, MemberData(nameof(Moduli))]
    public void MulShoupLazy_IsCongruentAndBelowTwoQForAny64BitX(ulong q)
    {
        var m = new Modulus(q);
        var ws = TestData.ReducedValues(q, 64, 9);
        int i = 0;
        foreach (var x in Pairs64(q, 10))
        {
            ulong w = ws[i++ % ws.Length], ws_ = m.ShoupPrecompute(w);
            ulong lazy = m.MulShoupLazy(x, w, ws_);
            ulong expected = (ulong)((UInt128)x * w % q);
            Assert.True(lazy < 2 * q, $"lazy result {lazy} not below 2q for x={x}, w={w}");
            Assert.Equal(expected, lazy % q);
            Assert.Equal(expected, m.MulShoup(x, w, ws_));
        }
    }

    [Theory, MemberData(nameof(Moduli))]
    public void FromSigned_MapsToCanonicalResidue(ulong q)
    {
        var m = new Modulus(q);
        var rng = new Random(11);
        var inputs = new List<long> { 0, 1, -1, long.MaxValue, long.MinValue, long.MinValue + 1, (long)q, -(long)q, (long)q - 1, -(long)q + 1, (long)q + 1, -(long)q - 1 };
        for (int i = 0; i < Samples; i++) inputs.Add((long)rng.NextUInt64());
        for (int i = 0; i < 200; i++) inputs.Add(rng.Next(-100, 100));
        foreach (long x in inputs)
        {
            var expected = (((BigInteger)x % q) + q) % q;
            Assert.Equal((ulong)expected, m.FromSigned(x));
        }
    }

    [Theory, MemberData(nameof(Moduli))]
    public void Pow_MatchesBigIntegerModPow(ulong q)
    {
        var m = new Modulus(q);
        var rng = new Random(12);
        for (int i = 0; i < 300; i++)
        {
            ulong b = i < 3 ? (ulong)i : rng.NextUInt64(); // Pow accepts an unreduced base
            ulong e = i % 5 == 0 ? (ulong)rng.Next(0, 10) : rng.NextUInt64();
            Assert.Equal((ulong)BigInteger.ModPow(b, e, q), m.Pow(b, e));
        }
        Assert.Equal(1UL, m.Pow(0, 0));
        Assert.Equal(1UL, m.Pow(q - 1, 2));
        Assert.Equal(q - 1, m.Pow(q - 1, 3));
    }

    [Theory, MemberData(nameof(Moduli))]
    public void Inverse_TimesValueIsOneOrThrowsWhenNotCoprime(ulong q)
    {
        var m = new Modulus(q);
        foreach (var a in TestData.ReducedValues(q, 500, 13))
        {
            if (BigInteger.GreatestCommonDivisor(a, q).IsOne)
            {
                ulong inv = m.Inverse(a);
                Assert.True(inv < q);
                Assert.Equal(1UL % q, (ulong)((UInt128)a * inv % q));
            }
            else
            {
                Assert.Throws<ArgumentException>(() => m.Inverse(a));
            }
        }
    }

    [Fact]
    public void Inverse_OfZeroThrows()
    {
        var m = new Modulus(TestData.Prime(50));
        var ex = Assert.Throws<ArgumentException>(() => m.Inverse(0));
        Assert.Equal("a", ex.ParamName);
    }

    [Fact]
    public void Inverse_AcceptsUnreducedInput()
    {
        ulong q = TestData.Prime(40);
        var m = new Modulus(q);
        Assert.Equal(m.Inverse(5), m.Inverse(5 + q));
    }

    [Fact]
    public void Inverse_OnCompositeModulusFindsInverseOrThrows()
    {
        var m = new Modulus(15);
        Assert.Equal(8UL, m.Inverse(2));
        Assert.Equal(14UL, m.Inverse(14));
        Assert.Throws<ArgumentException>(() => m.Inverse(3));
        Assert.Throws<ArgumentException>(() => m.Inverse(10));
    }

    [Fact]
    public void Equality_IsByValue()
    {
        ulong q = TestData.Prime(40);
        var a = new Modulus(q);
        var b = new Modulus(q);
        var c = new Modulus(q - 2);
        Assert.True(a.Equals(b));
        Assert.True(a.Equals((object)b));
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.False(a.Equals(c));
        Assert.False(a.Equals((object)q));
        Assert.Contains("40 bits", a.ToString());
    }
}
