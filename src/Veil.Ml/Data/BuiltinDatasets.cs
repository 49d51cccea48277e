using System.Globalization;

namespace Veil.Ml.Data;

/// <summary>
/// The small public data sets shipped in the repository's data/ folder (scikit-learn's bundled copies; see
/// data/README.md for their sources and formats).
/// </summary>
/// <remarks>
/// Without an explicit directory, each file is looked for as data/&lt;file&gt; in <see cref="AppContext.BaseDirectory"/>,
/// then in the current directory, then in each of their parents. The files are parsed strictly: any deviation from the
/// documented format raises a <see cref="DataFormatException"/> naming the row and column.
/// </remarks>
public static class BuiltinDatasets
{
    private const int MaxLineLength = 1 << 16;
    private const int MaxRows = 1_000_000;

    /// <summary>The 30 feature names of the Wisconsin diagnostic breast cancer data, as scikit-learn names them.</summary>
    public static IReadOnlyList<string> BreastCancerFeatureNames { get; } = BuildBreastCancerNames();

    /// <summary>The 4 iris feature names (in centimetres).</summary>
    public static IReadOnlyList<string> IrisFeatureNames { get; } = ["sepal length", "sepal width", "petal length", "petal width"];

    /// <summary>The 10 diabetes feature names: age, sex, body mass index, blood pressure and six blood serum measurements.</summary>
    public static IReadOnlyList<string> DiabetesFeatureNames { get; } = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"];

    /// <summary>Breast cancer (Wisconsin diagnostic): 569 × 30, classes 0 = malignant, 1 = benign.</summary>
    /// <param name="dataDirectory">The folder holding breast_cancer.csv, or null to search for data/ (see remarks of <see cref="BuiltinDatasets"/>).</param>
    /// <returns>The dataset, target "diagnosis".</returns>
    /// <exception cref="FileNotFoundException">The file was not found.</exception>
    /// <exception cref="DataFormatException">The file does not follow the documented format.</exception>
    public static Dataset BreastCancer(string? dataDirectory = null) =>
        LoadCountedCsv(Locate("breast_cancer.csv", dataDirectory), [.. BreastCancerFeatureNames], "diagnosis");

    /// <summary>Iris (Fisher, 1936): 150 × 4, classes setosa, versicolor, virginica.</summary>
    /// <param name="dataDirectory">The folder holding iris.csv, or null to search for data/.</param>
    /// <returns>The dataset, target "species".</returns>
    /// <exception cref="FileNotFoundException">The file was not found.</exception>
    /// <exception cref="DataFormatException">The file does not follow the documented format.</exception>
    public static Dataset Iris(string? dataDirectory = null) =>
        LoadCountedCsv(Locate("iris.csv", dataDirectory), [.. IrisFeatureNames], "species");

    /// <summary>Diabetes (Efron et al., 2004): 442 × 10 raw (unscaled) features, target a disease progression measure one year after baseline.</summary>
    /// <param name="dataDirectory">The folder holding diabetes_data_raw.csv.gz and diabetes_target.csv.gz, or null to search for data/.</param>
    /// <returns>The regression dataset, target "progression".</returns>
    /// <exception cref="FileNotFoundException">A file was not found.</exception>
    /// <exception cref="DataFormatException">A file does not follow the documented format, or their row counts differ.</exception>
    public static Dataset Diabetes(string? dataDirectory = null)
    {
        string dataPath = Locate("diabetes_data_raw.csv.gz", dataDirectory);
        string targetPath = Locate("diabetes_target.csv.gz", dataDirectory);
        var features = ReadWhitespaceTable(dataPath, DiabetesFeatureNames.Count);
        var targets = ReadWhitespaceTable(targetPath, 1);
        if (targets.Count != features.Count)
            throw new DataFormatException(targetPath, Math.Min(targets.Count, features.Count) + 1, null,
                $"{targets.Count} targets for {features.Count} feature rows in {dataPath}.");
        return Dataset.Owning([.. features], [.. targets.Select(t => t[0])], [.. DiabetesFeatureNames], "progression", null);
    }

    /// <summary>Optical recognition of handwritten digits (UCI): 1797 images of 8 × 8 pixels with values 0 … 16, classes "0" … "9".</summary>
    /// <param name="dataDirectory">The folder holding digits.csv.gz, or null to search for data/.</param>
    /// <returns>The dataset, features "pixel_r_c" (row r, column c of the image, as scikit-learn names them), target "digit".</returns>
    /// <exception cref="FileNotFoundException">The file was not found.</exception>
    /// <exception cref="DataFormatException">The file does not follow the documented format.</exception>
    public static Dataset Digits(string? dataDirectory = null)
    {
        const int pixels = 64;
        const int classes = 10;
        string path = Locate("digits.csv.gz", dataDirectory);
        using var source = TextSource.Open(path, MaxLineLength);
        var fields = new FieldSpan[pixels + 2];
        var rows = new List<double[]>();
        var targets = new List<double>();
        while (source.TryReadLine(out var line))
        {
            int row = source.LineNumber;
            if (CsvFields.IsBlank(line)) continue;
            if (rows.Count == MaxRows) throw new DataFormatException(path, row, null, $"more than {MaxRows} rows.");
            int count = CsvFields.Split(line, ',', fields, path, row);
            if (count != pixels + 1)
                throw new DataFormatException(path, row, Math.Min(count, pixels + 1) + 1, $"expected {pixels + 1} fields (64 pixels and the label), found {count}.");
            var x = new double[pixels];
            for (int c = 0; c < pixels; c++)
            {
                x[c] = CsvFields.Number(line, fields[c], path, row, c + 1);
                if (x[c] is < 0 or > 16) throw new DataFormatException(path, row, c + 1, $"pixel value {x[c]} is outside 0 … 16.");
            }
            targets.Add(ClassIndex(line, fields[pixels], classes, path, row, pixels + 1));
            rows.Add(x);
        }
        if (rows.Count == 0) throw new DataFormatException(path, 1, null, "the file holds no rows.");
        var names = new string[pixels];
        for (int r = 0; r < 8; r++)
            for (int c = 0; c < 8; c++)
                names[8 * r + c] = string.Create(CultureInfo.InvariantCulture, $"pixel_{r}_{c}");
        var classNames = Enumerable.Range(0, classes).Select(k => k.ToString(CultureInfo.InvariantCulture)).ToArray();
        return Dataset.Owning([.. rows], [.. targets], names, "digit", classNames);
    }

    /// <summary>Finds data/<paramref name="fileName"/>: in <paramref name="dataDirectory"/> when given, else searching upward.</summary>
    /// <exception cref="FileNotFoundException">The file was not found.</exception>
    internal static string Locate(string fileName, string? dataDirectory)
    {
        if (dataDirectory is not null)
        {
            string path = Path.Combine(dataDirectory, fileName);
            return File.Exists(path) ? path : throw new FileNotFoundException($"The data file '{fileName}' is not in '{dataDirectory}'.", path);
        }
        var starts = new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() };
        foreach (string start in starts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "data", fileName);
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new FileNotFoundException(
            $"data/{fileName} was not found in '{starts[0]}', '{starts[1]}' or any of their parents; " +
            "run from inside the Veil repository or pass the data directory explicitly.", fileName);
    }

    /// <summary>
    /// Reads the scikit-learn "counted" CSV format: a header "rows,features,class name 0,class name 1,…", then
    /// exactly <c>rows</c> lines of <c>features</c> reals and an integer class index.
    /// </summary>
    private static Dataset LoadCountedCsv(string path, string[] featureNames, string targetName)
    {
        using var source = TextSource.Open(path, MaxLineLength);
        if (!source.TryReadLine(out var header)) throw new DataFormatException(path, 1, null, "the file is empty.");
        var headerFields = new FieldSpan[64];
        int headerCount = CsvFields.Split(header, ',', headerFields, path, 1);
        if (headerCount < 3 || headerCount > headerFields.Length)
            throw new DataFormatException(path, 1, null, "expected a header 'rows,features,class names…'.");
        double declared = CsvFields.Number(header, headerFields[0], path, 1, 1);
        if (!(declared >= 1 && declared <= MaxRows && declared == Math.Floor(declared)))
            throw new DataFormatException(path, 1, 1, $"the row count {declared} is not a whole number in [1, {MaxRows}].");
        int rowCount = (int)declared;
        if (CsvFields.Number(header, headerFields[1], path, 1, 2) != featureNames.Length)
            throw new DataFormatException(path, 1, 2, $"expected {featureNames.Length} features.");
        var classNames = new string[headerCount - 2];
        for (int k = 0; k < classNames.Length; k++)
        {
            classNames[k] = CsvFields.Text(header, headerFields[k + 2]);
            if (classNames[k].Length == 0) throw new DataFormatException(path, 1, k + 3, "empty class name.");
        }

        int columns = featureNames.Length;
        var fields = new FieldSpan[columns + 2];
        var x = new double[rowCount][];
        var y = new double[rowCount];
        for (int r = 0; r < rowCount; r++)
        {
            if (!source.TryReadLine(out var line))
                throw new DataFormatException(path, source.LineNumber + 1, null, $"the header declares {rowCount} rows but the file ends after {r}.");
            int row = source.LineNumber;
            int count = CsvFields.Split(line, ',', fields, path, row);
            if (count != columns + 1)
                throw new DataFormatException(path, row, Math.Min(count, columns + 1) + 1, $"expected {columns + 1} fields ({columns} features and the class), found {count}.");
            var values = new double[columns];
            for (int c = 0; c < columns; c++) values[c] = CsvFields.Number(line, fields[c], path, row, c + 1);
            x[r] = values;
            y[r] = ClassIndex(line, fields[columns], classNames.Length, path, row, columns + 1);
        }
        while (source.TryReadLine(out var extra))
            if (!CsvFields.IsBlank(extra))
                throw new DataFormatException(path, source.LineNumber, null, $"the header declares {rowCount} rows but there are more.");
        return Dataset.Owning(x, y, featureNames, targetName, classNames);
    }

    /// <summary>Reads lines of exactly <paramref name="columns"/> whitespace-separated reals (blank lines skipped).</summary>
    private static List<double[]> ReadWhitespaceTable(string path, int columns)
    {
        using var source = TextSource.Open(path, MaxLineLength);
        var fields = new FieldSpan[columns + 1];
        var rows = new List<double[]>();
        while (source.TryReadLine(out var line))
        {
            int row = source.LineNumber;
            if (CsvFields.IsBlank(line)) continue;
            if (rows.Count == MaxRows) throw new DataFormatException(path, row, null, $"more than {MaxRows} rows.");
            int count = CsvFields.SplitWhitespace(line, fields);
            if (count != columns)
                throw new DataFormatException(path, row, Math.Min(count, columns) + 1, $"expected {columns} space-separated values, found {count}.");
            var values = new double[columns];
            for (int c = 0; c < columns; c++) values[c] = CsvFields.Number(line, fields[c], path, row, c + 1);
            rows.Add(values);
        }
        if (rows.Count == 0) throw new DataFormatException(path, 1, null, "the file holds no rows.");
        return rows;
    }

    private static double ClassIndex(ReadOnlySpan<char> line, FieldSpan field, int classCount, string path, int row, int column)
    {
        double label = CsvFields.Number(line, field, path, row, column);
        if (!Guard.IsClassIndex(label) || label >= classCount)
            throw new DataFormatException(path, row, column, $"class label {label} is not an index in [0, {classCount}).");
        return label;
    }

    private static string[] BuildBreastCancerNames()
    {
        string[] measures =
        [
            "radius", "texture", "perimeter", "area", "smoothness", "compactness",
            "concavity", "concave points", "symmetry", "fractal dimension",
        ];
        return [.. measures.Select(m => "mean " + m), .. measures.Select(m => m + " error"), .. measures.Select(m => "worst " + m)];
    }
}
