using System.Buffers.Binary;
using System.IO.Compression;

namespace Veil.Ml.Data;

/// <summary>Images read from an IDX file: <see cref="Pixels"/>[i] is image i, row-major (index y·Columns + x), scaled to [0, 1].</summary>
/// <param name="Rows">Image height.</param>
/// <param name="Columns">Image width.</param>
/// <param name="Pixels">One array of Rows·Columns values per image (read-only by contract).</param>
public sealed record IdxImages(int Rows, int Columns, double[][] Pixels)
{
    /// <summary>Number of images.</summary>
    public int Count => Pixels.Length;
}

/// <summary>Bounds on what an IDX file may make <see cref="IdxReader"/> read and allocate.</summary>
/// <remarks>The defaults are <see cref="IdxReader.MaxItems"/>, <see cref="IdxReader.MaxDimension"/> and
/// <see cref="IdxReader.MaxTotalPixels"/>: the whole Fashion-MNIST training set fits.</remarks>
public sealed record IdxLimits
{
    /// <summary>The default limits.</summary>
    public static IdxLimits Default { get; } = new();

    /// <summary>Most items (images or labels) a header may declare.</summary>
    public int MaxItems { get; init; } = IdxReader.MaxItems;

    /// <summary>Largest image height or width.</summary>
    public int MaxDimension { get; init; } = IdxReader.MaxDimension;

    /// <summary>
    /// Most pixels (count · rows · columns) a header may declare: every one is decompressed and read, and each kept one
    /// becomes an 8-byte double, so this bounds both the work and the memory that a small gzip file can cause.
    /// </summary>
    public long MaxTotalPixels { get; init; } = IdxReader.MaxTotalPixels;
}

/// <summary>
/// Reads the IDX files of LeCun's MNIST and of Fashion-MNIST: unsigned-byte images (magic 0x00000803) and labels
/// (magic 0x00000801), raw or gzip'd (recognised by the magic bytes 1F 8B).
/// </summary>
/// <remarks>
/// <para>
/// Layout (big-endian int32): magic, item count, then for images the number of rows and of columns; then one byte per
/// label or per pixel, items one after another, images row-major. Pixels are returned as byte/255.
/// </para>
/// <para>
/// These files come from outside, so the reader treats them as untrusted: the magic, then every declared size against
/// <see cref="MaxItems"/>, <see cref="MaxDimension"/> and <see cref="MaxTotalPixels"/> (with checked arithmetic) are
/// checked before anything is allocated; images are allocated one at a time as their bytes arrive, so a short file
/// with a large declared count costs no more memory than its real content; the data must be exactly as long as
/// declared (a truncated file or trailing bytes are rejected), and every label must be below the class count.
/// </para>
/// <para>
/// Errors are <see cref="DataFormatException"/>s naming the file; as for a CSV file, <see cref="DataFormatException.Row"/>
/// is 1 for the header and i + 2 for item i (0-based).
/// </para>
/// </remarks>
public static class IdxReader
{
    /// <summary>Magic number of an unsigned-byte, three-dimensional IDX file (images).</summary>
    public const int ImageMagic = 0x00000803;

    /// <summary>Magic number of an unsigned-byte, one-dimensional IDX file (labels).</summary>
    public const int LabelMagic = 0x00000801;

    /// <summary>Largest item count accepted in a header.</summary>
    public const int MaxItems = 10_000_000;

    /// <summary>Largest image height or width accepted.</summary>
    public const int MaxDimension = 4096;

    /// <summary>
    /// The default for the largest total number of pixels (count · rows · columns) in an image file: 2²⁶, 512 MiB as
    /// doubles (Fashion-MNIST's 60,000 training images are 47 million). A 261 KB gzip file of zeros used to declare 2²⁸.
    /// </summary>
    public const long MaxTotalPixels = 1L << 26;

    /// <summary>Reads an image file.</summary>
    /// <param name="path">The file, raw or gzip'd.</param>
    /// <param name="maxCount">Return only the first this many images (the others are still read, so that truncation and trailing data are detected); null for all.</param>
    /// <param name="limits">Bounds on the declared sizes; <see cref="IdxLimits.Default"/> when null.</param>
    /// <returns>The images, pixels scaled to [0, 1].</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxCount"/> is negative.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFormatException">Bad magic, a size beyond the limits, a wrong length or a corrupt gzip stream.</exception>
    public static IdxImages ReadImages(string path, int? maxCount = null, IdxLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = OpenFile(path);
        return ReadImages(stream, path, maxCount, limits);
    }

    /// <summary>Reads an image file from a stream (gunzipped when it is seekable and starts with 1F 8B); the stream is not closed.</summary>
    /// <param name="stream">The IDX bytes.</param>
    /// <param name="name">The name used in error messages.</param>
    /// <param name="maxCount">Return only the first this many images; null for all.</param>
    /// <param name="limits">Bounds on the declared sizes; <see cref="IdxLimits.Default"/> when null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> or <paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxCount"/> is negative.</exception>
    /// <exception cref="DataFormatException">Bad magic, a size beyond the limits, a wrong length or a corrupt gzip stream.</exception>
    public static IdxImages ReadImages(Stream stream, string name, int? maxCount = null, IdxLimits? limits = null)
    {
        limits ??= IdxLimits.Default;
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        if (maxCount is < 0) Guard.OutOfRange(nameof(maxCount), $"maxCount {maxCount} is negative.");
        using var content = Decompressed(stream);
        var reader = new Reader(content, name);
        Span<byte> header = stackalloc byte[16];
        reader.Header(header[..4]);
        CheckMagic(name, BinaryPrimitives.ReadInt32BigEndian(header), ImageMagic, "an image file");
        reader.Header(header[4..]);
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        int rows = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
        int columns = BinaryPrimitives.ReadInt32BigEndian(header[12..]);
        CheckRange(name, "image count", count, 0, limits.MaxItems);
        CheckRange(name, "row count", rows, 1, limits.MaxDimension);
        CheckRange(name, "column count", columns, 1, limits.MaxDimension);
        long total = checked((long)count * rows * columns);
        if (total > limits.MaxTotalPixels)
            Fail(name, 1, $"{count} images of {rows} × {columns} make {total} pixels, beyond the limit of {limits.MaxTotalPixels}.");
        reader.ExpectLength(checked(16 + total));

        int size = rows * columns, keep = Math.Min(count, maxCount ?? int.MaxValue);
        // Grow as images arrive rather than trusting the declared count with one large allocation.
        var images = new List<double[]>(Math.Min(keep, 4096));
        var buffer = new byte[size];
        for (int i = 0; i < count; i++)
        {
            reader.Items(buffer, i, size, count, "image");
            if (i >= keep) continue;
            var image = new double[size];
            for (int p = 0; p < size; p++) image[p] = buffer[p] / 255.0;
            images.Add(image);
        }
        reader.End(count);
        return new IdxImages(rows, columns, [.. images]);
    }

    /// <summary>Reads a label file.</summary>
    /// <param name="path">The file, raw or gzip'd.</param>
    /// <param name="classCount">Every label must be below this.</param>
    /// <param name="maxCount">Return only the first this many labels (the others are still checked); null for all.</param>
    /// <param name="limits">Bounds on the declared sizes; <see cref="IdxLimits.Default"/> when null.</param>
    /// <returns>The labels as class indices.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classCount"/> is not in [1, 256] or <paramref name="maxCount"/> is negative.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFormatException">Bad magic, a count beyond <see cref="MaxItems"/>, a wrong length, a label ≥ <paramref name="classCount"/> or a corrupt gzip stream.</exception>
    public static double[] ReadLabels(string path, int classCount = 10, int? maxCount = null, IdxLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = OpenFile(path);
        return ReadLabels(stream, path, classCount, maxCount, limits);
    }

    /// <summary>Reads a label file from a stream (gunzipped when it is seekable and starts with 1F 8B); the stream is not closed.</summary>
    /// <param name="stream">The IDX bytes.</param>
    /// <param name="name">The name used in error messages.</param>
    /// <param name="classCount">Every label must be below this.</param>
    /// <param name="maxCount">Return only the first this many labels; null for all.</param>
    /// <param name="limits">Bounds on the declared sizes; <see cref="IdxLimits.Default"/> when null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> or <paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classCount"/> is not in [1, 256] or <paramref name="maxCount"/> is negative.</exception>
    /// <exception cref="DataFormatException">Bad magic, a count beyond <see cref="MaxItems"/>, a wrong length, a label ≥ <paramref name="classCount"/> or a corrupt gzip stream.</exception>
    public static double[] ReadLabels(Stream stream, string name, int classCount = 10, int? maxCount = null, IdxLimits? limits = null)
    {
        limits ??= IdxLimits.Default;
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        if (classCount is < 1 or > 256) Guard.OutOfRange(nameof(classCount), $"classCount {classCount} is not in [1, 256] (labels are bytes).");
        if (maxCount is < 0) Guard.OutOfRange(nameof(maxCount), $"maxCount {maxCount} is negative.");
        using var content = Decompressed(stream);
        var reader = new Reader(content, name);
        Span<byte> header = stackalloc byte[8];
        reader.Header(header[..4]);
        CheckMagic(name, BinaryPrimitives.ReadInt32BigEndian(header), LabelMagic, "a label file");
        reader.Header(header[4..]);
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        CheckRange(name, "label count", count, 0, limits.MaxItems);
        reader.ExpectLength(8L + count);

        int keep = Math.Min(count, maxCount ?? int.MaxValue);
        var labels = new List<double>(Math.Min(keep, 1 << 16));
        var chunk = new byte[Math.Min(Math.Max(count, 1), 1 << 16)];
        for (int start = 0; start < count; start += chunk.Length)
        {
            int length = Math.Min(chunk.Length, count - start);
            reader.Items(chunk.AsSpan(0, length), start, 1, count, "label");
            for (int i = 0; i < length; i++)
            {
                if (chunk[i] >= classCount)
                    Fail(name, start + i + 2, $"label {chunk[i]} of item {start + i} is not below the class count {classCount}.");
                if (start + i < keep) labels.Add(chunk[i]);
            }
        }
        reader.End(count);
        return [.. labels];
    }

    private static FileStream OpenFile(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);

    /// <summary>The content to parse: a gunzipping view of a seekable stream that starts with 1F 8B, else the stream itself (neither closes it).</summary>
    private static Stream Decompressed(Stream stream)
    {
        if (stream.CanSeek)
        {
            long start = stream.Position;
            Span<byte> magic = stackalloc byte[2];
            int read = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            stream.Position = start;
            if (read == 2 && magic[0] == 0x1F && magic[1] == 0x8B)
                return new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
        }
        return new NonClosingStream(stream);
    }

    private static void CheckMagic(string name, int magic, int expected, string what)
    {
        if (magic == expected) return;
        string detail = magic switch
        {
            ImageMagic => "this is an image file (magic 0x00000803)",
            LabelMagic => "this is a label file (magic 0x00000801)",
            _ => $"bad magic 0x{magic:X8}",
        };
        Fail(name, 1, $"{detail}; expected {what} (magic 0x{expected:X8}).");
    }

    private static void CheckRange(string name, string field, int value, int min, int max)
    {
        if (value < min || value > max) Fail(name, 1, $"{field} {value} is outside [{min}, {max}].");
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(string name, int row, string detail, Exception? inner = null) =>
        throw new DataFormatException(name, row, null, detail, inner);

    /// <summary>Exact reads with the file's errors (truncation, corrupt gzip, trailing bytes) reported as <see cref="DataFormatException"/>.</summary>
    private sealed class Reader(Stream stream, string name)
    {
        private long _consumed;

        /// <summary>Reads part of the header (the magic first, so that a file of the wrong kind is named as such).</summary>
        public void Header(Span<byte> part)
        {
            if (Read(part, 1) < part.Length) Fail(name, 1, "the file ends inside the header.");
        }

        /// <summary>For a raw seekable stream the length is known up front, so a wrong one is rejected before any item is read.</summary>
        public void ExpectLength(long expected)
        {
            if (stream is NonClosingStream { Inner.CanSeek: true } raw)
            {
                long actual = _consumed + raw.Inner.Length - raw.Inner.Position;
                if (actual != expected) Fail(name, 1, $"the header declares {expected} bytes in all; the file has {actual}.");
            }
        }

        /// <summary>Fills the buffer with items first, first + 1, …, each itemSize bytes long; a short read names the item where the file ends.</summary>
        public void Items(Span<byte> buffer, int first, int itemSize, int count, string what)
        {
            int read = Read(buffer, first + 2);
            if (read < buffer.Length)
            {
                int at = first + read / itemSize;
                Fail(name, at + 2, $"the file ends inside {what} {at}; the header declares {count}.");
            }
        }

        public void End(int count)
        {
            Span<byte> one = stackalloc byte[1];
            if (Read(one, count + 2) != 0) Fail(name, count + 2, $"trailing data after the {count} declared items.");
        }

        private int Read(Span<byte> buffer, int row)
        {
            try
            {
                int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
                _consumed += read;
                return read;
            }
            catch (InvalidDataException e)
            {
                Fail(name, row, "the gzip stream is corrupt.", e);
                return 0;
            }
        }
    }

    /// <summary>Lets the raw stream be disposed with the same <c>using</c> as a <see cref="GZipStream"/> without closing the caller's stream.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public Stream Inner => inner;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => inner.Read(buffer);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
