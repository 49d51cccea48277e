using System.Numerics;
using Veil.Arithmetic;

namespace Veil.Rlwe.Tests;

/// <summary>
/// The key-switching inner product Σ_d x_d·k_d mod q, limb by limb, checked against big-integer arithmetic for every
/// kernel (128-bit scalar, 30-bit split AVX2, double-precision FMA) at the edges of their ranges: residues at q − 1,
/// digit counts at the carry and overflow limits, prime sizes on both sides of each kernel's cut-off.
/// </summary>
public class InnerProductKernelTests
{
    private const int N = 512;

    public static TheoryData<int, int> Cases()
    {
        var data = new TheoryData<int, int>();
        foreach (int bits in new[] { 30, 40, 49, 50, 55, 59, 60, 61 })
            foreach (int digits in new[] { 1, 2, 4, 5, 6, 7, 8, 9, 13, 14, 15, 16, 20, 33 })
                data.Add(bits, digits);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryKernelMatchesBigIntegerArithmetic(int bits, int digits)
    {
        var m = new Modulus(Primes.NttPrimes(bits, 9, 1)[0]);
        const int extLimbs = 3, limb = 1, ringIndex = 2, keyLimbs = 4;
        var rng = new Random(bits * 100 + digits);
        // Coefficients ≡ 0 mod 4 hold q − 1 in every digit and key (the largest sums), ≡ 1 hold zero, the rest are random.
        ulong Residue(int i) => (i % N % 4) switch { 0 => m.Value - 1, 1 => 0, _ => (ulong)rng.NextInt64((long)m.Value) };
        var ext = new ulong[digits * extLimbs * N];
        for (int i = 0; i < ext.Length; i++) ext[i] = Residue(i);
        var keyB = new ulong[digits][];
        var keyA = new ulong[digits][];
        for (int d = 0; d < digits; d++)
        {
            keyB[d] = new ulong[keyLimbs * N];
            keyA[d] = new ulong[keyLimbs * N];
            for (int i = 0; i < keyB[d].Length; i++) { keyB[d][i] = Residue(i); keyA[d][i] = Residue(i); }
        }
        var expected0 = new ulong[N];
        var expected1 = new ulong[N];
        for (int c = 0; c < N; c++)
        {
            BigInteger s0 = 0, s1 = 0;
            for (int d = 0; d < digits; d++)
            {
                BigInteger x = ext[(d * extLimbs + limb) * N + c];
                s0 += x * keyB[d][ringIndex * N + c];
                s1 += x * keyA[d][ringIndex * N + c];
            }
            expected0[c] = (ulong)(s0 % m.Value);
            expected1[c] = (ulong)(s1 % m.Value);
        }

        void Check(string kernel, Action<Span<ulong>, Span<ulong>> run)
        {
            var out0 = new ulong[N];
            var out1 = new ulong[N];
            run(out0, out1);
            Assert.True(expected0.AsSpan().SequenceEqual(out0), $"{kernel}: b half differs ({bits}-bit prime, {digits} digits)");
            Assert.True(expected1.AsSpan().SequenceEqual(out1), $"{kernel}: a half differs ({bits}-bit prime, {digits} digits)");
        }

        Check("dispatch (floating point allowed)", (o0, o1) => KeySwitcher.InnerProduct(m, true, ext, limb, extLimbs, digits, N, keyB, keyA, ringIndex, o0, o1));
        Check("dispatch (integer)", (o0, o1) => KeySwitcher.InnerProduct(m, false, ext, limb, extLimbs, digits, N, keyB, keyA, ringIndex, o0, o1));
        // The kernels run in two coefficient ranges, cut off any block boundary, as the multi-threaded switch calls them.
        const int Cut = 260;
        Check("scalar", (o0, o1) => { KeySwitcher.InnerProductScalar(m, ext, limb, extLimbs, digits, N, keyB, keyA, ringIndex, o0, o1, 0, Cut); KeySwitcher.InnerProductScalar(m, ext, limb, extLimbs, digits, N, keyB, keyA, ringIndex, o0, o1, Cut, N); });
        if (KeySwitcher.SplitProductFits(m, digits))
            Check("split", (o0, o1) => { KeySwitcher.InnerProductSplit(m, ext, limb, extLimbs, digits, N, keyB, keyA, ringIndex, o0, o1, 0, Cut); KeySwitcher.InnerProductSplit(m, ext, limb, extLimbs, digits, N, keyB, keyA, ringIndex, o0, o1, Cut, N); });
        if (FloatingPointModular.IsSupported && bits <= FloatingPointModular.MaxBits) // any digit count: the sum is centred every fourth digit
            Check("floating point", (o0, o1) => { KeySwitcher.InnerProductFloatingPoint(m, ext, limb, extLimbs, digits, N, keyB, keyA, ringIndex, o0, o1, 0, Cut); KeySwitcher.InnerProductFloatingPoint(m, ext, limb, extLimbs, digits, N, keyB, keyA, ringIndex, o0, o1, Cut, N); });
    }

    [Fact]
    public void SplitKernelCoversTheSixtyBitPrimesOfTheAnchorSets()
    {
        if (!System.Runtime.Intrinsics.X86.Avx2.IsSupported) return;
        Assert.True(KeySwitcher.SplitProductFits(new Modulus(Primes.NttPrimes(60, 14, 1)[0]), 7));
        Assert.False(KeySwitcher.SplitProductFits(new Modulus(Primes.NttPrimes(61, 14, 1)[0]), 7));
        Assert.False(KeySwitcher.SplitProductFits(new Modulus(Primes.NttPrimes(60, 14, 1)[0]), 16));
    }
}

/// <summary>Residues modulo P of a plaintext given over Q_level: its centered integer coefficients, exactly.</summary>
public class LiftPlaintextTests
{
    [Theory]
    [InlineData("OneSpecial")]
    [InlineData("TwoSpecial")]
    public void LiftEqualsTheCenteredCoefficientsModuloEachSpecialPrime(string set)
    {
        var p = TestRings.Get(set);
        var ring = p.Ring;
        int n = p.N;
        var rng = new Random(11);
        for (int level = 0; level <= p.MaxLevel; level++)
        {
            // Coefficients of up to about 2^50 in magnitude, both signs, plus ±min((Q_level − 1)/2, 2^62): the whole
            // centered range for one prime; with several, the conversion is exact away from ±Q_level/2 (its rounding
            // margin, far beyond any plaintext).
            var q = System.Numerics.BigInteger.One;
            for (int j = 0; j <= level; j++) q *= ring.Moduli[j].Value;
            var extreme = System.Numerics.BigInteger.Min((q - 1) / 2, System.Numerics.BigInteger.One << 62);
            var coefficients = Enumerable.Range(0, n).Select(i => i switch
            {
                0 => extreme,
                1 => -extreme,
                _ => new System.Numerics.BigInteger(rng.NextInt64(-(1L << 50), 1L << 50)) % ((q - 1) / 2),
            }).ToArray();
            var nttQ = new ulong[(level + 1) * n];
            for (int j = 0; j <= level; j++)
                for (int c = 0; c < n; c++) nttQ[j * n + c] = Residue(coefficients[c], ring.Moduli[j].Value);
            ring.Forward(nttQ, 0, level + 1);
            var lifted = new ulong[p.PCount * n];
            KeySwitcher.LiftPlaintextToP(p, level, nttQ, lifted);
            var expected = new ulong[p.PCount * n];
            for (int k = 0; k < p.PCount; k++)
                for (int c = 0; c < n; c++) expected[k * n + c] = Residue(coefficients[c], ring.Moduli[p.PStart + k].Value);
            ring.Forward(expected, p.PStart, p.PCount);
            Assert.True(expected.AsSpan().SequenceEqual(lifted), $"level {level}");
        }
    }

    private static ulong Residue(System.Numerics.BigInteger x, ulong m) => (ulong)(((x % m) + m) % m);
}
