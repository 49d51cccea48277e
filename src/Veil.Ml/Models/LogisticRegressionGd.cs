using Veil.Ml.Data;

namespace Veil.Ml.Models;

/// <summary>Settings of <see cref="LogisticRegressionGd"/>.</summary>
/// <remarks>
/// The defaults (7 iterations, constant η = 0.2, Nesterov, σ̃ of degree 3 on [−8, 8]) were chosen on standardized
/// breast-cancer data, where they give the best held-out accuracy within 10 iterations while keeping the run stable;
/// see <see cref="LogisticRegressionGd"/> for the update they drive and for why more iterations can diverge.
/// </remarks>
public sealed record LogisticRegressionGdOptions
{
    /// <summary>Number of gradient steps T (each one a fixed amount of multiplicative depth when encrypted).</summary>
    public int Iterations { get; init; } = 7;

    /// <summary>Step size η (the first step's size when <see cref="DecayLearningRate"/> is set).</summary>
    public double LearningRate { get; init; } = 0.2;

    /// <summary>Use α_t = η/t at iteration t = 1, 2, … (Kim et al. use 10/t on features scaled to [−1, 1]) instead of a constant α_t = η.</summary>
    public bool DecayLearningRate { get; init; }

    /// <summary>Nesterov's acceleration with the momentum schedule of Kim et al. (default); false gives plain gradient descent.</summary>
    public bool Nesterov { get; init; } = true;

    /// <summary>Degree of the <see cref="PolynomialSigmoid"/> used during training (odd, 1 … 9).</summary>
    public int SigmoidDegree { get; init; } = PolynomialSigmoid.DefaultDegree;

    /// <summary>Half-width B of the interval on which the sigmoid is approximated.</summary>
    public double SigmoidBound { get; init; } = PolynomialSigmoid.DefaultBound;

    /// <summary>The step size α_t of iteration <paramref name="t"/>.</summary>
    /// <param name="t">1-based iteration number.</param>
    /// <returns>η/t when <see cref="DecayLearningRate"/> is set, η otherwise.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="t"/> is below 1.</exception>
    public double LearningRateAt(int t)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(t, 1);
        return DecayLearningRate ? LearningRate / t : LearningRate;
    }

    internal void Validate(string paramName)
    {
        if (Iterations is < 1 or > 1_000_000) Guard.OutOfRange(paramName, $"Iterations must be in [1, 1,000,000]; got {Iterations}.");
        if (!(LearningRate > 0 && double.IsFinite(LearningRate))) Guard.OutOfRange(paramName, $"The learning rate must be positive and finite; got {LearningRate}.");
        if (SigmoidDegree is < 1 or > 9 || SigmoidDegree % 2 == 0) Guard.OutOfRange(paramName, $"The sigmoid degree must be odd, in [1, 9]; got {SigmoidDegree}.");
        if (!(SigmoidBound > 0 && SigmoidBound <= 64)) Guard.OutOfRange(paramName, $"The sigmoid bound must be in (0, 64]; got {SigmoidBound}.");
    }
}

/// <summary>
/// Binary logistic regression trained by Nesterov-accelerated gradient descent with a polynomial sigmoid, as in Kim,
/// Song, Kim, Lee and Cheon (2018): the plaintext twin of the encrypted trainer, performing the same arithmetic.
/// </summary>
/// <remarks>
/// <para>
/// Labels are y_i ∈ {0, 1}; x̃_i = (1, x_i) and θ = (b, w), intercept first. σ̃ is the <see cref="PolynomialSigmoid"/>
/// of the options. Starting from w⁽⁰⁾ = v⁽⁰⁾ = 0, iteration t = 1 … T computes
/// </para>
/// <para>
/// g⁽ᵗ⁾ = (1/n)·Σ_i (σ̃(x̃_iᵀv⁽ᵗ⁻¹⁾) − y_i)·x̃_i (the gradient of the mean log-loss with σ replaced by σ̃),<br/>
/// w⁽ᵗ⁾ = v⁽ᵗ⁻¹⁾ − α_t·g⁽ᵗ⁾,<br/>
/// v⁽ᵗ⁾ = (1 − γ_t)·w⁽ᵗ⁾ + γ_t·w⁽ᵗ⁻¹⁾,
/// </para>
/// <para>
/// with α_t from <see cref="LogisticRegressionGdOptions.LearningRateAt"/> and Nesterov's schedule λ_0 = 0,
/// λ_t = (1 + √(1 + 4λ_{t−1}²))/2, γ_t = (1 − λ_t)/λ_{t+1} (γ_1 = 0, γ_2 ≈ −0.282, γ_3 ≈ −0.434, …, tending to −1:
/// a negative γ_t extrapolates past w⁽ᵗ⁾, i.e. momentum). This is the schedule of Kim et al. (their code starts at
/// λ_0 = 0.01, which with a zero start makes the first step almost void; λ_0 = 0 makes it a plain gradient step).
/// With <see cref="LogisticRegressionGdOptions.Nesterov"/> off, γ_t = 0 and v⁽ᵗ⁾ = w⁽ᵗ⁾ (plain gradient descent).
/// The model is θ = w⁽ᵀ⁾. Written with labels in {−1, 1} and z_i = y_i·x̃_i as in the paper, the same step reads
/// w = v + (α/n)·Σ_i σ̃(−z_iᵀv)·z_i: identical, because σ̃(−u) = 1 − σ̃(u).
/// </para>
/// <para>
/// The polynomial is only accurate on [−B, B]; <see cref="MaxAbsMargin"/> reports the largest |x̃_iᵀv| met during
/// training. Beyond the interval the leading term takes over: for degrees 3 and 7 (negative leading coefficient) a
/// correctly classified row whose margin passes a point just beyond B (≈ 1.2·B for degree 3, ≈ 1.1·B for
/// degree 7) gets σ̃ on the wrong side of ½, and its gradient pushes its
/// margin further out, so long runs on (nearly) separable data diverge; for degrees 5 and 9 (positive leading
/// coefficient) the excess pulls the margin back. Keep the iteration count small (≤ 10 with the defaults) or use
/// degree 5. Predictions use the exact σ.
/// </para>
/// </remarks>
public sealed class LogisticRegressionGd
{
    private double[]? _weights;
    private double _intercept;
    private double _maxAbsMargin;

    /// <summary>Creates an unfitted model.</summary>
    /// <param name="options">Iterations, step sizes and sigmoid approximation; the defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (see <see cref="LogisticRegressionGdOptions"/>).</exception>
    public LogisticRegressionGd(LogisticRegressionGdOptions? options = null)
    {
        Options = options ?? new LogisticRegressionGdOptions();
        Options.Validate(nameof(options));
        Sigmoid = new PolynomialSigmoid(Options.SigmoidDegree, Options.SigmoidBound);
    }

    /// <summary>The settings used by <see cref="Fit(double[][], double[])"/>.</summary>
    public LogisticRegressionGdOptions Options { get; }

    /// <summary>The polynomial sigmoid σ̃ used during training.</summary>
    public PolynomialSigmoid Sigmoid { get; }

    /// <summary>True once <see cref="Fit(double[][], double[])"/> has run.</summary>
    public bool IsFitted => _weights is not null;

    /// <summary>Fitted feature weights w.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public IReadOnlyList<double> Weights => _weights ?? throw new InvalidOperationException("The model has not been fitted: call Fit first.");

    /// <summary>Fitted intercept b.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public double Intercept => IsFitted ? _intercept : throw new InvalidOperationException("The model has not been fitted: call Fit first.");

    /// <summary>The largest |x̃_iᵀv| at which σ̃ was evaluated during the last <see cref="Fit(double[][], double[])"/> (compare with <see cref="PolynomialSigmoid.Bound"/>).</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public double MaxAbsMargin => IsFitted ? _maxAbsMargin : throw new InvalidOperationException("The model has not been fitted: call Fit first.");

    /// <summary>The momentum coefficients γ_1 … γ_T of Nesterov's schedule (see remarks).</summary>
    /// <param name="iterations">T ≥ 0.</param>
    /// <returns>γ_t = (1 − λ_t)/λ_{t+1}, λ_0 = 0, λ_t = (1 + √(1 + 4λ_{t−1}²))/2.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="iterations"/> is negative.</exception>
    public static double[] MomentumSchedule(int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(iterations);
        var gamma = new double[iterations];
        double lambda = 0;
        double next = Next(lambda);
        for (int t = 0; t < iterations; t++)
        {
            lambda = next;
            next = Next(lambda);
            gamma[t] = (1 - lambda) / next;
        }
        return gamma;

        static double Next(double l) => (1 + Math.Sqrt(1 + 4 * l * l)) / 2;
    }

    /// <summary>Runs the T iterations of the remarks from zero.</summary>
    /// <param name="x">Training rows (standardized features).</param>
    /// <param name="y">Labels, each 0 or 1.</param>
    /// <returns>This model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="x"/>, a row or <paramref name="y"/> is null.</exception>
    /// <exception cref="ArgumentException">No rows or columns, ragged rows, a non-finite value, a length mismatch, or a label other than 0 or 1.</exception>
    /// <exception cref="InvalidOperationException">The iteration diverged.</exception>
    public LogisticRegressionGd Fit(double[][] x, double[] y)
    {
        int d = Guard.Matrix(x, nameof(x));
        Guard.Vector(y, x.Length, nameof(y));
        for (int i = 0; i < y.Length; i++)
            if (y[i] is not (0 or 1)) Guard.Argument(nameof(y), $"y[{i}] = {y[i]}: labels must be 0 or 1.");

        int n = x.Length;
        var gammas = Options.Nesterov ? MomentumSchedule(Options.Iterations) : new double[Options.Iterations];
        // θ = (b, w): index 0 is the intercept. w holds w⁽ᵗ⁻¹⁾, v holds v⁽ᵗ⁻¹⁾.
        var w = new double[d + 1];
        var v = new double[d + 1];
        var gradient = new double[d + 1];
        double maxMargin = 0;
        for (int t = 1; t <= Options.Iterations; t++)
        {
            Array.Clear(gradient);
            for (int i = 0; i < n; i++)
            {
                var row = x[i];
                double margin = v[0] + LinearAlgebra.Dot(v.AsSpan(1), row);
                maxMargin = Math.Max(maxMargin, Math.Abs(margin));
                double error = Sigmoid.Evaluate(margin) - y[i];
                gradient[0] += error;
                for (int j = 0; j < d; j++) gradient[j + 1] += error * row[j];
            }
            double step = Options.LearningRateAt(t) / n;
            double gamma = gammas[t - 1];
            for (int j = 0; j <= d; j++)
            {
                double next = v[j] - step * gradient[j];
                v[j] = (1 - gamma) * next + gamma * w[j];
                w[j] = next;
            }
            if (!w.All(double.IsFinite) || !v.All(double.IsFinite))
                throw new InvalidOperationException(
                    $"Gradient descent diverged at iteration {t}: margins reached {maxMargin:G3}, far outside the sigmoid's interval " +
                    $"[−{Sigmoid.Bound}, {Sigmoid.Bound}]; use fewer iterations, a smaller learning rate ({Options.LearningRate}), " +
                    "standardized features, or an odd degree whose leading coefficient is positive (5 or 9).");
        }
        _intercept = w[0];
        _weights = w[1..];
        _maxAbsMargin = maxMargin;
        return this;
    }

    /// <summary>The margins b + x_iᵀw (log-odds of class 1).</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <returns>One margin per row.</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">A feature count other than in training, ragged rows, or a non-finite value.</exception>
    public double[] DecisionFunction(double[][] x) => LinearRegressionGd.LinearPredict(_weights, _intercept, x, nameof(x));

    /// <summary>Probabilities of class 1, σ(b + x_iᵀw) with the exact logistic function.</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <returns>One probability per row.</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">A feature count other than in training, ragged rows, or a non-finite value.</exception>
    public double[] PredictProbability(double[][] x)
    {
        var margins = DecisionFunction(x);
        for (int i = 0; i < margins.Length; i++) margins[i] = LinearAlgebra.Logistic(margins[i]);
        return margins;
    }

    /// <summary>Predicted labels: 1 where b + x_iᵀw ≥ 0 (probability ≥ ½), else 0.</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <returns>One label (0 or 1) per row.</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">A feature count other than in training, ragged rows, or a non-finite value.</exception>
    public double[] Predict(double[][] x)
    {
        var margins = DecisionFunction(x);
        for (int i = 0; i < margins.Length; i++) margins[i] = margins[i] >= 0 ? 1 : 0;
        return margins;
    }

    /// <summary>Accuracy of <see cref="Predict"/> on <paramref name="x"/> against <paramref name="y"/>.</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <param name="y">True labels.</param>
    /// <returns><see cref="Metrics.Accuracy"/>(y, Predict(x)).</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/>, a row or <paramref name="y"/> is null.</exception>
    /// <exception cref="ArgumentException">A shape mismatch or a non-finite value.</exception>
    public double Score(double[][] x, double[] y)
    {
        var predictions = Predict(x);
        Guard.Vector(y, predictions.Length, nameof(y));
        return Metrics.Accuracy(y, predictions);
    }

    /// <summary>Fits on a dataset's features and targets.</summary>
    /// <param name="data">Training data (standardized features, targets 0 or 1).</param>
    /// <returns>This model.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">As for the array overload.</exception>
    public LogisticRegressionGd Fit(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Fit(data.Features, data.Targets);
    }

    /// <summary>Accuracy on a dataset.</summary>
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
