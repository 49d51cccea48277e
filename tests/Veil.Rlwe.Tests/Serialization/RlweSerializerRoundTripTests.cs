using Veil.Serialization;
using Veil.Rlwe.Serialization;

namespace Veil.Rlwe.Tests.Serialization;

public sealed class RlweSerializerRoundTripTests(SerializationFixture fixture) : IClassFixture<SerializationFixture>
{
    public static TheoryData<Compression> Compressions => [Compression.None, Compression.ZLib, Compression.Brotli];

    private RlweParameters P => fixture.Parameters;

    /// <summary>Saves through both the array and the stream overloads and checks they agree.</summary>
    private static byte[] SaveBoth(Func<byte[]> toArray, Action<Stream> toStream)
    {
        var bytes = toArray();
        using var ms = new MemoryStream();
        toStream(ms);
        Assert.Equal(bytes, ms.ToArray());
        return bytes;
    }

    private static T LoadBoth<T>(byte[] bytes, Func<byte[], T> fromSpan, Func<Stream, T> fromStream, Action<T, T> assertSame)
    {
        var a = fromSpan(bytes);
        var stream = new MemoryStream(bytes);
        var b = fromStream(stream);
        Assert.Equal(bytes.Length, stream.Position);
        assertSame(a, b);
        var c = fromStream(new NonSeekableStream(bytes));
        assertSame(a, c);
        return a;
    }

    private static void SameData(ulong[] expected, ulong[] actual) => Assert.True(expected.AsSpan().SequenceEqual(actual), "data differ");

    private static void SameCiphertext(Ciphertext expected, Ciphertext actual)
    {
        Assert.Equal(expected.Level, actual.Level);
        Assert.Equal(expected.Size, actual.Size);
        Assert.Equal(expected.Scale, actual.Scale);
        Assert.Equal(expected.IsNttForm, actual.IsNttForm);
        SameData(expected.Data, actual.Data);
    }

    private static void SamePlaintext(Plaintext expected, Plaintext actual)
    {
        Assert.Equal(expected.Level, actual.Level);
        Assert.Equal(expected.Scale, actual.Scale);
        Assert.Equal(expected.IsNttForm, actual.IsNttForm);
        SameData(expected.Data, actual.Data);
    }

    private static void SameSwitchingKey(KeySwitchingKey expected, KeySwitchingKey actual)
    {
        Assert.True(expected.Seed.Span.SequenceEqual(actual.Seed.Span));
        Assert.Equal(expected.DigitCount, actual.DigitCount);
        for (int i = 0; i < expected.DigitCount; i++)
        {
            SameData(expected.B[i], actual.B[i]);
            SameData(expected.A[i], actual.A[i]);
        }
    }

    [Theory, MemberData(nameof(Compressions))]
    public void Plaintext_RoundTrips(Compression compression)
    {
        foreach (var pt in new[] { fixture.Plaintext, fixture.CoefficientPlaintext })
        {
            var bytes = SaveBoth(() => RlweSerializer.Save(pt, compression), s => RlweSerializer.Save(pt, s, compression));
            var loaded = LoadBoth(bytes, b => RlweSerializer.LoadPlaintext(b, P), s => RlweSerializer.LoadPlaintext(s, P), SamePlaintext);
            SamePlaintext(pt, loaded);
        }
    }

    [Theory, MemberData(nameof(Compressions))]
    public void Ciphertext_RoundTrips_AndDecryptsTheSame(Compression compression)
    {
        foreach (var ct in new[] { fixture.PublicCiphertext, fixture.SymmetricCiphertext, fixture.Size3Ciphertext })
        {
            var bytes = SaveBoth(() => RlweSerializer.Save(ct, compression), s => RlweSerializer.Save(ct, s, compression));
            var loaded = LoadBoth(bytes, b => RlweSerializer.LoadCiphertext(b, P), s => RlweSerializer.LoadCiphertext(s, P), SameCiphertext);
            SameCiphertext(ct, loaded);
            var decryptor = new Decryptor(P, fixture.SecretKey);
            SameData(decryptor.Decrypt(ct).Data, decryptor.Decrypt(loaded).Data);
        }
        Assert.True(fixture.MaxError(RlweSerializer.LoadCiphertext(RlweSerializer.Save(fixture.PublicCiphertext, compression), P), fixture.SecretKey) < 1 << 12);
    }

    [Fact]
    public void SeededCiphertext_IsAboutHalfThePublicKeyCiphertext()
    {
        var seeded = RlweSerializer.Save(fixture.SymmetricCiphertext);
        var full = RlweSerializer.Save(fixture.PublicCiphertext);
        double ratio = (double)seeded.Length / full.Length;
        Assert.InRange(ratio, 0.49, 0.52);
        var loaded = RlweSerializer.LoadCiphertext(seeded, P);
        Assert.NotNull(loaded.Seed);
        Assert.Equal(fixture.SymmetricCiphertext.Seed, loaded.Seed);
        Assert.True(fixture.MaxError(loaded, fixture.SecretKey) < 1 << 8);
        // Saving the loaded ciphertext again gives the same bytes.
        Assert.Equal(seeded, RlweSerializer.Save(loaded));
    }

    [Fact]
    public void SeededCiphertext_WithStaleSeed_IsSavedInFull()
    {
        var ct = fixture.SymmetricCiphertext.Clone();
        ct.Data[ct.PolyLength] ^= 1; // c_1 changed, seed not cleared
        var bytes = RlweSerializer.Save(ct);
        Assert.Equal(RlweSerializer.Save(fixture.PublicCiphertext).Length, bytes.Length);
        SameCiphertext(ct, RlweSerializer.LoadCiphertext(bytes, P));
    }

    [Theory, MemberData(nameof(Compressions))]
    public void SecretKey_RoundTrips(Compression compression)
    {
        var sk = fixture.SecretKey;
        var bytes = SaveBoth(() => RlweSerializer.SaveUnprotected(sk, compression), s => RlweSerializer.SaveUnprotected(sk, s, compression));
        using var loaded = LoadBoth(bytes, b => RlweSerializer.LoadSecretKey(b, P), s => RlweSerializer.LoadSecretKey(s, P),
            (x, y) => Assert.True(x.Coefficients.SequenceEqual(y.Coefficients)));
        Assert.True(sk.Coefficients.SequenceEqual(loaded.Coefficients));
        Assert.True(sk.Ntt.SequenceEqual(loaded.Ntt));
        Assert.True(fixture.MaxError(fixture.PublicCiphertext, loaded) < 1 << 12);
    }

    [Theory, MemberData(nameof(Compressions))]
    public void PublicKey_RoundTrips_AndEncrypts(Compression compression)
    {
        var pk = fixture.PublicKey;
        var bytes = SaveBoth(() => RlweSerializer.Save(pk, compression), s => RlweSerializer.Save(pk, s, compression));
        var loaded = LoadBoth(bytes, b => RlweSerializer.LoadPublicKey(b, P), s => RlweSerializer.LoadPublicKey(s, P),
            (x, y) => SameData(x.B, y.B));
        SameData(pk.B, loaded.B);
        SameData(pk.A, loaded.A);
        Assert.True(pk.Seed.Span.SequenceEqual(loaded.Seed.Span));
        var ct = new Encryptor(P, loaded).Encrypt(fixture.Plaintext);
        Assert.True(fixture.MaxError(ct, fixture.SecretKey) < 1 << 12);
        // b and a seed: about half of (b, a).
        Assert.InRange(bytes.Length, 1, compression == Compression.None ? P.Ring.LimbCount * P.N * 8 + 200 : int.MaxValue);
    }

    [Theory, MemberData(nameof(Compressions))]
    public void RelinearizationKey_RoundTrips(Compression compression)
    {
        var rlk = fixture.RelinearizationKey;
        var bytes = SaveBoth(() => RlweSerializer.Save(rlk, compression), s => RlweSerializer.Save(rlk, s, compression));
        var loaded = LoadBoth(bytes, b => RlweSerializer.LoadRelinearizationKey(b, P), s => RlweSerializer.LoadRelinearizationKey(s, P),
            (x, y) => SameSwitchingKey(x.Key, y.Key));
        SameSwitchingKey(rlk.Key, loaded.Key);
    }

    [Theory, MemberData(nameof(Compressions))]
    public void KeySwitchingKey_RoundTrips(Compression compression)
    {
        var key = fixture.SwitchingKey;
        var bytes = SaveBoth(() => RlweSerializer.Save(key, compression), s => RlweSerializer.Save(key, s, compression));
        var loaded = LoadBoth(bytes, b => RlweSerializer.LoadKeySwitchingKey(b, P), s => RlweSerializer.LoadKeySwitchingKey(s, P), SameSwitchingKey);
        SameSwitchingKey(key, loaded);
    }

    [Theory, MemberData(nameof(Compressions))]
    public void GaloisKeys_RoundTrip(Compression compression)
    {
        var keys = fixture.GaloisKeys;
        var bytes = SaveBoth(() => RlweSerializer.Save(keys, compression), s => RlweSerializer.Save(keys, s, compression));
        var loaded = LoadBoth(bytes, b => RlweSerializer.LoadGaloisKeys(b, P), s => RlweSerializer.LoadGaloisKeys(s, P),
            (x, y) => Assert.Equal(x.Elements, y.Elements));
        Assert.Equal(keys.Elements, loaded.Elements);
        Assert.Equal(2, loaded.Elements.Count);
        foreach (var k in keys.Elements) SameSwitchingKey(keys[k], loaded[k]);
    }

    [Fact]
    public void EmptyGaloisKeys_RoundTrip()
    {
        var empty = fixture.KeyGenerator.CreateGaloisKeys([]);
        var loaded = RlweSerializer.LoadGaloisKeys(RlweSerializer.Save(empty), P);
        Assert.Empty(loaded.Elements);
    }

    [Theory, MemberData(nameof(Compressions))]
    public void Parameters_RoundTrip(Compression compression)
    {
        var bytes = SaveBoth(() => RlweSerializer.Save(P, compression), s => RlweSerializer.Save(P, s, compression));
        var loaded = LoadBoth(bytes, b => RlweSerializer.LoadParameters(b, minimumSecurity: SecurityLevel.InsecureNoCheck), s => RlweSerializer.LoadParameters(s, minimumSecurity: SecurityLevel.InsecureNoCheck),
            (x, y) => Assert.True(x.SameRingAs(y)));
        Assert.True(P.Hash.Span.SequenceEqual(loaded.Hash.Span));
        Assert.Equal(P.LogN, loaded.LogN);
        Assert.Equal(P.Q, loaded.Q);
        Assert.Equal(P.P, loaded.P);
        Assert.Equal(P.Security, loaded.Security);
        // An object saved under the original loads under the reloaded parameters.
        var ct = RlweSerializer.LoadCiphertext(RlweSerializer.Save(fixture.PublicCiphertext), loaded);
        Assert.Same(loaded, ct.Parameters);
    }

    [Fact]
    public void Stream_HoldsSeveralObjects_ReadInOrder()
    {
        using var ms = new MemoryStream();
        RlweSerializer.Save(P, ms, Compression.Brotli);
        RlweSerializer.Save(fixture.PublicCiphertext, ms, Compression.ZLib);
        RlweSerializer.Save(fixture.SymmetricCiphertext, ms);
        RlweSerializer.Save(fixture.GaloisKeys, ms, Compression.Brotli);
        var all = ms.ToArray();
        foreach (Stream s in new Stream[] { new MemoryStream(all), new NonSeekableStream(all) })
        {
            var p = RlweSerializer.LoadParameters(s, minimumSecurity: SecurityLevel.InsecureNoCheck);
            SameCiphertext(fixture.PublicCiphertext, RlweSerializer.LoadCiphertext(s, p));
            SameCiphertext(fixture.SymmetricCiphertext, RlweSerializer.LoadCiphertext(s, p));
            Assert.Equal(fixture.GaloisKeys.Elements, RlweSerializer.LoadGaloisKeys(s, p).Elements);
            Assert.Equal(-1, s.ReadByte());
        }
    }

    [Fact]
    public void Compression_ShrinksCoefficientsBelow2To64()
    {
        // 40- and 50-bit residues stored in 64-bit words leave zero bytes that either compressor removes.
        var none = RlweSerializer.Save(fixture.PublicKey).Length;
        Assert.True(RlweSerializer.Save(fixture.PublicKey, Compression.ZLib).Length < none * 0.9);
        Assert.True(RlweSerializer.Save(fixture.PublicKey, Compression.Brotli).Length < none * 0.9);
    }

    [Fact]
    public void Save_RejectsInvalidArguments()
    {
        var ct = fixture.PublicCiphertext.Clone();
        Assert.Throws<ArgumentOutOfRangeException>(() => RlweSerializer.Save(ct, (Compression)7));
        ct.Scale = double.NaN;
        Assert.Throws<ArgumentException>(() => RlweSerializer.Save(ct));
        Assert.Throws<ArgumentNullException>(() => RlweSerializer.Save((Ciphertext)null!));
        Assert.Throws<ArgumentNullException>(() => RlweSerializer.LoadCiphertext(RlweSerializer.Save(fixture.PublicCiphertext), null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SerializationLimits { MaxObjectBytes = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new SerializationLimits { MaxObjectBytes = long.MaxValue });
    }

    [Fact]
    public void Header_WritesAndReadsTheDocumentedLayout()
    {
        var bytes = RlweSerializer.Save(fixture.PublicCiphertext, Compression.ZLib);
        Assert.Equal("VEIL"u8.ToArray(), bytes[..4]);
        Assert.Equal(new byte[] { 2, 0 }, bytes[4..6]);
        Assert.Equal(new byte[] { 0, 0 }, bytes[6..8]); // scheme: RLWE
        Assert.Equal(new byte[] { (byte)ObjectKind.Ciphertext, 0 }, bytes[8..10]);
        Assert.Equal((byte)Compression.ZLib, bytes[10]);
        Assert.All(bytes[11..16], b => Assert.Equal(0, b));
        Assert.Equal(P.Hash.ToArray(), bytes[16..48]);
        var info = VeilHeader.Read(bytes, RlweObjectTypes.Of(ObjectKind.Ciphertext));
        Assert.Equal(bytes.Length - VeilHeader.Size, info.StoredLength);
        Assert.Equal(12 + KeyId.Size + 2 * (P.MaxLevel + 1) * P.N * 8, info.PayloadLength); // metadata, key id, c_0 and c_1
        Assert.Equal(Compression.ZLib, info.Compression);
        Assert.True(info.ContextHash.Span.SequenceEqual(P.Hash.Span));
        var paramBytes = RlweSerializer.Save(P);
        Assert.All(paramBytes[16..48], b => Assert.Equal(0, b));
    }
}
