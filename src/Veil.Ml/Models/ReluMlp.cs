namespace Veil.Ml.Models;

/// <summary>
/// A dense network with one ReLU hidden layer (inputs → hidden → ReLU → outputs, argmax), trained in plaintext by
/// mini-batch SGD on softmax cross-entropy: the model of the hybrid HE + MPC inference, where the ReLU is exact.
/// </summary>
public sealed class ReluMlp
{
    /// <summary>The largest layer accepted.</summary>
    public const int MaxLayerSize = 4096;

    /// <summary>Hidden × inputs.</summary>
    public double[][] W1 { get; }
    /// <summary>Hidden biases.</summary>
    public double[] B1 { get; }
    /// <summary>Outputs × hidden.</summary>
    public double[][] W2 { get; }
    /// <summary>Output biases.</summary>
    public double[] B2 { get; }
    /// <summary>Inputs.</summary>
    public int Inputs => W1[0].Length;
    /// <summary>Hidden units.</summary>
    public int Hidden => W1.Length;
    /// <summary>Outputs (classes).</summary>
    public int Outputs => W2.Length;

    /// <summary>A network from its weights (copied).</summary>
    /// <exception cref="ArgumentException">Shapes that do not chain, a layer past <see cref="MaxLayerSize"/>, or a non-finite weight.</exception>
    public ReluMlp(double[][] w1, double[] b1, double[][] w2, double[] b2)
    {
        ArgumentNullException.ThrowIfNull(w1); ArgumentNullException.ThrowIfNull(b1); ArgumentNullException.ThrowIfNull(w2); ArgumentNullException.ThrowIfNull(b2);
        if (w1.Length == 0 || w1.Length > MaxLayerSize || b1.Length != w1.Length || w2.Length == 0 || w2.Length > MaxLayerSize || b2.Length != w2.Length)
            throw new ArgumentException("The layers' shapes do not chain.", nameof(w1));
        int inputs = w1[0]?.Length ?? 0;
        if (inputs == 0 || inputs > MaxLayerSize || w1.Any(r => r is null || r.Length != inputs) || w2.Any(r => r is null || r.Length != w1.Length))
            throw new ArgumentException("Every row of a layer has the width of the layer below.", nameof(w1));
        if (w1.Concat(w2).SelectMany(r => r).Concat(b1).Concat(b2).Any(v => !double.IsFinite(v))) throw new ArgumentException("A weight is not finite.", nameof(w1));
        W1 = [.. w1.Select(r => (double[])r.Clone())];
        B1 = (double[])b1.Clone();
        W2 = [.. w2.Select(r => (double[])r.Clone())];
        B2 = (double[])b2.Clone();
    }

    /// <summary>max(0, W1·x + b1).</summary>
    public double[] HiddenLayer(ReadOnlySpan<double> x)
    {
        var h = SquareMlp.Affine(W1, B1, x);
        for (int j = 0; j < h.Length; j++) h[j] = Math.Max(0, h[j]);
        return h;
    }

    /// <summary>The logits W2·h + b2.</summary>
    public double[] Forward(ReadOnlySpan<double> x) => SquareMlp.Affine(W2, B2, HiddenLayer(x));

    /// <summary>The class of each row (the first largest logit).</summary>
    public double[] Predict(double[][] x) => [.. x.Select(r => (double)SquareMlp.ArgMax(Forward(r)))];

    /// <summary>Accuracy on labelled rows.</summary>
    public double Score(double[][] x, double[] y) => Data.Metrics.Accuracy(y, Predict(x));

    /// <summary>Trains by mini-batch SGD with momentum on softmax cross-entropy, He initialization (deterministic for a seed).</summary>
    /// <exception cref="ArgumentException">No rows, rows and labels of different lengths, or ragged rows.</exception>
    public static ReluMlp Train(double[][] x, double[] y, int hidden = 32, int epochs = 20, double learningRate = 0.05, int batch = 32, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(x); ArgumentNullException.ThrowIfNull(y);
        if (x.Length == 0 || x.Length != y.Length) throw new ArgumentException("Rows and labels must be non-empty and of equal length.", nameof(y));
        int inputs = x[0].Length, outputs = (int)y.Max() + 1;
        if (x.Any(r => r.Length != inputs)) throw new ArgumentException("Ragged rows.", nameof(x));
        var rng = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var w1 = Enumerable.Range(0, hidden).Select(_ => Enumerable.Range(0, inputs).Select(_ => Normal() * Math.Sqrt(2.0 / inputs)).ToArray()).ToArray();
        var w2 = Enumerable.Range(0, outputs).Select(_ => Enumerable.Range(0, hidden).Select(_ => Normal() * Math.Sqrt(2.0 / hidden)).ToArray()).ToArray();
        var b1 = new double[hidden];
        var b2 = new double[outputs];
        var v1 = new double[hidden, inputs]; var vb1 = new double[hidden]; var v2 = new double[outputs, hidden]; var vb2 = new double[outputs];
        var order = Enumerable.Range(0, x.Length).ToArray();
        var h = new double[hidden]; var o = new double[outputs]; var d2 = new double[outputs]; var d1 = new double[hidden];
        var gw1 = new double[hidden, inputs]; var gb1 = new double[hidden]; var gw2 = new double[outputs, hidden]; var gb2 = new double[outputs];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            rng.Shuffle(order);
            double rate = learningRate / (1 + 0.1 * epoch);
            for (int start = 0; start < order.Length; start += batch)
            {
                Array.Clear(gw1); Array.Clear(gb1); Array.Clear(gw2); Array.Clear(gb2);
                int count = Math.Min(batch, order.Length - start);
                for (int t = 0; t < count; t++)
                {
                    var xi = x[order[start + t]];
                    int label = (int)y[order[start + t]];
                    for (int j = 0; j < hidden; j++)
                    {
                        double z = b1[j];
                        var row = w1[j];
                        for (int i = 0; i < inputs; i++) z += row[i] * xi[i];
                        h[j] = Math.Max(0, z);
                    }
                    double max = double.MinValue;
                    for (int k = 0; k < outputs; k++)
                    {
                        double z = b2[k];
                        for (int j = 0; j < hidden; j++) z += w2[k][j] * h[j];
                        o[k] = z; max = Math.Max(max, z);
                    }
                    double sum = 0;
                    for (int k = 0; k < outputs; k++) { o[k] = Math.Exp(o[k] - max); sum += o[k]; }
                    for (int k = 0; k < outputs; k++) d2[k] = o[k] / sum - (k == label ? 1 : 0);
                    for (int j = 0; j < hidden; j++)
                    {
                        double g = 0;
                        for (int k = 0; k < outputs; k++) g += d2[k] * w2[k][j];
                        d1[j] = h[j] > 0 ? g : 0;
                    }
                    for (int k = 0; k < outputs; k++) { gb2[k] += d2[k]; for (int j = 0; j < hidden; j++) gw2[k, j] += d2[k] * h[j]; }
                    for (int j = 0; j < hidden; j++)
                    {
                        if (d1[j] == 0) continue;
                        gb1[j] += d1[j];
                        for (int i = 0; i < inputs; i++) gw1[j, i] += d1[j] * xi[i];
                    }
                }
                double s = rate / count;
                for (int k = 0; k < outputs; k++)
                {
                    vb2[k] = 0.9 * vb2[k] - s * gb2[k]; b2[k] += vb2[k];
                    for (int j = 0; j < hidden; j++) { v2[k, j] = 0.9 * v2[k, j] - s * gw2[k, j]; w2[k][j] += v2[k, j]; }
                }
                for (int j = 0; j < hidden; j++)
                {
                    vb1[j] = 0.9 * vb1[j] - s * gb1[j]; b1[j] += vb1[j];
                    for (int i = 0; i < inputs; i++) { v1[j, i] = 0.9 * v1[j, i] - s * gw1[j, i]; w1[j][i] += v1[j, i]; }
                }
            }
        }
        return new ReluMlp(w1, b1, w2, b2);
    }
}
