using Veil.Arithmetic.Sampling;

namespace Veil.Arithmetic.Tests;

public class SamplersTests
{
    private static byte[] Seed(byte fill) => Enumerable.Range(0, Prng.SeedSize).Select(i => (byte)(fill + i)).ToArray();

    private static RnsRing Ring(int logN, params int[] bits)
    {
        var primes = new List<ulong>();
        foreach (var g in bits.GroupBy(b => b)) primes.AddRange(Primes.NttPrimes(g.Key, logN, g.Count()));
        return new RnsRing(logN, primes);
    }

    [Fact]
    public void Uniform_ValuesAreBelowEachLimbsModulusAndCoverTheRange()
    {
        var ring = Ring(12, 61, 40, 20, 16);
        var data = new ulong[ring.LimbCount * ring.N];
        using (var prng = new Prng(Seed(1), "test/uniform"))
            Samplers.Uniform(prng, ring, data, 0, ring.LimbCount);
        for (int l = 0; l < ring.LimbCount; l++)
        {
            ulong q = ring.Moduli[l].Value;
            var limb = data.AsSpan(l * ring.N, ring.N).ToArray();
            Assert.All(limb, v => Assert.True(v < q));
            // The top eighth of [0, q) must be hit (a sampler for a smaller modulus would miss it).
            Assert.Contains(limb, v => v >= q / 8 * 7);
            Assert.Contains(limb, v => v < q / 8);
        }
    }

    [Fact]
    public void Uniform_WithFirstOffsetUsesTheModuliOfThoseLimbs()
    {
        var ring = Ring(10, 61, 20);
        ulong small = ring.Moduli[1].Value;
        var data = new ulong[ring.N];
        using (var prng = new Prng(Seed(2), "test/uniform"))
            Samplers.Uniform(prng, ring, data, 1, 1);
        Assert.All(data, v => Assert.True(v < small));
    }

    [Theory]
    [InlineData(61)]
    [InlineData(20)]
    public void Uniform_IsRoughlyUniformByChiSquare(int bits)
    {
        var ring = Ring(14, bits);
        ulong q = ring.Moduli[0].Value;
        var data = new ulong[ring.N * 4];
        using (var prng = new Prng(Seed(3), "test/uniform"))
            for (int r = 0; r < 4; r++) Samplers.Uniform(prng, ring, data.AsSpan(r * ring.N, ring.N), 0, 1);
        const int buckets = 64;
        var counts = new int[buckets];
        double mean = 0;
        foreach (var v in data)
        {
            counts[(int)((UInt128)v * buckets / q)]++;
            mean += (double)v / q;
        }
        mean /= data.Length;
        double expected = (double)data.Length / buckets;
        double chi2 = counts.Sum(c => (c - expected) * (c - expected) / expected);
        // 63 degrees of freedom: mean 63, std ≈ 11.2; 130 is beyond the 99.999 % quantile.
        Assert.InRange(chi2, 0, 130);
        Assert.InRange(mean, 0.49, 0.51);
    }

    [Fact]
    public void Uniform_IsDeterministicForASeedAndDiffersAcrossSeeds()
    {
        var ring = Ring(10, 50, 40);
        ulong[] Sample(byte s)
        {
            var d = new ulong[ring.LimbCount * ring.N];
            using var prng = new Prng(Seed(s), "test/uniform");
            Samplers.Uniform(prng, ring, d, 0, ring.LimbCount);
            return d;
        }
        Assert.Equal(Sample(4), Sample(4));
        Assert.NotEqual(Sample(4), Sample(5));
    }

    [Fact]
    public void Ternary_OnlyMinusOneZeroOneWithEqualFrequencies()
    {
        const int n = 300_000;
        var t = new sbyte[n];
        using (var prng = new Prng(Seed(6), "test/ternary"))
            Samplers.Ternary(prng, t);
        var counts = new int[3];
        foreach (var v in t)
        {
            Assert.InRange(v, (sbyte)-1, (sbyte)1);
            counts[v + 1]++;
        }
        // Each frequency within 1 % of 1/3 (the standard error is 0.09 %).
        foreach (var c in counts) Assert.InRange((double)c / n, 1.0 / 3 - 0.01, 1.0 / 3 + 0.01);
    }

    [Fact]
    public void Ternary_ConsecutiveValuesAreNotCorrelated()
    {
        const int n = 200_000;
        var t = new sbyte[n];
        using (var prng = new Prng(Seed(7), "test/ternary"))
            Samplers.Ternary(prng, t);
        var pairs = new int[9];
        for (int i = 1; i < n; i++) pairs[(t[i - 1] + 1) * 3 + t[i] + 1]++;
        foreach (var c in pairs) Assert.InRange((double)c / (n - 1), 1.0 / 9 - 0.01, 1.0 / 9 + 0.01);
    }

    [Fact]
    public void Ternary_FillsShortAndOddLengthsDeterministically()
    {
        foreach (int len in new[] { 0, 1, 255, 256, 257, 1000 })
        {
            var a = new sbyte[len];
            var b = new sbyte[len];
            using (var p = new Prng(Seed(8), "test/ternary")) Samplers.Ternary(p, a);
            using (var p = new Prng(Seed(8), "test/ternary")) Samplers.Ternary(p, b);
            Assert.Equal(a, b);
            Assert.All(a, v => Assert.InRange(v, (sbyte)-1, (sbyte)1));
        }
    }

    [Fact]
    public void Gaussian_IsBoundedCenteredWithSigma3Point2()
    {
        const int n = 200_000;
        var e = new sbyte[n];
        using (var prng = new Prng(Seed(9), "test/gaussian"))
            Samplers.Gaussian(prng, e);
        double sum = 0, sumSq = 0;
        foreach (var v in e)
        {
            Assert.InRange(v, (sbyte)-Samplers.MaxError, (sbyte)Samplers.MaxError);
            sum += v;
            sumSq += (double)v * v;
        }
        double mean = sum / n;
        double std = Math.Sqrt(sumSq / n - mean * mean);
        Assert.InRange(mean, -0.05, 0.05);                             // standard error 0.007
        Assert.InRange(std, Samplers.Sigma * 0.98, Samplers.Sigma * 1.02); // standard error 0.16 %
    }

    [Fact]
    public void Gaussian_HistogramMatchesDiscreteGaussianByChiSquare()
    {
        const int n = 200_000;
        var e = new sbyte[n];
        using (var prng = new Prng(Seed(10), "test/gaussian"))
            Samplers.Gaussian(prng, e);
        var counts = new int[2 * Samplers.MaxError + 1];
        foreach (var v in e) counts[v + Samplers.MaxError]++;
        var weights = Enumerable.Range(-Samplers.MaxError, 2 * Samplers.MaxError + 1)
            .Select(k => Math.Exp(-(double)k * k / (2 * Samplers.Sigma * Samplers.Sigma))).ToArray();
        double total = weights.Sum();
        // Pool the tails (expected counts below 5) into the outermost cells kept.
        double chi2 = 0;
        int cells = 0;
        double tailExpected = 0, tailObserved = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            double expected = n * weights[i] / total;
            if (expected < 20) { tailExpected += expected; tailObserved += counts[i]; continue; }
            chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
            cells++;
        }
        chi2 += (tailObserved - tailExpected) * (tailObserved - tailExpected) / tailExpected;
        cells++;
        // About 21 degrees of freedom; 60 is far beyond the 99.999 % quantile.
        Assert.InRange(cells, 15, 30);
        Assert.InRange(chi2, 0, 60);
        // Zero must have weight exp(0)/Z ≈ 0.1247, not half or double that.
        Assert.InRange((double)counts[Samplers.MaxError] / n, 0.1247 - 0.005, 0.1247 + 0.005);
        // Symmetry: P(e = 1) ≈ P(e = −1).
        Assert.InRange((double)counts[Samplers.MaxError + 1] / counts[Samplers.MaxError - 1], 0.95, 1.05);
    }

    [Fact]
    public void Gaussian_IsDeterministicForASeed()
    {
        var a = new sbyte[5000];
        var b = new sbyte[5000];
        using (var p = new Prng(Seed(11), "test/gaussian")) Samplers.Gaussian(p, a);
        using (var p = new Prng(Seed(11), "test/gaussian")) Samplers.Gaussian(p, b);
        Assert.Equal(a, b);
        Assert.Contains(a, v => v != 0);
    }

    [Fact]
    public void Constants_MatchTheStandard()
    {
        Assert.Equal(3.2, Samplers.Sigma);
        Assert.Equal(19, Samplers.MaxError);
        Assert.Equal(Samplers.MaxError, (int)Math.Ceiling(Samplers.TailCut * Samplers.Sigma) - 1);
    }

    [Fact]
    public void SmallToRns_MapsSignedValuesToResiduesInEveryLimb()
    {
        var ring = Ring(10, 60, 40, 30);
        var rng = new Random(12);
        var values = new sbyte[ring.N];
        for (int i = 0; i < values.Length; i++) values[i] = (sbyte)rng.Next(-128, 128);
        values[0] = sbyte.MinValue; values[1] = sbyte.MaxValue; values[2] = 0; values[3] = -1;
        var data = new ulong[ring.LimbCount * ring.N];
        Samplers.SmallToRns(values, ring, data, 0, ring.LimbCount);
        for (int l = 0; l < ring.LimbCount; l++)
        {
            var m = ring.Moduli[l];
            for (int i = 0; i < ring.N; i++) Assert.Equal(m.FromSigned(values[i]), data[l * ring.N + i]);
        }
        // With an offset, the residues follow the moduli of the limbs asked for.
        var upper = new ulong[ring.N];
        Samplers.SmallToRns(values, ring, upper, 2, 1);
        for (int i = 0; i < ring.N; i++) Assert.Equal(ring.Moduli[2].FromSigned(values[i]), upper[i]);
    }

    // The smallest NTT-friendly prime above 2^bits: 2^64 mod q is then near 2^(64-bits)·(q − 2^bits)… large, so about one
    // word in 2^(64−bits−1)… is rejected (1 in 16 for bits = 60), which exercises the vector path's fallback.
    private static ulong PrimeAbove(int bits, int logN)
    {
        ulong step = 1UL << (logN + 1);
        for (ulong q = (1UL << bits) + 1; ; q += step) if (Primes.IsPrime(q)) return q;
    }

    [Theory]
    [InlineData(10)]
    [InlineData(12)]
    public void Uniform_VectorPathEqualsScalarPath(int logN)
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return; // no vector path to compare
        var primes = new List<ulong> { PrimeAbove(60, logN) };
        primes.AddRange(Primes.NttPrimes(61, logN, 1));
        primes.AddRange(Primes.NttPrimes(40, logN, 1));
        primes.AddRange(Primes.NttPrimes(20, logN, 1));
        var ring = new RnsRing(logN, primes);
        var vector = new ulong[ring.LimbCount * ring.N];
        var scalar = new ulong[ring.LimbCount * ring.N];
        using (var p = new Prng(Seed(21), "test/uniform")) Samplers.Uniform(p, ring, vector, 0, ring.LimbCount, vectors: true);
        using (var p = new Prng(Seed(21), "test/uniform")) Samplers.Uniform(p, ring, scalar, 0, ring.LimbCount, vectors: false);
        Assert.Equal(scalar, vector);
        // The public entry is one of the two.
        var viaPublic = new ulong[vector.Length];
        using (var p = new Prng(Seed(21), "test/uniform")) Samplers.Uniform(p, ring, viaPublic, 0, ring.LimbCount);
        Assert.Equal(scalar, viaPublic);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(2048)]
    [InlineData(2049)]
    [InlineData(5001)]
    public void Gaussian_VectorPathEqualsScalarPath(int length)
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return; // no vector path to compare
        var vector = new sbyte[length];
        var scalar = new sbyte[length];
        using (var p = new Prng(Seed(22), "test/gaussian")) Samplers.Gaussian(p, vector, vectors: true);
        using (var p = new Prng(Seed(22), "test/gaussian")) Samplers.Gaussian(p, scalar, vectors: false);
        Assert.Equal(scalar, vector);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(3.2)]
    [InlineData(1048576.0)]
    [InlineData(61387448143.0)] // 2^35.8, the multiparty bench's flooding
    [InlineData(140737488355328.0)] // 2^47, above the vector path's limit: scalar either way
    public void WideGaussian_VectorPathIsTheSameTransform(double sigma)
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return; // no vector path to compare
        const int n = 20_001;
        var vector = new long[n];
        var scalar = new long[n];
        using (var p = new Prng(Seed(23), "test/wide")) Samplers.WideGaussian(p, sigma, vector, vectors: true);
        using (var p = new Prng(Seed(23), "test/wide")) Samplers.WideGaussian(p, sigma, scalar, vectors: false);
        // Vector Log/SinCos may differ from Math's in the last place: at most one after rounding, and rarely.
        int differ = 0;
        for (int i = 0; i < n; i++)
        {
            Assert.InRange(vector[i] - scalar[i], -1, 1);
            if (vector[i] != scalar[i]) differ++;
        }
        Assert.True(differ <= n / 100, $"{differ} of {n} samples differ");
        double mean = vector.Average(v => (double)v);
        double sd = Math.Sqrt(vector.Average(v => ((double)v - mean) * ((double)v - mean)));
        Assert.InRange(mean / sigma, -0.03, 0.03);
        Assert.InRange(sd / Math.Sqrt(sigma * sigma + 1.0 / 12), 0.97, 1.03);
    }

    private sealed class ConstantSource(byte value) : RandomSource
    {
        public override void NextBytes(Span<byte> destination) => destination.Fill(value);
    }

    [Theory]
    [InlineData((byte)0xFF)] // u1 = 1 exactly (53 ones, plus one): radius 0, every sample 0
    [InlineData((byte)0x00)] // u1 = 2^-53, u2 = 0: the largest radius, angle 0
    [InlineData((byte)0x80)]
    public void WideGaussian_ExtremeUniforms_GiveTheScalarSamples(byte fill)
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return; // no vector path to compare
        const double sigma = 61387448143.0;
        var vector = new long[64];
        var scalar = new long[64];
        Samplers.WideGaussian(new ConstantSource(fill), sigma, vector, vectors: true);
        Samplers.WideGaussian(new ConstantSource(fill), sigma, scalar, vectors: false);
        for (int i = 0; i < vector.Length; i++)
        {
            Assert.InRange(vector[i] - scalar[i], -1, 1);
            Assert.InRange(Math.Abs(vector[i]), 0, 9 * sigma);
        }
        if (fill == 0xFF) Assert.All(vector, v => Assert.Equal(0, v));
    }

    [Fact]
    public void WideToRns_MatchesFromSignedOnEdgesAndRandomValues()
    {
        var primes = new List<ulong> { PrimeAbove(60, 10) };
        primes.AddRange(Primes.NttPrimes(61, 10, 1));
        primes.AddRange(Primes.NttPrimes(40, 10, 1));
        primes.AddRange(Primes.NttPrimes(17, 10, 1));
        var ring = new RnsRing(10, primes);
        var rng = new Random(24);
        var values = new long[ring.N];
        for (int i = 0; i < values.Length; i++) values[i] = rng.NextInt64(long.MinValue + 1, long.MaxValue) >> rng.Next(0, 63);
        long[] edges = [0, 1, -1, long.MaxValue, long.MinValue + 1, long.MaxValue - 1, 1L << 62, -(1L << 62)];
        edges.CopyTo(values, 0);
        for (int l = 0; l < primes.Count; l++)
        {
            long q = (long)primes[l];
            long[] moduliEdges = [q, -q, q - 1, 1 - q, q + 1, -q - 1, 2 * q, -2 * q];
            moduliEdges.CopyTo(values, 8 + 8 * l);
        }
        foreach (bool vectors in new[] { true, false })
        {
            var data = new ulong[ring.LimbCount * ring.N];
            Samplers.WideToRns(values, ring, data, 0, ring.LimbCount, vectors);
            for (int l = 0; l < ring.LimbCount; l++)
                for (int i = 0; i < ring.N; i++) Assert.Equal(ring.Moduli[l].FromSigned(values[i]), data[l * ring.N + i]);
            var upper = new ulong[ring.N];
            Samplers.WideToRns(values, ring, upper, 3, 1, vectors);
            for (int i = 0; i < ring.N; i++) Assert.Equal(ring.Moduli[3].FromSigned(values[i]), upper[i]);
        }
        Assert.Throws<ArgumentException>(() => Samplers.WideToRns(values.AsSpan(1), ring, new ulong[ring.N], 0, 1));
    }
}
