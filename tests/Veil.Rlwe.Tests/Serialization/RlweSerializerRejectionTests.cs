using Veil.Serialization;
using System.Buffers.Binary;
using Veil.Rlwe.Serialization;

namespace Veil.Rlwe.Tests.Serialization;

public sealed class RlweSerializerRejectionTests(SerializationFixture fixture) : IClassFixture<SerializationFixture>
{
    private const int KindOffset = 8, CompressionOffset = 10, HashOffset = 16, PayloadLengthOffset = 48, StoredLengthOffset = 56;
    private RlweParameters P => fixture.Parameters;

    private byte[] CiphertextBytes(Compression compression = Compression.None) => RlweSerializer.Save(fixture.PublicCiphertext, compression);

    private static VeilFormatException Rejects(string field, Action load)
    {
        var e = Assert.Throws<VeilFormatException>(load);
        Assert.Equal(field, e.Field);
        Assert.Contains(field, e.Message);
        return e;
    }

    private static void WriteU64(byte[] bytes, int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(offset), value);

    [Fact]
    public void Load_RejectsBadMagic()
    {
        var bytes = CiphertextBytes();
        bytes[0] = (byte)'X';
        Rejects("magic", () => RlweSerializer.LoadCiphertext(bytes, P));
        Rejects("magic", () => RlweSerializer.LoadCiphertext(new MemoryStream(bytes), P));
    }

    [Fact]
    public void Load_RejectsWrongVersion()
    {
        var bytes = CiphertextBytes();
        bytes[4] = 3;
        Rejects("version", () => RlweSerializer.LoadCiphertext(bytes, P));
        bytes[4] = 0;
        Rejects("version", () => RlweSerializer.LoadCiphertext(bytes, P));
    }

    [Fact]
    public void Load_RejectsWrongKind()
    {
        var plaintext = RlweSerializer.Save(fixture.Plaintext);
        var e = Rejects("kind", () => RlweSerializer.LoadCiphertext(plaintext, P));
        Assert.Contains("Plaintext", e.Message);
        var rlk = RlweSerializer.Save(fixture.RelinearizationKey);
        Rejects("kind", () => RlweSerializer.LoadKeySwitchingKey(rlk, P));
        var bytes = CiphertextBytes();
        bytes[KindOffset] = 200;
        Rejects("kind", () => RlweSerializer.LoadCiphertext(bytes, P));
    }

    [Fact]
    public void Load_RejectsUnknownCompression()
    {
        var bytes = CiphertextBytes();
        bytes[CompressionOffset] = 3;
        Rejects("compression", () => RlweSerializer.LoadCiphertext(bytes, P));
    }

    [Fact]
    public void Load_RejectsOversizedDeclaredLength()
    {
        var small = new SerializationLimits { MaxObjectBytes = 4096 };
        // A genuine 48 KiB ciphertext is refused under a 4 KiB limit, from the header alone.
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(CiphertextBytes(), P, small));
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(new MemoryStream(CiphertextBytes()), P, small));

        // A header declaring 2^62 bytes is refused under the default limit.
        var bytes = CiphertextBytes();
        WriteU64(bytes, PayloadLengthOffset, 1UL << 62);
        WriteU64(bytes, StoredLengthOffset, 1UL << 62);
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(bytes, P));
        WriteU64(bytes, PayloadLengthOffset, ulong.MaxValue);
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(bytes, P));

        // A compressed header declaring just under the limit, followed by a few bytes: nothing near the declared size is allocated.
        var compressed = RlweSerializer.Save(fixture.PublicCiphertext, Compression.Brotli);
        var hostile = compressed[..(VeilHeader.Size + 100)];
        WriteU64(hostile, PayloadLengthOffset, (ulong)SerializationLimits.DefaultMaxObjectBytes);
        WriteU64(hostile, StoredLengthOffset, (ulong)SerializationLimits.DefaultMaxObjectBytes - 1);
        long before = GC.GetAllocatedBytesForCurrentThread();
        // Refused from the header: no ciphertext of these parameters is near 1 GiB.
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(hostile, P));
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(new MemoryStream(hostile), P));
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(new NonSeekableStream(hostile), P));
        // With the largest payload a ciphertext can have, the truncated stored bytes are found instead.
        WriteU64(hostile, PayloadLengthOffset, 12 + KeyId.Size + 5UL * (ulong)(P.MaxLevel + 1) * (ulong)P.N * 8);
        WriteU64(hostile, StoredLengthOffset, 12 + KeyId.Size + 5UL * (ulong)(P.MaxLevel + 1) * (ulong)P.N * 8 - 1);
        Rejects("storedLength", () => RlweSerializer.LoadCiphertext(hostile, P));
        Rejects("storedLength", () => RlweSerializer.LoadCiphertext(new MemoryStream(hostile), P));
        Rejects("storedLength", () => RlweSerializer.LoadCiphertext(new NonSeekableStream(hostile), P));
        // Stored length honest, payload length inflated: decompression output only grows with what really arrives.
        var inflated = compressed.ToArray();
        WriteU64(inflated, PayloadLengthOffset, (ulong)SerializationLimits.DefaultMaxObjectBytes);
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(inflated, P));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 16 << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Load_RejectsWrongParameters()
    {
        // Loading a ciphertext under the wrong parameters is refused.
        var e = Rejects("parameters", () => RlweSerializer.LoadCiphertext(CiphertextBytes(), fixture.OtherParameters));
        Assert.Contains("other parameters", e.Message);
        Rejects("parameters", () => RlweSerializer.LoadPublicKey(RlweSerializer.Save(fixture.PublicKey), fixture.OtherParameters));
        Rejects("parameters", () => RlweSerializer.LoadGaloisKeys(RlweSerializer.Save(fixture.GaloisKeys), fixture.OtherParameters));
        // A parameter blob must carry an all-zero hash.
        var parameters = RlweSerializer.Save(P);
        parameters[HashOffset] = 1;
        Rejects("parameters", () => RlweSerializer.LoadParameters(parameters, minimumSecurity: SecurityLevel.InsecureNoCheck));
    }

    [Fact]
    public void Load_RejectsCoefficientAboveModulus()
    {
        int n = P.N, first = VeilHeader.Size + 12 + KeyId.Size;
        ulong q0 = P.Ring.Moduli[0].Value, q1 = P.Ring.Moduli[1].Value;
        Assert.True(q1 < q0);
        var bytes = CiphertextBytes();
        WriteU64(bytes, first, q0);
        Rejects("coefficients", () => RlweSerializer.LoadCiphertext(bytes, P));
        // q1 is below q0 but not below the prime of limb 1: each limb is checked against its own prime.
        bytes = CiphertextBytes();
        WriteU64(bytes, first + 8 * (n + 5), q1);
        Rejects("coefficients", () => RlweSerializer.LoadCiphertext(bytes, P));
        bytes = CiphertextBytes();
        WriteU64(bytes, first + 8 * (n + 5), q1 - 1);
        RlweSerializer.LoadCiphertext(bytes, P);
        // Public key: the special prime's limb is checked too.
        var pk = RlweSerializer.Save(fixture.PublicKey);
        WriteU64(pk, VeilHeader.Size + 8 * (2 * n), ulong.MaxValue);
        Rejects("coefficients", () => RlweSerializer.LoadPublicKey(pk, P));
    }

    [Fact]
    public void Load_RejectsTrailingBytes()
    {
        foreach (var compression in new[] { Compression.None, Compression.ZLib, Compression.Brotli })
        {
            var bytes = CiphertextBytes(compression);
            Rejects("trailing", () => RlweSerializer.LoadCiphertext([.. bytes, 0], P));
        }
        // Bytes after the end of a Brotli stream, inside the declared stored length.
        var brotli = CiphertextBytes(Compression.Brotli).ToList();
        brotli.Add(0);
        var withGarbage = brotli.ToArray();
        WriteU64(withGarbage, StoredLengthOffset, (ulong)(withGarbage.Length - VeilHeader.Size));
        Rejects("trailing", () => RlweSerializer.LoadCiphertext(withGarbage, P));
    }

    [Fact]
    public void Load_RejectsTruncated()
    {
        foreach (var compression in new[] { Compression.None, Compression.ZLib, Compression.Brotli })
        {
            var bytes = CiphertextBytes(compression);
            Rejects("storedLength", () => RlweSerializer.LoadCiphertext(bytes[..^1], P));
            Rejects("storedLength", () => RlweSerializer.LoadCiphertext(new MemoryStream(bytes[..^1]), P));
            Rejects("storedLength", () => RlweSerializer.LoadCiphertext(new NonSeekableStream(bytes[..^1]), P));
            Rejects("header", () => RlweSerializer.LoadCiphertext(bytes[..20], P));
            Rejects("header", () => RlweSerializer.LoadCiphertext(new MemoryStream(bytes[..20]), P));
            Rejects("header", () => RlweSerializer.LoadCiphertext(ReadOnlySpan<byte>.Empty, P));
        }
        // Header and lengths consistent, payload shorter than the metadata imply.
        var ct = CiphertextBytes();
        var cut = ct[..^8];
        WriteU64(cut, PayloadLengthOffset, (ulong)(cut.Length - VeilHeader.Size));
        WriteU64(cut, StoredLengthOffset, (ulong)(cut.Length - VeilHeader.Size));
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(cut, P));
        // Compressed payload whose declared length is one more than it expands to.
        var z = CiphertextBytes(Compression.ZLib);
        WriteU64(z, PayloadLengthOffset, BinaryPrimitives.ReadUInt64LittleEndian(z.AsSpan(PayloadLengthOffset)) + 1);
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(z, P));
        z = CiphertextBytes(Compression.ZLib);
        WriteU64(z, PayloadLengthOffset, BinaryPrimitives.ReadUInt64LittleEndian(z.AsSpan(PayloadLengthOffset)) - 1);
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(z, P));
    }

    [Fact]
    public void Load_RejectsBadSecretKeyCoefficient()
    {
        foreach (byte bad in new byte[] { 2, 0x7F, 0x80, 0xFE })
        {
            var bytes = RlweSerializer.SaveUnprotected(fixture.SecretKey);
            bytes[VeilHeader.Size + 17] = bad;
            Rejects("coefficients", () => RlweSerializer.LoadSecretKey(bytes, P));
        }
        var ok = RlweSerializer.SaveUnprotected(fixture.SecretKey);
        ok[VeilHeader.Size + 17] = 0xFF; // −1 is valid
        using var key = RlweSerializer.LoadSecretKey(ok, P);
    }

    [Fact]
    public void Load_RejectsDuplicateGaloisElement()
    {
        var bytes = RlweSerializer.Save(fixture.GaloisKeys);
        int first = VeilHeader.Size + 4;
        int keyBytes = 2 + 32 + 16 + P.MaxDigitCount * P.Ring.LimbCount * P.N * 8; // digits, seed, binding tag, b_i
        int second = first + 8 + keyBytes;
        var elements = fixture.GaloisKeys.Elements;
        Assert.Equal(elements[0], BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(first)));
        Assert.Equal(elements[1], BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(second)));
        WriteU64(bytes, second, elements[0]);
        var e = Rejects("galoisElement", () => RlweSerializer.LoadGaloisKeys(bytes, P));
        Assert.Contains("twice", e.Message);
        // Descending order, an even element and one beyond 2N are refused as well.
        bytes = RlweSerializer.Save(fixture.GaloisKeys);
        WriteU64(bytes, first, elements[1]);
        WriteU64(bytes, second, elements[0]);
        Rejects("galoisElement", () => RlweSerializer.LoadGaloisKeys(bytes, P));
        bytes = RlweSerializer.Save(fixture.GaloisKeys);
        WriteU64(bytes, first, 4);
        Rejects("galoisElement", () => RlweSerializer.LoadGaloisKeys(bytes, P));
        bytes = RlweSerializer.Save(fixture.GaloisKeys);
        WriteU64(bytes, second, 2UL * (ulong)P.N + 1);
        Rejects("galoisElement", () => RlweSerializer.LoadGaloisKeys(bytes, P));
    }

    [Fact]
    public void Load_RejectsGaloisCountBeyondN()
    {
        var bytes = RlweSerializer.Save(fixture.GaloisKeys);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(VeilHeader.Size), (uint)P.N + 1);
        Rejects("galoisCount", () => RlweSerializer.LoadGaloisKeys(bytes, P));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(VeilHeader.Size), 3);
        Rejects("payloadLength", () => RlweSerializer.LoadGaloisKeys(bytes, P));
    }

    [Fact]
    public void Load_RejectsBadCiphertextMetadata()
    {
        int meta = VeilHeader.Size;
        var bytes = CiphertextBytes();
        bytes[meta] = (byte)(P.MaxLevel + 1);
        Rejects("level", () => RlweSerializer.LoadCiphertext(bytes, P));
        foreach (byte size in new byte[] { 0, 1, 6, 255 })
        {
            bytes = CiphertextBytes();
            bytes[meta + 1] = size;
            Rejects("size", () => RlweSerializer.LoadCiphertext(bytes, P));
        }
        bytes = CiphertextBytes();
        bytes[meta + 2] = 2;
        Rejects("ntt", () => RlweSerializer.LoadCiphertext(bytes, P));
        bytes = CiphertextBytes();
        bytes[meta + 3] = 4;
        Rejects("flags", () => RlweSerializer.LoadCiphertext(bytes, P));
        foreach (double scale in new[] { double.NaN, double.PositiveInfinity, 0.0, -1.0 })
        {
            bytes = CiphertextBytes();
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(meta + 4), scale);
            Rejects("scale", () => RlweSerializer.LoadCiphertext(bytes, P));
        }
        // A size-3 ciphertext cannot be seeded.
        bytes = RlweSerializer.Save(fixture.Size3Ciphertext);
        bytes[meta + 3] = 1;
        Rejects("seeded", () => RlweSerializer.LoadCiphertext(bytes, P));
        // Level consistent with the header? A lower level changes the implied payload length.
        bytes = CiphertextBytes();
        bytes[meta] = 0;
        Rejects("payloadLength", () => RlweSerializer.LoadCiphertext(bytes, P));
    }

    [Fact]
    public void Load_RejectsWrongDigitCount()
    {
        var bytes = RlweSerializer.Save(fixture.RelinearizationKey);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(VeilHeader.Size), (ushort)(P.MaxDigitCount + 1));
        Rejects("digitCount", () => RlweSerializer.LoadRelinearizationKey(bytes, P));
    }

    [Fact]
    public void Load_RejectsInvalidParameters()
    {
        var bytes = RlweSerializer.Save(P);
        // Security raised to 128 bits: 130 bits of Q·P at N = 2^10 fail the security check.
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(VeilHeader.Size + 1), 128);
        var e = Rejects("parameters", () => RlweSerializer.LoadParameters(bytes));
        Assert.IsType<ArgumentException>(e.InnerException, exactMatch: false);
        bytes = RlweSerializer.Save(P);
        WriteU64(bytes, VeilHeader.Size + 4, P.Q[0] + 2); // not ≡ 1 mod 2N
        Rejects("parameters", () => RlweSerializer.LoadParameters(bytes, minimumSecurity: SecurityLevel.InsecureNoCheck));
        bytes = RlweSerializer.Save(P);
        WriteU64(bytes, VeilHeader.Size + 4 + 8, P.Q[0]); // repeated prime
        Rejects("parameters", () => RlweSerializer.LoadParameters(bytes, minimumSecurity: SecurityLevel.InsecureNoCheck));
        bytes = RlweSerializer.Save(P);
        bytes[VeilHeader.Size] = 9;
        Rejects("logN", () => RlweSerializer.LoadParameters(bytes, minimumSecurity: SecurityLevel.InsecureNoCheck));
        bytes = RlweSerializer.Save(P);
        bytes[VeilHeader.Size + 1] = 7;
        Rejects("security", () => RlweSerializer.LoadParameters(bytes, minimumSecurity: SecurityLevel.InsecureNoCheck));
    }

    [Fact]
    public void Load_RejectsCorruptCompressedData()
    {
        foreach (var compression in new[] { Compression.ZLib, Compression.Brotli })
        {
            var bytes = CiphertextBytes(compression);
            for (int i = VeilHeader.Size + 2; i < VeilHeader.Size + 40; i++) bytes[i] ^= 0x5A;
            Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadCiphertext(bytes, P));
        }
        // A zlib header asking for a preset dictionary (FDICT; found by the fuzzer as an escaping ZLibException).
        var dict = CiphertextBytes(Compression.ZLib);
        dict[VeilHeader.Size] = 0x78;
        dict[VeilHeader.Size + 1] = 0xBB; // (0x78·256 + 0xBB) % 31 == 0, FDICT bit set
        Assert.Equal("compressed data", Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadCiphertext(dict, P)).Field);
        // zlib's Adler-32 trailer is checked.
        var z = CiphertextBytes(Compression.ZLib);
        z[^1] ^= 1;
        Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadCiphertext(z, P));
    }
}
