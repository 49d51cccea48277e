using System.Buffers.Binary;

namespace Veil.Ml.Models;

/// <summary>
/// A two-layer network with a square activation, CryptoNets-style: logits = W2·(W1·x + b1)² + b2. The square is a
/// polynomial, so the same network runs on CKKS ciphertexts at depth 3 (linear, square, linear).
/// </summary>
/// <remarks>
/// Training: mini-batch stochastic gradient descent on the softmax cross-entropy, weights initialised from a seeded
/// normal distribution scaled by 1/√fan-in. Weight file (`.veilnn`, little-endian): magic "VNN1", input, hidden,
/// output sizes (int32), then W1 (hidden × input), b1, W2 (output × hidden), b2 as float64; every size is checked
/// against limits and the byte count before anything is allocated, and every value must be finite.
/// </remarks>
public sealed class SquareMlp
{
    /// <summary>Largest layer size accepted when loading.</summary>
    public const int MaxLayerSize = 4096;

    /// <summary>First-layer weights, [hidden][input].</summary>
    public double[][] W1 { get; }
    /// <summary>First-layer biases.</summary>
    public double[] B1 { get; }
    /// <summary>Second-layer weights, [output][hidden].</summary>
    public double[][] W2 { get; }
    /// <summary>Second-layer biases.</summary>
    public double[] B2 { get; }
    /// <summary>Input size.</summary>
    public int Inputs => W1[0].Length;
    /// <summary>Hidden size.</summary>
    public int Hidden => W1.Length;
    /// <summary>Number of classes.</summary>
    public int Outputs => W2.Length;

    /// <summary>A network from its parameters.</summary>
    /// <exception cref="ArgumentException">Shapes do not agree or a value is not finite.</exception>
    public SquareMlp(double[][] w1, double[] b1, double[][] w2, double[] b2)
    {
        ArgumentNullException.ThrowIfNull(w1); ArgumentNullException.ThrowIfNull(b1);
        ArgumentNullException.ThrowIfNull(w2); ArgumentNullException.ThrowIfNull(b2);
        if (w1.Length == 0 || w1[0].Length == 0 || w1.Any(r => r.Length != w1[0].Length) || b1.Length != w1.Length)
            throw new ArgumentException("W1 must be hidden × input with one bias per hidden unit.", nameof(w1));
        if (w2.Length == 0 || w2.Any(r => r.Length != w1.Length) || b2.Length != w2.Length)
            throw new ArgumentException("W2 must be output × hidden with one bias per output.", nameof(w2));
        if (w1.Concat(w2).SelectMany(r => r).Concat(b1).Concat(b2).Any(v => !double.IsFinite(v)))
            throw new ArgumentException("Weights must be finite.", nameof(w1));
        W1 = w1; B1 = b1; W2 = w2; B2 = b2;
    }

    /// <summary>Hidden activations (W1·x + b1)².</summary>
    public double[] HiddenLayer(ReadOnlySpan<double> x)
    {
        var h = Affine(W1, B1, x);
        for (int j = 0; j < h.Length; j++) h[j] *= h[j];
        return h;
    }

    /// <summary>The logits.</summary>
    public double[] Forward(ReadOnlySpan<double> x) => Affine(W2, B2, HiddenLayer(x));

    /// <summary>W·x + b, each output summed from its bias in input order (the dense layers of the plaintext networks).</summary>
    internal static double[] Affine(double[][] w, double[] b, ReadOnlySpan<double> x)
    {
        var z = new double[w.Length];
        for (int j = 0; j < z.Length; j++)
        {
            double sum = b[j];
            var row = w[j];
            for (int i = 0; i < row.Length; i++) sum += row[i] * x[i];
            z[j] = sum;
        }
        return z;
    }

    /// <summary>The predicted class of each row.</summary>
    public double[] Predict(double[][] x) => x.Select(r => (double)ArgMax(Forward(r))).ToArray();

    /// <summary>Accuracy on labelled rows.</summary>
    public double Score(double[][] x, double[] y) => Data.Metrics.Accuracy(y, Predict(x));

    /// <summary>Index of the largest value.</summary>
    public static int ArgMax(ReadOnlySpan<double> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /// <summary>Trains by mini-batch SGD on softmax cross-entropy (deterministic for a seed).</summary>
    public static SquareMlp Train(double[][] x, double[] y, int hidden = 32, int epochs = 30, double learningRate = 0.05, int batch = 32, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(x); ArgumentNullException.ThrowIfNull(y);
        if (x.Length == 0 || x.Length != y.Length) throw new ArgumentException("Rows and labels must be non-empty and of equal length.", nameof(y));
        int inputs = x[0].Length, outputs = (int)y.Max() + 1;
        var rng = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var w1 = Enumerable.Range(0, hidden).Select(_ => Enumerable.Range(0, inputs).Select(_ => Normal() / Math.Sqrt(inputs)).ToArray()).ToArray();
        var w2 = Enumerable.Range(0, outputs).Select(_ => Enumerable.Range(0, hidden).Select(_ => Normal() / Math.Sqrt(hidden)).ToArray()).ToArray();
        var b1 = new double[hidden];
        var b2 = new double[outputs];
        var order = Enumerable.Range(0, x.Length).ToArray();
        var z1 = new double[hidden]; var h = new double[hidden]; var o = new double[outputs]; var d2 = new double[outputs]; var d1 = new double[hidden];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            rng.Shuffle(order);
            double rate = learningRate / (1 + 0.05 * epoch);
            for (int start = 0; start < order.Length; start += batch)
            {
                var gw1 = new double[hidden, inputs]; var gb1 = new double[hidden];
                var gw2 = new double[outputs, hidden]; var gb2 = new double[outputs];
                int count = Math.Min(batch, order.Length - start);
                for (int t = 0; t < count; t++)
                {
                    var xi = x[order[start + t]];
                    int label = (int)y[order[start + t]];
                    for (int j = 0; j < hidden; j++)
                    {
                        double z = b1[j];
                        for (int i = 0; i < inputs; i++) z += w1[j][i] * xi[i];
                        z1[j] = z; h[j] = z * z;
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
                        d1[j] = g * 2 * z1[j];
                    }
                    for (int k = 0; k < outputs; k++) { gb2[k] += d2[k]; for (int j = 0; j < hidden; j++) gw2[k, j] += d2[k] * h[j]; }
                    for (int j = 0; j < hidden; j++) { gb1[j] += d1[j]; for (int i = 0; i < inputs; i++) gw1[j, i] += d1[j] * xi[i]; }
                }
                double s = rate / count;
                for (int k = 0; k < outputs; k++) { b2[k] -= s * gb2[k]; for (int j = 0; j < hidden; j++) w2[k][j] -= s * gw2[k, j]; }
                for (int j = 0; j < hidden; j++) { b1[j] -= s * gb1[j]; for (int i = 0; i < inputs; i++) w1[j][i] -= s * gw1[j, i]; }
            }
        }
        return new SquareMlp(w1, b1, w2, b2);
    }

    /// <summary>The same network as layers: dense, square, dense.</summary>
    public Networks.SequentialNetwork ToNetwork() => new([
        new Networks.Dense(W1, B1), new Networks.SquareActivation(Networks.TensorShape.Vector(Hidden)), new Networks.Dense(W2, B2)]);

    /// <summary>Writes the weight file.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new byte[16];
        "VNN1"u8.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), Inputs);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Hidden);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), Outputs);
        stream.Write(header);
        var values = W1.SelectMany(r => r).Concat(B1).Concat(W2.SelectMany(r => r)).Concat(B2).ToArray();
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), values[i]);
        stream.Write(bytes);
    }

    /// <summary>Reads a weight file written by <see cref="Save"/>.</summary>
    /// <exception cref="FormatException">Bad magic, sizes beyond <see cref="MaxLayerSize"/>, a wrong length, or a non-finite value; the message names the field.</exception>
    public static SquareMlp Load(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 16) throw new FormatException("Weight file: fewer than 16 bytes (header).");
        if (!bytes[..4].SequenceEqual("VNN1"u8)) throw new FormatException("Weight file: bad magic (expected VNN1).");
        int inputs = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]), hidden = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        int outputs = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
        foreach (var (name, v) in new[] { ("input size", inputs), ("hidden size", hidden), ("output size", outputs) })
            if (v < 1 || v > MaxLayerSize) throw new FormatException($"Weight file: {name} {v} is outside [1, {MaxLayerSize}].");
        long count = (long)hidden * inputs + hidden + (long)outputs * hidden + outputs;
        if (bytes.Length != 16 + count * 8) throw new FormatException($"Weight file: expected {16 + count * 8} bytes for {inputs}-{hidden}-{outputs}; got {bytes.Length}.");
        int o = 16;
        double Next(ReadOnlySpan<byte> b, ref int offset, string field)
        {
            double v = BinaryPrimitives.ReadDoubleLittleEndian(b[offset..]);
            offset += 8;
            if (!double.IsFinite(v)) throw new FormatException($"Weight file: a non-finite value in {field}.");
            return v;
        }
        var w1 = new double[hidden][];
        for (int j = 0; j < hidden; j++) { w1[j] = new double[inputs]; for (int i = 0; i < inputs; i++) w1[j][i] = Next(bytes, ref o, "W1"); }
        var b1 = new double[hidden];
        for (int j = 0; j < hidden; j++) b1[j] = Next(bytes, ref o, "b1");
        var w2 = new double[outputs][];
        for (int k = 0; k < outputs; k++) { w2[k] = new double[hidden]; for (int j = 0; j < hidden; j++) w2[k][j] = Next(bytes, ref o, "W2"); }
        var b2 = new double[outputs];
        for (int k = 0; k < outputs; k++) b2[k] = Next(bytes, ref o, "b2");
        return new SquareMlp(w1, b1, w2, b2);
    }
}
