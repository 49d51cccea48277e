namespace Veil.Mpc;

/// <summary>Settings of <see cref="SecureLogisticRegression"/>.</summary>
public sealed record SecureLogisticRegressionOptions
{
    /// <summary>Full-batch gradient steps.</summary>
    public int Iterations { get; init; } = 40;

    /// <summary>Step size η on the mean gradient.</summary>
    public double LearningRate { get; init; } = 1.0;

    /// <summary>The fixed-point format of data, weights and every intermediate.</summary>
    public FixedPointFormat Format { get; init; } = FixedPointFormat.Default;

    internal void Validate()
    {
        if (Iterations is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(Iterations), Iterations, "1 … 10,000 iterations.");
        if (!(LearningRate > 0 && LearningRate < 64)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate is in (0, 64).");
    }
}

/// <summary>
/// Logistic regression trained on secret-shared rows (SecureML's setting, here for 2 … 16 parties): full-batch gradient
/// descent θ ← θ − (η/n)·X̃ᵀ(σ(X̃θ) − y) with X̃ = (1, X), every product a Beaver matrix product on shares and σ the
/// exact-sign sigmoid of <see cref="SecureMath.SigmoidAsync"/>. No party sees a row, a label, a margin or the
/// weights until the caller opens them.
/// </summary>
/// <remarks>
/// Per iteration: two matrix products (1 round each, (n − 1)·8·(r·(d + 1) + d + 1 + r) elements sent per party), the
/// sigmoid of r margins (29 rounds, about 6 KB per margin and party for two parties), and the step; for more than two
/// parties each truncation adds one round. Semi-honest; the data must lie inside the format (standardize first).
/// </remarks>
public static class SecureLogisticRegression
{
    /// <summary>
    /// Shares of θ = (b, w) after <see cref="SecureLogisticRegressionOptions.Iterations"/> steps, from shares of X
    /// (rows × features, row-major) and of the labels y ∈ {0, 1} (as fixed-point reals).
    /// </summary>
    /// <exception cref="ArgumentException">The shares do not have rows × features and rows elements.</exception>
    /// <exception cref="MpcProtocolException">A party or the dealer sent a bad frame, or one closed its channel.</exception>
    public static async Task<ulong[]> TrainAsync(MpcSession session, ulong[] x, ulong[] y, int rows, int features, SecureLogisticRegressionOptions? options = null,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        options ??= new SecureLogisticRegressionOptions();
        options.Validate();
        if (rows < 1 || features < 1 || x.Length != (long)rows * features || y.Length != rows)
            throw new ArgumentException($"Expected {rows} × {features} feature shares and {rows} labels; got {x.Length} and {y.Length}.", nameof(x));
        var format = options.Format;
        int f = format.FractionalBits, d = features + 1;
        ulong one = session.Party == 0 ? format.Encode(1.0) : 0UL;
        // X̃ (rows × d) and its transpose, the intercept column held by party 0 as the public constant 1.
        var design = new ulong[rows * d];
        var transposed = new ulong[d * rows];
        for (int r = 0; r < rows; r++)
        {
            design[r * d] = one;
            transposed[r] = one;
            for (int c = 0; c < features; c++)
            {
                design[r * d + 1 + c] = x[r * features + c];
                transposed[(1 + c) * rows + r] = x[r * features + c];
            }
        }
        ulong step = format.Encode(options.LearningRate / rows); // η/n: 0 below 2^−f, so n is bounded by η·2^f
        if (step == 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"η/n = {options.LearningRate / rows:G3} is below the format's resolution 2^−{f}; use a larger learning rate or more fractional bits.");
        var theta = new ulong[d];
        int sumBits = format.ProductBits + (int)Math.Ceiling(Math.Log2(Math.Max(rows, d))); // a sum of products
        for (int t = 0; t < options.Iterations; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var margins = await SecureArithmetic.MatrixMultiplyAsync(session, design, theta, rows, d, 1, cancellationToken).ConfigureAwait(false);
            margins = await SecureMath.RescaleAsync(session, margins, f, Math.Min(62, sumBits), cancellationToken).ConfigureAwait(false);
            var p = await SecureMath.SigmoidAsync(session, margins, format, cancellationToken).ConfigureAwait(false);
            var residual = SecureArithmetic.Subtract(p, y);
            var gradient = await SecureArithmetic.MatrixMultiplyAsync(session, transposed, residual, d, rows, 1, cancellationToken).ConfigureAwait(false);
            gradient = await SecureMath.RescaleAsync(session, gradient, f, Math.Min(62, sumBits), cancellationToken).ConfigureAwait(false);
            var delta = await SecureMath.RescaleAsync(session, SecureArithmetic.MultiplyPublic(gradient, step), f, Math.Min(62, sumBits), cancellationToken).ConfigureAwait(false);
            theta = SecureArithmetic.Subtract(theta, delta);
            progress?.Report(t + 1);
        }
        return theta;
    }
}
