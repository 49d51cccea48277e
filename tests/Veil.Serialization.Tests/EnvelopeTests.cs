using System.Buffers.Binary;

namespace Veil.Serialization.Tests;

public class ObjectTypeRegistryTests
{
    [Fact]
    public void Register_NamesAPair_AndRefusesASecondClaimOnIt()
    {
        var type = ObjectTypes.Register(60000, 1, "TestThing");
        Assert.Equal("TestThing", type.ToString());
        Assert.Equal(type, ObjectTypes.Register(60000, 1, "TestThing")); // idempotent
        Assert.Throws<ArgumentException>(() => ObjectTypes.Register(60000, 1, "OtherThing"));
        Assert.Equal("(scheme 60000, kind 99)", new ObjectType(60000, 99).ToString());
    }
}

public class EnvelopeTests
{
    private static readonly ObjectType Thing = ObjectTypes.Register(60001, 7, "EnvelopeTestThing");
    private static readonly ObjectType Other = ObjectTypes.Register(60001, 8, "EnvelopeTestOther");
    private static readonly byte[] Hash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

    [Theory]
    [InlineData(Compression.None)]
    [InlineData(Compression.ZLib)]
    [InlineData(Compression.Brotli)]
    public void PackAndUnpack_RoundTrip_ThroughBytesAndStreams(Compression compression)
    {
        var payload = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        var bytes = VeilEnvelope.Pack(Thing, Hash, payload, compression);
        Assert.Equal(VeilHeader.Size, bytes.Length - (int)VeilHeader.Read(bytes, Thing).StoredLength);
        Assert.Equal(payload, VeilEnvelope.Unpack(bytes, Thing, Hash, default, null, payload.Length, out _, out ushort version).ToArray());
        Assert.Equal(2, version);
        using var stream = new MemoryStream([.. bytes, .. bytes]);
        Assert.Equal(payload, VeilEnvelope.Unpack(stream, Thing, Hash, default, null, payload.Length, out _));
        Assert.Equal(payload, VeilEnvelope.Unpack(stream, Thing, Hash, default, null, payload.Length, out _));
    }

    [Fact]
    public void Unpack_RefusesOtherTypesHashesReservedBytesAndOversizedPayloads()
    {
        var bytes = VeilEnvelope.Pack(Thing, Hash, new byte[100], Compression.None);
        Assert.Equal("kind", Assert.Throws<VeilFormatException>(() => VeilEnvelope.Unpack(bytes, Other, Hash, default, null, 100, out _, out _)).Field);
        Assert.Contains("EnvelopeTestThing", Assert.Throws<VeilFormatException>(() => VeilEnvelope.Unpack(bytes, Other, Hash, default, null, 100, out _, out _)).Message);
        Assert.Equal("parameters", Assert.Throws<VeilFormatException>(() => VeilEnvelope.Unpack(bytes, Thing, new byte[32], default, null, 100, out _, out _)).Field);
        Assert.Equal("payloadLength", Assert.Throws<VeilFormatException>(() => VeilEnvelope.Unpack(bytes, Thing, Hash, default, null, 99, out _, out _)).Field);
        var reserved = (byte[])bytes.Clone();
        reserved[12] = 1;
        Assert.Equal("reserved", Assert.Throws<VeilFormatException>(() => VeilEnvelope.Unpack(reserved, Thing, Hash, default, null, 100, out _, out _)).Field);
        Assert.Throws<ArgumentException>(() => VeilEnvelope.Pack(new ObjectType(60001, 99), Hash, [], Compression.None)); // unregistered
    }

    [Fact]
    public void Version1Headers_AreRead_AsSchemeZero_WithTheirOwnFingerprint()
    {
        var rlweKind3 = ObjectTypes.Register(Schemes.Rlwe, 3, "Ciphertext");
        var legacyHash = Enumerable.Repeat((byte)9, 32).ToArray();
        var payload = new byte[] { 1, 2, 3 };
        var bytes = new byte[VeilHeader.Version1Size + payload.Length];
        "VEIL"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), 1);
        bytes[6] = 3; // kind
        legacyHash.CopyTo(bytes, 8);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(40), 3);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(48), 3);
        payload.CopyTo(bytes, VeilHeader.Version1Size);
        Assert.Equal(payload, VeilEnvelope.Unpack(bytes, rlweKind3, Hash, legacyHash, null, 3, out _, out ushort version).ToArray());
        Assert.Equal(1, version);
        // Checked against the version-1 fingerprint, not the current one.
        Assert.Equal("parameters", Assert.Throws<VeilFormatException>(() => VeilEnvelope.Unpack(bytes, rlweKind3, Hash, Hash, null, 3, out _, out _)).Field);
        using var stream = new MemoryStream(bytes);
        Assert.Equal(payload, VeilEnvelope.Unpack(stream, rlweKind3, Hash, legacyHash, null, 3, out _));
    }

    [Fact]
    public void PayloadReader_BoundsEveryRead_AndNamesTheField()
    {
        var data = new byte[10];
        BinaryPrimitives.WriteUInt32LittleEndian(data, 7);
        var e = Assert.Throws<VeilFormatException>(() => { var r = new PayloadReader(data); r.ReadCount("rows", 1, 5); });
        Assert.Equal("rows", e.Field);
        e = Assert.Throws<VeilFormatException>(() => { var r = new PayloadReader(data); r.ReadBytes(11, "blob"); });
        Assert.Equal("blob", e.Field);
        var coefficients = new ulong[] { 5, 17 };
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 5);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), 17);
        e = Assert.Throws<VeilFormatException>(() => { var r = new PayloadReader(bytes); r.ReadCoefficients(new ulong[2], [17], 2, "c"); });
        Assert.Contains("not below its modulus 17", e.Message);
    }
}
