using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Veil.Serialization;

namespace Veil.Protection;

/// <summary>The AEAD a protected object's chunks use.</summary>
public enum AeadAlgorithm : byte
{
    /// <summary>AES-256-GCM (AES-NI and carry-less multiplication where the CPU has them): the default.</summary>
    Aes256Gcm = 1,
    /// <summary>ChaCha20-Poly1305: constant time without AES hardware.</summary>
    ChaCha20Poly1305 = 2,
}

/// <summary>How an object is sealed.</summary>
public sealed record ProtectionOptions
{
    /// <summary>The chunk AEAD.</summary>
    public AeadAlgorithm Algorithm { get; init; } = AeadAlgorithm.Aes256Gcm;

    /// <summary>log2 of the plaintext chunk size, 12 … 24 (default 16: 64 KiB chunks; memory use is two chunks).</summary>
    public int ChunkSizeLog2 { get; init; } = 16;

    /// <summary>What the content is (an HE secret key, a context…), bound into the header; default: plain data (0, 0).</summary>
    public ObjectType ContentType { get; init; }
}

/// <summary>What a protected object's header says.</summary>
public sealed record ProtectedHeader(AeadAlgorithm Algorithm, int ChunkSize, ObjectType ContentType, IReadOnlyList<WrappedKey> WrappedKeys, int HeaderLength);

/// <summary>
/// Veil's protected-object format (version 1): a chunked, key-committing AEAD for streams of any size, in constant memory.
/// </summary>
/// <remarks>
/// <para>Header (little-endian): magic "VEILPROT" ‖ version u16 (1) ‖ algorithm u8 ‖ log2 chunk size u8 ‖ content scheme
/// u16 ‖ content kind u16 ‖ salt (32) ‖ key commitment (32) ‖ wrapped-key count u16 (1 … 64) ‖ per wrapped key: type
/// u8, id length u8, id (ASCII), body length u16 (≤ 4096), body ‖ header MAC (32). Then the chunks: each chunk of
/// plaintext (the chunk size; the last one shorter or empty) encrypted with its 16-byte tag appended.</para>
/// <para>Keys: a fresh 32-byte data key D per object, wrapped for each recipient. From D and the salt, HKDF-SHA-256
/// gives the chunk key K ("veil-protect/v1/chunk" ‖ algorithm), the commitment C ("veil-protect/v1/commit") stored in
/// the header — so one object cannot open under two keys — and the header MAC key ("veil-protect/v1/header"): an
/// HMAC-SHA-256 over every header byte before it. Chunk i's nonce is 0³ ‖ i (u64, big-endian) ‖ last (1 for the final
/// chunk, else 0), so reordering, dropping or appending chunks, cutting the stream at a chunk boundary, or taking a chunk
/// from another object (another K) all fail authentication.</para>
/// <para>Decryption releases a chunk only after it verifies; a stream that fails later has already delivered the
/// verified chunks before it. <see cref="DecryptFile"/> writes to a temporary file and renames it only when the whole
/// object verified, so a tampered input leaves no output behind.</para>
/// </remarks>
public static class ProtectedStream
{
    /// <summary>The format's magic bytes.</summary>
    public static ReadOnlySpan<byte> Magic => "VEILPROT"u8;

    private const ushort Version = 1;
    private const int FixedHeader = 8 + 2 + 1 + 1 + 2 + 2 + 32 + 32 + 2, MacSize = 32, TagSize = 16, KeySize = 32;
    private const int MaxWrappedKeys = 64, MaxBody = 4096;

    /// <summary>Whether <paramref name="bytes"/> start like a protected object.</summary>
    public static bool IsProtected(ReadOnlySpan<byte> bytes) => bytes.StartsWith(Magic);

    // ---------------------------------------------------------------- sealing

    /// <summary>Seals <paramref name="input"/> (read to its end) into <paramref name="output"/> for every recipient.</summary>
    /// <param name="input">The plaintext.</param>
    /// <param name="output">Receives the header and the chunks.</param>
    /// <param name="recipients">Each gets one wrapped copy of the data key (at least one).</param>
    /// <param name="options">Algorithm, chunk size, content type.</param>
    /// <param name="progress">Receives the plaintext bytes sealed so far.</param>
    /// <param name="cancellation">Checked between chunks.</param>
    /// <returns>The plaintext length.</returns>
    /// <exception cref="ArgumentException">No recipients, too many, or options out of range.</exception>
    public static long Encrypt(Stream input, Stream output, IReadOnlyList<IRecipient> recipients, ProtectionOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(recipients);
        options ??= new ProtectionOptions();
        if (options.ChunkSizeLog2 is < 12 or > 24) throw new ArgumentOutOfRangeException(nameof(options), options.ChunkSizeLog2, "The chunk size is 2^12 … 2^24 bytes.");
        if (!Enum.IsDefined(options.Algorithm)) throw new ArgumentOutOfRangeException(nameof(options), options.Algorithm, "Unknown algorithm.");
        if (recipients.Count is 0 or > MaxWrappedKeys) throw new ArgumentException($"1 … {MaxWrappedKeys} recipients.", nameof(recipients));
        var dataKey = GC.AllocateArray<byte>(KeySize, pinned: true);
        try
        {
            RandomNumberGenerator.Fill(dataKey);
            var salt = RandomNumberGenerator.GetBytes(32);
            var wrapped = recipients.Select(r => (r ?? throw new ArgumentNullException(nameof(recipients))).Wrap(dataKey)).ToArray();
            using var keys = new DerivedKeys(dataKey, salt, options.Algorithm);
            var header = WriteHeader(options.Algorithm, options.ChunkSizeLog2, options.ContentType, salt, keys.Commitment, wrapped, keys.HeaderKey);
            output.Write(header);
            return SealChunks(input, output, keys.Aead, 1 << options.ChunkSizeLog2, progress, cancellation);
        }
        finally { CryptographicOperations.ZeroMemory(dataKey); }
    }

    private static long SealChunks(Stream input, Stream output, IAead aead, int chunkSize, IProgress<long>? progress, CancellationToken cancellation)
    {
        // Two buffers: the chunk being sealed and the next one, read ahead to know which chunk is the last.
        var current = new byte[chunkSize];
        var next = new byte[chunkSize];
        var sealedChunk = new byte[chunkSize + TagSize];
        Span<byte> nonce = stackalloc byte[12];
        int length = ReadFull(input, current);
        long index = 0, total = 0;
        try
        {
            while (true)
            {
                cancellation.ThrowIfCancellationRequested();
                int nextLength = length == chunkSize ? ReadFull(input, next) : 0;
                bool last = nextLength == 0;
                Nonce(nonce, index, last);
                aead.Encrypt(nonce, current.AsSpan(0, length), sealedChunk.AsSpan(0, length), sealedChunk.AsSpan(length, TagSize));
                output.Write(sealedChunk, 0, length + TagSize);
                total += length;
                progress?.Report(total);
                if (last) return total;
                (current, next) = (next, current);
                length = nextLength;
                index++;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(current);
            CryptographicOperations.ZeroMemory(next);
        }
    }

    /// <summary>Seals bytes in memory.</summary>
    public static byte[] Protect(ReadOnlySpan<byte> plaintext, IReadOnlyList<IRecipient> recipients, ProtectionOptions? options = null)
    {
        using var input = new MemoryStream(plaintext.ToArray(), writable: false);
        using var output = new MemoryStream();
        Encrypt(input, output, recipients, options);
        return output.ToArray();
    }

    /// <summary>Seals a file into <paramref name="outputPath"/> (written to a temporary file, then renamed).</summary>
    public static long EncryptFile(string inputPath, string outputPath, IReadOnlyList<IRecipient> recipients, ProtectionOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancellation = default)
    {
        using var input = new FileStream(inputPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return WriteAtomically(outputPath, output => Encrypt(input, output, recipients, options, progress, cancellation));
    }

    // ---------------------------------------------------------------- opening

    /// <summary>Reads and parses a header (without opening anything): the algorithm, chunk size, content type and wrapped keys.</summary>
    /// <exception cref="ProtectionException">Not a protected object, or a malformed header.</exception>
    public static ProtectedHeader ReadHeader(Stream input) => ParseHeader(input, out _, out _, out _);

    /// <summary>Opens <paramref name="input"/> into <paramref name="output"/> with the first identity that unwraps a data key.</summary>
    /// <returns>The header.</returns>
    /// <exception cref="ProtectionException">No key opens it, the commitment or the header MAC fails, a chunk fails, or the data is cut short.</exception>
    public static ProtectedHeader Decrypt(Stream input, Stream output, IReadOnlyList<IIdentity> identities, ObjectType? expectedContent = null,
        IProgress<long>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var keys = Open(input, identities, expectedContent, out var header);
        OpenChunks(input, output, keys.Aead, header.ChunkSize, progress, cancellation);
        return header;
    }

    /// <summary>Opens bytes in memory.</summary>
    public static byte[] Unprotect(ReadOnlySpan<byte> sealedBytes, IReadOnlyList<IIdentity> identities, ObjectType? expectedContent = null)
    {
        using var input = new MemoryStream(sealedBytes.ToArray(), writable: false);
        using var output = new MemoryStream();
        Decrypt(input, output, identities, expectedContent);
        return output.ToArray();
    }

    /// <summary>Opens a file into <paramref name="outputPath"/>: written to a temporary file beside it and renamed only when everything verified.</summary>
    public static ProtectedHeader DecryptFile(string inputPath, string outputPath, IReadOnlyList<IIdentity> identities,
        IProgress<long>? progress = null, CancellationToken cancellation = default)
    {
        using var input = new FileStream(inputPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        ProtectedHeader? header = null;
        WriteAtomically(outputPath, output => { header = Decrypt(input, output, identities, null, progress, cancellation); return 0; });
        return header!;
    }

    /// <summary>
    /// Copies a protected object with other wrapped keys, without re-encrypting a chunk: the data key is unwrapped with
    /// one of <paramref name="identities"/>, the wrapped keys that <paramref name="keep"/> accepts stay, and one is
    /// added for each of <paramref name="add"/> (rotation of a key-encryption key, sharing with a new recipient).
    /// </summary>
    /// <exception cref="ProtectionException">The object does not open with the identities.</exception>
    /// <exception cref="ArgumentException">No wrapped key would be left, or more than 64.</exception>
    public static ProtectedHeader Rewrap(Stream input, Stream output, IReadOnlyList<IIdentity> identities, IReadOnlyList<IRecipient> add, Func<WrappedKey, bool>? keep = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(add);
        var header = ParseHeader(input, out var salt, out var commitment, out var headerBytes);
        var dataKey = GC.AllocateArray<byte>(KeySize, pinned: true);
        try
        {
            using var keys = Unwrap(header, identities, salt, commitment, headerBytes, dataKey);
            var wrapped = header.WrappedKeys.Where(w => keep?.Invoke(w) ?? true).Concat(add.Select(r => r.Wrap(dataKey))).ToArray();
            if (wrapped.Length is 0 or > MaxWrappedKeys) throw new ArgumentException($"A protected object carries 1 … {MaxWrappedKeys} wrapped keys; the rewrap leaves {wrapped.Length}.", nameof(add));
            var newHeader = WriteHeader(header.Algorithm, System.Numerics.BitOperations.Log2((uint)header.ChunkSize), header.ContentType, salt, commitment, wrapped, keys.HeaderKey);
            output.Write(newHeader);
            input.CopyTo(output);
            return header with { WrappedKeys = wrapped, HeaderLength = newHeader.Length };
        }
        finally { CryptographicOperations.ZeroMemory(dataKey); }
    }

    /// <summary><see cref="Rewrap(Stream, Stream, IReadOnlyList{IIdentity}, IReadOnlyList{IRecipient}, Func{WrappedKey, bool}?)"/> on a file, in place (temporary file, then rename).</summary>
    public static ProtectedHeader RewrapFile(string path, IReadOnlyList<IIdentity> identities, IReadOnlyList<IRecipient> add, Func<WrappedKey, bool>? keep = null)
    {
        ProtectedHeader? header = null;
        using (var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
            WriteAtomically(path + ".rewrap", output => { header = Rewrap(input, output, identities, add, keep); return 0; });
        File.Move(path + ".rewrap", path, overwrite: true);
        return header!;
    }

    private static DerivedKeys Open(Stream input, IReadOnlyList<IIdentity> identities, ObjectType? expectedContent, out ProtectedHeader header)
    {
        header = ParseHeader(input, out var salt, out var commitment, out var headerBytes);
        if (expectedContent is { } type && header.ContentType != type)
            throw new ProtectionException(ProtectionError.Format, $"The object holds {header.ContentType}, not {type}.");
        var dataKey = GC.AllocateArray<byte>(KeySize, pinned: true);
        try { return Unwrap(header, identities, salt, commitment, headerBytes, dataKey); }
        finally { CryptographicOperations.ZeroMemory(dataKey); }
    }

    private static DerivedKeys Unwrap(ProtectedHeader header, IReadOnlyList<IIdentity> identities, byte[] salt, byte[] commitment, byte[] headerBytes, byte[] dataKey)
    {
        ArgumentNullException.ThrowIfNull(identities);
        bool anyCommitmentFailure = false;
        foreach (var wrapped in header.WrappedKeys)
        {
            foreach (var identity in identities)
            {
                if (!identity.TryUnwrap(wrapped, dataKey)) continue;
                var keys = new DerivedKeys(dataKey, salt, header.Algorithm);
                if (!CryptographicOperations.FixedTimeEquals(keys.Commitment, commitment))
                {
                    keys.Dispose();
                    anyCommitmentFailure = true;
                    continue;
                }
                var mac = HMACSHA256.HashData(keys.HeaderKey, headerBytes.AsSpan(0, headerBytes.Length - MacSize));
                if (!CryptographicOperations.FixedTimeEquals(mac, headerBytes.AsSpan(headerBytes.Length - MacSize)))
                {
                    keys.Dispose();
                    throw new ProtectionException(ProtectionError.HeaderTampered, "The header was altered (its MAC does not verify).");
                }
                return keys;
            }
        }
        if (anyCommitmentFailure) throw new ProtectionException(ProtectionError.WrongKey, "A wrapped key opened, but it is not the key this object was sealed with (key commitment).");
        throw new ProtectionException(ProtectionError.NoMatchingKey, $"None of the {identities.Count} keys given opens any of the object's {header.WrappedKeys.Count} wrapped keys ({string.Join(", ", header.WrappedKeys.Select(w => $"{w.Type} {w.KeyId}"))}).");
    }

    private static void OpenChunks(Stream input, Stream output, IAead aead, int chunkSize, IProgress<long>? progress, CancellationToken cancellation)
    {
        int sealedSize = chunkSize + TagSize;
        var current = new byte[sealedSize];
        var next = new byte[sealedSize];
        var plain = new byte[chunkSize];
        Span<byte> nonce = stackalloc byte[12];
        int length = ReadFull(input, current);
        long index = 0, total = 0;
        try
        {
            while (true)
            {
                cancellation.ThrowIfCancellationRequested();
                if (length < TagSize) throw new ProtectionException(ProtectionError.Truncated, $"The data ends inside chunk {index} ({length} bytes, fewer than a tag).", index);
                int nextLength = length == sealedSize ? ReadFull(input, next) : 0;
                bool last = nextLength == 0;
                int plainLength = length - TagSize;
                Nonce(nonce, index, last);
                if (!aead.TryDecrypt(nonce, current.AsSpan(0, plainLength), current.AsSpan(plainLength, TagSize), plain.AsSpan(0, plainLength)))
                {
                    // A chunk that verifies as a middle chunk but has nothing after it: the stream was cut at a boundary.
                    Nonce(nonce, index, !last);
                    bool other = aead.TryDecrypt(nonce, current.AsSpan(0, plainLength), current.AsSpan(plainLength, TagSize), plain.AsSpan(0, plainLength));
                    CryptographicOperations.ZeroMemory(plain);
                    if (other && last) throw new ProtectionException(ProtectionError.Truncated, $"The data ends after chunk {index}, which is not the final chunk.", index);
                    throw new ProtectionException(ProtectionError.ChunkTampered, $"Chunk {index} does not authenticate: altered, moved, or from another object.", index);
                }
                output.Write(plain, 0, plainLength);
                total += plainLength;
                progress?.Report(total);
                if (last) return;
                (current, next) = (next, current);
                length = nextLength;
                index++;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    // ---------------------------------------------------------------- header

    private static byte[] WriteHeader(AeadAlgorithm algorithm, int chunkLog2, ObjectType content, byte[] salt, byte[] commitment, WrappedKey[] wrapped, byte[] headerKey)
    {
        int length = FixedHeader + MacSize;
        foreach (var w in wrapped)
        {
            int idBytes = Encoding.ASCII.GetByteCount(w.KeyId);
            if (idBytes is 0 or > 255 || w.KeyId.Any(c => c > 127)) throw new ArgumentException($"A key id is 1 … 255 ASCII characters; got '{w.KeyId}'.", nameof(wrapped));
            if (w.Body.Length is 0 or > MaxBody) throw new ArgumentException($"A wrapped key is 1 … {MaxBody} bytes; got {w.Body.Length}.", nameof(wrapped));
            length += 1 + 1 + idBytes + 2 + w.Body.Length;
        }
        var header = new byte[length];
        var s = header.AsSpan();
        Magic.CopyTo(s);
        BinaryPrimitives.WriteUInt16LittleEndian(s[8..], Version);
        s[10] = (byte)algorithm;
        s[11] = (byte)chunkLog2;
        BinaryPrimitives.WriteUInt16LittleEndian(s[12..], content.Scheme);
        BinaryPrimitives.WriteUInt16LittleEndian(s[14..], content.Kind);
        salt.CopyTo(s[16..]);
        commitment.CopyTo(s[48..]);
        BinaryPrimitives.WriteUInt16LittleEndian(s[80..], (ushort)wrapped.Length);
        int o = FixedHeader;
        foreach (var w in wrapped)
        {
            s[o++] = (byte)w.Type;
            int idBytes = Encoding.ASCII.GetBytes(w.KeyId, s[(o + 1)..]);
            s[o] = (byte)idBytes;
            o += 1 + idBytes;
            BinaryPrimitives.WriteUInt16LittleEndian(s[o..], (ushort)w.Body.Length);
            w.Body.CopyTo(s[(o + 2)..]);
            o += 2 + w.Body.Length;
        }
        HMACSHA256.HashData(headerKey, s[..o], s[o..]);
        return header;
    }

    private static ProtectedHeader ParseHeader(Stream input, out byte[] salt, out byte[] commitment, out byte[] headerBytes)
    {
        ArgumentNullException.ThrowIfNull(input);
        var buffer = new List<byte>(256);
        var fixedPart = ReadExactly(input, FixedHeader, "header");
        buffer.AddRange(fixedPart);
        var s = fixedPart.AsSpan();
        if (!s.StartsWith(Magic)) throw new ProtectionException(ProtectionError.Format, "Not a Veil protected object (bad magic).");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(s[8..]);
        if (version != Version) throw new ProtectionException(ProtectionError.Unsupported, $"Protected-object version {version}; this release reads version {Version}.");
        var algorithm = (AeadAlgorithm)s[10];
        if (!Enum.IsDefined(algorithm)) throw new ProtectionException(ProtectionError.Unsupported, $"Unknown AEAD {s[10]}.");
        int chunkLog2 = s[11];
        if (chunkLog2 is < 12 or > 24) throw new ProtectionException(ProtectionError.Format, $"Chunk size 2^{chunkLog2} is outside 2^12 … 2^24.");
        var content = new ObjectType(BinaryPrimitives.ReadUInt16LittleEndian(s[12..]), BinaryPrimitives.ReadUInt16LittleEndian(s[14..]));
        salt = s.Slice(16, 32).ToArray();
        commitment = s.Slice(48, 32).ToArray();
        int count = BinaryPrimitives.ReadUInt16LittleEndian(s[80..]);
        if (count is 0 or > MaxWrappedKeys) throw new ProtectionException(ProtectionError.Format, $"Wrapped-key count {count} is outside 1 … {MaxWrappedKeys}.");
        var wrapped = new WrappedKey[count];
        for (int i = 0; i < count; i++)
        {
            var typeAndLength = ReadExactly(input, 2, "wrapped key");
            buffer.AddRange(typeAndLength);
            var type = (StanzaType)typeAndLength[0];
            var id = ReadExactly(input, typeAndLength[1], "key id");
            buffer.AddRange(id);
            if (id.Length == 0 || id.Any(b => b is < 0x20 or > 0x7E)) throw new ProtectionException(ProtectionError.Format, $"Wrapped key {i}: the key id must be 1 … 255 printable ASCII characters.");
            var bodyLength = ReadExactly(input, 2, "wrapped key length");
            buffer.AddRange(bodyLength);
            int n = BinaryPrimitives.ReadUInt16LittleEndian(bodyLength);
            if (n is 0 or > MaxBody) throw new ProtectionException(ProtectionError.Format, $"Wrapped key {i}: body length {n} is outside 1 … {MaxBody}.");
            var body = ReadExactly(input, n, "wrapped key body");
            buffer.AddRange(body);
            wrapped[i] = new WrappedKey(type, Encoding.ASCII.GetString(id), body);
        }
        buffer.AddRange(ReadExactly(input, MacSize, "header MAC"));
        headerBytes = [.. buffer];
        return new ProtectedHeader(algorithm, 1 << chunkLog2, content, wrapped, headerBytes.Length);
    }

    // ---------------------------------------------------------------- helpers

    private static void Nonce(Span<byte> nonce, long index, bool last)
    {
        nonce[..3].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(nonce[3..], (ulong)index);
        nonce[11] = last ? (byte)1 : (byte)0;
    }

    private static int ReadFull(Stream input, byte[] buffer) => input.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);

    private static byte[] ReadExactly(Stream input, int count, string what)
    {
        var bytes = new byte[count];
        if (input.ReadAtLeast(bytes, count, throwOnEndOfStream: false) != count)
            throw new ProtectionException(ProtectionError.Truncated, $"The data ends inside the {what}.");
        return bytes;
    }

    private static long WriteAtomically(string outputPath, Func<Stream, long> write)
    {
        string full = Path.GetFullPath(outputPath);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.partial");
        try
        {
            long result;
            using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                result = write(output);
                output.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            return result;
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>The chunk key, the commitment and the header MAC key of one object.</summary>
    private sealed class DerivedKeys : IDisposable
    {
        public DerivedKeys(byte[] dataKey, byte[] salt, AeadAlgorithm algorithm)
        {
            var chunkKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, dataKey, KeySize, salt, [.. "veil-protect/v1/chunk"u8, (byte)algorithm]);
            try { Aead = algorithm == AeadAlgorithm.Aes256Gcm ? new GcmAead(chunkKey) : new ChaChaAead(chunkKey); }
            finally { CryptographicOperations.ZeroMemory(chunkKey); }
            Commitment = HKDF.DeriveKey(HashAlgorithmName.SHA256, dataKey, 32, salt, "veil-protect/v1/commit"u8.ToArray());
            HeaderKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, dataKey, 32, salt, "veil-protect/v1/header"u8.ToArray());
        }

        public IAead Aead { get; }
        public byte[] Commitment { get; }
        public byte[] HeaderKey { get; }

        public void Dispose()
        {
            Aead.Dispose();
            CryptographicOperations.ZeroMemory(HeaderKey);
        }
    }
}

internal interface IAead : IDisposable
{
    void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag);
    bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext);
}

internal sealed class GcmAead(byte[] key) : IAead
{
    private readonly AesGcm _gcm = new(key, 16);
    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag) => _gcm.Encrypt(nonce, plaintext, ciphertext, tag);
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext)
    {
        try { _gcm.Decrypt(nonce, ciphertext, tag, plaintext); return true; }
        catch (AuthenticationTagMismatchException) { return false; }
    }
    public void Dispose() => _gcm.Dispose();
}

internal sealed class ChaChaAead(byte[] key) : IAead
{
    private readonly ChaCha20Poly1305 _aead = new(key);
    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag) => _aead.Encrypt(nonce, plaintext, ciphertext, tag);
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext)
    {
        try { _aead.Decrypt(nonce, ciphertext, tag, plaintext); return true; }
        catch (AuthenticationTagMismatchException) { return false; }
    }
    public void Dispose() => _aead.Dispose();
}
