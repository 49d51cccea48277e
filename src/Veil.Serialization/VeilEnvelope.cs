using System.IO.Compression;
using System.Security.Cryptography;

namespace Veil.Serialization;

/// <summary>
/// Frames a payload as header ‖ stored bytes and back, with optional compression, under the checks of
/// <see cref="VeilHeader"/>: the one envelope every Veil serializer uses.
/// </summary>
/// <remarks>
/// Neither direction allocates from a declared length alone: the stored bytes are read after the length has
/// passed the limit and, for a stream that cannot say how much it holds, in growing chunks; decompression output
/// grows with what the decompressor actually yields, up to the declared payload length, and must match it exactly.
/// </remarks>
public static class VeilEnvelope
{
    /// <summary>Largest buffer allocated before any data have arrived to fill it.</summary>
    private const int InitialChunk = 1 << 20;

    /// <summary>Header ‖ (compressed) payload as one array; <paramref name="sensitive"/> zeroes intermediate buffers (secret-key material).</summary>
    /// <param name="type">The object type (registered).</param>
    /// <param name="contextHash">32 bytes: the parameters' fingerprint, or zeros for an object that carries its own.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="compression">Payload compression.</param>
    /// <param name="sensitive">Whether to wipe intermediate buffers.</param>
    /// <exception cref="ArgumentException">Unregistered type or a hash that is not 32 bytes.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Pack(ObjectType type, ReadOnlySpan<byte> contextHash, ReadOnlySpan<byte> payload, Compression compression,
        bool sensitive = false)
    {
        ValidateCompression(compression);
        if (compression == Compression.None)
        {
            var result = new byte[checked(VeilHeader.Size + payload.Length)];
            VeilHeader.Write(result, type, compression, contextHash, payload.Length, payload.Length);
            payload.CopyTo(result.AsSpan(VeilHeader.Size));
            return result;
        }
        var stored = Compress(payload, compression, sensitive);
        try
        {
            var result = new byte[checked(VeilHeader.Size + stored.Length)];
            VeilHeader.Write(result, type, compression, contextHash, payload.Length, stored.Length);
            stored.CopyTo(result.AsSpan(VeilHeader.Size));
            return result;
        }
        finally
        {
            if (sensitive) CryptographicOperations.ZeroMemory(stored);
        }
    }

    /// <summary>Writes header ‖ (compressed) payload to a stream.</summary>
    /// <param name="type">The object type (registered).</param>
    /// <param name="contextHash">32 bytes: the parameters' fingerprint, or zeros.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="compression">Payload compression.</param>
    /// <param name="destination">The stream.</param>
    /// <param name="sensitive">Whether to wipe intermediate buffers.</param>
    public static void Pack(ObjectType type, ReadOnlySpan<byte> contextHash, ReadOnlySpan<byte> payload, Compression compression,
        Stream destination, bool sensitive = false)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ValidateCompression(compression);
        Span<byte> header = stackalloc byte[VeilHeader.Size];
        if (compression == Compression.None)
        {
            VeilHeader.Write(header, type, compression, contextHash, payload.Length, payload.Length);
            destination.Write(header);
            destination.Write(payload);
            return;
        }
        var stored = Compress(payload, compression, sensitive);
        try
        {
            VeilHeader.Write(header, type, compression, contextHash, payload.Length, stored.Length);
            destination.Write(header);
            destination.Write(stored);
        }
        finally
        {
            if (sensitive) CryptographicOperations.ZeroMemory(stored);
        }
    }

    /// <summary>
    /// Validates the header and returns the payload: a slice of <paramref name="bytes"/> when uncompressed, else a
    /// new array (also given in <paramref name="decompressed"/> so that the caller may clear it).
    /// </summary>
    /// <param name="bytes">Header ‖ stored bytes.</param>
    /// <param name="type">The object type expected.</param>
    /// <param name="contextHash">The fingerprint the object must carry (zeros for one carrying its own parameters).</param>
    /// <param name="version1Hash">The fingerprint a version-1 object must carry; empty when the same.</param>
    /// <param name="limits">Size bounds.</param>
    /// <param name="maxPayload">The largest payload an object of this kind and these parameters can have: a larger
    /// declared length is refused before anything is inflated.</param>
    /// <param name="decompressed">The decompressed payload array, or null.</param>
    /// <param name="version">The format version of the object.</param>
    /// <param name="sensitive">Clear every intermediate buffer (secret-key material).</param>
    /// <exception cref="VeilFormatException">Bad header, truncated or trailing bytes, or bad compressed data.</exception>
    public static ReadOnlySpan<byte> Unpack(ReadOnlySpan<byte> bytes, ObjectType type, ReadOnlySpan<byte> contextHash, ReadOnlySpan<byte> version1Hash,
        SerializationLimits? limits, long maxPayload, out byte[]? decompressed, out ushort version, bool sensitive = false)
    {
        limits ??= SerializationLimits.Default;
        var header = ReadHeader(bytes, type, contextHash, version1Hash, limits, maxPayload);
        version = header.Version;
        long available = bytes.Length - header.HeaderSize;
        if (available < header.StoredLength)
            throw new VeilFormatException("storedLength", $"The header declares {header.StoredLength} stored bytes but only {available} follow it (truncated data).");
        if (available > header.StoredLength)
            throw new VeilFormatException("trailing", $"{available - header.StoredLength} bytes follow the declared {header.StoredLength} stored bytes.");
        var stored = bytes.Slice(header.HeaderSize, (int)header.StoredLength);
        if (header.Compression == Compression.None)
        {
            decompressed = null;
            return stored;
        }
        decompressed = Decompress(stored, header.Compression, (int)header.PayloadLength, sensitive);
        return decompressed;
    }

    /// <summary>
    /// Reads one object from a stream: exactly the header and the stored bytes it declares (bounded by the limits),
    /// leaving the stream just after the object. Returns the (decompressed) payload.
    /// </summary>
    /// <exception cref="VeilFormatException">Bad header, truncated stream, or bad compressed data.</exception>
    public static byte[] Unpack(Stream source, ObjectType type, ReadOnlySpan<byte> contextHash, ReadOnlySpan<byte> version1Hash,
        SerializationLimits? limits, long maxPayload, out ushort version, bool sensitive = false)
    {
        ArgumentNullException.ThrowIfNull(source);
        limits ??= SerializationLimits.Default;
        // The first six bytes say which version, and so how long the header is.
        Span<byte> headerBytes = stackalloc byte[VeilHeader.Size];
        int got = source.ReadAtLeast(headerBytes[..6], 6, throwOnEndOfStream: false);
        if (got < 6)
            throw new VeilFormatException("header", $"A header is {VeilHeader.Size} bytes; the stream ended after {got}.");
        int size = VeilHeader.SizeOf(headerBytes[..6]);
        got += source.ReadAtLeast(headerBytes[6..size], size - 6, throwOnEndOfStream: false);
        if (got < size)
            throw new VeilFormatException("header", $"A header is {size} bytes; the stream ended after {got}.");
        var header = ReadHeader(headerBytes[..size], type, contextHash, version1Hash, limits, maxPayload);
        version = header.Version;
        var stored = ReadStored(source, (int)header.StoredLength, sensitive);
        if (header.Compression == Compression.None) return stored;
        try
        {
            return Decompress(stored, header.Compression, (int)header.PayloadLength, sensitive);
        }
        finally
        {
            if (sensitive) CryptographicOperations.ZeroMemory(stored);
        }
    }

    /// <summary>The header checks, then the declared payload against what this kind can hold and against the
    /// expansion ratio, all before a byte is read or inflated.</summary>
    private static VeilHeaderInfo ReadHeader(ReadOnlySpan<byte> bytes, ObjectType type, ReadOnlySpan<byte> contextHash, ReadOnlySpan<byte> version1Hash,
        SerializationLimits limits, long maxPayload)
    {
        var header = VeilHeader.Read(bytes, type, contextHash, version1Hash, limits);
        if (header.PayloadLength > maxPayload)
            throw new VeilFormatException("payloadLength",
                $"A {type} of these parameters is at most {maxPayload} bytes; the header declares {header.PayloadLength}.");
        if (header.Compression != Compression.None &&
            header.PayloadLength > (long)limits.MaxExpansionRatio * header.StoredLength + RatioSlack)
            throw new VeilFormatException("payloadLength",
                $"{header.StoredLength} compressed bytes declare {header.PayloadLength} bytes, more than {limits.MaxExpansionRatio} times as many " +
                "(SerializationLimits.MaxExpansionRatio): refused as a decompression bomb.");
        return header;
    }

    private static byte[] ReadStored(Stream source, int count, bool sensitive)
    {
        if (source.CanSeek)
        {
            long remaining = source.Length - source.Position;
            if (remaining < count)
                throw new VeilFormatException("storedLength", $"The header declares {count} stored bytes but the stream holds only {Math.Max(remaining, 0)} more (truncated data).");
        }
        // Grow with what actually arrives, so a short hostile stream cannot make us allocate its declared length.
        var buffer = new byte[Math.Min(count, InitialChunk)];
        int filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (filled == count) return buffer;
                    Grow(ref buffer, (int)Math.Min(count, 2L * buffer.Length), filled, sensitive);
                }
                int n = source.Read(buffer, filled, buffer.Length - filled);
                if (n == 0)
                    throw new VeilFormatException("storedLength", $"The header declares {count} stored bytes but the stream ended after {filled} (truncated data).");
                filled += n;
            }
        }
        catch when (sensitive)
        {
            CryptographicOperations.ZeroMemory(buffer);
            throw;
        }
    }

    /// <summary>Array.Resize that first wipes the array it drops when that held secret bytes.</summary>
    private static void Grow(ref byte[] buffer, int size, int used, bool sensitive)
    {
        var bigger = new byte[size];
        buffer.AsSpan(0, used).CopyTo(bigger);
        if (sensitive) CryptographicOperations.ZeroMemory(buffer);
        buffer = bigger;
    }

    private static void ValidateCompression(Compression compression)
    {
        if (!Enum.IsDefined(compression)) throw new ArgumentOutOfRangeException(nameof(compression), compression, "Unknown compression.");
    }

    private static byte[] Compress(ReadOnlySpan<byte> payload, Compression compression, bool sensitive)
    {
        if (compression == Compression.Brotli)
        {
            // One call into a buffer of the worst-case size: nothing grows, so no stale copy of the payload is left.
            var output = new byte[BrotliEncoder.GetMaxCompressedLength(payload.Length)];
            try
            {
                if (!BrotliEncoder.TryCompress(payload, output, out int written, BrotliQuality, BrotliWindow))
                    throw new InvalidOperationException("Brotli compression failed.");
                return output.AsSpan(0, written).ToArray();
            }
            finally
            {
                if (sensitive) CryptographicOperations.ZeroMemory(output);
            }
        }
        // zlib's worst case is n + n/4096 + n/16384 + 19 bytes; a buffer that large never grows (and leaves no copies).
        var ms = new MemoryStream(checked(payload.Length + payload.Length / 1024 + 256));
        try
        {
            using (var encoder = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)) encoder.Write(payload);
            return ms.ToArray();
        }
        finally
        {
            if (sensitive) CryptographicOperations.ZeroMemory(ms.GetBuffer());
        }
    }

    private const int BrotliQuality = 4, BrotliWindow = 22; // what CompressionLevel.Optimal selects
    private const long RatioSlack = 1 << 20;

    /// <summary>
    /// Decompresses into a buffer of exactly <paramref name="payloadLength"/> bytes; the compressed data must yield
    /// exactly that many (no fewer, no more) and, for Brotli, be consumed entirely.
    /// </summary>
    private static byte[] Decompress(ReadOnlySpan<byte> stored, Compression compression, int payloadLength, bool sensitive)
    {
        if (stored.IsEmpty) throw new VeilFormatException("storedLength", "Compressed data cannot be empty.");
        // Start from what the input could plausibly expand to; grow only as output really arrives.
        int initial = (int)Math.Min(payloadLength, Math.Min(4L * stored.Length, Array.MaxLength) + InitialChunk);
        return compression == Compression.Brotli
            ? DecompressBrotli(stored, payloadLength, initial, sensitive)
            : DecompressZLib(stored, payloadLength, initial, sensitive);
    }

    private static byte[] DecompressBrotli(ReadOnlySpan<byte> source, int payloadLength, int initial, bool sensitive)
    {
        var decoder = new BrotliDecoder(); // not a 'using' local: a readonly copy would lose the decoder state
        var buffer = new byte[initial];
        try
        {
            int written = 0;
            Span<byte> probe = stackalloc byte[1];
            while (true)
            {
                System.Buffers.OperationStatus status;
                int consumed, produced;
                if (written == buffer.Length)
                {
                    if (written < payloadLength)
                    {
                        Grow(ref buffer, (int)Math.Min(payloadLength, 2L * buffer.Length), written, sensitive);
                        continue;
                    }
                    // Full: the stream may only have its end marker left; anything it still yields is too much.
                    status = decoder.Decompress(source, probe, out consumed, out produced);
                    source = source[consumed..];
                    if (produced != 0 || status == System.Buffers.OperationStatus.DestinationTooSmall)
                        throw new VeilFormatException("payloadLength", $"The compressed data expand to more than the declared {payloadLength} bytes.");
                }
                else
                {
                    status = decoder.Decompress(source, buffer.AsSpan(written), out consumed, out produced);
                    source = source[consumed..];
                    written += produced;
                }
                switch (status)
                {
                    case System.Buffers.OperationStatus.Done:
                        if (written != payloadLength)
                            throw new VeilFormatException("payloadLength", $"The compressed data expand to {written} bytes, not the declared {payloadLength}.");
                        if (!source.IsEmpty)
                            throw new VeilFormatException("trailing", $"{source.Length} bytes follow the end of the compressed data.");
                        return buffer;
                    case System.Buffers.OperationStatus.NeedMoreData:
                        throw new VeilFormatException("storedLength", $"The compressed data end early (after {written} of {payloadLength} payload bytes).");
                    case System.Buffers.OperationStatus.InvalidData:
                        throw new VeilFormatException("compressed data", "The Brotli stream is invalid.");
                    default:
                        if (consumed == 0 && produced == 0 && written < buffer.Length)
                            throw new VeilFormatException("compressed data", "The Brotli decoder made no progress.");
                        break;
                }
            }
        }
        catch when (sensitive)
        {
            CryptographicOperations.ZeroMemory(buffer);
            throw;
        }
        finally
        {
            decoder.Dispose();
        }
    }

    private static unsafe byte[] DecompressZLib(ReadOnlySpan<byte> source, int payloadLength, int initial, bool sensitive)
    {
        fixed (byte* pointer = source)
        {
            using var input = new UnmanagedMemoryStream(pointer, source.Length);
            using var decoder = new ZLibStream(input, CompressionMode.Decompress);
            var buffer = new byte[initial];
            try
            {
                int written = 0;
                while (true)
                {
                    if (written == buffer.Length)
                    {
                        if (written == payloadLength)
                        {
                            // Reading on checks the Adler-32 trailer and that nothing more is produced.
                            if (decoder.ReadByte() >= 0)
                                throw new VeilFormatException("payloadLength", $"The compressed data expand to more than the declared {payloadLength} bytes.");
                            return buffer;
                        }
                        Grow(ref buffer, (int)Math.Min(payloadLength, 2L * buffer.Length), written, sensitive);
                    }
                    int n = decoder.Read(buffer, written, buffer.Length - written);
                    if (n == 0)
                        throw new VeilFormatException("payloadLength", $"The compressed data expand to {written} bytes, not the declared {payloadLength}.");
                    written += n;
                }
            }
            catch (Exception) when (sensitive && WipeAndContinue(buffer))
            {
                throw; // unreachable: the filter wipes and declines
            }
            catch (InvalidDataException e)
            {
                throw new VeilFormatException("compressed data", $"The zlib stream is invalid: {e.Message}", e);
            }
            catch (IOException e)
            {
                // The input is memory, so an I/O error can only be zlib refusing the data: ZLibException for
                // Z_NEED_DICT (a preset dictionary requested by the header) and other codes it does not map.
                throw new VeilFormatException("compressed data", $"The zlib stream cannot be decoded: {e.Message}", e);
            }
        }
    }

    /// <summary>An exception filter that wipes a buffer and lets the exception go on to the next handler.</summary>
    private static bool WipeAndContinue(byte[] buffer)
    {
        CryptographicOperations.ZeroMemory(buffer);
        return false;
    }
}
