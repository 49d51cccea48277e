using System.Security.Cryptography;
using Veil.Serialization;

namespace Veil.Protection.Tests;

/// <summary>Round trips at every size boundary and the whole tampering matrix of the protected-object format.</summary>
public class ProtectedStreamTests
{
    private const int Chunk = 4096;
    private static readonly ProtectionOptions Small = new() { ChunkSizeLog2 = 12 };

    private static byte[] Data(int length, int seed = 1)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static (KmsRecipient Kms, byte[] Sealed) Seal(byte[] data, ProtectionOptions? options = null, KmsRecipient? kms = null)
    {
        kms ??= new KmsRecipient(new TestKeys.TestKms());
        return (kms, ProtectedStream.Protect(data, [kms], options ?? Small));
    }

    private static ProtectionError Fails(byte[] sealedBytes, IIdentity identity) =>
        Assert.Throws<ProtectionException>(() => ProtectedStream.Unprotect(sealedBytes, [identity])).Reason;

    [Theory]
    [InlineData(0, AeadAlgorithm.Aes256Gcm)]
    [InlineData(1, AeadAlgorithm.Aes256Gcm)]
    [InlineData(Chunk - 1, AeadAlgorithm.Aes256Gcm)]
    [InlineData(Chunk, AeadAlgorithm.Aes256Gcm)]
    [InlineData(Chunk + 1, AeadAlgorithm.Aes256Gcm)]
    [InlineData(7 * Chunk + 13, AeadAlgorithm.Aes256Gcm)]
    [InlineData(3 * Chunk, AeadAlgorithm.ChaCha20Poly1305)]
    [InlineData(Chunk + 1, AeadAlgorithm.ChaCha20Poly1305)]
    public void RoundTrip_AtEverySizeBoundary(int length, AeadAlgorithm algorithm)
    {
        var data = Data(length);
        var (kms, sealedBytes) = Seal(data, Small with { Algorithm = algorithm });
        var header = ProtectedStream.ReadHeader(new MemoryStream(sealedBytes));
        Assert.Equal(algorithm, header.Algorithm);
        Assert.Equal(header.HeaderLength + length + 16 * (length == 0 ? 1 : (length + Chunk - 1) / Chunk), sealedBytes.Length);
        Assert.Equal(data, ProtectedStream.Unprotect(sealedBytes, [kms]));
    }

    [Fact]
    public void EveryFlippedByte_IsDetected_AndNothingOfAFailingChunkIsReturned()
    {
        var data = Data(2 * Chunk + 100);
        var (kms, sealedBytes) = Seal(data);
        var rng = new Random(2);
        for (int i = 0; i < sealedBytes.Length; i++)
        {
            var copy = sealedBytes.ToArray();
            copy[i] ^= (byte)(1 << rng.Next(8));
            var output = new MemoryStream();
            var e = Assert.Throws<ProtectionException>(() => ProtectedStream.Decrypt(new MemoryStream(copy), output, [kms]));
            // Only whole chunks before the failing one ever reach the output, and they are the original ones.
            var released = output.ToArray();
            Assert.Equal(0, released.Length % Chunk);
            Assert.Equal(data.AsSpan(0, released.Length).ToArray(), released);
            if (e.Reason == ProtectionError.ChunkTampered) Assert.Equal(released.Length / Chunk, e.Chunk);
        }
    }

    [Fact]
    public void Truncation_AtAndInsideChunks_IsDetected()
    {
        var data = Data(3 * Chunk + 50);
        var (kms, sealedBytes) = Seal(data);
        int header = ProtectedStream.ReadHeader(new MemoryStream(sealedBytes)).HeaderLength;
        foreach (int chunks in new[] { 1, 2, 3 })
        {
            int boundary = header + chunks * (Chunk + 16);
            Assert.Equal(ProtectionError.Truncated, Fails(sealedBytes[..boundary], kms));
            Assert.NotEqual(ProtectionError.Format, Fails(sealedBytes[..(boundary - 7)], kms));
        }
        Assert.Equal(ProtectionError.Truncated, Fails(sealedBytes[..header], kms));
        Assert.Equal(ProtectionError.Truncated, Fails(sealedBytes[..(header - 1)], kms));
        Assert.Equal(ProtectionError.Truncated, Fails(sealedBytes[..30], kms));
        Assert.Equal(ProtectionError.ChunkTampered, Fails([.. sealedBytes, 1, 2, 3], kms));
    }

    [Fact]
    public void SwappedChunks_WithinAndBetweenObjects_AreDetected()
    {
        var kms = new KmsRecipient(new TestKeys.TestKms());
        var (_, a) = Seal(Data(3 * Chunk, 1), kms: kms);
        var (_, b) = Seal(Data(3 * Chunk, 2), kms: kms);
        int h = ProtectedStream.ReadHeader(new MemoryStream(a)).HeaderLength, c = Chunk + 16;
        var swapped = a.ToArray();
        a.AsSpan(h, c).CopyTo(swapped.AsSpan(h + c));
        a.AsSpan(h + c, c).CopyTo(swapped.AsSpan(h));
        Assert.Equal(ProtectionError.ChunkTampered, Fails(swapped, kms));
        var mixed = a.ToArray();
        b.AsSpan(h + c, c).CopyTo(mixed.AsSpan(h + c));
        Assert.Equal(ProtectionError.ChunkTampered, Fails(mixed, kms));
        // b's header on a's chunks: the header opens (it is b's), the chunks are under another key.
        var replacedHeader = b.AsSpan(0, h).ToArray().Concat(a.AsSpan(h).ToArray()).ToArray();
        Assert.Equal(ProtectionError.ChunkTampered, Fails(replacedHeader, kms));
    }

    [Fact]
    public void HeaderTampering_WrongKeys_AndKeyCommitment()
    {
        var kms = new KmsRecipient(new TestKeys.TestKms());
        var (_, a) = Seal(Data(100, 1), kms: kms);
        var (_, b) = Seal(Data(100, 2), kms: kms);
        Assert.Equal(ProtectionError.NoMatchingKey, Fails(a, new KmsRecipient(new TestKeys.TestKms())));
        var header = ProtectedStream.ReadHeader(new MemoryStream(a));
        // a's salt and commitment with b's wrapped key: the key opens but is not a's (key commitment).
        var forged = a.ToArray();
        b.AsSpan(82, header.HeaderLength - 82).CopyTo(forged.AsSpan(82));
        Assert.Equal(ProtectionError.WrongKey, Fails(forged, kms));
        // The chunk size and algorithm fields are under the header MAC.
        var chunkSize = a.ToArray(); chunkSize[11] = 13;
        Assert.Equal(ProtectionError.HeaderTampered, Fails(chunkSize, kms));
        var magic = a.ToArray(); magic[0] ^= 1;
        Assert.Equal(ProtectionError.Format, Fails(magic, kms));
        var version = a.ToArray(); version[8] = 9;
        Assert.Equal(ProtectionError.Unsupported, Fails(version, kms));
    }

    [Fact]
    public void ContentType_IsBound()
    {
        var kms = new KmsRecipient(new TestKeys.TestKms());
        var type = new ObjectType(Schemes.Rlwe, 4);
        var protector = new SecretProtector([kms], [kms]);
        var sealedKey = protector.Protect([1, 2, 3], type);
        Assert.True(protector.IsProtected(sealedKey));
        Assert.Equal([1, 2, 3], protector.Unprotect(sealedKey, type));
        Assert.Throws<ProtectionException>(() => protector.Unprotect(sealedKey, new ObjectType(Schemes.Rlwe, 3)));
        // The content type is in the header, so changing it breaks the header MAC.
        var relabelled = sealedKey.ToArray(); relabelled[14] = 3;
        Assert.Equal(ProtectionError.HeaderTampered, Assert.Throws<ProtectionException>(() => ProtectedStream.Unprotect(relabelled, [kms])).Reason);
    }

    [Fact]
    public void Recipients_RsaAndP256_EachOpenTheirOwnCopy()
    {
        var data = Data(5000);
        var rsa = new RsaRecipient(TestKeys.Rsa.Value);
        var p256 = new P256Recipient(TestKeys.P256.Value);
        var sealedBytes = ProtectedStream.Protect(data, [rsa, p256], Small);
        Assert.Equal(data, ProtectedStream.Unprotect(sealedBytes, [new RsaIdentity(TestKeys.Rsa.Value)]));
        Assert.Equal(data, ProtectedStream.Unprotect(sealedBytes, [new P256Identity(TestKeys.P256.Value)]));
        using var other = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        Assert.Equal(ProtectionError.NoMatchingKey, Fails(sealedBytes, new P256Identity(other)));
        using var weak = RSA.Create(2048);
        Assert.Throws<ArgumentException>(() => new RsaRecipient(weak));
    }

    [Fact]
    public void Rewrap_ChangesOnlyTheWrappedKeys()
    {
        var data = Data(3 * Chunk + 5);
        var (kms, sealedBytes) = Seal(data);
        var p256 = new P256Recipient(TestKeys.P256.Value);
        var output = new MemoryStream();
        ProtectedStream.Rewrap(new MemoryStream(sealedBytes), output, [kms], [p256]);
        var rewrapped = output.ToArray();
        int oldHeader = ProtectedStream.ReadHeader(new MemoryStream(sealedBytes)).HeaderLength, newHeader = ProtectedStream.ReadHeader(new MemoryStream(rewrapped)).HeaderLength;
        Assert.Equal(sealedBytes.AsSpan(oldHeader).ToArray(), rewrapped.AsSpan(newHeader).ToArray()); // no chunk re-encrypted
        Assert.Equal(data, ProtectedStream.Unprotect(rewrapped, [new P256Identity(TestKeys.P256.Value)]));
        Assert.Equal(data, ProtectedStream.Unprotect(rewrapped, [kms]));
        output = new MemoryStream();
        ProtectedStream.Rewrap(new MemoryStream(rewrapped), output, [kms], [], w => w.Type != StanzaType.Kms);
        Assert.Equal(ProtectionError.NoMatchingKey, Fails(output.ToArray(), kms));
    }

    [Fact]
    public void DecryptFile_LeavesNoOutputWhenTampered()
    {
        using var dir = new Scratch();
        var data = Data(5 * Chunk);
        File.WriteAllBytes(dir.File("plain"), data);
        var kms = new KmsRecipient(new TestKeys.TestKms());
        ProtectedStream.EncryptFile(dir.File("plain"), dir.File("sealed"), [kms], Small);
        ProtectedStream.DecryptFile(dir.File("sealed"), dir.File("out"), [kms]);
        Assert.Equal(data, File.ReadAllBytes(dir.File("out")));
        var bytes = File.ReadAllBytes(dir.File("sealed"));
        bytes[^20] ^= 1; // in the last chunk: four verified chunks would have been written before the failure
        File.WriteAllBytes(dir.File("bad"), bytes);
        Assert.Throws<ProtectionException>(() => ProtectedStream.DecryptFile(dir.File("bad"), dir.File("out2"), [kms]));
        Assert.False(File.Exists(dir.File("out2")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.partial"));
        Assert.Empty(Directory.GetFiles(dir.Path, ".*"));
    }

    [Fact]
    public void BadOptions_AreRefused()
    {
        var kms = new KmsRecipient(new TestKeys.TestKms());
        Assert.Throws<ArgumentOutOfRangeException>(() => ProtectedStream.Protect([1], [kms], new ProtectionOptions { ChunkSizeLog2 = 30 }));
        Assert.Throws<ArgumentException>(() => ProtectedStream.Protect([1], []));
    }
}
