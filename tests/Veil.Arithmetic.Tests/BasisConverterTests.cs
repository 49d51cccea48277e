using System.Numerics;

namespace Veil.Arithmetic.Tests;

public class BasisConverterTests
{
    private const int N = 64;

    /// <summary>Distinct primes: a few of each size, disjoint between calls with different sizes.</summary>
    private static ulong[] PrimesOf(params int[] bits)
    {
        var result = new List<ulong>();
        foreach (var group in bits.GroupBy(b => b))
            result.AddRange(Primes.NttPrimes(group.Key, 6, group.Count() + 3).Skip(3).Take(group.Count()));
        return result.ToArray();
    }

    private static Modulus[] Moduli(IEnumerable<ulong> primes) => primes.Select(p => new Modulus(p)).ToArray();

    /// <summary>Source limbs: edge coefficients (0, A − 1, 1) then random ones.</summary>
    private static ulong[] SourceLimbs(ulong[] from, int seed)
    {
        var rng = new Random(seed);
        var src = new ulong[from.Length * N];
        for (int i = 0; i < from.Length; i++)
            for (int c = 0; c < N; c++)
                src[i * N + c] = c switch
                {
                    0 => 0,
                    1 => from[i] - 1,          // x = A − 1
                    2 => 1,
                    _ => rng.NextBelow(from[i]),
                };
        return src;
    }

    private static BigInteger Crt(ulong[] primes, ulong[] limbs, int c)
    {
        BigInteger a = primes.Aggregate(BigInteger.One, (acc, p) => acc * p), x = 0;
        for (int i = 0; i < primes.Length; i++)
        {
            BigInteger hat = a / primes[i];
            BigInteger inv = BigInteger.ModPow(hat % primes[i], primes[i] - 2, primes[i]);
            x += limbs[i * N + c] * inv % primes[i] * hat;
        }
        return x % a;
    }

    /// <summary>The representative of x mod A in (−A/2, A/2].</summary>
    private static BigInteger Centered(BigInteger x, BigInteger a) => 2 * x > a ? x - a : x;

    private static ulong Mod(BigInteger x, ulong q) => (ulong)((x % q + q) % q);

    /// <summary>Residues of the given integers (one per coefficient) modulo each prime, limb-major.</summary>
    private static ulong[] ToLimbs(ulong[] primes, BigInteger[] values)
    {
        var limbs = new ulong[primes.Length * N];
        for (int i = 0; i < primes.Length; i++)
            for (int c = 0; c < N; c++) limbs[i * N + c] = Mod(values[c], primes[i]);
        return limbs;
    }

    public static TheoryData<int[], int[]> SingleSource() => new()
    {
        { new[] { 40 }, new[] { 30, 50, 61 } },
        { new[] { 61 }, new[] { 20, 40, 60 } },
        { new[] { 30 }, new[] { 29 } },
        { new[] { 60 }, new[] { 40, 49, 50, 51, 20 } },
        // Key switching's digits at N = 16384 (49-bit primes) and BFV's: the source itself is an exact double.
        { new[] { 49 }, new[] { 48, 50, 20 } },
        { new[] { 50 }, new[] { 36, 49 } },
    };

    [Theory, MemberData(nameof(SingleSource))]
    public void Convert_FromOnePrimeIsExactCenteredValue(int[] fromBits, int[] toBits)
    {
        var from = PrimesOf(fromBits);
        var to = PrimesOf(toBits);
        var conv = new BasisConverter(Moduli(from), Moduli(to));
        Assert.Equal(1, conv.FromCount);
        Assert.Equal(to.Length, conv.ToCount);
        var src = SourceLimbs(from, 1);
        ulong a = from[0];
        src[3] = a / 2;       // (a − 1)/2: the largest value kept positive
        src[4] = a / 2 + 1;   // (a + 1)/2: the smallest value mapped to a negative one
        src[5] = a - 1;
        src[6] = 0;
        var dst = new ulong[to.Length * N];
        conv.Convert(src, dst, new ulong[2 * N], N);
        for (int j = 0; j < to.Length; j++)
            for (int c = 0; c < N; c++)
                Assert.Equal(Mod(Centered(src[c], a), to[j]), dst[j * N + c]);
    }

    public static TheoryData<int[], int[]> SeveralSources() => new()
    {
        { new[] { 40, 40 }, new[] { 60, 30 } },
        { new[] { 60, 50, 40 }, new[] { 61, 20 } },
        { new[] { 61, 61, 61, 61 }, new[] { 61, 61, 40 } },
        { new[] { 30, 30, 30, 30, 30 }, new[] { 50 } },
        // BFV's shapes: the vector (double-precision) path, sources and targets below 2^50.
        { new[] { 44, 44, 43, 43 }, new[] { 50, 50, 50, 50, 50 } },
        { new[] { 50, 50, 50, 50, 50, 50, 50, 50 }, new[] { 36, 44, 49 } },
    };

    [Theory, MemberData(nameof(SeveralSources))]
    public void Convert_FromSeveralPrimesIsExactCenteredValue(int[] fromBits, int[] toBits)
    {
        var from = PrimesOf(fromBits);
        var to = PrimesOf(toBits.Select(b => b == 61 && fromBits.Contains(61) ? 59 : b).ToArray());
        Assert.Empty(from.Intersect(to));
        BigInteger a = from.Aggregate(BigInteger.One, (acc, p) => acc * p);
        int k = from.Length;
        var conv = new BasisConverter(Moduli(from), Moduli(to));
        var src = SourceLimbs(from, 2);
        var dst = new ulong[to.Length * N];
        conv.Convert(src, dst, new ulong[(k + 1) * N], N);
        for (int c = 0; c < N; c++)
        {
            BigInteger x = Crt(from, src, c);
            if (c == 1) Assert.Equal(a - 1, x); // test data sanity: x = A − 1 is −1 centered
            var expected = Centered(x, a);
            for (int j = 0; j < to.Length; j++)
                Assert.True(Mod(expected, to[j]) == dst[j * N + c], $"coefficient {c} (x = {x}): target {j} is not the centered value mod b_j");
        }
    }

    [Fact]
    public void Convert_OfSmallSignedValuesReturnsThemExactly()
    {
        // Key switching relies on small negative values (centered) coming out as themselves, not as A − |v|.
        var from = PrimesOf(50, 50, 50);
        var to = PrimesOf(40, 60);
        BigInteger a = from.Aggregate(BigInteger.One, (acc, p) => acc * p);
        var values = Enumerable.Range(0, N).Select(c => (BigInteger)(c - N / 2) * (c % 3 == 0 ? 1 : 1_000_003)).ToArray();
        values[0] = a / 2 - (a >> 30);    // large positive values, 2^-31·A inside the half-way point
        values[1] = -(a / 2 - (a >> 30)); // and their negatives
        var conv = new BasisConverter(Moduli(from), Moduli(to));
        var dst = new ulong[to.Length * N];
        conv.Convert(ToLimbs(from, values), dst, new ulong[4 * N], N);
        for (int j = 0; j < to.Length; j++)
            for (int c = 0; c < N; c++) Assert.True(Mod(values[c], to[j]) == dst[j * N + c], $"coefficient {c}, value {values[c]}, target {j}");
    }

    [Fact]
    public void Convert_AtTheHalfwayPointIsOffByAtMostOneA()
    {
        // x = (A ± 1)/2 sit within 1/(2A) of the rounding boundary, below double precision: the result may be either
        // representative there, but nothing else.
        var from = PrimesOf(40, 40, 40);
        var to = PrimesOf(50);
        BigInteger a = from.Aggregate(BigInteger.One, (acc, p) => acc * p);
        var values = Enumerable.Range(0, N).Select(c => (a - 1) / 2 + (c % 4) - 1).ToArray(); // (A−3)/2 … (A+3)/2
        var conv = new BasisConverter(Moduli(from), Moduli(to));
        var dst = new ulong[N];
        conv.Convert(ToLimbs(from, values), dst, new ulong[4 * N], N);
        for (int c = 0; c < N; c++)
            Assert.Contains(dst[c], new[] { Mod(values[c], to[0]), Mod(values[c] - a, to[0]) });
    }

    [Fact]
    public void Convert_With16SixtyOneBitSourcesDoesNotOverflowAccumulator()
    {
        var all = Primes.NttPrimes(61, 4, 18);
        var from = all.Take(16).ToArray();
        var to = all.Skip(16).ToArray();
        BigInteger a = from.Aggregate(BigInteger.One, (acc, p) => acc * p);
        var conv = new BasisConverter(Moduli(from), Moduli(to));
        var src = new ulong[from.Length * N];
        // Coefficient c: limb i holds from[i] − 1 − c·i (near the maximum, so every partial term is large).
        for (int i = 0; i < from.Length; i++)
            for (int c = 0; c < N; c++) src[i * N + c] = from[i] - 1 - (ulong)(c * i);
        var dst = new ulong[to.Length * N];
        conv.Convert(src, dst, new ulong[(from.Length + 1) * N], N);
        for (int c = 0; c < N; c++)
        {
            var expected = Centered(Crt(from, src, c), a);
            for (int j = 0; j < to.Length; j++) Assert.Equal(Mod(expected, to[j]), dst[j * N + c]);
        }
    }

    [Theory]
    [InlineData(13, 20)] // thirteen 50-bit sources: four lazy reductions in each chain; five vectors, so one runs alone
    [InlineData(2, 4)]
    [InlineData(8, 4096)]
    public void Convert_BelowFiftyBits_IsExact_ForAnyVectorCount(int sources, int n)
    {
        var from = PrimesOf(Enumerable.Repeat(50, sources).ToArray());
        var to = PrimesOf(50, 49, 36).Where(p => !from.Contains(p)).ToArray();
        BigInteger a = from.Aggregate(BigInteger.One, (acc, p) => acc * p);
        var rng = new Random(sources * 1000 + n);
        var src = new ulong[sources * n];
        for (int i = 0; i < sources; i++)
            for (int c = 0; c < n; c++) src[i * n + c] = c < 2 ? from[i] - 1 - (ulong)c : rng.NextBelow(from[i]); // A − 1, then random
        var dst = new ulong[to.Length * n];
        new BasisConverter(Moduli(from), Moduli(to)).Convert(src, dst, new ulong[(sources + 1) * n], n);
        for (int c = 0; c < n; c++)
        {
            BigInteger x = 0;
            for (int i = 0; i < sources; i++)
            {
                BigInteger hat = a / from[i];
                x += src[i * n + c] * (BigInteger.ModPow(hat % from[i], from[i] - 2, from[i])) % from[i] * hat;
            }
            var expected = Centered(x % a, a);
            for (int j = 0; j < to.Length; j++)
                Assert.True(Mod(expected, to[j]) == dst[j * n + c], $"coefficient {c}, target {j}");
        }
    }

    [Theory]
    [InlineData(new[] { 50, 50, 50, 50 }, new[] { 49, 36 })]
    [InlineData(new[] { 60, 40 }, new[] { 61, 30 })]
    [InlineData(new[] { 44 }, new[] { 50, 61 })]
    public void ConvertScaled_IsTheConversionOfTheScaledResidues(int[] fromBits, int[] toBits)
    {
        var from = PrimesOf(fromBits);
        var to = PrimesOf(toBits).Where(p => !from.Contains(p)).ToArray();
        var conv = new BasisConverter(Moduli(from), Moduli(to));
        var src = SourceLimbs(from, 7);
        var factors = from.Select((p, i) => i == 0 ? p - 1 : (ulong)(12345 + i) % p).ToArray();
        var scaled = new ulong[src.Length];
        for (int i = 0; i < from.Length; i++)
            for (int c = 0; c < N; c++) scaled[i * N + c] = (ulong)((UInt128)src[i * N + c] * factors[i] % from[i]);
        var expected = new ulong[to.Length * N];
        conv.Convert(scaled, expected, new ulong[(from.Length + 1) * N], N);
        var got = new ulong[to.Length * N];
        conv.ConvertScaled(src, factors, got, new ulong[(from.Length + 1) * N], N);
        Assert.Equal(expected, got);
        Assert.Throws<ArgumentException>(() => conv.ConvertScaled(src, factors.Skip(1).ToArray(), got, new ulong[(from.Length + 1) * N], N));
        Assert.Throws<ArgumentException>(() => conv.ConvertScaled(src, factors.Select(f => f + from[0]).ToArray(), got, new ulong[(from.Length + 1) * N], N));
    }

    [Fact]
    public void Convert_IgnoresStaleScratchAndDestinationContents()
    {
        var from = PrimesOf(50, 50, 50);
        var to = PrimesOf(40);
        var conv = new BasisConverter(Moduli(from), Moduli(to));
        var src = SourceLimbs(from, 3);
        var clean = new ulong[to.Length * N];
        conv.Convert(src, clean, new ulong[(from.Length + 1) * N], N);
        var dirty = new ulong[to.Length * N];
        var scratch = Enumerable.Repeat(ulong.MaxValue, (from.Length + 1) * N).ToArray();
        Array.Fill(dirty, 12345UL);
        conv.Convert(src, dirty, scratch, N);
        Assert.Equal(clean, dirty);
    }

    [Theory]
    [InlineData(50, 40)] // double-precision kernels
    [InlineData(61, 60)] // AVX-512 integer kernels where present (raw references: the check must come first)
    public void Convert_RejectsScratchShorterThanSourcesPlusOneLimbs(int sourceBits, int targetBits)
    {
        var from = PrimesOf(sourceBits, sourceBits);
        var conv = new BasisConverter(Moduli(from), Moduli(PrimesOf(targetBits)));
        Assert.ThrowsAny<ArgumentException>(() => conv.Convert(new ulong[2 * N], new ulong[N], new ulong[2 * N], N));
        Assert.ThrowsAny<ArgumentException>(() => conv.Convert(new ulong[N], new ulong[N], new ulong[3 * N], N));
    }
}
