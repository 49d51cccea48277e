using System.Numerics;

namespace Veil.Arithmetic.Tests;

public class NttTableTests
{
    /// <summary>(logN, prime bits): small and large rings, primes up to the 61-bit cap that stresses the lazy [0, 4q) range.</summary>
    public static TheoryData<int, int> Tables() => new()
    {
        { 4, 20 }, { 4, 61 }, { 6, 40 }, { 8, 50 }, { 10, 30 }, { 10, 60 }, { 10, 61 },
    };

    private static ulong[] RandomPoly(int n, ulong q, int seed)
    {
        var rng = new Random(seed);
        var a = new ulong[n];
        for (int i = 0; i < n; i++) a[i] = rng.NextBelow(q);
        return a;
    }

    [Theory]
    [InlineData(1, 20)]
    [InlineData(2, 20)]
    [InlineData(3, 30)]
    [InlineData(4, 61)]
    [InlineData(10, 40)]
    [InlineData(11, 61)]
    [InlineData(12, 50)]
    [InlineData(13, 60)]
    public void ForwardThenInverse_IsIdentity(int logN, int bits)
    {
        ulong q = TestData.Prime(bits, logN);
        var table = new NttTable(new Modulus(q), logN);
        foreach (int seed in new[] { 1, 2 })
        {
            var a = RandomPoly(table.N, q, seed);
            var work = (ulong[])a.Clone();
            table.Forward(work);
            Assert.NotEqual(a, work);
            table.Inverse(work);
            Assert.Equal(a, work);
        }
        // Worst case for lazy reduction: every coefficient q − 1.
        var max = Enumerable.Repeat(q - 1, table.N).ToArray();
        var w = (ulong[])max.Clone();
        table.Forward(w);
        table.Inverse(w);
        Assert.Equal(max, w);
    }

    [Theory, MemberData(nameof(Tables))]
    public void InverseThenForward_IsIdentity(int logN, int bits)
    {
        ulong q = TestData.Prime(bits, logN);
        var table = new NttTable(new Modulus(q), logN);
        var a = RandomPoly(table.N, q, 3);
        var work = (ulong[])a.Clone();
        table.Inverse(work);
        table.Forward(work);
        Assert.Equal(a, work);
    }

    [Theory, MemberData(nameof(Tables))]
    public void Forward_OfNegacyclicProductIsPointwiseProductOfForwards(int logN, int bits)
    {
        ulong q = TestData.Prime(bits, logN);
        var m = new Modulus(q);
        var table = new NttTable(m, logN);
        var a = RandomPoly(table.N, q, 4);
        var b = RandomPoly(table.N, q, 5);
        var expected = TestData.NaiveNegacyclic(a, b, q);
        table.Forward(expected);
        table.Forward(a);
        table.Forward(b);
        var pointwise = new ulong[table.N];
        for (int i = 0; i < table.N; i++) pointwise[i] = m.Mul(a[i], b[i]);
        Assert.Equal(expected, pointwise);
    }

    [Theory]
    [InlineData(4, 61)]
    [InlineData(10, 60)]
    public void InverseOfPointwiseProduct_IsNegacyclicProduct(int logN, int bits)
    {
        ulong q = TestData.Prime(bits, logN);
        var m = new Modulus(q);
        var table = new NttTable(m, logN);
        var a = RandomPoly(table.N, q, 6);
        var b = RandomPoly(table.N, q, 7);
        b[^1] = q - 1; // makes the wrap-around (X^N = −1) matter
        var expected = TestData.NaiveNegacyclic(a, b, q);
        table.Forward(a);
        table.Forward(b);
        for (int i = 0; i < table.N; i++) a[i] = m.Mul(a[i], b[i]);
        table.Inverse(a);
        Assert.Equal(expected, a);
    }

    [Fact]
    public void MultiplyingByX_RotatesNegacyclically()
    {
        // X · (a_0 + … + a_{N−1}X^{N−1}) = −a_{N−1} + a_0 X + …
        const int logN = 8;
        ulong q = TestData.Prime(40, logN);
        var m = new Modulus(q);
        var table = new NttTable(m, logN);
        var a = RandomPoly(table.N, q, 8);
        var x = new ulong[table.N];
        x[1] = 1;
        var fa = (ulong[])a.Clone();
        table.Forward(fa);
        table.Forward(x);
        for (int i = 0; i < table.N; i++) fa[i] = m.Mul(fa[i], x[i]);
        table.Inverse(fa);
        Assert.Equal(m.Negate(a[^1]), fa[0]);
        for (int i = 1; i < table.N; i++) Assert.Equal(a[i - 1], fa[i]);
    }

    [Theory]
    [InlineData(4, 20)]
    [InlineData(4, 61)]
    [InlineData(5, 50)]
    public void Forward_SlotJHoldsEvaluationAtPsiToTwoRevJPlusOne(int logN, int bits)
    {
        ulong q = TestData.Prime(bits, logN);
        var m = new Modulus(q);
        var table = new NttTable(m, logN);
        var a = RandomPoly(table.N, q, 9);
        var f = (ulong[])a.Clone();
        table.Forward(f);
        for (int j = 0; j < table.N; j++)
        {
            ulong exponent = 2UL * (ulong)NttTable.ReverseBits(j, logN) + 1;
            ulong point = (ulong)BigInteger.ModPow(table.Psi, exponent, q);
            Assert.Equal(TestData.Evaluate(a, point, q), f[j]);
        }
    }

    [Fact]
    public void Forward_SlotsMatchEvaluationForLargeRing()
    {
        const int logN = 10;
        ulong q = TestData.Prime(61, logN);
        var table = new NttTable(new Modulus(q), logN);
        var a = RandomPoly(table.N, q, 10);
        var f = (ulong[])a.Clone();
        table.Forward(f);
        foreach (int j in new[] { 0, 1, 2, 511, 512, 777, 1023 })
        {
            ulong exponent = 2UL * (ulong)NttTable.ReverseBits(j, logN) + 1;
            Assert.Equal(TestData.Evaluate(a, (ulong)BigInteger.ModPow(table.Psi, exponent, q), q), f[j]);
        }
    }

    [Theory]
    [InlineData(14, 50)] // the largest primes of the double-precision path, where its lazy bounds are tightest
    [InlineData(15, 49)]
    [InlineData(13, 36)]
    public void LazyDoublePrecisionTransforms_AreExact_OnExtremeInputs_AtFullSize(int logN, int bits)
    {
        ulong q = TestData.Prime(bits, logN);
        var table = new NttTable(new Modulus(q), logN);
        Assert.True(table.UsesFloatingPoint || !System.Runtime.Intrinsics.X86.Fma.IsSupported);
        var inputs = new[]
        {
            Enumerable.Repeat(q - 1, table.N).ToArray(),
            Enumerable.Range(0, table.N).Select(i => i % 3 == 0 ? q - 1 : (ulong)(q / 2 + (ulong)(i & 1))).ToArray(),
            RandomPoly(table.N, q, 21),
        };
        foreach (var a in inputs)
        {
            var f = (ulong[])a.Clone();
            table.Forward(f);
            foreach (int j in new[] { 0, 1, table.N / 2 + 3, table.N - 1 })
                Assert.Equal(TestData.Evaluate(a, (ulong)BigInteger.ModPow(table.Psi, 2UL * (ulong)NttTable.ReverseBits(j, logN) + 1, q), q), f[j]);
            Assert.All(f, v => Assert.True(v < q));
            table.Inverse(f);
            Assert.Equal(a, f);
            var g = (ulong[])a.Clone();
            table.Inverse(g); // the inverse of extreme inputs, checked through the forward transform
            Assert.All(g, v => Assert.True(v < q));
            table.Forward(g);
            Assert.Equal(a, g);
        }
    }

    [Theory, MemberData(nameof(Tables))]
    public void ForwardAndInverse_OutputsAreFullyReduced(int logN, int bits)
    {
        ulong q = TestData.Prime(bits, logN);
        var table = new NttTable(new Modulus(q), logN);
        var inputs = new List<ulong[]>
        {
            Enumerable.Repeat(q - 1, table.N).ToArray(),
            Enumerable.Range(0, table.N).Select(i => i % 2 == 0 ? q - 1 : 0UL).ToArray(),
            RandomPoly(table.N, q, 11),
            RandomPoly(table.N, q, 12),
        };
        foreach (var input in inputs)
        {
            var f = (ulong[])input.Clone();
            table.Forward(f);
            Assert.All(f, v => Assert.True(v < q, $"forward output {v} ≥ q"));
            var g = (ulong[])input.Clone();
            table.Inverse(g);
            Assert.All(g, v => Assert.True(v < q, $"inverse output {v} ≥ q"));
        }
    }

    [Fact]
    public void Forward_OfConstantIsConstantAndOfZeroIsZero()
    {
        const int logN = 6;
        ulong q = TestData.Prime(50, logN);
        var table = new NttTable(new Modulus(q), logN);
        var c = new ulong[table.N];
        c[0] = 12345;
        table.Forward(c);
        Assert.All(c, v => Assert.Equal(12345UL, v));
        var z = new ulong[table.N];
        table.Forward(z);
        Assert.All(z, v => Assert.Equal(0UL, v));
    }

    [Fact]
    public void Forward_IsLinear()
    {
        const int logN = 9;
        ulong q = TestData.Prime(60, logN);
        var m = new Modulus(q);
        var table = new NttTable(m, logN);
        var a = RandomPoly(table.N, q, 13);
        var b = RandomPoly(table.N, q, 14);
        ulong c = 987654321;
        var combo = new ulong[table.N];
        for (int i = 0; i < table.N; i++) combo[i] = m.Add(a[i], m.Mul(c, b[i]));
        table.Forward(a); table.Forward(b); table.Forward(combo);
        for (int i = 0; i < table.N; i++) Assert.Equal(m.Add(a[i], m.Mul(c, b[i])), combo[i]);
    }

    [Theory]
    [InlineData(4, 20)]
    [InlineData(10, 61)]
    [InlineData(17, 50)]
    public void Psi_IsPrimitive2NthRootOfUnity(int logN, int bits)
    {
        ulong q = TestData.Prime(bits, logN);
        var table = new NttTable(new Modulus(q), logN);
        Assert.Equal(1 << logN, table.N);
        Assert.Equal(logN, table.LogN);
        Assert.Equal(q, table.Modulus.Value);
        Assert.Equal(Primes.MinimalPrimitiveRoot(q, logN), table.Psi);
        Assert.Equal((BigInteger)(q - 1), BigInteger.ModPow(table.Psi, (BigInteger)1 << logN, q));
    }

    [Fact]
    public void ForwardAndInverse_RejectWrongLength()
    {
        var table = new NttTable(new Modulus(TestData.Prime(30, 4)), 4);
        Assert.Throws<ArgumentException>(() => table.Forward(new ulong[15]));
        Assert.Throws<ArgumentException>(() => table.Forward(new ulong[32]));
        Assert.Throws<ArgumentException>(() => table.Inverse(new ulong[8]));
    }

    [Fact]
    public void Constructor_RejectsCompositeModulus()
    {
        // 25 ≡ 1 mod 4 but is not prime.
        Assert.Throws<ArgumentException>(() => new NttTable(new Modulus(25), 1));
        // 17 · 97 = 1649 ≡ 1 mod 16.
        Assert.Throws<ArgumentException>(() => new NttTable(new Modulus(17 * 97), 3));
    }

    [Fact]
    public void Constructor_RejectsPrimeNotCongruentToOneMod2N()
    {
        // 12289 = 3·2^12 + 1 supports N = 2^11 (2N = 2^12) but not N = 2^12.
        _ = new NttTable(new Modulus(12289), 11);
        Assert.Throws<ArgumentException>(() => new NttTable(new Modulus(12289), 12));
        Assert.Throws<ArgumentException>(() => new NttTable(new Modulus(1_000_000_007), 10));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(18)]
    public void Constructor_RejectsLogNOutOfRange(int logN) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new NttTable(new Modulus(12289), logN));

    [Fact]
    public void ReverseBits_ReversesLowBitsAndIsAnInvolution()
    {
        Assert.Equal(0, NttTable.ReverseBits(0, 0));
        Assert.Equal(0b1000, NttTable.ReverseBits(0b0001, 4));
        Assert.Equal(0b0110, NttTable.ReverseBits(0b0110, 4));
        Assert.Equal(0b0011, NttTable.ReverseBits(0b1100, 4));
        Assert.Equal(1 << 16, NttTable.ReverseBits(1, 17));
        for (int bits = 1; bits <= 12; bits++)
        {
            var seen = new HashSet<int>();
            for (int x = 0; x < 1 << bits; x++)
            {
                int r = NttTable.ReverseBits(x, bits);
                Assert.InRange(r, 0, (1 << bits) - 1);
                Assert.Equal(x, NttTable.ReverseBits(r, bits));
                Assert.True(seen.Add(r));
            }
        }
    }
}
