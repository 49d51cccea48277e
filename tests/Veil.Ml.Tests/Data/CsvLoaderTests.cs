using System.Text;
using Veil.Ml.Data;

namespace Veil.Ml.Tests.Data;

public sealed class CsvLoaderTests : IClassFixture<TempFiles>
{
    private readonly TempFiles _files;

    public CsvLoaderTests(TempFiles files) => _files = files;

    private string Csv(string content, [System.Runtime.CompilerServices.CallerMemberName] string name = "") => _files.Write(name + ".csv", content);

    private static DataFormatException Rejects(string path, string target = "y", TargetKind kind = TargetKind.Numeric, CsvLimits? limits = null) =>
        Assert.Throws<DataFormatException>(() => CsvLoader.Load(path, target, kind, limits));

    // ---- happy paths ----

    [Fact]
    public void Load_ReadsHeaderFeaturesAndNumericTarget()
    {
        var data = CsvLoader.LoadForRegression(Csv("a,y,b\n1,10,2\n-3.5e1,20.25,4\n"), "y");
        Assert.Equal(["a", "b"], data.FeatureNames);
        Assert.Equal("y", data.TargetName);
        Assert.Null(data.ClassNames);
        Assert.Equal(2, data.Rows);
        Assert.Equal(2, data.Columns);
        Assert.Equal([1.0, 2.0], data.Features[0]);
        Assert.Equal([-35.0, 4.0], data.Features[1]);
        Assert.Equal([10.0, 20.25], data.Targets);
    }

    [Fact]
    public void Load_AcceptsCrlfQuotesBlankLinesAndByteOrderMark()
    {
        string path = _files.WriteBytes("crlf.csv",
            [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(" \"first, col\" , y \r\n\"1.5\", 2\r\n\r\n3 ,4\r\n")]);
        var data = CsvLoader.Load(path, "y");
        Assert.Equal(["first, col"], data.FeatureNames);
        Assert.Equal([1.5, 3.0], data.Features.Select(r => r[0]));
        Assert.Equal([2.0, 4.0], data.Targets);
    }

    [Fact]
    public void Load_GunzipsTransparently()
    {
        string path = _files.WriteGzip("data.csv.gz", "x1,x2,label\n1,2,cat\n3,4,dog\n5,6,cat\n");
        var data = CsvLoader.LoadForClassification(path, "label");
        Assert.Equal(3, data.Rows);
        Assert.Equal(["cat", "dog"], data.ClassNames!);
        Assert.Equal([0.0, 1.0, 0.0], data.Targets);
        Assert.Equal([5.0, 6.0], data.Features[2]);
    }

    [Fact]
    public void LoadForClassification_MapsLabelsInOrderOfFirstAppearance()
    {
        var data = CsvLoader.LoadForClassification(Csv("x,species\n1,virginica\n2,setosa\n3,virginica\n4,\"versi,color\"\n5,setosa\n"), "species");
        Assert.Equal(["virginica", "setosa", "versi,color"], data.ClassNames!);
        Assert.Equal([0.0, 1.0, 0.0, 2.0, 1.0], data.Targets);
        Assert.Equal(3, data.ClassCount);
    }

    [Fact]
    public void LoadForClassification_TreatsIntegerLabelsAsNames()
    {
        var data = CsvLoader.LoadForClassification(Csv("x,y\n1,7\n2,3\n3,7\n"), "y");
        Assert.Equal(["7", "3"], data.ClassNames!);
        Assert.Equal([0.0, 1.0, 0.0], data.Targets);
    }

    [Fact]
    public void Limits_DefaultsAreTenMillionCellsAndOneMebibyteLines()
    {
        Assert.Equal(10_000_000, CsvLimits.Default.MaxCells);
        Assert.Equal(1 << 20, CsvLimits.Default.MaxLineLength);
    }

    // ---- malformed input: every case names its row and column ----

    [Fact]
    public void Load_RejectsEmptyFile()
    {
        var e = Rejects(Csv(""));
        Assert.Equal((1, null), (e.Row, e.Column));
        Assert.StartsWith(Path.Combine(_files.Folder, "Load_RejectsEmptyFile.csv") + ", row 1: ", e.Message);
    }

    [Fact]
    public void Load_RejectsHeaderWithoutDataRows()
    {
        var e = Rejects(Csv("a,y\n"));
        Assert.Equal((2, null), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsMissingTargetColumn()
    {
        var e = Rejects(Csv("a,b\n1,2\n"), target: "y");
        Assert.Equal((1, null), (e.Row, e.Column));
        Assert.Contains("'y'", e.Message);
        Assert.Contains("'a', 'b'", e.Message);
    }

    [Fact]
    public void Load_RejectsDuplicateColumnNames()
    {
        var e = Rejects(Csv("a,y,b,a\n1,2,3,4\n"));
        Assert.Equal((1, 4), (e.Row, e.Column));
        Assert.Contains("also column 1", e.Message);
    }

    [Fact]
    public void Load_RejectsEmptyColumnName()
    {
        var e = Rejects(Csv("a,,y\n1,2,3\n"));
        Assert.Equal((1, 2), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsTargetWithoutFeatures()
    {
        var e = Rejects(Csv("y\n1\n"));
        Assert.Equal((1, null), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsRowWithTooFewFields()
    {
        var e = Rejects(Csv("a,b,y\n1,2,3\n4,5\n"));
        Assert.Equal((3, 3), (e.Row, e.Column));
        Assert.Contains("expected 3 fields", e.Message);
    }

    [Fact]
    public void Load_RejectsRowWithTooManyFields()
    {
        var e = Rejects(Csv("a,b,y\n1,2,3\n\n4,5,6,7\n"));
        Assert.Equal((4, 4), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsNonNumericValue()
    {
        var e = Rejects(Csv("a,b,y\n1,2,3\n4,five,6\n"));
        Assert.Equal((3, 2), (e.Row, e.Column));
        Assert.Contains("'five' is not a number", e.Message);
        Assert.Equal("row 3, column 2: 'five' is not a number.", e.Message[(e.Message.IndexOf("row 3", StringComparison.Ordinal))..]);
    }

    [Fact]
    public void Load_RejectsCultureSpecificDecimalComma()
    {
        var e = Rejects(Csv("a,y\n\"1,5\",2\n"));
        Assert.Equal((2, 1), (e.Row, e.Column));
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e400")]
    public void Load_RejectsNonFiniteValue(string value)
    {
        var e = Rejects(_files.Write($"nonfinite-{value}.csv", $"a,b,y\n1,2,3\n4,5,6\n7,{value},9\n"));
        Assert.Equal((4, 2), (e.Row, e.Column));
        Assert.Contains("not a finite number", e.Message);
    }

    [Fact]
    public void Load_RejectsNonNumericRegressionTarget()
    {
        var e = Rejects(Csv("a,y\n1,cat\n"));
        Assert.Equal((2, 2), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsEmptyValue()
    {
        var e = Rejects(Csv("a,b,y\n1,,3\n"));
        Assert.Equal((2, 2), (e.Row, e.Column));
        Assert.Contains("missing values", e.Message);
    }

    [Fact]
    public void Load_RejectsUnterminatedQuote()
    {
        var e = Rejects(Csv("a,b,y\n1,\"2,3\n"));
        Assert.Equal((2, 2), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsTextAfterClosingQuote()
    {
        var e = Rejects(Csv("a,b,y\n1,\"2\"x,3\n"));
        Assert.Equal((2, 2), (e.Row, e.Column));
    }

    [Fact]
    public void LoadForClassification_RejectsEmptyLabel()
    {
        var e = Rejects(Csv("a,y\n1,cat\n2, \n"), kind: TargetKind.ClassLabels);
        Assert.Equal((3, 2), (e.Row, e.Column));
    }

    [Fact]
    public void LoadForClassification_RejectsTooManyClasses()
    {
        var e = Rejects(Csv("a,y\n1,a\n2,b\n3,a\n4,c\n"), kind: TargetKind.ClassLabels, limits: new CsvLimits { MaxClasses = 2 });
        Assert.Equal((5, 2), (e.Row, e.Column));
    }

    [Fact]
    public void LoadForClassification_RejectsOverlongLabel()
    {
        var e = Rejects(Csv($"a,y\n1,{new string('x', 300)}\n"), kind: TargetKind.ClassLabels);
        Assert.Equal((2, 2), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsTooManyColumns()
    {
        var e = Rejects(Csv("a,b,c,y\n1,2,3,4\n"), limits: new CsvLimits { MaxColumns = 3 });
        Assert.Equal((1, 4), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsTooManyCells()
    {
        // 3 columns and 10 cells: rows 2–4 fit (9 cells), row 5 would make 12.
        var e = Rejects(Csv("a,b,y\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n"), limits: new CsvLimits { MaxCells = 10 });
        Assert.Equal((5, null), (e.Row, e.Column));
        Assert.Contains("too many rows", e.Message);
    }

    [Fact]
    public void Load_RejectsTooManyLinesEvenWhenBlank()
    {
        var e = Rejects(Csv("a,y\n1,2\n\n\n\n\n\n\n"), limits: new CsvLimits { MaxCells = 4 });
        Assert.Equal((6, null), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsLineLongerThanOneMebibyteWithoutReadingIt()
    {
        var text = new StringBuilder("a,y\n1,2\n");
        text.Append('1', (1 << 20) + 10).Append(",3\n");
        var e = Rejects(Csv(text.ToString()));
        Assert.Equal((3, null), (e.Row, e.Column));
        Assert.Contains("1048576 characters", e.Message);
    }

    [Fact]
    public void Load_RejectsOverlongHeaderLine()
    {
        var e = Rejects(Csv("abcdefghij,y\n1,2\n"), limits: new CsvLimits { MaxLineLength = 8 });
        Assert.Equal((1, null), (e.Row, e.Column));
    }

    [Fact]
    public void Load_RejectsCorruptGzip()
    {
        string path = _files.WriteGzip("corrupt.csv.gz", "a,y\n" + string.Concat(Enumerable.Repeat("1,2\n", 1000)));
        var bytes = File.ReadAllBytes(path);
        for (int i = 20; i < bytes.Length - 8; i++) bytes[i] ^= 0x5A;
        var e = Rejects(_files.WriteBytes("corrupt2.csv.gz", bytes));
        Assert.Null(e.Column);
        Assert.IsType<InvalidDataException>(e.InnerException);
    }

    [Fact]
    public void Load_ThrowsFileNotFoundForMissingFile()
    {
        Assert.Throws<FileNotFoundException>(() => CsvLoader.Load(Path.Combine(_files.Folder, "nope.csv"), "y"));
    }

    [Fact]
    public void Load_RejectsInvalidLimits()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CsvLoader.Load(Csv("a,y\n1,2\n"), "y", limits: new CsvLimits { MaxCells = 0 }));
    }

    [Fact]
    public void DataFormatException_FormatsLocation()
    {
        Assert.Equal("f.csv, row 3, column 2: bad.", new DataFormatException("f.csv", 3, 2, "bad.").Message);
        Assert.Equal("f.csv, row 1: bad.", new DataFormatException("f.csv", 1, null, "bad.").Message);
        Assert.IsAssignableFrom<FormatException>(new DataFormatException("f", 1, null, "x"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataFormatException("f", 0, null, "x"));
    }

    [Fact]
    public void Load_GzipBombOfBlankLines_IsBoundedByTheCharacterLimit()
    {
        // Blank lines are skipped, so only a bound on all characters read stops a small file that inflates without end.
        string path = _files.WriteGzip("blank-bomb.csv.gz", "a,y\n" + new string(' ', 1 << 20) + "\n" + string.Concat(Enumerable.Repeat(new string(' ', 4096) + "\n", 4096)) + "1,2\n");
        var limits = new CsvLimits { MaxCharacters = 1 << 22 };
        var e = Assert.Throws<DataFormatException>(() => CsvLoader.LoadForRegression(path, "y", limits));
        Assert.Contains("characters", e.Message);
        Assert.Equal(1, CsvLoader.LoadForRegression(path, "y").Rows);
        Assert.Equal(1L << 30, CsvLimits.Default.MaxCharacters);
    }
}
