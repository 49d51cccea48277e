using System.Buffers.Binary;
using System.IO.Compression;
using Veil.Ml.Data;

namespace Veil.Ml.Tests.Data;

public sealed class IdxReaderTests : IClassFixture<TempFiles>
{
    private readonly TempFiles _files;

    public IdxReaderTests(TempFiles files) => _files = files;

    /// <summary>An image file: magic 0x803, count, rows, columns (big-endian), then the pixels.</summary>
    internal static byte[] ImageFile(int count, int rows, int columns, byte[] pixels, int magic = IdxReader.ImageMagic)
    {
        var bytes = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), columns);
        pixels.CopyTo(bytes, 16);
        return bytes;
    }

    internal static byte[] LabelFile(byte[] labels, int? count = null)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, IdxReader.LabelMagic);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count ?? labels.Length);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    internal static byte[] Gzip(byte[] content)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(content);
        return buffer.ToArray();
    }

    private string Write(string name, byte[] content, bool gzip) =>
        _files.WriteBytes(name + (gzip ? ".gz" : ""), gzip ? Gzip(content) : content);

    private static byte[] Pixels(int n) => [.. Enumerable.Range(0, n).Select(i => (byte)(i * 37 % 256))];

    [Theory, InlineData(false), InlineData(true)]
    public void ReadImages_RoundTripsScaledPixels(bool gzip)
    {
        var pixels = Pixels(3 * 2 * 4);
        var images = IdxReader.ReadImages(Write($"images-rt-{gzip}", ImageFile(3, 2, 4, pixels), gzip));
        Assert.Equal((3, 2, 4), (images.Count, images.Rows, images.Columns));
        for (int i = 0; i < 3; i++)
            for (int p = 0; p < 8; p++) Assert.Equal(pixels[i * 8 + p] / 255.0, images.Pixels[i][p]);
        Assert.Equal(1.0, IdxReader.ReadImages(new MemoryStream(ImageFile(1, 1, 1, [255])), "mem").Pixels[0][0]);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void ReadLabels_RoundTrips(bool gzip)
    {
        byte[] labels = [0, 9, 3, 3, 7];
        Assert.Equal([0.0, 9, 3, 3, 7], IdxReader.ReadLabels(Write($"labels-rt-{gzip}", LabelFile(labels), gzip)));
        Assert.Equal([0.0, 9, 3], IdxReader.ReadLabels(new MemoryStream(Gzip(LabelFile(labels))), "mem", maxCount: 3));
    }

    [Fact]
    public void ReadImages_MaxCountKeepsTheFirstImagesButStillChecksTheRest()
    {
        var file = ImageFile(4, 2, 2, Pixels(16));
        var first = IdxReader.ReadImages(new MemoryStream(file), "mem", maxCount: 2);
        Assert.Equal(2, first.Count);
        Assert.Equal(Pixels(16)[4] / 255.0, first.Pixels[1][0]);
        Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(new MemoryStream(file[..^1]), "mem", maxCount: 2));
        Assert.Empty(IdxReader.ReadImages(new MemoryStream(ImageFile(0, 2, 2, [])), "mem").Pixels);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void ReadImages_RejectsBadMagic(bool gzip)
    {
        var wrongKind = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(Write($"labels-as-images-{gzip}", LabelFile([1, 2]), gzip)));
        Assert.Contains("label file", wrongKind.Message);
        Assert.Equal(1, wrongKind.Row);
        var bad = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(Write($"bad-magic-{gzip}", ImageFile(1, 1, 1, [0], magic: 0x00000903), gzip)));
        Assert.Contains("bad magic 0x00000903", bad.Message);
        Assert.Contains("image file", Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(Write($"images-as-labels-{gzip}", ImageFile(1, 1, 1, [0]), gzip))).Message);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void ReadImages_RejectsTruncatedFile(bool gzip)
    {
        var file = ImageFile(3, 2, 2, Pixels(12));
        string path = Write($"truncated-{gzip}", file[..^1], gzip);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(path));
        Assert.Equal(path, e.SourceName);
        Assert.Contains(gzip ? "ends inside image 2" : "declares 28 bytes", e.Message);
        Assert.Contains("header", Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(Write($"short-header-{gzip}", file[..10], gzip))).Message);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void ReadImagesAndLabels_RejectTrailingData(bool gzip)
    {
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(Write($"trailing-{gzip}", [.. ImageFile(2, 2, 2, Pixels(8)), 0], gzip)));
        Assert.Contains(gzip ? "trailing data" : "the file has 25", e.Message);
        Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(Write($"labels-trailing-{gzip}", [.. LabelFile([1, 2]), 3], gzip)));
        Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(Write($"labels-short-{gzip}", LabelFile([1, 2], count: 3), gzip)));
    }

    [Theory]
    [InlineData(IdxReader.MaxItems + 1, 1, 1, "image count")]
    [InlineData(-1, 1, 1, "image count")]
    [InlineData(1, IdxReader.MaxDimension + 1, 1, "row count")]
    [InlineData(1, 0, 1, "row count")]
    [InlineData(1, 1, int.MaxValue, "column count")]
    [InlineData(IdxReader.MaxItems, 28, 28, "beyond the limit")]
    public void ReadImages_RejectsHugeOrInvalidDimensionsBeforeAllocating(int count, int rows, int columns, string field)
    {
        // The file holds one pixel whatever it declares: the header alone must be refused.
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(new MemoryStream(Gzip(ImageFile(count, rows, columns, [0]))), "huge"));
        Assert.Contains(field, e.Message);
        Assert.Equal(1, e.Row);
        Assert.Contains("label count", Assert.Throws<DataFormatException>(() =>
            IdxReader.ReadLabels(new MemoryStream(LabelFile([1], count: int.MaxValue)), "huge")).Message);
    }

    [Fact]
    public void ReadImages_LargeDeclaredCountWithShortGzipContentFailsAtTheEnd()
    {
        // Within the limits but far longer than the content: the reader must fail at the real end, not pre-allocate.
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(new MemoryStream(Gzip(ImageFile((int)(IdxReader.MaxTotalPixels / 16), 4, 4, Pixels(32)))), "short"));
        Assert.Contains("ends inside image 2", e.Message);
        Assert.Equal(4, e.Row);
    }

    [Fact]
    public void ReadLabels_RejectsLabelsNotBelowTheClassCount()
    {
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(new MemoryStream(LabelFile([1, 2, 10])), "labels"));
        Assert.Contains("label 10 of item 2", e.Message);
        Assert.Equal(4, e.Row);
        Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(new MemoryStream(LabelFile([0, 3])), "labels", classCount: 3));
        Assert.Equal([0.0, 3], IdxReader.ReadLabels(new MemoryStream(LabelFile([0, 3])), "labels", classCount: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => IdxReader.ReadLabels(new MemoryStream(LabelFile([0])), "labels", classCount: 0));
    }

    [Fact]
    public void ReadImages_RejectsCorruptGzip()
    {
        var gz = Gzip(ImageFile(2, 8, 8, Pixels(128)));
        for (int i = 12; i < gz.Length - 8; i++) gz[i] ^= 0x5A;
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(new MemoryStream(gz), "corrupt"));
        Assert.IsType<InvalidDataException>(e.InnerException);
    }

    [Fact]
    public void FashionMnist_LoadsAFolderOfSyntheticFiles()
    {
        string dir = Path.Combine(_files.Folder, "fashion");
        Directory.CreateDirectory(dir);
        Assert.False(FashionMnist.IsInstalled(dir));
        var missing = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(dir));
        Assert.Contains(FashionMnist.InstallHint, missing.Message);

        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte.gz"), Gzip(ImageFile(3, 28, 28, Pixels(3 * 784))));
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte.gz"), Gzip(LabelFile([9, 0, 4])));
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), ImageFile(2, 28, 28, Pixels(2 * 784)));
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), LabelFile([1, 2]));
        Assert.True(FashionMnist.IsInstalled(dir));
        var (train, test) = FashionMnist.Load(dir, maxTrain: 2);
        Assert.Equal((2, 784), (train.Rows, train.Columns));
        Assert.Equal((2, 784), (test.Rows, test.Columns));
        Assert.Equal([9.0, 0], train.Targets);
        Assert.Equal("Ankle boot", train.ClassNames![9]);
        Assert.Equal("T-shirt/top", FashionMnist.ClassNames[0]);
        Assert.Equal("pixel_1_2", train.FeatureNames[30]);
        Assert.Equal(Pixels(784)[30] / 255.0, train.Features[0][30]);

        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), LabelFile([1, 2, 3]));
        Assert.Contains("3 labels for 2 images", Assert.Throws<DataFormatException>(() => FashionMnist.Load(dir)).Message);
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), ImageFile(1, 14, 56, Pixels(784)));
        Assert.Contains("14 × 56", Assert.Throws<DataFormatException>(() => FashionMnist.Load(dir)).Message);
    }

    [Fact]
    public void ReadImages_GzipBomb_IsRefusedFromItsHeader_AndCallerLimitsApply()
    {
        // The review's case: a gzip file of a few hundred KB declaring 2^28 zero pixels (2 GiB as doubles).
        var bomb = Gzip(ImageFile(1 << 22, 8, 8, new byte[1 << 20]));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(new MemoryStream(bomb), "bomb"));
        Assert.Contains("beyond the limit", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
        // The default still takes the whole Fashion-MNIST training set's shape; a caller can ask for less.
        Assert.True(60_000L * 28 * 28 <= IdxLimits.Default.MaxTotalPixels);
        var small = new IdxLimits { MaxTotalPixels = 10 };
        Assert.Throws<DataFormatException>(() => IdxReader.ReadImages(new MemoryStream(ImageFile(3, 2, 2, new byte[12])), "small", limits: small));
        Assert.Throws<DataFormatException>(() => IdxReader.ReadLabels(new MemoryStream(LabelFile(new byte[5])), "labels", limits: new IdxLimits { MaxItems = 4 }));
        Assert.Equal(3, IdxReader.ReadImages(new MemoryStream(ImageFile(3, 2, 2, new byte[12])), "fits", limits: new IdxLimits { MaxTotalPixels = 12 }).Count);
    }
}
