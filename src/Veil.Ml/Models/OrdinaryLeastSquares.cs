using Veil.Ml.Data;

namespace Veil.Ml.Models;

/// <summary>
/// Closed-form least-squares linear regression with intercept, the reference that <see cref="LinearRegressionGd"/>
/// converges to.
/// </summary>
/// <remarks>
/// With column means x̄ and ȳ, centred rows x_i − x̄ and centred targets y_i − ȳ, the weights solve the normal
/// equations (C + λI)·w = (1/n)·Σ_i (x_i − x̄)(y_i − ȳ), C = (1/n)·Σ_i (x_i − x̄)(x_i − x̄)ᵀ, by Cholesky
/// factorisation, with the tiny ridge λ = 1e-9 so that a constant or duplicated column does not make C singular;
/// then b = ȳ − x̄ᵀw. Centring leaves the intercept unpenalised and improves conditioning.
/// </remarks>
public sealed class OrdinaryLeastSquares
{
    /// <summary>The ridge λ added to the diagonal of the covariance matrix.</summary>
    public const double Ridge = 1e-9;

    private double[]? _weights;
    private double _intercept;

    /// <summary>True once <see cref="Fit(double[][], double[])"/> has run.</summary>
    public bool IsFitted => _weights is not null;

    /// <summary>Fitted feature weights w.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public IReadOnlyList<double> Weights => _weights ?? throw new InvalidOperationException("The model has not been fitted: call Fit first.");

    /// <summary>Fitted intercept b.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public double Intercept => IsFitted ? _intercept : throw new InvalidOperationException("The model has not been fitted: call Fit first.");

    /// <summary>Solves the normal equations of the remarks.</summary>
    /// <param name="x">Training rows.</param>
    /// <param name="y">One target per row.</param>
    /// <returns>This model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="x"/>, a row or <paramref name="y"/> is null.</exception>
    /// <exception cref="ArgumentException">No rows or columns, ragged rows, a non-finite value, or a length mismatch.</exception>
    /// <exception cref="InvalidOperationException">The normal equations are numerically singular even with the ridge.</exception>
    public OrdinaryLeastSquares Fit(double[][] x, double[] y)
    {
        int d = Guard.Matrix(x, nameof(x));
        Guard.Vector(y, x.Length, nameof(y));
        int n = x.Length;
        var mean = new double[d];
        double meanY = 0;
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < d; j++) mean[j] += x[i][j];
            meanY += y[i];
        }
        for (int j = 0; j < d; j++) mean[j] /= n;
        meanY /= n;

        var covariance = new double[d, d];
        var rhs = new double[d];
        var centred = new double[d];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < d; j++) centred[j] = x[i][j] - mean[j];
            double cy = y[i] - meanY;
            for (int j = 0; j < d; j++)
            {
                rhs[j] += centred[j] * cy;
                for (int k = 0; k <= j; k++) covariance[j, k] += centred[j] * centred[k];
            }
        }
        for (int j = 0; j < d; j++)
        {
            rhs[j] /= n;
            for (int k = 0; k <= j; k++) covariance[j, k] /= n;
            covariance[j, j] += Ridge;
        }
        var w = LinearAlgebra.CholeskySolve(covariance, rhs);
        _weights = w;
        _intercept = meanY - LinearAlgebra.Dot(mean, w);
        return this;
    }

    /// <summary>Solves A·x = b for a symmetric positive-definite A (only its lower triangle is read) by Cholesky: the normal equations of sums gathered elsewhere (federated least squares).</summary>
    /// <exception cref="InvalidOperationException">A is not numerically positive definite.</exception>
    public static double[] SolveSymmetric(double[,] a, double[] b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.GetLength(0) != b.Length || a.GetLength(1) != b.Length) throw new ArgumentException("A must be square with as many rows as b.", nameof(a));
        return LinearAlgebra.CholeskySolve(a, b);
    }

    /// <summary>Predictions b + x_iᵀw.</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <returns>One prediction per row.</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">A feature count other than in training, ragged rows, or a non-finite value.</exception>
    public double[] Predict(double[][] x) => LinearRegressionGd.LinearPredict(_weights, _intercept, x, nameof(x));

    /// <summary>R² of the predictions on <paramref name="x"/> against <paramref name="y"/>.</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <param name="y">True targets.</param>
    /// <returns><see cref="Metrics.R2"/>(y, Predict(x)).</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/>, a row or <paramref name="y"/> is null.</exception>
    /// <exception cref="ArgumentException">A shape mismatch or a non-finite value.</exception>
    public double Score(double[][] x, double[] y)
    {
        var predictions = Predict(x);
        Guard.Vector(y, predictions.Length, nameof(y));
        return Metrics.R2(y, predictions);
    }

    /// <summary>Fits on a dataset's features and targets.</summary>
    /// <param name="data">Training data.</param>
    /// <returns>This model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">As for the array overload.</exception>
    public OrdinaryLeastSquares Fit(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Fit(data.Features, data.Targets);
    }

    /// <summary>R² on a dataset.</summary>
    /// <param name="data">Data with as many features as in training.</param>
    /// <returns>The score of <see cref="Predict"/> against the dataset's targets.</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">A feature count other than in training.</exception>
    public double Score(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Score(data.Features, data.Targets);
    }
}
