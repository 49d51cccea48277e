using Veil.Arithmetic;

namespace Veil.Arithmetic.Tests;

public class NttIntegerVectorTests
{
    [Theory]
    [InlineData(3, 51)]
    [InlineData(4, 55)]
    [InlineData(12, 51)]
    [InlineData(13, 58)]
    [InlineData(14, 60)]
    [InlineData(15, 61)]
    public void VectorPath_MatchesScalarPath_WordForWord(int logN, int bits)
    {
        ulong q = Primes.NttPrimes(bits, logN, 1)[0];
        var table = new NttTable(new Modulus(q), logN);
        Assert.Equal(NttTable.IntegerVectorsSupported, table.UsesIntegerVectors);
        Assert.False(table.UsesFloatingPoint);
        var rng = new Random(logN * 100 + bits);
        for (int trial = 0; trial < 5; trial++)
        {
            // Trial 0 holds the largest residues, where the lazy bounds are tightest; trial 1 zeros and ones.
            var a = new ulong[table.N];
            for (int i = 0; i < a.Length; i++)
                a[i] = trial switch { 0 => q - 1 - (ulong)(i & 1), 1 => (ulong)(i & 1), _ => (ulong)rng.NextInt64((long)q) };
            var viaVector = (ulong[])a.Clone();
            var viaScalar = (ulong[])a.Clone();
            table.Forward(viaVector);
            table.ForwardScalar(viaScalar);
            Assert.Equal(viaScalar, viaVector);
            Assert.All(viaVector, v => Assert.True(v < q));
            table.Inverse(viaVector);
            table.InverseScalar(viaScalar);
            Assert.Equal(viaScalar, viaVector);
            Assert.Equal(a, viaVector);
        }
    }

    [Fact]
    public void LargestPrimes_MultiplyAsPolynomials()
    {
        // A negacyclic product through the transforms against schoolbook multiplication modulo X^N + 1.
        const int logN = 4;
        int n = 1 << logN;
        ulong q = Primes.NttPrimes(Modulus.MaxBits, logN, 1)[0];
        var m = new Modulus(q);
        var table = new NttTable(m, logN);
        var rng = new Random(7);
        var a = new ulong[n];
        var b = new ulong[n];
        for (int i = 0; i < n; i++) { a[i] = (ulong)rng.NextInt64((long)q); b[i] = q - 1 - (ulong)rng.Next(3); }
        var expected = new ulong[n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                ulong p = m.Mul(a[i], b[j]);
                int k = i + j;
                expected[k % n] = k < n ? m.Add(expected[k], p) : m.Sub(expected[k - n], p);
            }
        var fa = (ulong[])a.Clone();
        var fb = (ulong[])b.Clone();
        table.Forward(fa);
        table.Forward(fb);
        for (int i = 0; i < n; i++) fa[i] = m.Mul(fa[i], fb[i]);
        table.Inverse(fa);
        Assert.Equal(expected, fa);
    }
}
