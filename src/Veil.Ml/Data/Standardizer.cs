namespace Veil.Ml.Data;

/// <summary>
/// Scales each feature column to zero mean and unit variance with statistics fitted on training rows only.
/// </summary>
/// <remarks>
/// Fit computes, per column j over the n training rows, μ_j = (1/n)·Σ_i x_ij and the population standard deviation
/// s_j = √((1/n)·Σ_i (x_ij − μ_j)²); a constant column gets s_j = 1 (and μ_j its value exactly), so it maps to 0.
/// Transform computes z_ij = (x_ij − μ_j) / s_j. The same fitted statistics must be applied to test rows, and, for
/// encrypted training, by the data owner before encryption.
/// </remarks>
public sealed class Standardizer
{
    private double[]? _means;
    private double[]? _scales;

    /// <summary>True once <see cref="Fit(double[][])"/> has run.</summary>
    public bool IsFitted => _means is not null;

    /// <summary>Fitted column means μ_j.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public IReadOnlyList<double> Means => _means ?? throw NotFitted();

    /// <summary>Fitted column scales s_j (population standard deviations; 1 for constant columns).</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public IReadOnlyList<double> Scales => _scales ?? throw NotFitted();

    /// <summary>A standardizer with given statistics (saved by the data owner between its two steps).</summary>
    /// <exception cref="ArgumentException">Counts differ, a value is not finite, or a scale is not positive.</exception>
    public static Standardizer FromStatistics(IReadOnlyList<double> means, IReadOnlyList<double> scales)
    {
        ArgumentNullException.ThrowIfNull(means);
        ArgumentNullException.ThrowIfNull(scales);
        if (means.Count == 0 || means.Count != scales.Count) throw new ArgumentException($"One scale per mean: {means.Count} means, {scales.Count} scales.", nameof(scales));
        if (means.Any(v => !double.IsFinite(v)) || scales.Any(v => !double.IsFinite(v) || v <= 0))
            throw new ArgumentException("Means must be finite and scales finite and positive.", nameof(scales));
        return new Standardizer { _means = [.. means], _scales = [.. scales] };
    }

    /// <summary>Fits the column means and standard deviations on <paramref name="x"/>.</summary>
    /// <param name="x">Training rows (finite, rectangular, non-empty).</param>
    /// <returns>This standardizer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">No rows or columns, ragged rows, or a non-finite value.</exception>
    public Standardizer Fit(double[][] x)
    {
        int columns = Guard.Matrix(x, nameof(x));
        int n = x.Length;
        var means = new double[columns];
        var scales = new double[columns];
        for (int j = 0; j < columns; j++)
        {
            double sum = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
            for (int i = 0; i < n; i++)
            {
                double v = x[i][j];
                sum += v;
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
            if (min == max)
            {
                means[j] = min;
                scales[j] = 1;
                continue;
            }
            double mean = sum / n;
            double squares = 0;
            for (int i = 0; i < n; i++)
            {
                double d = x[i][j] - mean;
                squares += d * d;
            }
            double std = Math.Sqrt(squares / n);
            means[j] = mean;
            scales[j] = std > 0 && double.IsFinite(std) ? std : 1;
        }
        _means = means;
        _scales = scales;
        return this;
    }

    /// <summary>Fits on the dataset's features.</summary>
    /// <param name="data">Training data.</param>
    /// <returns>This standardizer.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    public Standardizer Fit(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Fit(data.Features);
    }

    /// <summary>Returns new rows z_ij = (x_ij − μ_j) / s_j.</summary>
    /// <param name="x">Rows with as many columns as the fitted data.</param>
    /// <returns>The standardized rows (new arrays).</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">A column count other than the fitted one, ragged rows, or a non-finite value.</exception>
    public double[][] Transform(double[][] x)
    {
        var means = _means ?? throw NotFitted();
        var scales = _scales!;
        Guard.Matrix(x, means.Length, nameof(x));
        var z = new double[x.Length][];
        for (int i = 0; i < x.Length; i++)
        {
            var row = new double[means.Length];
            for (int j = 0; j < row.Length; j++) row[j] = (x[i][j] - means[j]) / scales[j];
            z[i] = row;
        }
        return z;
    }

    /// <summary>Returns the dataset with standardized features (targets and names unchanged).</summary>
    /// <param name="data">Data with as many columns as the fitted data.</param>
    /// <returns>A new dataset.</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">A column count other than the fitted one.</exception>
    public Dataset Transform(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data.WithFeatures(Transform(data.Features));
    }

    /// <summary>Fits on <paramref name="x"/> and returns it standardized.</summary>
    /// <param name="x">Training rows.</param>
    /// <returns>The standardized rows.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">No rows or columns, ragged rows, or a non-finite value.</exception>
    public double[][] FitTransform(double[][] x) => Fit(x).Transform(x);

    /// <summary>Fits on the dataset and returns it standardized.</summary>
    /// <param name="data">Training data.</param>
    /// <returns>A new dataset.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    public Dataset FitTransform(Dataset data) => Fit(data).Transform(data);

    private static InvalidOperationException NotFitted() => new("The standardizer has not been fitted: call Fit first.");
}
