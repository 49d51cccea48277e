using Veil.Ml.Data;

namespace Veil.Federated;

/// <summary>
/// The models participants train on their own rows, as one flat parameter vector θ: per head h (one head for linear and
/// logistic regression, c for one-vs-rest), the d weights then the intercept. Local training is full-batch gradient
/// descent with FedProx's proximal term μ/2·‖θ − θ_global‖²; the centralized twin runs the same steps on pooled rows.
/// </summary>
public static class LocalModels
{
    /// <summary>Heads of a model.</summary>
    public static int Heads(FederatedModelKind kind, int classes) => kind == FederatedModelKind.OneVsRest ? classes : 1;

    /// <summary>Length of θ.</summary>
    public static int ParameterCount(FederatedModelKind kind, int features, int classes) => Heads(kind, classes) * (features + 1);

    /// <summary>θ after <paramref name="steps"/> gradient steps from <paramref name="start"/> on (x, y).</summary>
    public static double[] Train(FederatedModelKind kind, int classes, double[] start, double[][] x, double[] y, int steps, double learningRate, double proximalMu = 0, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length != y.Length) throw new ArgumentException("Rows and targets differ in count.", nameof(y));
        int heads = Heads(kind, classes);
        if (start.Length % heads != 0) throw new ArgumentException("θ does not split into the model's heads.", nameof(start));
        int d = start.Length / heads - 1;
        foreach (var row in x) if (row is null || row.Length != d) throw new ArgumentException($"Every row must have {d} features.", nameof(x));
        var theta = (double[])start.Clone();
        var gradient = new double[theta.Length];
        int n = x.Length;
        for (int step = 0; step < steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            Array.Clear(gradient);
            if (n > 0)
            {
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
            for (int k = 0; k < theta.Length; k++) theta[k] -= learningRate * (gradient[k] + proximalMu * (theta[k] - start[k]));
        }
        return theta;
    }

    /// <summary>Predictions of θ: the value (linear), the class 0/1 (logistic), the best head (one-vs-rest).</summary>
    public static double[] Predict(FederatedModelKind kind, int classes, double[] theta, double[][] x)
    {
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

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));
}
