using System.Numerics;

namespace Veil.Serialization.Tests;

/// <summary>Residues at their moduli's bit widths: the bit stream against a BigInteger oracle, and hostile values refused.</summary>
public class ResiduePackingTests
{
    // Moduli of every width class the codec meets: tiny, one below a power of two, one above, 40/50/60/61/62-bit.
    private static readonly ulong[] Moduli = [2, 3, 65537, (1UL << 40) - 87, (1UL << 50) + 55, (1UL << 60) - 93, (1UL << 61) - 1, 1UL << 62, 255, 257];

    [Theory]
    [InlineData(8)]
    [InlineData(64)]
    [InlineData(1024)]
    public void PackedStream_IsTheConcatenationOfEachValuesBits_AndReadsBack(int n)
    {
        var rng = new Random(n);
        var values = new ulong[Moduli.Length * n];
        for (int l = 0; l < Moduli.Length; l++)
            for (int i = 0; i < n; i++)
                values[l * n + i] = i switch { 0 => 0, 1 => Moduli[l] - 1, _ => (ulong)rng.NextInt64() % Moduli[l] };
        long bytes = ResiduePacking.Bytes(Moduli, n);
        var buffer = new byte[bytes];
        var w = new PayloadWriter(buffer);
        w.WritePackedResidues(values, Moduli, n);
        w.EnsureFull();

        // Oracle: value k occupies bits [offset, offset + width) of one little-endian integer.
        BigInteger expected = BigInteger.Zero;
        int offset = 0;
        for (int l = 0; l < Moduli.Length; l++)
        {
            int width = ResiduePacking.Width(Moduli[l]);
            Assert.True(Moduli[l] - 1 < (width == 64 ? ulong.MaxValue : 1UL << width) && (width == 1 || Moduli[l] - 1 >= 1UL << (width - 1)));
            for (int i = 0; i < n; i++, offset += width) expected |= new BigInteger(values[l * n + i]) << offset;
        }
        Assert.Equal(offset / 8, bytes);
        var oracle = expected.ToByteArray(isUnsigned: true, isBigEndian: false);
        Assert.Equal(oracle, buffer.AsSpan(0, oracle.Length).ToArray());
        Assert.All(buffer.AsSpan(oracle.Length).ToArray(), b => Assert.Equal(0, b));

        var back = new ulong[values.Length];
        var r = new PayloadReader(buffer);
        r.ReadPackedResidues(back, Moduli, n, "poly");
        r.EnsureEnd("poly");
        Assert.Equal(values, back);
    }

    [Fact]
    public void FortyBitPrimes_TakeFiveBytesAValue()
    {
        ulong[] q = [(1UL << 40) - 87, (1UL << 40) - 195];
        Assert.Equal(2 * 16384 * 5, ResiduePacking.Bytes(q, 16384));
    }

    [Fact]
    public void ValuesNotBelowTheirModulus_AreRefused_NamingTheField()
    {
        ulong[] q = [(1UL << 40) - 87, 65537];
        var values = new ulong[2 * 8];
        var buffer = new byte[ResiduePacking.Bytes(q, 8)];
        new PayloadWriter(buffer).WritePackedResidues(values, q, 8);
        // All-ones in value 3 of limb 0 (bits 120 … 159): 2^40 − 1 ≥ q.
        for (int b = 15; b < 20; b++) buffer[b] = 0xFF;
        var e = Assert.Throws<VeilFormatException>(() => { var r = new PayloadReader(buffer); r.ReadPackedResidues(new ulong[16], q, 8, "h"); });
        Assert.Equal("h", e.Field);
        Assert.Contains("Coefficient 3 of limb 0", e.Message);
        // 65537 needs 17 bits and may hold 65536 but not 65537.
        Array.Clear(buffer);
        buffer[40] = 0x01; buffer[41] = 0x00; buffer[42] = 0x01; // value 0 of limb 1 = 65537
        Assert.Throws<VeilFormatException>(() => { var r = new PayloadReader(buffer); r.ReadPackedResidues(new ulong[16], q, 8, "h"); });
        buffer[40] = 0x00; // 65536: valid
        var ok = new ulong[16];
        var reader = new PayloadReader(buffer);
        reader.ReadPackedResidues(ok, q, 8, "h");
        Assert.Equal(65536UL, ok[8]);
        // A short stream is a typed error too.
        Assert.Throws<VeilFormatException>(() => { var r = new PayloadReader(buffer.AsSpan(0, buffer.Length - 1)); r.ReadPackedResidues(new ulong[16], q, 8, "h"); });
    }

    [Fact]
    public void Writer_RefusesValuesWiderThanTheirModulus_AndLimbsThatAreNotWholeBytes()
    {
        ulong[] q = [(1UL << 40) - 87];
        var buffer = new byte[ResiduePacking.Bytes(q, 8)];
        var values = new ulong[8];
        values[5] = 1UL << 40;
        Assert.Throws<ArgumentException>(() => new PayloadWriter(buffer).WritePackedResidues(values, q, 8));
        Assert.Throws<ArgumentException>(() => ResiduePacking.Bytes(q, 12));
        Assert.Throws<ArgumentException>(() => ResiduePacking.Width(1));
        Assert.Throws<ArgumentException>(() => ResiduePacking.Width((1UL << 62) + 1));
    }
}
