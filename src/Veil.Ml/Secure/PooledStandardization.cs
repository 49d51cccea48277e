using Veil.Ml.Data;
using Veil.Mpc;

namespace Veil.Ml.Secure;

/// <summary>
/// A standardization fitted on the rows of every party without any party's rows or statistics leaving it: the pooled
/// Σx and then the pooled Σ(x − μ)² (two passes, as <see cref="Standardizer.Fit(double[][])"/>: no cancellation),
/// each party's sums secret-shared first so that only the totals are opened.
/// </summary>
internal static class PooledStandardization
{
    // Sums are opened at this scale in 64 bits; each party's below 2^35, so 16 of them cannot wrap.
    private const int SumFractionalBits = 24, MaxSumBits = 35;
    private static readonly double MaxSum = Math.ScaleB(1, MaxSumBits);

    /// <summary>Means and population deviations of the pooled rows (<paramref name="total"/> of them); 4 rounds.</summary>
    public static async Task<Standardizer> FitAsync(MpcSession session, double[][] rows, int features, int total, CancellationToken cancellationToken)
    {
        var sums = new double[features];
        foreach (var row in rows)
            for (int j = 0; j < features; j++) sums[j] += row[j];
        var means = (await PooledSumsAsync(session, sums, cancellationToken).ConfigureAwait(false)).Select(v => v / total).ToArray();
        var squares = new double[features];
        foreach (var row in rows)
            for (int j = 0; j < features; j++) squares[j] += (row[j] - means[j]) * (row[j] - means[j]);
        var scales = (await PooledSumsAsync(session, squares, cancellationToken).ConfigureAwait(false))
            .Select(v => v / total > 0 ? Math.Sqrt(v / total) : 1).ToArray();
        return Standardizer.FromStatistics(means, scales);
    }

    /// <summary>Rows standardized and clipped to ±<paramref name="clip"/>, so that they fit the fixed-point format.</summary>
    public static double[][] Prepare(Standardizer standardizer, double[][] rows, double clip) =>
        rows.Length == 0 ? [] : [.. standardizer.Transform(rows).Select(r => r.Select(v => Math.Clamp(v, -clip, clip)).ToArray())];

    /// <summary>Each party's row count, opened (counts are public to the group).</summary>
    /// <exception cref="MpcProtocolException">A party announced more rows than one frame carries ("count").</exception>
    public static async Task<int[]> CountsAsync(MpcSession session, int own, int rowWidth, CancellationToken cancellationToken)
    {
        var counts = new ulong[session.Parties];
        counts[session.Party] = (ulong)own;
        var opened = await session.OpenAsync(counts, cancellationToken).ConfigureAwait(false);
        // Each party's block travels in one frame, so a count past what a frame holds is refused before anything is allocated for it.
        ulong limit = (ulong)(MpcFrame.DefaultMaxPayload / sizeof(ulong) / Math.Max(1, rowWidth));
        return [.. opened.Select(c => c > limit ? throw new MpcProtocolException("count", $"A party announced {c} rows; at most {limit}.") : (int)c)];
    }

    private static async Task<double[]> PooledSumsAsync(MpcSession session, double[] own, CancellationToken cancellationToken)
    {
        if (own.Any(v => !(Math.Abs(v) < MaxSum)))
            throw new ArgumentException($"A column sum of this party's rows reaches 2^{MaxSumBits}: too large to pool at 2^−{SumFractionalBits} resolution; rescale the features.", "rows");
        var encoded = own.Select(v => unchecked((ulong)(long)Math.Round(Math.ScaleB(v, SumFractionalBits)))).ToArray();
        var shares = await session.ShareInputsAsync(encoded, [.. Enumerable.Repeat(own.Length, session.Parties)], cancellationToken).ConfigureAwait(false);
        var total = await session.OpenAsync(Sharing.Reconstruct(shares), cancellationToken).ConfigureAwait(false);
        return [.. total.Select(v => Math.ScaleB((double)unchecked((long)v), -SumFractionalBits))];
    }
}
