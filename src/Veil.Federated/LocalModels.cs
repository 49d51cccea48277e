using Veil.Ml.Data;

namespace Veil.Federated;

/// <summary>
/// The models participants train on their own rows, as one flat parameter vector θ: per head h (one head for linear and
/// logistic regression, c for one-vs-rest), the d weights then the intercept. Local training is full-batch gradient
/// descent with FedProx's proximal term μ/2·‖θ − θ_global‖² and, optionally, SCAFFOLD's drift correction; the centralized
/// twin runs the same steps on pooled rows.
/// </summary>
public static class LocalModels
{
    /// <summary>Heads of a model.</summary>
    public static int Heads(FederatedModelKind kind, int classes) => kind == FederatedModelKind.OneVsRest ? classes : 1;

    /// <summary>Length of θ (an MLP: W1 (hidden × d), b1, W2 (classes × hidden), b2).</summary>
    public static int ParameterCount(FederatedModelKind kind, int features, int classes, int hidden = 0) =>
        kind == FederatedModelKind.Mlp ? hidden * (features + 1) + classes * (hidden + 1) : Heads(kind, classes) * (features + 1);

    /// <summary>The starting θ: zeros for linear models; for an MLP, weights N(0, 1/fan-in) from <paramref name="seed"/> (the federation's, so every party starts alike).</summary>
    public static double[] Initial(FederatedModelKind kind, int features, int classes, int hidden, int seed)
    {
        var theta = new double[ParameterCount(kind, features, classes, hidden)];
        if (kind != FederatedModelKind.Mlp) return theta;
        var rng = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        for (int j = 0; j < hidden * features; j++) theta[j] = Normal() / Math.Sqrt(features);
        int w2 = hidden * (features + 1);
        for (int k = 0; k < classes * hidden; k++) theta[w2 + k] = Normal() / Math.Sqrt(hidden);
        return theta;
    }

    // An MLP's hidden width from θ's length: P = H(d + 1) + c(H + 1).
    private static int HiddenOf(int length, int features, int classes) => (length - classes) / (features + 1 + classes);

    /// <summary>θ after <paramref name="steps"/> gradient steps from <paramref name="start"/> on (x, y).</summary>
    /// <remarks>SCAFFOLD's drift correction c − c_k, when given, is added to every step's gradient. For an MLP a step is one mini-batch of 32 rows (passes over the rows shuffled from <paramref name="seed"/>) of gradient descent on softmax cross-entropy, the hidden activation the square (the HE-friendly network of Veil.Ml).</remarks>
    public static double[] Train(FederatedModelKind kind, int classes, double[] start, double[][] x, double[] y, int steps, double learningRate, double proximalMu = 0, CancellationToken cancellation = default, int seed = 0, double[]? correction = null)
    {
        Check(kind, classes, start, x, y);
        if (correction is not null && correction.Length != start.Length) throw new ArgumentException("The correction must have θ's length.", nameof(correction));
        if (kind == FederatedModelKind.Mlp) return TrainMlp(classes, start, x, y, steps, learningRate, proximalMu, seed, correction, cancellation);
        var theta = (double[])start.Clone();
        var gradient = new double[theta.Length];
        for (int step = 0; step < steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            LinearGradient(kind, classes, theta, x, y, gradient);
            for (int k = 0; k < theta.Length; k++) theta[k] -= learningRate * (gradient[k] + (correction?[k] ?? 0) + proximalMu * (theta[k] - start[k]));
        }
        return theta;
    }

    /// <summary>The mean gradient of the training loss at θ over all of (x, y) (zeros when there are no rows).</summary>
    public static double[] Gradient(FederatedModelKind kind, int classes, double[] theta, double[][] x, double[] y)
    {
        Check(kind, classes, theta, x, y);
        var gradient = new double[theta.Length];
        if (kind != FederatedModelKind.Mlp) { LinearGradient(kind, classes, theta, x, y, gradient); return gradient; }
        if (x.Length == 0) return gradient;
        var rows = Enumerable.Range(0, x.Length).ToArray();
        MlpGradient(classes, theta, x, y, rows, gradient, new MlpScratch(MlpHidden(theta, x[0].Length, classes), classes));
        return gradient;
    }

    private static void Check(FederatedModelKind kind, int classes, double[] theta, double[][] x, double[] y)
    {
        ArgumentNullException.ThrowIfNull(theta);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length != y.Length) throw new ArgumentException("Rows and targets differ in count.", nameof(y));
        if (kind == FederatedModelKind.Mlp) return;
        int heads = Heads(kind, classes);
        if (theta.Length % heads != 0) throw new ArgumentException("θ does not split into the model's heads.", nameof(theta));
        int d = theta.Length / heads - 1;
        foreach (var row in x) if (row is null || row.Length != d) throw new ArgumentException($"Every row must have {d} features.", nameof(x));
    }

    // Mean gradient of squared error (linear) or log loss (logistic, each one-vs-rest head) into gradient.
    private static void LinearGradient(FederatedModelKind kind, int classes, double[] theta, double[][] x, double[] y, double[] gradient)
    {
        Array.Clear(gradient);
        int heads = Heads(kind, classes), d = theta.Length / heads - 1, n = x.Length;
        if (n == 0) return;
        for (int i = 0; i < n; i++)
        {
            var row = x[i];
            for (int h = 0; h < heads; h++)
            {
                int o = h * (d + 1);
                double z = theta[o + d];
                for (int j = 0; j < d; j++) z += theta[o + j] * row[j];
                double target = kind == FederatedModelKind.OneVsRest ? (y[i] == h ? 1 : 0) : y[i];
                double residual = (kind == FederatedModelKind.Linear ? z : Sigmoid(z)) - target;
                for (int j = 0; j < d; j++) gradient[o + j] += residual * row[j];
                gradient[o + d] += residual;
            }
        }
        for (int k = 0; k < gradient.Length; k++) gradient[k] /= n;
    }

    /// <summary>Predictions of θ: the value (linear), the class 0/1 (logistic), the best head (one-vs-rest), the largest logit (MLP).</summary>
    public static double[] Predict(FederatedModelKind kind, int classes, double[] theta, double[][] x)
    {
        if (kind == FederatedModelKind.Mlp)
        {
            if (x.Length == 0) return [];
            var net = ToNetwork(theta, x[0].Length, classes);
            return net.Predict(x);
        }
        int heads = Heads(kind, classes);
        int d = theta.Length / heads - 1;
        var result = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double best = double.NegativeInfinity; int arg = 0;
            for (int h = 0; h < heads; h++)
            {
                int o = h * (d + 1);
                double z = theta[o + d];
                for (int j = 0; j < d; j++) z += theta[o + j] * x[i][j];
                if (z > best) { best = z; arg = h; }
            }
            result[i] = kind switch
            {
                FederatedModelKind.Linear => best,
                FederatedModelKind.Logistic => best >= 0 ? 1 : 0,
                _ => arg,
            };
        }
        return result;
    }

    /// <summary>Accuracy (classifiers) or R² (linear regression) of θ on (x, y).</summary>
    public static double Score(FederatedModelKind kind, int classes, double[] theta, double[][] x, double[] y)
    {
        var p = Predict(kind, classes, theta, x);
        return kind == FederatedModelKind.Linear ? Metrics.R2(y, p) : Metrics.Accuracy(y, p);
    }

    /// <summary>Scales <paramref name="update"/> in place to L2 norm at most <paramref name="bound"/> (0: no bound); returns the norm before.</summary>
    public static double Clip(Span<double> update, double bound)
    {
        double sq = 0;
        foreach (double v in update) sq += v * v;
        double norm = Math.Sqrt(sq);
        if (bound > 0 && norm > bound)
        {
            double f = bound / norm;
            for (int i = 0; i < update.Length; i++) update[i] *= f;
        }
        return norm;
    }

    /// <summary>An MLP's θ as Veil.Ml's square network (dense, square, dense), which runs on ciphertexts too.</summary>
    public static Veil.Ml.Models.SquareMlp ToNetwork(double[] theta, int features, int classes)
    {
        int hidden = HiddenOf(theta.Length, features, classes);
        if (hidden < 1 || ParameterCount(FederatedModelKind.Mlp, features, classes, hidden) != theta.Length) throw new ArgumentException("θ is not an MLP of these sizes.", nameof(theta));
        int o = 0;
        var w1 = new double[hidden][]; for (int j = 0; j < hidden; j++) { w1[j] = theta[o..(o + features)]; o += features; }
        var b1 = theta[o..(o + hidden)]; o += hidden;
        var w2 = new double[classes][]; for (int k = 0; k < classes; k++) { w2[k] = theta[o..(o + hidden)]; o += hidden; }
        var b2 = theta[o..(o + classes)];
        return new Veil.Ml.Models.SquareMlp(w1, b1, w2, b2);
    }

    private static int MlpHidden(double[] theta, int features, int classes)
    {
        int hidden = HiddenOf(theta.Length, features, classes);
        if (hidden < 1 || ParameterCount(FederatedModelKind.Mlp, features, classes, hidden) != theta.Length) throw new ArgumentException("θ is not an MLP of these sizes.", nameof(theta));
        return hidden;
    }

    private sealed class MlpScratch(int hidden, int classes)
    {
        public readonly double[] Z1 = new double[hidden], H = new double[hidden], O = new double[classes], D2 = new double[classes], D1 = new double[hidden];
    }

    private static double[] TrainMlp(int classes, double[] start, double[][] x, double[] y, int steps, double rate, double mu, int seed, double[]? correction, CancellationToken cancellation)
    {
        var theta = (double[])start.Clone();
        if (x.Length == 0) return theta;
        var scratch = new MlpScratch(MlpHidden(theta, x[0].Length, classes), classes);
        var order = Enumerable.Range(0, x.Length).ToArray();
        var rng = new Random(seed);
        var g = new double[theta.Length];
        int startRow = order.Length;
        for (int step = 0; step < steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            if (startRow >= order.Length) { rng.Shuffle(order); startRow = 0; }
            int count = Math.Min(32, order.Length - startRow);
            MlpGradient(classes, theta, x, y, order.AsSpan(startRow, count), g, scratch);
            for (int p = 0; p < theta.Length; p++) theta[p] -= rate * (g[p] + (correction?[p] ?? 0) + mu * (theta[p] - start[p]));
            startRow += count;
        }
        return theta;
    }

    // Mean gradient of softmax cross-entropy over the rows named, by back-propagation through dense, square, dense.
    private static void MlpGradient(int classes, double[] theta, double[][] x, double[] y, ReadOnlySpan<int> rows, double[] g, MlpScratch s)
    {
        int d = x[rows[0]].Length, hidden = s.H.Length;
        int b1 = hidden * d, w2 = b1 + hidden, b2 = w2 + classes * hidden;
        Array.Clear(g);
        foreach (int r in rows)
        {
            var xi = x[r];
            if (xi is null || xi.Length != d) throw new ArgumentException($"Every row must have {d} features.", nameof(x));
            int label = (int)y[r];
            if (label < 0 || label >= classes) throw new ArgumentException($"Labels must be 0 … {classes - 1}.", nameof(y));
            for (int j = 0; j < hidden; j++)
            {
                double z = theta[b1 + j];
                for (int i = 0; i < d; i++) z += theta[j * d + i] * xi[i];
                s.Z1[j] = z; s.H[j] = z * z;
            }
            double max = double.MinValue;
            for (int k = 0; k < classes; k++)
            {
                double z = theta[b2 + k];
                for (int j = 0; j < hidden; j++) z += theta[w2 + k * hidden + j] * s.H[j];
                s.O[k] = z; max = Math.Max(max, z);
            }
            double sum = 0;
            for (int k = 0; k < classes; k++) { s.O[k] = Math.Exp(s.O[k] - max); sum += s.O[k]; }
            for (int k = 0; k < classes; k++) s.D2[k] = s.O[k] / sum - (k == label ? 1 : 0);
            for (int j = 0; j < hidden; j++)
            {
                double back = 0;
                for (int k = 0; k < classes; k++) back += s.D2[k] * theta[w2 + k * hidden + j];
                s.D1[j] = back * 2 * s.Z1[j];
            }
            for (int k = 0; k < classes; k++) { g[b2 + k] += s.D2[k]; for (int j = 0; j < hidden; j++) g[w2 + k * hidden + j] += s.D2[k] * s.H[j]; }
            for (int j = 0; j < hidden; j++) { g[b1 + j] += s.D1[j]; for (int i = 0; i < d; i++) g[j * d + i] += s.D1[j] * xi[i]; }
        }
        for (int p = 0; p < g.Length; p++) g[p] /= rows.Length;
    }

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));
}
