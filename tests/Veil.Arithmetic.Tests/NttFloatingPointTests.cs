using Veil.Arithmetic;

namespace Veil.Arithmetic.Tests;

public class NttFloatingPointTests
{
    [Theory]
    [InlineData(3, 20)]
    [InlineData(12, 30)]
    [InlineData(12, 40)]
    [InlineData(13, 45)]
    [InlineData(14, 50)]
    public void VectorPath_MatchesScalarPath_BitForBit(int logN, int bits)
    {
        ulong q = Primes.NttPrimes(bits, logN, 1)[0];
        var table = new NttTable(new Modulus(q), logN);
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported, table.UsesFloatingPoint);
        var rng = new Random(logN * 100 + bits);
        for (int trial = 0; trial < 5; trial++)
        {
            var a = new ulong[table.N];
            for (int i = 0; i < a.Length; i++) a[i] = trial == 0 ? q - 1 - (ulong)(i & 1) : (ulong)rng.NextInt64((long)q);
            var viaVector = (ulong[])a.Clone();
            var viaScalar = (ulong[])a.Clone();
            table.Forward(viaVector);
            table.ForwardScalar(viaScalar);
            Assert.Equal(viaScalar, viaVector);
            table.Inverse(viaVector);
            table.InverseScalar(viaScalar);
            Assert.Equal(viaScalar, viaVector);
            Assert.Equal(a, viaVector);
        }
    }

    [Fact]
    public void PrimesAbove50Bits_StayOnTheScalarPath()
    {
        var table = new NttTable(new Modulus(Primes.NttPrimes(51, 12, 1)[0]), 12);
        Assert.False(table.UsesFloatingPoint);
    }
}
