namespace Veil.Ml.Data;

/// <summary>
/// A data file is malformed. <see cref="Row"/> is the 1-based line number in the file (the header is row 1) and
/// <see cref="Column"/> the 1-based field number when one field is at fault.
/// </summary>
/// <remarks>The message reads "FILE, row R, column C: detail" (", column C" is left out when no single field is at fault).</remarks>
public sealed class DataFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The file (or stream name) being read.</param>
    /// <param name="row">1-based line number in the file.</param>
    /// <param name="column">1-based field number, or null when the whole row (or file) is at fault.</param>
    /// <param name="detail">What is wrong, in a sentence.</param>
    /// <param name="innerException">The underlying error, if any (for example a corrupt gzip stream).</param>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> or <paramref name="detail"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="row"/> or <paramref name="column"/> is below 1.</exception>
    public DataFormatException(string source, int row, int? column, string detail, Exception? innerException = null)
        : base(Compose(source, row, column, detail), innerException)
    {
        SourceName = source;
        Row = row;
        Column = column;
        Detail = detail;
    }

    /// <summary>The file (or stream name) that was being read.</summary>
    public string SourceName { get; }

    /// <summary>1-based line number in the file; the header row is 1.</summary>
    public int Row { get; }

    /// <summary>1-based field number, or null when the whole row (or file) is at fault.</summary>
    public int? Column { get; }

    /// <summary>The description of the problem, without the location prefix.</summary>
    public string Detail { get; }

    private static string Compose(string source, int row, int? column, string detail)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(detail);
        ArgumentOutOfRangeException.ThrowIfLessThan(row, 1);
        if (column is < 1) throw new ArgumentOutOfRangeException(nameof(column), column, "Columns are 1-based.");
        return column is int c ? $"{source}, row {row}, column {c}: {detail}" : $"{source}, row {row}: {detail}";
    }
}
