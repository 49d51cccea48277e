using Veil.Arithmetic;

namespace Veil.Rlwe.Tests;

public class RlweParametersTests
{
    [Fact]
    public void Create_RejectsLogQPAboveThe128BitBound_WithMessageNamingTheBound()
    {
        // N = 2^13 with five 50-bit primes: 250 bits > 218.
        var (q, p) = TestRings.Primes(13, [50, 50, 50, 50], [50]);
        var ex = Assert.Throws<ArgumentException>(() => RlweParameters.Create(13, q, p, SecurityLevel.Bits128));
        Assert.Contains("218", ex.Message);
        Assert.Contains("250", ex.Message);
    }

    [Fact]
    public void Create_DefaultSecurityIsBits128AndChecked()
    {
        var (q, p) = TestRings.Primes(13, [50, 50, 50, 50], [50]);
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(13, q, p));
    }

    [Fact]
    public void Create_AcceptsAnchorSetA_AtBits128()
    {
        var a = TestRings.Get("AnchorA");
        Assert.Equal(13, a.LogN);
        Assert.Equal(8192, a.N);
        Assert.Equal(2, a.MaxLevel);
        Assert.Equal(1, a.PCount);
        Assert.Equal(3, a.PStart);
        Assert.Equal(200, a.LogQP);
        Assert.Equal(SecurityLevel.Bits128, a.Security);
        Assert.Equal(4, a.Ring.LimbCount);
        Assert.Equal(a.Q.Concat(a.P), a.Ring.Moduli.Select(m => m.Value));
    }

    [Fact]
    public void Create_AcceptsAnchorSetB_AtBits128()
    {
        var b = TestRings.Get("AnchorB");
        Assert.Equal(14, b.LogN);
        Assert.Equal(6, b.MaxLevel);
        Assert.Equal(360, b.LogQP);
        Assert.Equal(7, b.Q.Count);
        Assert.Single(b.P);
    }

    [Fact]
    public void Create_RejectsAnchorSetA_AtBits192AndBits256()
    {
        var (q, p) = TestRings.Primes(13, [60, 40, 40], [60]);
        Assert.Contains("152", Assert.Throws<ArgumentException>(() => RlweParameters.Create(13, q, p, SecurityLevel.Bits192)).Message);
        Assert.Contains("118", Assert.Throws<ArgumentException>(() => RlweParameters.Create(13, q, p, SecurityLevel.Bits256)).Message);
    }

    [Fact]
    public void Create_AcceptsSetExactlyAtTheBound()
    {
        // N = 2^11 allows 54 bits: a 27-bit Q prime and a 27-bit P prime total just under 54 bits.
        var (q, p) = TestRings.Primes(11, [27], [27]);
        var set = RlweParameters.Create(11, q, p, SecurityLevel.Bits128);
        Assert.Equal(54, set.LogQP);
        // One more bit is refused.
        var (q2, p2) = TestRings.Primes(11, [28], [27]);
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(11, q2, p2, SecurityLevel.Bits128));
    }

    [Fact]
    public void Create_InsecureNoCheckAcceptsOversizedSet()
    {
        var (q, p) = TestRings.Primes(10, [60, 60, 60], [60]);
        var set = RlweParameters.Create(10, q, p, SecurityLevel.InsecureNoCheck);
        Assert.Equal(SecurityLevel.InsecureNoCheck, set.Security);
        Assert.True(set.LogQP > HomomorphicEncryptionStandard.MaxLogQP(10, SecurityLevel.Bits128));
    }

    [Fact]
    public void Create_RejectsRingsTheStandardDoesNotCoverUnlessInsecure()
    {
        var (q, p) = TestRings.Primes(17, [50], [50]);
        var ex = Assert.Throws<ArgumentException>(() => RlweParameters.Create(17, q, p, SecurityLevel.Bits128));
        Assert.Equal("security", ex.ParamName);
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(16, TestRings.Primes(16, [50], [50]).Q, TestRings.Primes(16, [50], [50]).P, SecurityLevel.Bits192));
    }

    [Theory]
    [InlineData(10, 27, 19, 14)]
    [InlineData(11, 54, 37, 29)]
    [InlineData(12, 109, 75, 58)]
    [InlineData(13, 218, 152, 118)]
    [InlineData(14, 438, 305, 237)]
    [InlineData(15, 881, 611, 476)]
    public void MaxLogQP_MatchesHomomorphicEncryptionStandardTable(int logN, int b128, int b192, int b256)
    {
        Assert.Equal(b128, HomomorphicEncryptionStandard.MaxLogQP(logN, SecurityLevel.Bits128));
        Assert.Equal(b192, HomomorphicEncryptionStandard.MaxLogQP(logN, SecurityLevel.Bits192));
        Assert.Equal(b256, HomomorphicEncryptionStandard.MaxLogQP(logN, SecurityLevel.Bits256));
        Assert.Null(HomomorphicEncryptionStandard.MaxLogQP(logN, SecurityLevel.InsecureNoCheck));
    }

    [Fact]
    public void MaxLogQP_HasNoEntryOutsideTheTableExceptN65536At128Bits()
    {
        Assert.Equal(1747, HomomorphicEncryptionStandard.MaxLogQP(16, SecurityLevel.Bits128));
        Assert.Null(HomomorphicEncryptionStandard.MaxLogQP(16, SecurityLevel.Bits192));
        Assert.Null(HomomorphicEncryptionStandard.MaxLogQP(17, SecurityLevel.Bits128));
        Assert.Null(HomomorphicEncryptionStandard.MaxLogQP(9, SecurityLevel.Bits128));
    }

    [Fact]
    public void Create_RejectsCompositeModulus()
    {
        const int logN = 10;
        ulong twoN = 2UL << logN;
        ulong composite = (1UL << 40) - twoN + 1;
        while (Primes.IsPrime(composite)) composite -= twoN;
        var (q, p) = TestRings.Primes(logN, [40], [50]);
        var ex = Assert.Throws<ArgumentException>(() => RlweParameters.Create(logN, [q[0], composite], p, SecurityLevel.InsecureNoCheck));
        Assert.Equal("q", ex.ParamName);
        Assert.Contains("not prime", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => RlweParameters.Create(logN, q, [composite], SecurityLevel.InsecureNoCheck));
        Assert.Equal("p", ex.ParamName);
    }

    [Fact]
    public void Create_RejectsPrimeNotCongruentToOneMod2N()
    {
        // A prime ≡ 1 mod 2^11 that is not ≡ 1 mod 2^12 suits N = 2^10 but not N = 2^11.
        ulong prime = Primes.NttPrimes(40, 10, 64).First(v => v % 4096 != 1);
        var (q, p) = TestRings.Primes(11, [40], [50]);
        var ex = Assert.Throws<ArgumentException>(() => RlweParameters.Create(11, [q[0], prime], p, SecurityLevel.InsecureNoCheck));
        Assert.Equal("q", ex.ParamName);
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(11, q, [1_000_000_007UL], SecurityLevel.InsecureNoCheck));
    }

    [Fact]
    public void Create_RejectsPrimeAtOrAbove2To61()
    {
        const int logN = 10;
        ulong twoN = 2UL << logN;
        ulong big = (1UL << 61) + 1;
        while (!Primes.IsPrime(big)) big += twoN;
        var (q, p) = TestRings.Primes(logN, [40], [50]);
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(logN, [q[0], big], p, SecurityLevel.InsecureNoCheck));
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(logN, q, [1UL], SecurityLevel.InsecureNoCheck));
    }

    [Fact]
    public void Create_RejectsDuplicatePrimes()
    {
        var (q, p) = TestRings.Primes(10, [40, 40], [50]);
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(10, [q[0], q[1], q[0]], p, SecurityLevel.InsecureNoCheck));
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(10, q, [q[1]], SecurityLevel.InsecureNoCheck));
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(10, q, [p[0], p[0]], SecurityLevel.InsecureNoCheck));
    }

    [Theory]
    [InlineData(9)]
    [InlineData(18)]
    [InlineData(0)]
    [InlineData(-1)]
    public void Create_RejectsLogNOutOfRange(int logN)
    {
        var (q, p) = TestRings.Primes(10, [40], [50]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => RlweParameters.Create(logN, q, p, SecurityLevel.InsecureNoCheck));
        Assert.Equal("logN", ex.ParamName);
    }

    [Fact]
    public void Create_RejectsMissingPrimesOrUnknownSecurity()
    {
        var (q, p) = TestRings.Primes(10, [40], [50]);
        Assert.Equal("q", Assert.Throws<ArgumentException>(() => RlweParameters.Create(10, [], p, SecurityLevel.InsecureNoCheck)).ParamName);
        Assert.Equal("p", Assert.Throws<ArgumentException>(() => RlweParameters.Create(10, q, [], SecurityLevel.InsecureNoCheck)).ParamName);
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(10, q, p, (SecurityLevel)100));
    }

    [Fact]
    public void Create_RejectsTooManyPrimes()
    {
        var many = Primes.NttPrimes(30, 10, 81);
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(10, many.Take(65).ToArray(), [many[65]], SecurityLevel.InsecureNoCheck));
        Assert.Throws<ArgumentException>(() => RlweParameters.Create(10, [many[0]], many.Skip(1).Take(17).ToArray(), SecurityLevel.InsecureNoCheck));
    }

    [Fact]
    public void Hash_IsEqualForEqualSetsAndDiffersOtherwise()
    {
        var (q, p) = TestRings.Primes(11, [50, 40, 40], [50]);
        var a = RlweParameters.Create(11, q, p, SecurityLevel.InsecureNoCheck);
        var b = RlweParameters.Create(11, q.ToArray(), p.ToArray(), SecurityLevel.InsecureNoCheck);
        Assert.Equal(32, a.Hash.Length);
        Assert.Equal(a.Hash.ToArray(), b.Hash.ToArray());
        Assert.True(a.SameRingAs(b));

        var variants = new List<RlweParameters>
        {
            RlweParameters.Create(10, q, p, SecurityLevel.InsecureNoCheck),                                // same primes, other N
            RlweParameters.Create(11, [q[0], q[2], q[1]], p, SecurityLevel.InsecureNoCheck),              // other order
            RlweParameters.Create(11, q.Take(2).ToArray(), p, SecurityLevel.InsecureNoCheck),             // fewer primes
            RlweParameters.Create(11, q.Take(2).ToArray(), [q[2], p[0]], SecurityLevel.InsecureNoCheck),  // a prime moved from Q to P
            RlweParameters.Create(11, q, TestRings.Primes(11, [], [60]).P, SecurityLevel.InsecureNoCheck), // other P
        };
        var hashes = variants.Select(v => Convert.ToHexString(v.Hash.Span)).Append(Convert.ToHexString(a.Hash.Span)).ToList();
        Assert.Equal(hashes.Count, hashes.Distinct().Count());
        Assert.All(variants, v => Assert.False(a.SameRingAs(v)));
        Assert.True(a.SameRingAs(a));
    }

    [Fact]
    public void DigitCount_GroupsPrimesByNumberOfSpecialPrimes()
    {
        var one = TestRings.Get("OneSpecial");
        for (int level = 0; level <= one.MaxLevel; level++) Assert.Equal(level + 1, one.DigitCount(level));
        Assert.Equal(4, one.MaxDigitCount);
        var two = TestRings.Get("TwoSpecial");
        Assert.Equal(new[] { 1, 1, 2, 2, 3 }, Enumerable.Range(0, 5).Select(two.DigitCount).ToArray());
        Assert.Equal(3, two.MaxDigitCount);
    }

    [Fact]
    public void InternalConstants_AreConsistentWithThePrimes()
    {
        var set = TestRings.Get("TwoSpecial");
        var moduli = set.Ring.Moduli;
        for (int j = 0; j <= set.MaxLevel; j++)
        {
            var m = moduli[j];
            ulong pModQ = set.P.Aggregate(1UL, (acc, v) => m.Mul(acc, m.Reduce(v)));
            Assert.Equal(pModQ, set.PModQ[j]);
            Assert.Equal(1UL, m.Mul(set.PModQ[j], set.PInvModQ[j]));
            for (int k = 0; k < j; k++)
                Assert.Equal(1UL, moduli[k].Mul(moduli[k].Reduce(set.Q[j]), set.LastPrimeInverse[j][k]));
        }
    }

    [Fact]
    public void ToString_DescribesTheSet()
    {
        var s = TestRings.Get("AnchorA").ToString();
        Assert.Contains("N = 8192", s);
        Assert.Contains("60, 40, 40", s);
        Assert.Contains("200", s);
    }
}
