namespace Veil.Arithmetic.Tests;

public class RnsRingTests
{
    private const int LogN = 8;

    private static RnsRing MakeRing() =>
        new(LogN, Primes.NttPrimes(61, LogN, 1).Concat(Primes.NttPrimes(40, LogN, 2)).Concat(Primes.NttPrimes(25, LogN, 1)));

    private static ulong[] Random(RnsRing ring, int first, int limbs, int seed, bool edges = true)
    {
        var rng = new System.Random(seed);
        var d = new ulong[limbs * ring.N];
        for (int l = 0; l < limbs; l++)
        {
            ulong q = ring.Moduli[first + l].Value;
            for (int i = 0; i < ring.N; i++)
                d[l * ring.N + i] = edges && i == 0 ? 0 : edges && i == 1 ? q - 1 : rng.NextBelow(q);
        }
        return d;
    }

    [Fact]
    public void Constructor_BuildsModuliAndTablesInOrder()
    {
        var primes = Primes.NttPrimes(50, LogN, 3);
        var ring = new RnsRing(LogN, primes);
        Assert.Equal(1 << LogN, ring.N);
        Assert.Equal(LogN, ring.LogN);
        Assert.Equal(3, ring.LimbCount);
        Assert.Equal(primes, ring.Moduli.Select(m => m.Value));
        Assert.Equal(primes, ring.Ntt.Select(t => t.Modulus.Value));
        Assert.All(ring.Ntt, t => Assert.Equal(ring.N, t.N));
    }

    [Fact]
    public void Constructor_RejectsDuplicateOrMissingPrimes()
    {
        var p = Primes.NttPrimes(40, LogN, 2);
        Assert.Throws<ArgumentException>(() => new RnsRing(LogN, [p[0], p[1], p[0]]));
        Assert.Throws<ArgumentException>(() => new RnsRing(LogN, Array.Empty<ulong>()));
    }

    [Fact]
    public void Constructor_RejectsPrimeNotCongruentToOneMod2N()
    {
        // 12289 supports N up to 2^11 only.
        Assert.ThrowsAny<ArgumentException>(() => new RnsRing(12, [12289UL]));
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(1, 2)]
    [InlineData(3, 1)]
    public void AddSubNegate_MatchModulusArithmeticOnEachLimb(int first, int limbs)
    {
        var ring = MakeRing();
        var a = Random(ring, first, limbs, 1);
        var b = Random(ring, first, limbs, 2);
        for (int k = 0; k < a.Length; k += 7) a[k] = 0; // zero negates to zero, not q
        var sum = new ulong[a.Length];
        var diff = new ulong[a.Length];
        var neg = new ulong[a.Length];
        ring.Add(a, b, sum, first, limbs);
        ring.Sub(a, b, diff, first, limbs);
        ring.Negate(a, neg, first, limbs);
        for (int l = 0; l < limbs; l++)
        {
            var m = ring.Moduli[first + l];
            for (int i = 0; i < ring.N; i++)
            {
                int k = l * ring.N + i;
                Assert.Equal(m.Add(a[k], b[k]), sum[k]);
                Assert.Equal(m.Sub(a[k], b[k]), diff[k]);
                Assert.Equal(m.Negate(a[k]), neg[k]);
            }
        }
    }

    [Fact]
    public void Add_MayAliasTheDestination()
    {
        var ring = MakeRing();
        var a = Random(ring, 0, 4, 3);
        var b = Random(ring, 0, 4, 4);
        var expected = new ulong[a.Length];
        ring.Add(a, b, expected, 0, 4);
        ring.Add(a, b, a, 0, 4);
        Assert.Equal(expected, a);
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(2, 2)]
    public void MulPointwiseAndMulPointwiseAdd_MatchModulusMul(int first, int limbs)
    {
        var ring = MakeRing();
        var a = Random(ring, first, limbs, 5);
        var b = Random(ring, first, limbs, 6);
        var c = Random(ring, first, limbs, 7);
        var prod = new ulong[a.Length];
        ring.MulPointwise(a, b, prod, first, limbs);
        var acc = (ulong[])c.Clone();
        ring.MulPointwiseAdd(a, b, acc, first, limbs);
        for (int l = 0; l < limbs; l++)
        {
            var m = ring.Moduli[first + l];
            for (int i = 0; i < ring.N; i++)
            {
                int k = l * ring.N + i;
                Assert.Equal(m.Mul(a[k], b[k]), prod[k]);
                Assert.Equal(m.Add(c[k], m.Mul(a[k], b[k])), acc[k]);
            }
        }
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(1, 3)]
    public void MulScalarAndAddScalar_UseOneConstantPerLimb(int first, int limbs)
    {
        var ring = MakeRing();
        var a = Random(ring, first, limbs, 8);
        var scalars = Enumerable.Range(0, limbs).Select(l => ring.Moduli[first + l].Value - 1 - (ulong)l).ToArray();
        var mul = new ulong[a.Length];
        var add = new ulong[a.Length];
        var acc = Random(ring, first, limbs, 9);
        var accumulated = (ulong[])acc.Clone();
        ring.MulScalar(a, scalars, mul, first, limbs);
        ring.AddScalar(a, scalars, add, first, limbs);
        ring.MulScalarAdd(a, scalars, accumulated, first, limbs);
        for (int l = 0; l < limbs; l++)
        {
            var m = ring.Moduli[first + l];
            for (int i = 0; i < ring.N; i++)
            {
                int k = l * ring.N + i;
                Assert.Equal(m.Mul(a[k], scalars[l]), mul[k]);
                Assert.Equal(m.Add(a[k], scalars[l]), add[k]);
                Assert.Equal(m.Add(acc[k], m.Mul(a[k], scalars[l])), accumulated[k]);
            }
        }
    }

    [Fact]
    public void ForwardPointwiseInverse_IsNegacyclicProductOnEveryLimb()
    {
        var ring = MakeRing();
        var a = Random(ring, 0, 4, 9, edges: false);
        var b = Random(ring, 0, 4, 10, edges: false);
        var expected = new ulong[a.Length];
        for (int l = 0; l < 4; l++)
        {
            var prod = TestData.NaiveNegacyclic(a.AsSpan(l * ring.N, ring.N).ToArray(), b.AsSpan(l * ring.N, ring.N).ToArray(), ring.Moduli[l].Value);
            prod.CopyTo(expected, l * ring.N);
        }
        ring.Forward(a, 0, 4);
        ring.Forward(b, 0, 4);
        ring.MulPointwise(a, b, a, 0, 4);
        ring.Inverse(a, 0, 4);
        Assert.Equal(expected, a);
    }

    [Fact]
    public void ForwardWithOffset_UsesTheTablesOfThoseLimbs()
    {
        var ring = MakeRing();
        var a = Random(ring, 2, 2, 11);
        var viaRing = (ulong[])a.Clone();
        ring.Forward(viaRing, 2, 2);
        var viaTables = (ulong[])a.Clone();
        ring.Ntt[2].Forward(viaTables.AsSpan(0, ring.N));
        ring.Ntt[3].Forward(viaTables.AsSpan(ring.N, ring.N));
        Assert.Equal(viaTables, viaRing);
        ring.Inverse(viaRing, 2, 2);
        Assert.Equal(a, viaRing);
    }

    [Fact]
    public void Limb_SlicesLimbMajorData()
    {
        var ring = MakeRing();
        var data = Enumerable.Range(0, 4 * ring.N).Select(i => (ulong)i).ToArray();
        var limb = ring.Limb(data, 2);
        Assert.Equal(ring.N, limb.Length);
        Assert.Equal((ulong)(2 * ring.N), limb[0]);
    }

    [Fact]
    public void RnsPolynomial_ShapeLimbsAndDeepClone()
    {
        var p = new RnsPolynomial(16, 3);
        Assert.Equal(16, p.N);
        Assert.Equal(3, p.LimbCount);
        Assert.Equal(48, p.Data.Length);
        p.Limb(1)[0] = 7;
        Assert.Equal(7UL, p.Data[16]);
        Assert.Equal(32, p.Limbs(2).Length);
        var c = p.Clone();
        Assert.Equal(p.Data, c.Data);
        c.Data[16] = 8;
        Assert.Equal(7UL, p.Data[16]);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(12, 1)]
    [InlineData(16, 0)]
    public void RnsPolynomial_RejectsBadShape(int n, int limbs) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new RnsPolynomial(n, limbs));
}
