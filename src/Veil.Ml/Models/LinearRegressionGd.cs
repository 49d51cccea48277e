using Veil.Ml.Data;

namespace Veil.Ml.Models;

/// <summary>Settings of <see cref="LinearRegressionGd"/>.</summary>
/// <remarks>
/// The defaults (20 iterations, η = 0.25) are for standardized features. The iteration is stable only for
/// η &lt; 2/λ_max, λ_max the largest eigenvalue of (1/n)·X̃ᵀX̃ (X̃ the features with a column of ones); for standardized
/// features λ_max is the larger of 1 and the largest eigenvalue of their correlation matrix, at most the number of
/// features. On the diabetes data λ_max ≈ 4.05, so η must stay below ≈ 0.49. The intercept converges as
/// b_t = ȳ·(1 − (1 − η)^t), which is what most of the first iterations spend their effort on when ȳ is large.
/// </remarks>
public sealed record LinearRegressionGdOptions
{
    /// <summary>Number of full-batch gradient steps T (each one a fixed amount of multiplicative depth when encrypted).</summary>
    public int Iterations { get; init; } = 20;

    /// <summary>Step size η.</summary>
    public double LearningRate { get; init; } = 0.25;

    internal void Validate(string paramName)
    {
        if (Iterations is < 1 or > 1_000_000) Guard.OutOfRange(paramName, $"Iterations must be in [1, 1,000,000]; got {Iterations}.");
        if (!(LearningRate > 0 && double.IsFinite(LearningRate))) Guard.OutOfRange(paramName, $"The learning rate must be positive and finite; got {LearningRate}.");
    }
}

/// <summary>
/// Least-squares linear regression by full-batch gradient descent from zero, with a fixed number of iterations and a
/// fixed step: the plaintext twin of the encrypted trainer, which performs exactly the same arithmetic.
/// </summary>
/// <remarks>
/// <para>
/// Let x̃_i = (1, x_i) and θ = (b, w) (intercept first), θ⁽⁰⁾ = 0. Each of the T iterations computes, for all rows,
/// the residuals r_i = x̃_iᵀθ − y_i = b + Σ_j w_j·x_ij − y_i, then updates every coordinate at once:
/// </para>
/// <para>θ ← θ − (η/n)·X̃ᵀr, i.e. b ← b − (η/n)·Σ_i r_i and w_j ← w_j − (η/n)·Σ_i r_i·x_ij.</para>
/// <para>
/// This is gradient descent on (1/2n)·‖X̃θ − y‖². The features should be standardized (see <see cref="Standardizer"/>);
/// then Σ_i x_ij = 0 on the training set, the intercept decouples and follows b_t = ȳ·(1 − (1 − η)^t). Stopping after
/// a few iterations acts as a ridge-like regularisation; <see cref="OrdinaryLeastSquares"/> gives the limit.
/// </para>
/// </remarks>
public sealed class LinearRegressionGd
{
    private double[]? _weights;
    private double _intercept;

    /// <summary>Creates an unfitted model.</summary>
    /// <param name="options">Iterations and step size; the defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">Iterations outside [1, 1,000,000] or a step size that is not positive and finite.</exception>
    public LinearRegressionGd(LinearRegressionGdOptions? options = null)
    {
        Options = options ?? new LinearRegressionGdOptions();
        Options.Validate(nameof(options));
    }

    /// <summary>The settings used by <see cref="Fit(double[][], double[])"/>.</summary>
    public LinearRegressionGdOptions Options { get; }

    /// <summary>True once <see cref="Fit(double[][], double[])"/> has run.</summary>
    public bool IsFitted => _weights is not null;

    /// <summary>Fitted feature weights w.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public IReadOnlyList<double> Weights => _weights ?? throw new InvalidOperationException("The model has not been fitted: call Fit first.");

    /// <summary>Fitted intercept b.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public double Intercept => IsFitted ? _intercept : throw new InvalidOperationException("The model has not been fitted: call Fit first.");

    /// <summary>Runs the T gradient steps of the remarks from θ = 0.</summary>
    /// <param name="x">Training rows (standardized features).</param>
    /// <param name="y">One target per row.</param>
    /// <returns>This model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="x"/>, a row or <paramref name="y"/> is null.</exception>
    /// <exception cref="ArgumentException">No rows or columns, ragged rows, a non-finite value, or a length mismatch.</exception>
    /// <exception cref="InvalidOperationException">The iteration diverged (the step size is too large for these features).</exception>
    public LinearRegressionGd Fit(double[][] x, double[] y)
    {
        int d = Guard.Matrix(x, nameof(x));
        Guard.Vector(y, x.Length, nameof(y));
        int n = x.Length;
        double step = Options.LearningRate / n;
        var w = new double[d];
        double b = 0;
        var gradient = new double[d];
        for (int t = 0; t < Options.Iterations; t++)
        {
            Array.Clear(gradient);
            double gradientB = 0;
            for (int i = 0; i < n; i++)
            {
                var row = x[i];
                double r = b + LinearAlgebra.Dot(w, row) - y[i];
                gradientB += r;
                for (int j = 0; j < d; j++) gradient[j] += r * row[j];
            }
            b -= step * gradientB;
            for (int j = 0; j < d; j++) w[j] -= step * gradient[j];
            if (!double.IsFinite(b) || !w.All(double.IsFinite))
                throw new InvalidOperationException($"Gradient descent diverged at iteration {t + 1}: lower the learning rate ({Options.LearningRate}) or standardize the features.");
        }
        _weights = w;
        _intercept = b;
        return this;
    }

    /// <summary>Predictions b + x_iᵀw.</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <returns>One prediction per row.</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">A feature count other than in training, ragged rows, or a non-finite value.</exception>
    public double[] Predict(double[][] x) => LinearPredict(_weights, _intercept, x, nameof(x));

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
    /// <param name="data">Training data (standardized features).</param>
    /// <returns>This model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">As for the array overload.</exception>
    public LinearRegressionGd Fit(Dataset data)
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

    internal static double[] LinearPredict(double[]? weights, double intercept, double[][] x, string paramName)
    {
        if (weights is null) throw new InvalidOperationException("The model has not been fitted: call Fit first.");
        Guard.Matrix(x, weights.Length, paramName);
        var result = new double[x.Length];
        for (int i = 0; i < x.Length; i++) result[i] = intercept + LinearAlgebra.Dot(weights, x[i]);
        return result;
    }
}
