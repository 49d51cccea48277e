using System.IO.Compression;
using System.Security.Cryptography;

namespace Veil.Rlwe.Serialization;

/// <summary>
/// Frames a payload as header ‖ stored bytes and back, with optional compression, under the checks of
/// <see cref="VeilHeader"/>. Shared by every serializer (the CKKS layer sees it through InternalsVisibleTo).
/// </summary>
/// <remarks>
/// Neither direction allocates from a declared length alone: the stored bytes are read after the length has
/// passed the limit and, for a stream that cannot say how much it holds, in growing chunks; decompression output
/// grows with what the decompressor actually yields, up to the declared payload length, and must match it exactly.
/// </remarks>
internal static class VeilEnvelope
{
    /// <summary>Largest buffer allocated before any data have arrived to fill it.</summary>
    private const int InitialChunk = 1 << 20;

    /// <summary>Header ‖ (compressed) payload as one array; <paramref name="sensitive"/> zeroes intermediate buffers (secret-key material).</summary>
    public static byte[] Pack(ObjectKind kind, ReadOnlySpan<byte> parameterHash, ReadOnlySpan<byte> payload, Compression compression,
        bool sensitive = false)
    {
        ValidateCompression(compression);
        if (compression == Compression.None)
        {
            var result = new byte[checked(VeilHeader.Size + payload.Length)];
            VeilHeader.Write(result, kind, compression, parameterHash, payload.Length, payload.Length);
            payload.CopyTo(result.AsSpan(VeilHeader.Size));
            return result;
        }
        var stored = Compress(payload, compression, sensitive);
        try
        {
            var result = new byte[checked(VeilHeader.Size + stored.Length)];
            VeilHeader.Write(result, kind, compression, parameterHash, payload.Length, stored.Length);
            stored.CopyTo(result.AsSpan(VeilHeader.Size));
            return result;
        }
        finally
        {
            if (sensitive) CryptographicOperations.ZeroMemory(stored);
        }
    }

    /// <summary>Writes header ‖ (compressed) payload to a stream.</summary>
    public static void Pack(ObjectKind kind, ReadOnlySpan<byte> parameterHash, ReadOnlySpan<byte> payload, Compression compression,
        Stream destination, bool sensitive = false)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ValidateCompression(compression);
        Span<byte> header = stackalloc byte[VeilHeader.Size];
        if (compression == Compression.None)
        {
            VeilHeader.Write(header, kind, compression, parameterHash, payload.Length, payload.Length);
            destination.Write(header);
            destination.Write(payload);
            return;
        }
        var stored = Compress(payload, compression, sensitive);
        try
        {
            VeilHeader.Write(header, kind, compression, parameterHash, payload.Length, stored.Length);
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
    /// <exception cref="VeilFormatException">Bad header, truncated or trailing bytes, or bad compressed data.</exception>
    public static ReadOnlySpan<byte> Unpack(ReadOnlySpan<byte> bytes, ObjectKind kind, ReadOnlySpan<byte> parameterHash,
        SerializationLimits? limits, out byte[]? decompressed)
    {
        var header = VeilHeader.Read(bytes, kind, parameterHash, limits);
        long available = bytes.Length - VeilHeader.Size;
        if (available < header.StoredLength)
            throw new VeilFormatException("storedLength", $"The header declares {header.StoredLength} stored bytes but only {available} follow it (truncated data).");
        if (available > header.StoredLength)
            throw new VeilFormatException("trailing", $"{available - header.StoredLength} bytes follow the declared {header.StoredLength} stored bytes.");
        var stored = bytes.Slice(VeilHeader.Size, (int)header.StoredLength);
        if (header.Compression == Compression.None)
        {
            decompressed = null;
            return stored;
        }
        decompressed = Decompress(stored, header.Compression, (int)header.PayloadLength);
        return decompressed;
    }

    /// <summary>
    /// Reads one object from a stream: exactly the header and the stored bytes it declares (bounded by the limit),
    /// leaving the stream just after the object. Returns the (decompressed) payload.
    /// </summary>
    /// <exception cref="VeilFormatException">Bad header, truncated stream, or bad compressed data.</exception>
    public static byte[] Unpack(Stream source, ObjectKind kind, ReadOnlySpan<byte> parameterHash, SerializationLimits? limits,
        bool sensitive = false)
    {
        ArgumentNullException.ThrowIfNull(source);
        Span<byte> headerBytes = stackalloc byte[VeilHeader.Size];
        int got = source.ReadAtLeast(headerBytes, VeilHeader.Size, throwOnEndOfStream: false);
        if (got < VeilHeader.Size)
            throw new VeilFormatException("header", $"A header is {VeilHeader.Size} bytes; the stream ended after {got}.");
        var header = VeilHeader.Read(headerBytes, kind, parameterHash, limits);
        var stored = ReadStored(source, (int)header.StoredLength);
        if (header.Compression == Compression.None) return stored;
        try
        {
            return Decompress(stored, header.Compression, (int)header.PayloadLength);
        }
        finally
        {
            if (sensitive) CryptographicOperations.ZeroMemory(stored);
        }
    }

    private static byte[] ReadStored(Stream source, int count)
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
        while (true)
        {
            if (filled == buffer.Length)
            {
                if (filled == count) return buffer;
                Array.Resize(ref buffer, (int)Math.Min(count, 2L * buffer.Length));
            }
            int n = source.Read(buffer, filled, buffer.Length - filled);
            if (n == 0)
                throw new VeilFormatException("storedLength", $"The header declares {count} stored bytes but the stream ended after {filled} (truncated data).");
            filled += n;
        }
    }

    private static void ValidateCompression(Compression compression)
    {
        if (!Enum.IsDefined(compression)) throw new ArgumentOutOfRangeException(nameof(compression), compression, "Unknown compression.");
    }

    private static byte[] Compress(ReadOnlySpan<byte> payload, Compression compression, bool sensitive)
    {
        var ms = new MemoryStream();
        using (Stream encoder = compression == Compression.ZLib
                   ? new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)
                   : new BrotliStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            encoder.Write(payload);
        }
        var result = ms.ToArray();
        if (sensitive) CryptographicOperations.ZeroMemory(ms.GetBuffer());
        return result;
    }

    /// <summary>
    /// Decompresses into a buffer of exactly <paramref name="payloadLength"/> bytes; the compressed data must yield
    /// exactly that many (no fewer, no more) and, for Brotli, be consumed entirely.
    /// </summary>
    private static byte[] Decompress(ReadOnlySpan<byte> stored, Compression compression, int payloadLength)
    {
        if (stored.IsEmpty) throw new VeilFormatException("storedLength", "Compressed data cannot be empty.");
        // Start from what the input could plausibly expand to; grow only as output really arrives.
        int initial = (int)Math.Min(payloadLength, Math.Min(4L * stored.Length, Array.MaxLength) + InitialChunk);
        return compression == Compression.Brotli
            ? DecompressBrotli(stored, payloadLength, initial)
            : DecompressZLib(stored, payloadLength, initial);
    }

    private static byte[] DecompressBrotli(ReadOnlySpan<byte> source, int payloadLength, int initial)
    {
        var decoder = new BrotliDecoder(); // not a 'using' local: a readonly copy would lose the decoder state
        try
        {
            var buffer = new byte[initial];
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
                        Array.Resize(ref buffer, (int)Math.Min(payloadLength, 2L * buffer.Length));
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
        finally
        {
            decoder.Dispose();
        }
    }

    private static unsafe byte[] DecompressZLib(ReadOnlySpan<byte> source, int payloadLength, int initial)
    {
        fixed (byte* pointer = source)
        {
            using var input = new UnmanagedMemoryStream(pointer, source.Length);
            using var decoder = new ZLibStream(input, CompressionMode.Decompress);
            try
            {
                var buffer = new byte[initial];
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
                        Array.Resize(ref buffer, (int)Math.Min(payloadLength, 2L * buffer.Length));
                    }
                    int n = decoder.Read(buffer, written, buffer.Length - written);
                    if (n == 0)
                        throw new VeilFormatException("payloadLength", $"The compressed data expand to {written} bytes, not the declared {payloadLength}.");
                    written += n;
                }
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
}
