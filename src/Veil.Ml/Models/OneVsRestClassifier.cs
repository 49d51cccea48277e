using Veil.Ml.Data;

namespace Veil.Ml.Models;

/// <summary>
/// K-class classification with K binary <see cref="LogisticRegressionGd"/> models, model k trained to tell class k
/// (label 1) from all the others (label 0).
/// </summary>
/// <remarks>
/// The K models are trained independently with the same options on the same rows, so an encrypted version can train
/// them in parallel (or packed together). The predicted class is argmax_k (b_k + xᵀw_k), which is also the argmax of
/// the probabilities σ(b_k + xᵀw_k); ties go to the smaller index. <see cref="PredictProbabilities"/> normalizes the K
/// probabilities to sum to 1, as scikit-learn's one-vs-rest does.
/// </remarks>
public sealed class OneVsRestClassifier
{
    private LogisticRegressionGd[]? _models;

    /// <summary>Creates an unfitted classifier.</summary>
    /// <param name="options">Options of each binary model; the defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public OneVsRestClassifier(LogisticRegressionGdOptions? options = null)
    {
        Options = options ?? new LogisticRegressionGdOptions();
        Options.Validate(nameof(options));
    }

    /// <summary>The options of each binary model.</summary>
    public LogisticRegressionGdOptions Options { get; }

    /// <summary>True once <see cref="Fit(double[][], double[], int?)"/> has run.</summary>
    public bool IsFitted => _models is not null;

    /// <summary>Number of classes K.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public int ClassCount => Models.Count;

    /// <summary>The K binary models, model k scoring class k against the rest.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public IReadOnlyList<LogisticRegressionGd> Models => _models ?? throw new InvalidOperationException("The classifier has not been fitted: call Fit first.");

    /// <summary>Trains the K binary models.</summary>
    /// <param name="x">Training rows (standardized features).</param>
    /// <param name="y">Class indices 0 … K − 1.</param>
    /// <param name="classCount">K, or null for 1 + the largest index in <paramref name="y"/>; at least 2.</param>
    /// <returns>This classifier.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="x"/>, a row or <paramref name="y"/> is null.</exception>
    /// <exception cref="ArgumentException">A shape mismatch, a non-finite value, a label that is not a class index below K, or K &lt; 2.</exception>
    /// <exception cref="InvalidOperationException">A binary model diverged.</exception>
    public OneVsRestClassifier Fit(double[][] x, double[] y, int? classCount = null)
    {
        Guard.Matrix(x, nameof(x));
        Guard.Vector(y, x.Length, nameof(y));
        double largest = 0;
        for (int i = 0; i < y.Length; i++)
        {
            if (!Guard.IsClassIndex(y[i]) || y[i] >= 1 << 16) Guard.Argument(nameof(y), $"y[{i}] = {y[i]} is not a class index.");
            largest = Math.Max(largest, y[i]);
        }
        int k = classCount ?? (int)largest + 1;
        if (k < 2) Guard.Argument(nameof(classCount), "At least two classes are needed.");
        if (largest >= k) Guard.Argument(nameof(y), $"Class index {largest} is not below the class count {k}.");
        var models = new LogisticRegressionGd[k];
        var binary = new double[y.Length];
        for (int c = 0; c < k; c++)
        {
            for (int i = 0; i < y.Length; i++) binary[i] = y[i] == c ? 1 : 0;
            models[c] = new LogisticRegressionGd(Options).Fit(x, binary);
        }
        _models = models;
        return this;
    }

    /// <summary>Trains on a classification dataset (K = its number of classes).</summary>
    /// <param name="data">Standardized training data with <see cref="Dataset.ClassNames"/>.</param>
    /// <returns>This classifier.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">The dataset has no class names, or fewer than two classes.</exception>
    public OneVsRestClassifier Fit(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.ClassNames is null) Guard.Argument(nameof(data), "The dataset is not a classification dataset (no class names).");
        return Fit(data.Features, data.Targets, data.ClassCount);
    }

    /// <summary>Per-class probabilities, each model's σ(b_k + xᵀw_k) divided by their sum over k.</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <returns>One array of K probabilities per row.</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">A feature count other than in training, ragged rows, or a non-finite value.</exception>
    public double[][] PredictProbabilities(double[][] x)
    {
        var perClass = Models.Select(m => m.PredictProbability(x)).ToArray();
        var result = new double[x.Length][];
        for (int i = 0; i < x.Length; i++)
        {
            var p = new double[perClass.Length];
            double sum = 0;
            for (int c = 0; c < p.Length; c++) sum += p[c] = perClass[c][i];
            for (int c = 0; c < p.Length; c++) p[c] = sum > 0 ? p[c] / sum : 1.0 / p.Length;
            result[i] = p;
        }
        return result;
    }

    /// <summary>Predicted class indices, argmax_k (b_k + xᵀw_k).</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <returns>One class index per row.</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="x"/> or a row is null.</exception>
    /// <exception cref="ArgumentException">A feature count other than in training, ragged rows, or a non-finite value.</exception>
    public double[] Predict(double[][] x)
    {
        var margins = Models.Select(m => m.DecisionFunction(x)).ToArray();
        var result = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int best = 0;
            for (int c = 1; c < margins.Length; c++) if (margins[c][i] > margins[best][i]) best = c;
            result[i] = best;
        }
        return result;
    }

    /// <summary>Accuracy of <see cref="Predict"/> on <paramref name="x"/> against <paramref name="y"/>.</summary>
    /// <param name="x">Rows with as many features as in training.</param>
    /// <param name="y">True class indices.</param>
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

    /// <summary>Accuracy on a dataset.</summary>
    /// <param name="data">Data with as many features as in training.</param>
    /// <returns><see cref="Metrics.Accuracy"/>(targets, Predict(features)).</returns>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="data"/> is null.</exception>
    /// <exception cref="ArgumentException">A feature count other than in training.</exception>
    public double Score(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Score(data.Features, data.Targets);
    }
}
