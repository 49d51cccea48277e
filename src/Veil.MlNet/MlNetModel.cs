using Veil.Ml.Networks;

namespace Veil.MlNet;

/// <summary>A model Veil cannot import from ML.NET, with the transformer or part at fault and what to change.</summary>
public sealed class MlNetImportException(string transformer, string message) : Exception(message)
{
    /// <summary>The transformer's type (or "file", "model", "schema"): what the message is about.</summary>
    public string Transformer { get; } = transformer;
}

/// <summary>
/// An imported ML.NET linear model: a network of one dense layer whose outputs are the model's raw scores (the margin
/// of a binary classifier, one logit per class, or the regression value), which the client turns into a decision after
/// decryption.
/// </summary>
/// <param name="Network">The network Veil evaluates: one dense layer, any affine normalizer folded into it.</param>
/// <param name="Task"><see cref="Binary"/>, <see cref="Multiclass"/> or <see cref="Regression"/>.</param>
/// <param name="PlattSlope">For a binary model calibrated by Platt scaling, its slope a in p = 1 / (1 + exp(a·s + b)).</param>
/// <param name="PlattOffset">The offset b of that calibrator.</param>
public sealed record MlNetModel(SequentialNetwork Network, string Task, double? PlattSlope, double? PlattOffset)
{
    /// <summary>A binary classifier: one output, the margin; positive means the positive class.</summary>
    public const string Binary = "binary";
    /// <summary>A multiclass classifier: one output per class, in the order of ML.NET's Score slots.</summary>
    public const string Multiclass = "multiclass";
    /// <summary>A regression: one output, the predicted value.</summary>
    public const string Regression = "regression";

    /// <summary>The vector column the network reads (what the client encrypts), when imported from a whole model.</summary>
    public string? FeatureColumn { get; init; }

    /// <summary>Values in the feature vector the network reads.</summary>
    public int FeatureCount => Network.InputShape.Size;

    /// <summary>Whether ML.NET's Score column is the softmax of the outputs (maximum entropy models) rather than the outputs themselves.</summary>
    public bool SoftmaxScores { get; init; }

    /// <summary>For a multiclass model imported as a whole, the label of each output (the Score column's slot names), when ML.NET recorded them.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>What ML.NET's Score column holds for these decrypted outputs: the outputs, or their softmax for a maximum entropy model.</summary>
    /// <exception cref="ArgumentException">Not one value per output.</exception>
    public double[] Score(ReadOnlySpan<double> outputs)
    {
        CheckOutputs(outputs);
        if (!SoftmaxScores) return outputs.ToArray();
        double max = double.NegativeInfinity;
        foreach (double v in outputs) max = Math.Max(max, v);
        var p = new double[outputs.Length];
        double sum = 0;
        for (int i = 0; i < p.Length; i++) sum += p[i] = Math.Exp(outputs[i] - max);
        for (int i = 0; i < p.Length; i++) p[i] /= sum;
        return p;
    }

    /// <summary>
    /// The predicted class as ML.NET decides it: for a binary model 1 when the margin is above 0 (ML.NET's default
    /// threshold) and 0 otherwise; for a multiclass model the index of the largest output (the first on a tie), which
    /// <see cref="ClassNames"/> names.
    /// </summary>
    /// <exception cref="InvalidOperationException">A regression has no class.</exception>
    /// <exception cref="ArgumentException">Not one value per output.</exception>
    public int Decide(ReadOnlySpan<double> outputs)
    {
        CheckOutputs(outputs);
        if (Task == Regression) throw new InvalidOperationException("A regression predicts a value, not a class: read the output itself.");
        if (Task == Binary) return outputs[0] > 0 ? 1 : 0;
        int best = 0;
        for (int i = 1; i < outputs.Length; i++) if (outputs[i] > outputs[best]) best = i;
        return best;
    }

    /// <summary>The calibrated probability of the positive class for a binary margin, as ML.NET's Platt calibrator computes it.</summary>
    /// <exception cref="InvalidOperationException">The model has no Platt calibrator.</exception>
    public double Probability(double margin)
    {
        if (PlattSlope is not double a || PlattOffset is not double b)
            throw new InvalidOperationException("This model has no Platt calibrator: only the sign of the margin is defined.");
        return 1 / (1 + Math.Exp(a * margin + b));
    }

    private void CheckOutputs(ReadOnlySpan<double> outputs)
    {
        int n = Network.OutputShape.Size;
        if (outputs.Length != n) throw new ArgumentException($"The model has {n} outputs; got {outputs.Length} values.", nameof(outputs));
    }
}
