namespace Veil.Ml.Data;

/// <summary>
/// An immutable table: <see cref="Rows"/> rows of <see cref="Columns"/> numeric features, and one target per row.
/// </summary>
/// <remarks>
/// For regression the targets are real numbers. For classification they are class indices 0 … K − 1 and
/// <see cref="ClassNames"/>[k] names class k. Every value is finite. The public constructor copies its arguments;
/// the arrays returned by the properties are the dataset's own and must be treated as read-only (they are not copied
/// on each access, so that large tables go to the models without duplication).
/// </remarks>
public sealed class Dataset
{
    private readonly double[][] _features;
    private readonly double[] _targets;
    private readonly string[] _featureNames;
    private readonly string[]? _classNames;

    /// <summary>Creates a dataset from copies of the given arrays.</summary>
    /// <param name="features">Rows × columns feature values, all finite.</param>
    /// <param name="targets">One finite target per row; class indices 0 … K − 1 when <paramref name="classNames"/> is given.</param>
    /// <param name="featureNames">One name per column.</param>
    /// <param name="targetName">Name of the target.</param>
    /// <param name="classNames">Names of the K classes for classification, or null for regression.</param>
    /// <exception cref="ArgumentNullException">An argument (other than <paramref name="classNames"/>), a row or a name is null.</exception>
    /// <exception cref="ArgumentException">
    /// No rows or no columns, ragged rows, a non-finite value, a count that does not match, no class name, or a target
    /// that is not a class index below K when <paramref name="classNames"/> is given.
    /// </exception>
    public Dataset(double[][] features, double[] targets, string[] featureNames, string targetName, string[]? classNames = null)
    {
        int columns = Guard.Matrix(features, nameof(features));
        Guard.Vector(targets, features.Length, nameof(targets));
        ArgumentNullException.ThrowIfNull(featureNames);
        ArgumentNullException.ThrowIfNull(targetName);
        if (featureNames.Length != columns)
            Guard.Argument(nameof(featureNames), $"Expected {columns} feature names (one per column), found {featureNames.Length}.");
        if (Array.IndexOf(featureNames, null) >= 0) Guard.Argument(nameof(featureNames), "Feature names must not be null.");
        if (classNames is not null)
        {
            if (classNames.Length == 0) Guard.Argument(nameof(classNames), "At least one class name is needed.");
            if (Array.IndexOf(classNames, null) >= 0) Guard.Argument(nameof(classNames), "Class names must not be null.");
            for (int i = 0; i < targets.Length; i++)
                if (!Guard.IsClassIndex(targets[i]) || targets[i] >= classNames.Length)
                    Guard.Argument(nameof(targets), $"targets[{i}] = {targets[i]} is not a class index in [0, {classNames.Length}).");
        }
        _features = new double[features.Length][];
        for (int i = 0; i < features.Length; i++) _features[i] = (double[])features[i].Clone();
        _targets = (double[])targets.Clone();
        _featureNames = (string[])featureNames.Clone();
        _classNames = (string[]?)classNames?.Clone();
        TargetName = targetName;
    }

    private Dataset(string targetName, double[][] features, double[] targets, string[] featureNames, string[]? classNames)
    {
        _features = features;
        _targets = targets;
        _featureNames = featureNames;
        TargetName = targetName;
        _classNames = classNames;
    }

    /// <summary>Takes ownership of arrays that the caller has already validated and will not touch again (no copy, no check).</summary>
    internal static Dataset Owning(double[][] features, double[] targets, string[] featureNames, string targetName, string[]? classNames) =>
        new(targetName, features, targets, featureNames, classNames);

    /// <summary>Feature values, <see cref="Rows"/> arrays of <see cref="Columns"/> values (read-only by contract).</summary>
    public double[][] Features => _features;

    /// <summary>One target per row (read-only by contract): a real value, or a class index for classification.</summary>
    public double[] Targets => _targets;

    /// <summary>One name per feature column (read-only by contract).</summary>
    public string[] FeatureNames => _featureNames;

    /// <summary>Name of the target.</summary>
    public string TargetName { get; }

    /// <summary>Names of the classes, index k naming target value k; null for regression (read-only by contract).</summary>
    public string[]? ClassNames => _classNames;

    /// <summary>Number of rows (samples).</summary>
    public int Rows => _features.Length;

    /// <summary>Number of feature columns (the target is not counted).</summary>
    public int Columns => _featureNames.Length;

    /// <summary>Number of classes, or 0 for a regression dataset.</summary>
    public int ClassCount => _classNames?.Length ?? 0;

    /// <summary>A dataset made of the given rows, in the given order (a row may be repeated).</summary>
    /// <param name="rows">Row indices, each in [0, <see cref="Rows"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="rows"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside [0, <see cref="Rows"/>).</exception>
    public Dataset Subset(ReadOnlySpan<int> rows)
    {
        if (rows.IsEmpty) Guard.Argument(nameof(rows), "At least one row is needed.");
        var x = new double[rows.Length][];
        var y = new double[rows.Length];
        for (int k = 0; k < rows.Length; k++)
        {
            int r = rows[k];
            if ((uint)r >= (uint)Rows) Guard.OutOfRange(nameof(rows), $"Row index {r} is outside [0, {Rows}).");
            x[k] = (double[])_features[r].Clone();
            y[k] = _targets[r];
        }
        return Owning(x, y, _featureNames, TargetName, _classNames);
    }

    /// <summary>The same dataset with other feature values (for example standardized ones) of the same shape.</summary>
    /// <param name="features">Rows × columns finite values, copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="features"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">A different shape or a non-finite value.</exception>
    public Dataset WithFeatures(double[][] features)
    {
        Guard.Matrix(features, Columns, nameof(features));
        if (features.Length != Rows) Guard.Argument(nameof(features), $"Expected {Rows} rows, found {features.Length}.");
        var copy = new double[features.Length][];
        for (int i = 0; i < copy.Length; i++) copy[i] = (double[])features[i].Clone();
        return Owning(copy, _targets, _featureNames, TargetName, _classNames);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Rows} × {Columns} → {TargetName}" + (_classNames is null ? " (regression)" : $" ({_classNames.Length} classes)");
}
