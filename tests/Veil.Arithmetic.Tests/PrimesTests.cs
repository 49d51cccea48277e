using System.Numerics;

namespace Veil.Arithmetic.Tests;

public class PrimesTests
{
    [Fact]
    public void IsPrime_AgreesWithTrialDivisionBelow50000()
    {
        for (ulong n = 0; n < 50_000; n++)
            Assert.True(TestData.IsPrimeByTrialDivision(n) == Primes.IsPrime(n), $"IsPrime({n}) is wrong");
    }

    [Fact]
    public void IsPrime_AgreesWithTrialDivisionNear2To32()
    {
        for (ulong n = (1UL << 32) - 300; n < (1UL << 32) + 300; n++)
            Assert.True(TestData.IsPrimeByTrialDivision(n) == Primes.IsPrime(n), $"IsPrime({n}) is wrong");
    }

    [Fact]
    public void IsPrime_AgreesWithReferenceOnRandom64BitOddNumbers()
    {
        var rng = new Random(21);
        int primes = 0;
        for (int i = 0; i < 3000; i++)
        {
            ulong n = rng.NextUInt64() | 1;
            bool expected = TestData.IsProbablePrimeReference(n);
            Assert.True(expected == Primes.IsPrime(n), $"IsPrime({n}) is wrong");
            if (expected) primes++;
        }
        Assert.InRange(primes, 20, 200); // about 2/ln(2^64) ≈ 4.5 % of odd numbers are prime
    }

    [Theory]
    [InlineData(2UL)]
    [InlineData(3UL)]
    [InlineData(37UL)]
    [InlineData(41UL)]
    [InlineData(12289UL)]
    [InlineData(998244353UL)]
    [InlineData(1000000007UL)]
    [InlineData(2147483647UL)]                // 2^31 − 1
    [InlineData(4294967291UL)]                // largest prime below 2^32
    [InlineData(2305843009213693951UL)]       // 2^61 − 1
    [InlineData(4611686018427387847UL)]       // largest prime below 2^62
    [InlineData(9223372036854775783UL)]       // largest prime below 2^63
    [InlineData(18446744073709551557UL)]      // largest prime below 2^64
    public void IsPrime_AcceptsKnownPrimes(ulong p) => Assert.True(Primes.IsPrime(p));

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(4UL)]
    [InlineData(561UL)]                       // Carmichael numbers
    [InlineData(1105UL)]
    [InlineData(1729UL)]
    [InlineData(2465UL)]
    [InlineData(8911UL)]
    [InlineData(41041UL)]
    [InlineData(825265UL)]
    [InlineData(321197185UL)]
    [InlineData(2047UL)]                      // strong pseudoprime to base 2
    [InlineData(3215031751UL)]                // strong pseudoprime to bases 2, 3, 5, 7
    [InlineData(2152302898747UL)]             // strong pseudoprime to bases 2 … 11
    [InlineData(3474749660383UL)]             // strong pseudoprime to bases 2 … 13
    [InlineData(341550071728321UL)]           // strong pseudoprime to bases 2 … 17
    [InlineData(3825123056546413051UL)]       // strong pseudoprime to bases 2 … 23 (= 149491 · 747451 · 34233211)
    [InlineData(18446744030759878681UL)]      // (2^32 − 5)^2
    [InlineData(18446743979220271189UL)]      // (2^32 − 5)(2^32 − 17), two 32-bit primes
    [InlineData(18446744073709551615UL)]      // 2^64 − 1
    [InlineData(2305843009213693953UL)]       // 2^61 + 1 (divisible by 3)
    public void IsPrime_RejectsCompositesIncludingCarmichaelAndStrongPseudoprimes(ulong n)
    {
        Assert.False(TestData.IsProbablePrimeReference(n), "test data error: not composite");
        Assert.False(Primes.IsPrime(n));
    }

    [Fact]
    public void IsPrime_RejectsProductsOfTwoLargePrimes()
    {
        ulong[] p32 = [4294967291, 4294967279, 4294967231, 4294967197];
        for (int i = 0; i < p32.Length; i++)
            for (int j = i; j < p32.Length; j++)
                Assert.False(Primes.IsPrime(p32[i] * p32[j]), $"{p32[i]}·{p32[j]} reported prime");
        // 2^61 − 1 times a small prime still fits in 64 bits.
        Assert.False(Primes.IsPrime(((1UL << 61) - 1) * 7));
    }

    [Theory]
    [InlineData(20, 10, 4)]
    [InlineData(30, 10, 8)]
    [InlineData(40, 12, 6)]
    [InlineData(50, 13, 5)]
    [InlineData(60, 14, 6)]
    [InlineData(61, 16, 3)]
    [InlineData(25, 17, 1)]
    public void NttPrimes_ReturnsDistinctDescendingPrimesOfRightSizeCongruentToOne(int bits, int logN, int count)
    {
        var primes = Primes.NttPrimes(bits, logN, count);
        ulong twoN = 2UL << logN;
        Assert.Equal(count, primes.Length);
        Assert.Equal(count, primes.Distinct().Count());
        for (int i = 0; i < primes.Length; i++)
        {
            ulong q = primes[i];
            Assert.True(TestData.IsProbablePrimeReference(q), $"{q} is not prime");
            Assert.Equal(1UL, q % twoN);
            Assert.Equal(bits, 64 - BitOperations.LeadingZeroCount(q));
            if (i > 0) Assert.True(primes[i - 1] > q, "not strictly descending");
        }
    }

    [Fact]
    public void NttPrimes_ReturnsTheLargestSuchPrimesWithNoneSkipped()
    {
        const int bits = 30, logN = 10;
        ulong twoN = 2UL << logN;
        var primes = Primes.NttPrimes(bits, logN, 10);
        // Every candidate ≡ 1 mod 2N above the smallest returned prime is either returned or composite.
        for (ulong c = (1UL << bits) - twoN + 1; c >= primes[^1]; c -= twoN)
            Assert.Equal(TestData.IsPrimeByTrialDivision(c), primes.Contains(c));
    }

    [Fact]
    public void NttPrimes_IsDeterministicAndSkipsExcluded()
    {
        var first = Primes.NttPrimes(50, 12, 4);
        Assert.Equal(first, Primes.NttPrimes(50, 12, 4));
        var skipped = Primes.NttPrimes(50, 12, 3, new HashSet<ulong> { first[0], first[2] });
        Assert.Equal(new[] { first[1], first[3], Primes.NttPrimes(50, 12, 5)[4] }, skipped);
    }

    [Theory]
    [InlineData(11, 10, 1)]  // bits < logN + 2
    [InlineData(62, 10, 1)]  // bits > 61
    [InlineData(40, 10, 0)]  // count < 1
    [InlineData(40, 0, 1)]   // logN < 1
    [InlineData(40, 21, 1)]  // logN > 20
    public void NttPrimes_RejectsOutOfRangeArguments(int bits, int logN, int count) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Primes.NttPrimes(bits, logN, count));

    [Fact]
    public void NttPrimes_ThrowsWhenTooFewPrimesExist()
    {
        // Between 2^13 and 2^14 the only candidates ≡ 1 mod 2^12 are 8193 = 3·2731 and 12289.
        var ex = Assert.Throws<InvalidOperationException>(() => Primes.NttPrimes(14, 11, 10));
        Assert.Contains("10", ex.Message);
    }

    [Theory]
    [InlineData(12289UL, 10)]
    [InlineData(40961UL, 12)]
    [InlineData(65537UL, 15)]
    [InlineData(7681UL, 8)]
    [InlineData(17UL, 3)]
    public void MinimalPrimitiveRoot_IsTheSmallestElementOfOrderExactly2N(ulong q, int logN)
    {
        ulong root = Primes.MinimalPrimitiveRoot(q, logN);
        ulong twoN = 2UL << logN;
        Assert.Equal(BigInteger.One, BigInteger.ModPow(root, twoN, q));
        Assert.Equal((BigInteger)(q - 1), BigInteger.ModPow(root, twoN / 2, q)); // order is 2N, not a divisor
        for (ulong x = 2; x < root; x++)
            Assert.NotEqual((BigInteger)(q - 1), BigInteger.ModPow(x, twoN / 2, q));
    }

    [Theory]
    [InlineData(40, 10)]
    [InlineData(60, 13)]
    [InlineData(61, 16)]
    [InlineData(50, 17)]
    public void MinimalPrimitiveRoot_HasOrderExactly2NForLargePrimes(int bits, int logN)
    {
        foreach (ulong q in Primes.NttPrimes(bits, logN, 2))
        {
            ulong root = Primes.MinimalPrimitiveRoot(q, logN);
            ulong twoN = 2UL << logN;
            Assert.InRange(root, 2UL, q - 1);
            Assert.Equal(BigInteger.One, BigInteger.ModPow(root, twoN, q));
            Assert.Equal((BigInteger)(q - 1), BigInteger.ModPow(root, twoN / 2, q));
        }
    }

    [Fact]
    public void MinimalPrimitiveRoot_RejectsPrimeNotCongruentToOne()
    {
        // 12289 ≡ 1 mod 2^12 but not mod 2^13.
        Assert.Throws<ArgumentException>(() => Primes.MinimalPrimitiveRoot(12289, 12));
        Assert.Throws<ArgumentException>(() => Primes.MinimalPrimitiveRoot(1_000_000_007, 10));
    }
}
