using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Veil.Arithmetic;

namespace Veil.Arithmetic.Tests;

// The AVX2-only forms run on every processor with AVX2, so they are checked even where AVX-512 takes their place.
public class IntegerVectorModularTests
{
    private static IEnumerable<ulong> Edges(ulong q) => [0, 1, 2, q - 1, q, q + 1, 2 * q - 1, 2 * q, 4 * q - 1, (1UL << 32) - 1, 1UL << 32, ulong.MaxValue, ulong.MaxValue - 1, 1UL << 63];

    [Theory]
    [InlineData(51)]
    [InlineData(55)]
    [InlineData(60)]
    [InlineData(61)]
    public void Avx2Forms_MatchScalarArithmetic(int bits)
    {
        if (!Avx2.IsSupported) return; // nothing to compare: every caller takes the scalar path there
        var m = new Modulus(Primes.NttPrimes(bits, 10, 1)[0]);
        ulong q = m.Value;
        var rng = new Random(bits);
        var xs = Edges(q).Concat(Enumerable.Range(0, 4000).Select(_ => rng.NextUInt64())).ToArray();
        var ws = new ulong[] { 0, 1, q - 1, q / 2 }.Concat(Enumerable.Range(0, 40).Select(_ => rng.NextBelow(q))).ToArray();
        var qv = Vector256.Create(q);
        var twoQ = Vector256.Create(q << 1);
        foreach (ulong w in ws)
        {
            ulong wShoup = m.ShoupPrecompute(w);
            for (int i = 0; i + 4 <= xs.Length; i += 4)
            {
                var x = Vector256.Create(xs.AsSpan(i, 4));
                var lazy = IntegerVectorModular.MulShoupLazyAvx2(x, Vector256.Create(w), Vector256.Create(wShoup), qv, twoQ);
                var low = IntegerVectorModular.MultiplyLowAvx2(x, Vector256.Create(w));
                for (int k = 0; k < 4; k++)
                {
                    Assert.True(lazy[k] < 2 * q, $"lazy product {lazy[k]} not below 2q");
                    Assert.Equal((ulong)((UInt128)xs[i + k] * w % q), lazy[k] % q);
                    Assert.Equal(unchecked(xs[i + k] * w), low[k]);
                }
            }
        }
        // x − bound where x ≥ bound, for every x below 2^63 + bound.
        foreach (ulong bound in new[] { q, 2 * q })
        {
            var cases = Edges(q).Where(x => x < (1UL << 63) + bound).Concat(Enumerable.Range(0, 400).Select(_ => rng.NextBelow(4 * q))).ToArray();
            for (int i = 0; i + 4 <= cases.Length; i += 4)
            {
                var r = IntegerVectorModular.SubtractIfAtLeastAvx2(Vector256.Create(cases.AsSpan(i, 4)), Vector256.Create(bound));
                for (int k = 0; k < 4; k++) Assert.Equal(cases[i + k] >= bound ? cases[i + k] - bound : cases[i + k], r[k]);
            }
        }
    }
}
