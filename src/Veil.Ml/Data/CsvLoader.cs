namespace Veil.Ml.Data;

/// <summary>How the target column of a CSV file is read.</summary>
public enum TargetKind
{
    /// <summary>A finite number per row (regression, or classes already coded as numbers without names).</summary>
    Numeric,

    /// <summary>
    /// A class label per row (any text, numbers included): distinct labels map to 0 … K − 1 in order of first
    /// appearance and are kept as <see cref="Dataset.ClassNames"/>.
    /// </summary>
    ClassLabels,
}

/// <summary>Limits that keep the memory a CSV file can make the loader use bounded.</summary>
/// <remarks>The defaults admit 10,000,000 cells, 100,000 columns, lines of 1 MiB (1,048,576 characters) and 10,000 classes.</remarks>
public sealed record CsvLimits
{
    /// <summary>The default limits.</summary>
    public static CsvLimits Default { get; } = new();

    /// <summary>Most cells (data rows × columns, the target column included).</summary>
    public int MaxCells { get; init; } = 10_000_000;

    /// <summary>Most columns (the target column included).</summary>
    public int MaxColumns { get; init; } = 100_000;

    /// <summary>Longest line, in characters; a longer line is rejected before it is fully read.</summary>
    public int MaxLineLength { get; init; } = 1 << 20;

    /// <summary>Most distinct class labels (<see cref="TargetKind.ClassLabels"/>).</summary>
    public int MaxClasses { get; init; } = 10_000;

    /// <summary>Longest class label, in characters.</summary>
    public int MaxLabelLength { get; init; } = 256;

    /// <summary>Most characters read from the file, after decompression (2^30 by default): blank lines count too.</summary>
    public long MaxCharacters { get; init; } = TextSource.DefaultMaxCharacters;
}

/// <summary>
/// Loads a user's CSV file: a header row of column names, then one row of numeric values per sample, comma-separated,
/// numbers in the invariant culture ("1.5e-3"). A file that starts with the gzip magic bytes is decompressed first.
/// </summary>
/// <remarks>
/// <para>
/// Fields may be enclosed in double quotes (RFC 4180) but may not span lines; lines end with LF, CRLF or CR; blank
/// lines are skipped (they still count in row numbers); a UTF-8 byte-order mark is ignored. Column names are trimmed
/// and compared ordinally. Every feature value must be a finite number: missing values are not supported.
/// </para>
/// <para>
/// Every malformed input raises a <see cref="DataFormatException"/> giving the 1-based line number (the header is row
/// 1) and, when one field is at fault, its 1-based column: an empty file; an empty or duplicate column name; a missing
/// target column; fewer than two columns; too many columns, cells or classes; a line over the length cap; a row with
/// the wrong number of fields; an empty, non-numeric or non-finite value; an unterminated quote; corrupt gzip data.
/// Memory stays bounded by <see cref="CsvLimits"/>: a line is never read past <see cref="CsvLimits.MaxLineLength"/>.
/// </para>
/// </remarks>
public static class CsvLoader
{
    /// <summary>Loads a CSV file with the target read as <paramref name="kind"/> says (numbers by default).</summary>
    /// <param name="path">The file; gzip-compressed files are recognized by their first two bytes.</param>
    /// <param name="targetColumn">Name of the target column (every other column is a feature).</param>
    /// <param name="kind">How to read the target column.</param>
    /// <param name="limits">Size limits; <see cref="CsvLimits.Default"/> when null.</param>
    /// <returns>The features and targets, with the header's column names.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> or <paramref name="targetColumn"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty, or <paramref name="kind"/> is not defined.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="DataFormatException">The file is malformed; the exception names the row and column.</exception>
    public static Dataset Load(string path, string targetColumn, TargetKind kind = TargetKind.Numeric, CsvLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(targetColumn);
        limits = Check(limits, kind);
        using var source = TextSource.Open(path, limits.MaxLineLength, limits.MaxCharacters);
        return Read(source, targetColumn, kind, limits);
    }

    /// <summary>Loads a CSV file whose target holds class labels, mapped to 0 … K − 1 in order of first appearance.</summary>
    /// <param name="path">The file; gzip-compressed files are recognized by their first two bytes.</param>
    /// <param name="targetColumn">Name of the column holding the labels (text or numbers).</param>
    /// <param name="limits">Size limits; <see cref="CsvLimits.Default"/> when null.</param>
    /// <returns>The features, class indices as targets, and the labels as <see cref="Dataset.ClassNames"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> or <paramref name="targetColumn"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="DataFormatException">The file is malformed; the exception names the row and column.</exception>
    public static Dataset LoadForClassification(string path, string targetColumn, CsvLimits? limits = null) =>
        Load(path, targetColumn, TargetKind.ClassLabels, limits);

    /// <summary>Loads a CSV file whose target is a finite number per row.</summary>
    /// <param name="path">The file; gzip-compressed files are recognized by their first two bytes.</param>
    /// <param name="targetColumn">Name of the numeric target column.</param>
    /// <param name="limits">Size limits; <see cref="CsvLimits.Default"/> when null.</param>
    /// <returns>The features and the numeric targets (<see cref="Dataset.ClassNames"/> is null).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> or <paramref name="targetColumn"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="DataFormatException">The file is malformed; the exception names the row and column.</exception>
    public static Dataset LoadForRegression(string path, string targetColumn, CsvLimits? limits = null) =>
        Load(path, targetColumn, TargetKind.Numeric, limits);

    private static CsvLimits Check(CsvLimits? limits, TargetKind kind)
    {
        if (!Enum.IsDefined(kind)) Guard.Argument(nameof(kind), $"Unknown target kind {kind}.");
        limits ??= CsvLimits.Default;
        if (limits.MaxCells < 2 || limits.MaxColumns < 2 || limits.MaxLineLength < 1 || limits.MaxClasses < 1 || limits.MaxLabelLength < 1 || limits.MaxCharacters < 1)
            Guard.OutOfRange(nameof(limits), "Limits must be positive (at least 2 cells and 2 columns).");
        return limits;
    }

    private static Dataset Read(TextSource source, string targetColumn, TargetKind kind, CsvLimits limits)
    {
        string name = source.Name;
        if (!source.TryReadLine(out var headerLine)) throw new DataFormatException(name, 1, null, "the file is empty; expected a header row of column names.");
        if (CsvFields.IsBlank(headerLine)) throw new DataFormatException(name, 1, null, "the header row is empty; expected column names.");

        // Header: names, trimmed, unique, non-empty; the target among them.
        var headerFields = new FieldSpan[Math.Min(limits.MaxColumns, headerLine.Length + 1) + 1];
        int columns = CsvFields.Split(headerLine, ',', headerFields, name, 1);
        if (columns > limits.MaxColumns)
            throw new DataFormatException(name, 1, limits.MaxColumns + 1, $"too many columns ({columns}); the limit is {limits.MaxColumns}.");
        if ((long)columns > limits.MaxCells)
            throw new DataFormatException(name, 1, null, $"{columns} columns exceed the limit of {limits.MaxCells} cells.");
        var names = new string[columns];
        var firstSeen = new Dictionary<string, int>(columns, StringComparer.Ordinal);
        int target = -1;
        for (int c = 0; c < columns; c++)
        {
            names[c] = CsvFields.Text(headerLine, headerFields[c]);
            if (names[c].Length == 0) throw new DataFormatException(name, 1, c + 1, "empty column name.");
            if (!firstSeen.TryAdd(names[c], c))
                throw new DataFormatException(name, 1, c + 1, $"duplicate column name '{CsvFields.Show(names[c])}' (also column {firstSeen[names[c]] + 1}).");
            if (names[c] == targetColumn) target = c;
        }
        if (target < 0)
            throw new DataFormatException(name, 1, null, $"no column is named '{CsvFields.Show(targetColumn)}' (the header has: {ListNames(names)}).");
        if (columns < 2) throw new DataFormatException(name, 1, null, "at least one feature column besides the target is needed.");

        var featureNames = new string[columns - 1];
        for (int c = 0, f = 0; c < columns; c++) if (c != target) featureNames[f++] = names[c];

        // Rows.
        var rows = new List<double[]>();
        var targets = new List<double>();
        var labels = kind == TargetKind.ClassLabels ? new Dictionary<string, int>(StringComparer.Ordinal) : null;
        var classNames = kind == TargetKind.ClassLabels ? new List<string>() : null;
        var fields = new FieldSpan[columns + 1];
        long maxLines = (long)limits.MaxCells + 1;
        while (source.TryReadLine(out var line))
        {
            int row = source.LineNumber;
            if (row > maxLines) throw new DataFormatException(name, row, null, $"too many lines; the limit is {limits.MaxCells} cells.");
            if (CsvFields.IsBlank(line)) continue;
            if ((long)(rows.Count + 1) * columns > limits.MaxCells)
                throw new DataFormatException(name, row, null,
                    $"too many rows: {rows.Count + 1} rows × {columns} columns exceed the limit of {limits.MaxCells} cells.");
            int count = CsvFields.Split(line, ',', fields, name, row);
            if (count != columns)
                throw new DataFormatException(name, row, Math.Min(count, columns) + 1, $"expected {columns} fields (as in the header), found {count}.");

            var x = new double[columns - 1];
            for (int c = 0, f = 0; c < columns; c++)
                if (c != target) x[f++] = CsvFields.Number(line, fields[c], name, row, c + 1);
            if (labels is null)
            {
                targets.Add(CsvFields.Number(line, fields[target], name, row, target + 1));
            }
            else
            {
                var field = fields[target];
                if (field.Length > limits.MaxLabelLength + 2)
                    throw new DataFormatException(name, row, target + 1, $"the class label is longer than {limits.MaxLabelLength} characters.");
                string label = CsvFields.Text(line, field);
                if (label.Length == 0) throw new DataFormatException(name, row, target + 1, "empty class label.");
                if (label.Length > limits.MaxLabelLength)
                    throw new DataFormatException(name, row, target + 1, $"the class label is longer than {limits.MaxLabelLength} characters.");
                if (!labels.TryGetValue(label, out int index))
                {
                    if (labels.Count == limits.MaxClasses)
                        throw new DataFormatException(name, row, target + 1, $"more than {limits.MaxClasses} distinct class labels.");
                    index = labels.Count;
                    labels.Add(label, index);
                    classNames!.Add(label);
                }
                targets.Add(index);
            }
            rows.Add(x);
        }
        if (rows.Count == 0) throw new DataFormatException(name, source.LineNumber + 1, null, "no data rows after the header.");
        return Dataset.Owning(rows.ToArray(), targets.ToArray(), featureNames, names[target], classNames?.ToArray());
    }

    private static string ListNames(string[] names)
    {
        const int shown = 10;
        var quoted = names.Take(shown).Select(n => $"'{CsvFields.Show(n)}'");
        return string.Join(", ", quoted) + (names.Length > shown ? $", … ({names.Length} columns)" : "");
    }
}
