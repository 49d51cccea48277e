namespace Veil.Mpc;

/// <summary>
/// Exact k-nearest-neighbour classification on shares: references, their one-hot labels and the queries all
/// secret-shared; the parties learn nothing but what the caller opens (the predicted classes, usually to the querier).
/// </summary>
/// <remarks>
/// <para>Distances are ranked by s_qi = 2·q·x_i − ‖x_i‖² (the squared distance up to the per-query ‖q‖², which does not
/// change the order), kept with 2f fractional bits: exact integers, so the ranking is that of the plaintext distances of
/// the same fixed-point values, with no approximation. The k largest scores per query come from
/// <see cref="SecureComparison.TopKRowsAsync"/> (the first reference on ties); their one-hot positions, summed,
/// select the labels by one matrix product; the class with the most votes (the first on ties) is an argmax.</para>
/// <para>Cost for q queries, m references, d features, c classes: 2 + k·(10·⌈log2 m⌉ + 1) − 1 + 1 + 10·⌈log2 c⌉
/// rounds for all queries together; q·(k·(m − 1) + c − 1) comparisons (about 380 triples each). Values must keep
/// |s| below 2^62: with f = 16, |x| ≤ 2^8 and d ≤ 2^12.</para>
/// </remarks>
public static class SecureKnn
{
    /// <summary>
    /// Shares of each query's predicted class, one-hot (queries × classes, row-major), from shares of the references
    /// (m × d, fixed point), their labels (m × c, one-hot integers 0/1) and the queries (q × d, fixed point).
    /// </summary>
    /// <exception cref="ArgumentException">The shares do not match the shapes.</exception>
    /// <exception cref="ArgumentOutOfRangeException">k is not in [1, m].</exception>
    /// <exception cref="MpcProtocolException">A party or the dealer sent a bad frame, or one closed its channel.</exception>
    public static async Task<ulong[]> ClassifyAsync(MpcSession session, ulong[] references, ulong[] labels, ulong[] queries, int m, int d, int c, int q, int k,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(references);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(queries);
        if (m < 1 || d < 1 || c < 1 || q < 1 || references.Length != (long)m * d || labels.Length != (long)m * c || queries.Length != (long)q * d)
            throw new ArgumentException($"Expected {m} × {d} references, {m} × {c} labels and {q} × {d} queries; got {references.Length}, {labels.Length} and {queries.Length} elements.", nameof(references));
        if (k < 1 || k > m) throw new ArgumentOutOfRangeException(nameof(k), k, $"k is 1 … {m}.");
        var transposed = new ulong[d * m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < d; j++) transposed[j * m + i] = references[i * d + j];
        var cross = await SecureArithmetic.MatrixMultiplyAsync(session, queries, transposed, q, d, m, cancellationToken).ConfigureAwait(false);
        var squares = await SecureArithmetic.MultiplyAsync(session, references, references, cancellationToken).ConfigureAwait(false);
        var norms = new ulong[m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < d; j++) norms[i] += squares[i * d + j];
        var scores = new ulong[q * m];
        for (int r = 0; r < q; r++)
            for (int i = 0; i < m; i++) scores[r * m + i] = 2 * cross[r * m + i] - norms[i];
        var (_, positions) = await SecureComparison.TopKRowsAsync(session, scores, q, m, k, cancellationToken).ConfigureAwait(false);
        var chosen = new ulong[q * m];
        foreach (var h in positions)
            for (int i = 0; i < chosen.Length; i++) chosen[i] += h[i];
        var votes = await SecureArithmetic.MatrixMultiplyAsync(session, chosen, labels, q, m, c, cancellationToken).ConfigureAwait(false);
        if (c == 1) return SecureArithmetic.AddPublic(session, new ulong[q], Enumerable.Repeat(1UL, q).ToArray().AsSpan());
        var (_, winner) = await SecureComparison.ArgmaxRowsAsync(session, votes, q, c, cancellationToken).ConfigureAwait(false);
        return winner;
    }

    /// <summary>
    /// The plaintext twin on the same fixed-point values: the same integer scores, the k largest (the first on ties), the
    /// most voted class (the first on ties). Returns class indices.
    /// </summary>
    public static int[] ClassifyPlaintext(ReadOnlySpan<ulong> references, ReadOnlySpan<int> labels, ReadOnlySpan<ulong> queries, int m, int d, int c, int q, int k)
    {
        if (references.Length != (long)m * d || labels.Length != m || queries.Length != (long)q * d) throw new ArgumentException("The values do not match the shapes.", nameof(references));
        if (k < 1 || k > m) throw new ArgumentOutOfRangeException(nameof(k), k, $"k is 1 … {m}.");
        var result = new int[q];
        var scores = new (long Score, int Index)[m];
        for (int r = 0; r < q; r++)
        {
            for (int i = 0; i < m; i++)
            {
                long cross = 0, norm = 0;
                for (int j = 0; j < d; j++)
                {
                    long x = (long)references[i * d + j];
                    cross += (long)queries[r * d + j] * x;
                    norm += x * x;
                }
                scores[i] = (2 * cross - norm, i);
            }
            var votes = new int[c];
            foreach (var (_, i) in scores.OrderByDescending(s => s.Score).ThenBy(s => s.Index).Take(k)) votes[labels[i]]++;
            int best = 0;
            for (int t = 1; t < c; t++) if (votes[t] > votes[best]) best = t;
            result[r] = best;
        }
        return result;
    }
}
