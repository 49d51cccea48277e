using Veil.Ml.Data;
using Veil.Mpc;

namespace Veil.Ml.Secure;

/// <summary>What one party of <see cref="SecretSharedKnn.ClassifyPartyAsync"/> gets.</summary>
/// <param name="Predictions">The predicted class of each query: at the querier only (null elsewhere).</param>
/// <param name="Standardizer">The pooled standardization of the references.</param>
/// <param name="References">References of every party together.</param>
/// <param name="Rounds">Rounds of communication.</param>
/// <param name="BytesSent">Bytes this party sent to the other parties.</param>
public sealed record SharedKnnResult(int[]? Predictions, Standardizer Standardizer, int References, uint Rounds, long BytesSent);

/// <summary>
/// Exact KNN classification between parties that each hold labelled references (hospitals' patients) and one querier
/// that holds the queries: a pooled standardization (only totals opened), references, labels and queries
/// secret-shared, <see cref="SecureKnn"/> on the shares, and the predicted classes revealed to the querier alone. No
/// distance, neighbour or vote count is opened. <see cref="ClassifyPlaintext"/> is the twin on the pooled data in the
/// clear, with the same fixed-point values: the predictions are equal, not approximately equal.
/// </summary>
public static class SecretSharedKnn
{
    /// <summary>Standardized values are clipped to ±8 deviations.</summary>
    public const double ClipBound = 8;

    /// <summary>
    /// One party's side. Every party passes its references (possibly none) and their class indices; the querier passes
    /// its queries, the others null. Classes and k are public and the same at every party.
    /// </summary>
    /// <exception cref="ArgumentException">Ragged or non-finite rows, a label outside [0, classes), or queries at a party that is not the querier.</exception>
    /// <exception cref="MpcProtocolException">Another party or the dealer sent a bad frame or disconnected.</exception>
    public static async Task<SharedKnnResult> ClassifyPartyAsync(MpcSession session, double[][] references, double[] labels, int features, int classes, int k, int querier,
        double[][]? queries, FixedPointFormat? format = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        Check(references, labels, features, classes);
        if ((session.Party == querier) != (queries is not null)) throw new ArgumentException("The querier, and only it, passes queries.", nameof(queries));
        if (queries is not null && queries.Any(r => r is null || r.Length != features || r.Any(v => !double.IsFinite(v)))) throw new ArgumentException($"Every query has {features} finite features.", nameof(queries));
        format ??= FixedPointFormat.Default;
        var counts = await PooledStandardization.CountsAsync(session, references.Length, features + classes, cancellationToken).ConfigureAwait(false);
        var queryCounts = await PooledStandardization.CountsAsync(session, queries?.Length ?? 0, features, cancellationToken).ConfigureAwait(false);
        int m = counts.Sum(), q = queryCounts[querier];
        if (m < k) throw new MpcProtocolException("count", $"The parties hold {m} references; k = {k} needs at least as many.");
        if (q == 0 || queryCounts.Where((c, p) => p != querier).Any(c => c != 0)) throw new MpcProtocolException("count", "Only the querier sends queries, and at least one.");
        var standardizer = await PooledStandardization.FitAsync(session, references, features, m, cancellationToken).ConfigureAwait(false);
        // One input round: this party's references and one-hot labels, then (at the querier) its queries.
        int width = features + classes;
        var own = new List<ulong>(references.Length * width + (queries?.Length ?? 0) * features);
        var z = PooledStandardization.Prepare(standardizer, references, ClipBound);
        for (int r = 0; r < references.Length; r++)
        {
            own.AddRange(format.Encode(z[r]));
            for (int t = 0; t < classes; t++) own.Add(labels[r] == t ? 1UL : 0UL);
        }
        if (queries is not null) own.AddRange(PooledStandardization.Prepare(standardizer, queries, ClipBound).SelectMany(r => format.Encode(r)));
        var blocks = await session.ShareInputsAsync([.. own], [.. counts.Select((c, p) => c * width + queryCounts[p] * features)], cancellationToken).ConfigureAwait(false);
        var x = new ulong[m * features];
        var y = new ulong[m * classes];
        int at = 0;
        for (int p = 0; p < blocks.Length; p++)
            for (int r = 0; r < counts[p]; r++, at++)
            {
                Array.Copy(blocks[p], r * width, x, at * features, features);
                Array.Copy(blocks[p], r * width + features, y, at * classes, classes);
            }
        var query = blocks[querier][(counts[querier] * width)..];
        var winner = await SecureKnn.ClassifyAsync(session, x, y, query, m, features, classes, q, k, cancellationToken).ConfigureAwait(false);
        var opened = await session.RevealToAsync(querier, winner, cancellationToken).ConfigureAwait(false);
        int[]? predictions = opened is null ? null : [.. Enumerable.Range(0, q).Select(r => Array.IndexOf(opened, 1UL, r * classes, classes) - r * classes)];
        if (predictions is not null && predictions.Any(c => c < 0)) throw new MpcProtocolException("result", "The opened vote is not one-hot: a party deviated from the protocol.");
        return new SharedKnnResult(predictions, standardizer, m, session.Rounds, session.BytesSent);
    }

    /// <summary>The twin: the pooled references in the clear, the same standardization, clipping and fixed-point values, exact integer distances.</summary>
    public static int[] ClassifyPlaintext(double[][] references, double[] labels, int classes, int k, double[][] queries, FixedPointFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(references);
        ArgumentNullException.ThrowIfNull(queries);
        if (references.Length == 0) throw new ArgumentException("No references.", nameof(references));
        int features = references[0].Length;
        Check(references, labels, features, classes);
        format ??= FixedPointFormat.Default;
        var standardizer = new Standardizer().Fit(references);
        var x = PooledStandardization.Prepare(standardizer, references, ClipBound).SelectMany(r => format.Encode(r)).ToArray();
        var qv = PooledStandardization.Prepare(standardizer, queries, ClipBound).SelectMany(r => format.Encode(r)).ToArray();
        return SecureKnn.ClassifyPlaintext(x, [.. labels.Select(l => (int)l)], qv, references.Length, features, classes, queries.Length, k);
    }

    private static void Check(double[][] rows, double[] labels, int features, int classes)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(labels);
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "At least one feature.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "At least two classes.");
        if (rows.Length != labels.Length) throw new ArgumentException($"{rows.Length} references but {labels.Length} labels.", nameof(labels));
        for (int r = 0; r < rows.Length; r++)
        {
            if (rows[r] is null || rows[r].Length != features || rows[r].Any(v => !double.IsFinite(v) || Math.Abs(v) >= 1 << 16))
                throw new ArgumentException($"Reference {r} does not have {features} finite features below 2^16.", nameof(rows));
            if (labels[r] < 0 || labels[r] >= classes || labels[r] != Math.Floor(labels[r])) throw new ArgumentException($"Label {r} is {labels[r]}; labels are class indices 0 … {classes - 1}.", nameof(labels));
        }
    }
}
