using Veil.Ml.Data;
using Veil.Mpc;

namespace Veil.Ml.Secure;

/// <summary>A logistic model trained by several parties on their pooled rows, and what the training cost one party.</summary>
/// <param name="Intercept">b.</param>
/// <param name="Weights">w, on standardized features.</param>
/// <param name="Standardizer">The pooled standardization the weights expect (means and population deviations of all rows).</param>
/// <param name="Rows">Rows of every party together.</param>
/// <param name="Rounds">Rounds of communication.</param>
/// <param name="BytesSent">Bytes this party sent to the other parties (not to the dealer).</param>
public sealed record SharedLogisticModel(double Intercept, double[] Weights, Standardizer Standardizer, int Rows, uint Rounds, long BytesSent)
{
    /// <summary>Class 1 where b + w·z ≥ 0 for the standardized (and clipped) row z.</summary>
    public double[] Predict(double[][] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var z = SecretSharedLogisticRegression.Prepare(Standardizer, rows);
        return [.. z.Select(r => Intercept + r.Select((v, j) => v * Weights[j]).Sum() >= 0 ? 1.0 : 0.0)];
    }
}

/// <summary>
/// Logistic regression across parties that each hold some rows (horizontally partitioned data: hospitals with their
/// own patients), none of which leaves its holder in the clear: the parties open only their row counts, the pooled
/// sums of x and then of (x − μ)² (for a common standardization), secret-share their standardized rows and labels, train with
/// <see cref="SecureLogisticRegression"/> and open the model. <see cref="TrainPlaintext"/> is the twin on the pooled
/// rows in the clear: the same standardization, steps and step size, with the exact sigmoid in double precision.
/// </summary>
/// <remarks>Standardized values are clipped to ±<see cref="ClipBound"/> so that margins stay inside the fixed-point format.</remarks>
public static class SecretSharedLogisticRegression
{
    /// <summary>Standardized features are clipped to ±8 deviations.</summary>
    public const double ClipBound = 8;

    /// <summary>One party's side: its own rows and 0/1 labels in, the jointly trained model out (the same at every party).</summary>
    /// <exception cref="ArgumentException">Rows are ragged, not finite, or labels are not 0 or 1.</exception>
    /// <exception cref="MpcProtocolException">Another party or the dealer sent a bad frame or disconnected.</exception>
    public static async Task<SharedLogisticModel> TrainPartyAsync(MpcSession session, double[][] rows, double[] labels, int features,
        SecureLogisticRegressionOptions? options = null, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        Check(rows, labels, features);
        options ??= new SecureLogisticRegressionOptions();
        var format = options.Format;
        var lengths = await PooledStandardization.CountsAsync(session, rows.Length, features + 1, cancellationToken).ConfigureAwait(false);
        int total = lengths.Sum();
        if (total == 0) throw new MpcProtocolException("count", "No party has a row.");
        var standardizer = await PooledStandardization.FitAsync(session, rows, features, total, cancellationToken).ConfigureAwait(false);
        // Each party's standardized rows and labels, shared; the pooled matrix is their concatenation in party order.
        var own = new ulong[rows.Length * (features + 1)];
        var z = Prepare(standardizer, rows);
        for (int r = 0; r < rows.Length; r++)
        {
            for (int j = 0; j < features; j++) own[r * (features + 1) + j] = format.Encode(z[r][j]);
            own[r * (features + 1) + features] = format.Encode(labels[r]);
        }
        var blocks = await session.ShareInputsAsync(own, [.. lengths.Select(l => l * (features + 1))], cancellationToken).ConfigureAwait(false);
        Array.Clear(own);
        var x = new ulong[total * features];
        var y = new ulong[total];
        int at = 0;
        foreach (var block in blocks)
        {
            for (int r = 0; r < block.Length / (features + 1); r++, at++)
            {
                Array.Copy(block, r * (features + 1), x, at * features, features);
                y[at] = block[r * (features + 1) + features];
            }
            Array.Clear(block);
        }
        var theta = await SecureLogisticRegression.TrainAsync(session, x, y, total, features, options, progress, cancellationToken).ConfigureAwait(false);
        var model = format.Decode(await session.OpenAsync(theta, cancellationToken).ConfigureAwait(false));
        return new SharedLogisticModel(model[0], model[1..], standardizer, total, session.Rounds, session.BytesSent);
    }

    /// <summary>The twin: the same training on the pooled rows in the clear (exact sigmoid, doubles).</summary>
    public static SharedLogisticModel TrainPlaintext(double[][] rows, double[] labels, SecureLogisticRegressionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Length == 0) throw new ArgumentException("No rows.", nameof(rows));
        int features = rows[0]?.Length ?? 0;
        Check(rows, labels, features);
        options ??= new SecureLogisticRegressionOptions();
        var standardizer = new Standardizer().Fit(rows);
        var z = Prepare(standardizer, rows);
        var theta = new double[features + 1];
        int n = rows.Length;
        for (int t = 0; t < options.Iterations; t++)
        {
            var gradient = new double[features + 1];
            for (int r = 0; r < n; r++)
            {
                double margin = theta[0];
                for (int j = 0; j < features; j++) margin += theta[1 + j] * z[r][j];
                double residual = 1 / (1 + Math.Exp(-margin)) - labels[r];
                gradient[0] += residual;
                for (int j = 0; j < features; j++) gradient[1 + j] += residual * z[r][j];
            }
            for (int j = 0; j <= features; j++) theta[j] -= options.LearningRate / n * gradient[j];
        }
        return new SharedLogisticModel(theta[0], theta[1..], standardizer, n, 0, 0);
    }

    /// <summary>Rows standardized and clipped to ±<see cref="ClipBound"/>.</summary>
    internal static double[][] Prepare(Standardizer standardizer, double[][] rows) => PooledStandardization.Prepare(standardizer, rows, ClipBound);

    private static void Check(double[][] rows, double[] labels, int features)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(labels);
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "At least one feature.");
        if (rows.Length != labels.Length) throw new ArgumentException($"{rows.Length} rows but {labels.Length} labels.", nameof(labels));
        for (int r = 0; r < rows.Length; r++)
        {
            if (rows[r] is null || rows[r].Length != features) throw new ArgumentException($"Row {r} does not have {features} features.", nameof(rows));
            if (rows[r].Any(v => !double.IsFinite(v) || Math.Abs(v) >= 1 << 16)) throw new ArgumentException($"Row {r} has a value that is not finite or not below 2^16 in magnitude.", nameof(rows));
            if (labels[r] is not (0 or 1)) throw new ArgumentException($"Label {r} is {labels[r]}; labels are 0 or 1.", nameof(labels));
        }
    }
}
