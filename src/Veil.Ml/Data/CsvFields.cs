using System.Globalization;

namespace Veil.Ml.Data;

/// <summary>Where one field of a line lies: for a quoted field, the text between the quotes (doubled quotes still doubled).</summary>
internal readonly record struct FieldSpan(int Start, int Length, bool Quoted);

/// <summary>Field splitting and number parsing shared by the CSV loader and the built-in data sets.</summary>
internal static class CsvFields
{
    private const int ShownValueLength = 40;

    /// <summary>
    /// Splits <paramref name="line"/> at <paramref name="separator"/>, storing the first <c>fields.Length</c> fields,
    /// and returns the total number of fields. A field may be enclosed in double quotes (RFC 4180, "" for a quote), in
    /// which case the separator may appear inside it; a quoted field cannot span lines.
    /// </summary>
    /// <exception cref="DataFormatException">An unterminated quote, or text after a closing quote.</exception>
    public static int Split(ReadOnlySpan<char> line, char separator, Span<FieldSpan> fields, string source, int row)
    {
        int count = 0;
        int i = 0;
        while (true)
        {
            int j = i;
            while (j < line.Length && (line[j] == ' ' || line[j] == '\t')) j++;
            FieldSpan field;
            if (j < line.Length && line[j] == '"')
            {
                int k = j + 1;
                while (true)
                {
                    int q = line[k..].IndexOf('"');
                    if (q < 0) throw new DataFormatException(source, row, count + 1, "unterminated quoted field (a quoted field cannot span lines).");
                    k += q;
                    if (k + 1 < line.Length && line[k + 1] == '"')
                    {
                        k += 2;
                        continue;
                    }
                    break;
                }
                field = new FieldSpan(j + 1, k - j - 1, true);
                i = k + 1;
                while (i < line.Length && (line[i] == ' ' || line[i] == '\t')) i++;
                if (i < line.Length && line[i] != separator)
                    throw new DataFormatException(source, row, count + 1, "unexpected text after the closing quote.");
            }
            else
            {
                int sep = line[i..].IndexOf(separator);
                int end = sep < 0 ? line.Length : i + sep;
                field = new FieldSpan(i, end - i, false);
                i = end;
            }
            if (count < fields.Length) fields[count] = field;
            count++;
            if (i >= line.Length) return count;
            i++;
        }
    }

    /// <summary>Splits at runs of spaces and tabs (leading and trailing blanks ignored); returns the total number of fields.</summary>
    public static int SplitWhitespace(ReadOnlySpan<char> line, Span<FieldSpan> fields)
    {
        int count = 0;
        int i = 0;
        while (true)
        {
            while (i < line.Length && (line[i] == ' ' || line[i] == '\t')) i++;
            if (i >= line.Length) return count;
            int start = i;
            while (i < line.Length && line[i] != ' ' && line[i] != '\t') i++;
            if (count < fields.Length) fields[count] = new FieldSpan(start, i - start, false);
            count++;
        }
    }

    /// <summary>The text of a field: trimmed, or unquoted with "" turned into ".</summary>
    public static string Text(ReadOnlySpan<char> line, FieldSpan field)
    {
        var raw = line.Slice(field.Start, field.Length);
        return field.Quoted ? raw.ToString().Replace("\"\"", "\"", StringComparison.Ordinal) : raw.Trim().ToString();
    }

    /// <summary>Parses a field as a finite number (invariant culture).</summary>
    /// <exception cref="DataFormatException">An empty field, text that is not a number, or a non-finite value.</exception>
    public static double Number(ReadOnlySpan<char> line, FieldSpan field, string source, int row, int column)
    {
        var raw = line.Slice(field.Start, field.Length).Trim();
        if (raw.IsEmpty) throw new DataFormatException(source, row, column, "empty value (missing values are not supported).");
        if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
            throw new DataFormatException(source, row, column, $"'{Show(raw)}' is not a number.");
        if (!double.IsFinite(value))
            throw new DataFormatException(source, row, column, $"'{Show(raw)}' is not a finite number.");
        return value;
    }

    /// <summary>A value as shown in a message: at most 40 characters.</summary>
    public static string Show(ReadOnlySpan<char> value) =>
        value.Length <= ShownValueLength ? value.ToString() : string.Concat(value[..ShownValueLength], "…");

    /// <summary>True when the line holds only spaces and tabs.</summary>
    public static bool IsBlank(ReadOnlySpan<char> line) => line.IndexOfAnyExcept(' ', '\t') < 0;
}
