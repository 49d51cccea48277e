using Veil.Serialization;
using Veil.Ckks;
using Veil.Ckks.Serialization;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Ckks.Tests;

public class CkksSerializerTests
{
    [Theory]
    [InlineData(Compression.None)]
    [InlineData(Compression.ZLib)]
    [InlineData(Compression.Brotli)]
    public void Parameters_RoundTrip(Compression compression)
    {
        var p = CkksParameters.Create(CkksParameters.SetA);
        var bytes = CkksSerializer.Save(p, compression);
        var back = CkksSerializer.LoadParameters(bytes);
        Assert.True(back.Ring.SameRingAs(p.Ring));
        Assert.Equal(p.DefaultScale, back.DefaultScale);
        using var stream = new MemoryStream();
        CkksSerializer.Save(p, stream, compression);
        stream.Position = 0;
        Assert.True(CkksSerializer.LoadParameters(stream).Ring.SameRingAs(p.Ring));
    }

    [Fact]
    public void CiphertextSavedUnderLoadedParameters_LoadsAndDecrypts()
    {
        var ctx = CkksTestContext.Small.Value;
        var loaded = CkksSerializer.LoadParameters(CkksSerializer.Save(ctx.Parameters), minimumSecurity: SecurityLevel.InsecureNoCheck);
        var x = CkksTestContext.RandomReals(ctx.Parameters.Slots, 40);
        var bytes = RlweSerializer.Save(ctx.Encrypt(x), Compression.Brotli);
        var ct = RlweSerializer.LoadCiphertext(bytes, loaded.Ring);
        Assert.True(CkksTestContext.PrecisionBits(ctx.Decrypt(ct), x) >= 25);
    }

    [Fact]
    public void Load_ParameterDowngrade_IsRefusedUnlessTheReceiverOptsOut()
    {
        var insecure = CkksParameters.Create(CkksParameters.SetB with { LogN = 13, Security = SecurityLevel.InsecureNoCheck }, SecurityLevel.InsecureNoCheck);
        var bytes = CkksSerializer.Save(insecure);
        // The sender's "no check" is refused by default; only the receiver's own code can accept it.
        Assert.Equal("security", Assert.Throws<VeilFormatException>(() => CkksSerializer.LoadParameters(bytes)).Field);
        Assert.Equal(SecurityLevel.InsecureNoCheck, CkksSerializer.LoadParameters(bytes, minimumSecurity: SecurityLevel.InsecureNoCheck).Ring.Security);
        // A 128-bit receiver refuses a 128-bit claim that the primes do not meet: flipping the field to 128 does not help.
        // Payload: logN (1) ‖ security u16 — set the security field to 128.
        bytes[VeilHeader.Size + 1] = 128;
        bytes[VeilHeader.Size + 2] = 0;
        var ex = Assert.Throws<VeilFormatException>(() => CkksSerializer.LoadParameters(bytes));
        Assert.Equal("parameters", ex.Field);
    }

    [Fact]
    public void Load_ScaleThatTheParametersCannotBuild_IsAFormatError()
    {
        // The review's reproducer: a scale that FromRing refuses must be a VeilFormatException, not an ArgumentException.
        var bytes = Convert.FromHexString(
            "5645494C0100010000000000000000000000000000000000000000000000000000000000000000002E000000000000002E00000000000000010D80000301C0FFFFFFFFFF0F01C0FDFFFF00000001C0F4FFFF000000010180FEFFFFFFFF0F0000000000406040");
        var ex = Assert.Throws<VeilFormatException>(() => CkksSerializer.LoadParameters(bytes, minimumSecurity: SecurityLevel.InsecureNoCheck));
        Assert.True(ex.Field is "logDefaultScale" or "parameters", ex.Field);
        Assert.Throws<VeilFormatException>(() => CkksSerializer.LoadParameters(bytes));
    }

    [Fact]
    public void Load_RejectsRlweParametersAndGarbageScale()
    {
        var p = CkksParameters.Create(CkksParameters.SetA);
        Assert.Throws<VeilFormatException>(() => CkksSerializer.LoadParameters(RlweSerializer.Save(p.Ring)));
        var bytes = CkksSerializer.Save(p);
        BitConverter.GetBytes(double.NaN).CopyTo(bytes, bytes.Length - 8);
        Assert.Equal("logDefaultScale", Assert.Throws<VeilFormatException>(() => CkksSerializer.LoadParameters(bytes)).Field);
    }

    [Fact]
    public void Load_RejectsRingsBeyondTheWordLimit()
    {
        var p = CkksParameters.Create(CkksParameters.SetA);
        var limits = SerializationLimits.Default with { MaxRingWords = 8192 * 3 };
        Assert.Equal("parameters", Assert.Throws<VeilFormatException>(() => CkksSerializer.LoadParameters(CkksSerializer.Save(p), limits)).Field);
    }

    [Fact]
    public void Fuzz_MutatedParameters_AreRejectedOrValid()
    {
        var p = CkksParameters.Create(CkksParameters.SetA);
        var original = CkksSerializer.Save(p);
        var rng = new Random(77);
        for (int i = 0; i < 2000; i++)
        {
            var bytes = (byte[])original.Clone();
            int flips = rng.Next(1, 4);
            for (int f = 0; f < flips; f++) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
            if (i % 5 == 0) Array.Resize(ref bytes, rng.Next(bytes.Length + 16));
            try
            {
                // Both receivers: the default one, and one that opted out, so the scale and prime checks are reached too.
                var loaded = CkksSerializer.LoadParameters(bytes, minimumSecurity: i % 2 == 0 ? SecurityLevel.Bits128 : SecurityLevel.InsecureNoCheck);
                Assert.True(loaded.DefaultScale > 1);
            }
            catch (VeilFormatException) { }
        }
    }
}
