using System.Diagnostics.CodeAnalysis;

namespace Veil.Ml.Data;

/// <summary>Argument checks shared by the data layer and the models; throw sites kept out of the loops.</summary>
internal static class Guard
{
    [DoesNotReturn]
    public static void Argument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void OutOfRange(string paramName, string message) => throw new ArgumentOutOfRangeException(paramName, message);

    /// <summary>Checks a non-empty rectangular matrix of finite values and returns its column count.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or one of its rows is null.</exception>
    /// <exception cref="ArgumentException">No rows, no columns, ragged rows or a non-finite value.</exception>
    public static int Matrix([NotNull] double[][]? x, string paramName)
    {
        ArgumentNullException.ThrowIfNull(x, paramName);
        if (x.Length == 0) Argument(paramName, "At least one row is needed.");
        if (x[0] is null) Argument(paramName, "Row 0 is null.");
        int columns = x[0].Length;
        if (columns == 0) Argument(paramName, "At least one column is needed.");
        for (int i = 0; i < x.Length; i++)
        {
            var row = x[i];
            if (row is null) Argument(paramName, $"Row {i} is null.");
            if (row.Length != columns) Argument(paramName, $"Row {i} has {row.Length} values; row 0 has {columns}.");
            for (int j = 0; j < row.Length; j++)
                if (!double.IsFinite(row[j])) Argument(paramName, $"{paramName}[{i}][{j}] = {row[j]} is not finite.");
        }
        return columns;
    }

    /// <summary>Checks a matrix as <see cref="Matrix(double[][], string)"/> does, and that it has <paramref name="expectedColumns"/> columns.</summary>
    public static void Matrix([NotNull] double[][]? x, int expectedColumns, string paramName)
    {
        int columns = Matrix(x, paramName);
        if (columns != expectedColumns) Argument(paramName, $"Expected {expectedColumns} features per row (as in training), found {columns}.");
    }

    /// <summary>Checks a vector of finite values of the given length.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="y"/> is null.</exception>
    /// <exception cref="ArgumentException">Wrong length or a non-finite value.</exception>
    public static void Vector([NotNull] double[]? y, int expectedLength, string paramName)
    {
        ArgumentNullException.ThrowIfNull(y, paramName);
        if (y.Length != expectedLength) Argument(paramName, $"Expected {expectedLength} values (one per row), found {y.Length}.");
        for (int i = 0; i < y.Length; i++)
            if (!double.IsFinite(y[i])) Argument(paramName, $"{paramName}[{i}] = {y[i]} is not finite.");
    }

    /// <summary>Checks that two spans of finite values are non-empty and of equal length.</summary>
    public static void Pairs(ReadOnlySpan<double> a, ReadOnlySpan<double> b, string paramA, string paramB)
    {
        if (a.Length == 0) Argument(paramA, "At least one value is needed.");
        if (a.Length != b.Length) Argument(paramB, $"{paramA} has {a.Length} values but {paramB} has {b.Length}.");
        for (int i = 0; i < a.Length; i++)
        {
            if (!double.IsFinite(a[i])) Argument(paramA, $"{paramA}[{i}] = {a[i]} is not finite.");
            if (!double.IsFinite(b[i])) Argument(paramB, $"{paramB}[{i}] = {b[i]} is not finite.");
        }
    }

    /// <summary>True when <paramref name="v"/> is a whole number in [0, int.MaxValue].</summary>
    public static bool IsClassIndex(double v) => v >= 0 && v <= int.MaxValue && v == Math.Floor(v);
}
