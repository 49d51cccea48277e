namespace Veil.Mpc;

/// <summary>
/// Comparison on additive shares with the dealer's bit-decomposed masks: the sign of x (x &lt; 0 as a signed 64-bit
/// value), and from it ReLU. Results are shares of 0 or 1 in Z_2^64 (or of x and 0), usable in further arithmetic.
/// </summary>
/// <remarks>
/// <para>Sign: the dealer gives r with shares of its bits; c = x + r is opened; with c′, r′ the low 63 bits,
/// msb(x) = c_63 ⊕ r_63 ⊕ [c′ &lt; r′], and [c′ &lt; r′] = Σ_i (1 − c_i)·r_i·Π_(j&gt;i) [c_j = r_j] for the public c
/// (the terms are exclusive). The suffix products are computed by doubling (Kogge–Stone, 6 rounds), then one round for
/// r_i·P_i and one for the last XOR of two shared bits.</para>
/// <para>Cost per element: 9 rounds (one opening and 8 rounds of products, all elements together), 379 Beaver triples
/// and a mask of 65 elements from the dealer; bytes sent per party (n − 1)·8·(1 + 2·379). ReLU adds one round and one
/// triple. Exact: no probability of error.</para>
/// </remarks>
public static class SecureComparison
{
    private const int LowBits = 63;

    /// <summary>Shares of [x &lt; 0] (x read as a signed 64-bit integer; for fixed point, the sign of the real).</summary>
    /// <exception cref="MpcProtocolException">A party or the dealer sent a bad frame, or one closed its channel.</exception>
    public static async Task<ulong[]> IsNegativeAsync(MpcSession session, ulong[] x, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(x);
        int len = x.Length;
        if (len == 0) return [];
        ulong one = session.Party == 0 ? 1UL : 0UL; // shares of the constant 1
        var dealt = await session.BitMasksAsync(len, cancellationToken).ConfigureAwait(false);
        ulong Bit(int e, int i) => dealt[len + 64 * e + i];
        var masked = new ulong[len];
        for (int e = 0; e < len; e++) masked[e] = x[e] + dealt[e];
        var c = await session.OpenAsync(masked, cancellationToken).ConfigureAwait(false);
        // q_(e,j) = [c_j = r_j]: r_j where c_j = 1, 1 − r_j where c_j = 0 (linear, c is public).
        var q = new ulong[len * LowBits];
        for (int e = 0; e < len; e++)
            for (int j = 0; j < LowBits; j++)
                q[e * LowBits + j] = ((c[e] >> j) & 1) == 1 ? Bit(e, j) : one - Bit(e, j);
        // Suffix products by doubling: after the step of distance d, q_j = Π over [j, j + 2d) ∩ [0, 63).
        for (int d = 1; d < LowBits; d <<= 1)
        {
            int per = LowBits - d;
            var lhs = new ulong[len * per];
            var rhs = new ulong[len * per];
            for (int e = 0; e < len; e++)
                for (int j = 0; j < per; j++)
                {
                    lhs[e * per + j] = q[e * LowBits + j];
                    rhs[e * per + j] = q[e * LowBits + j + d];
                }
            var products = await SecureArithmetic.MultiplyAsync(session, lhs, rhs, cancellationToken).ConfigureAwait(false);
            for (int e = 0; e < len; e++)
                for (int j = 0; j < per; j++) q[e * LowBits + j] = products[e * per + j];
        }
        // r_i · P_i with P_i = Π_(j>i) [c_j = r_j] = q_(i+1) (and 1 for the top low bit).
        var bits = new ulong[len * LowBits];
        var prefixes = new ulong[len * LowBits];
        for (int e = 0; e < len; e++)
            for (int i = 0; i < LowBits; i++)
            {
                bits[e * LowBits + i] = Bit(e, i);
                prefixes[e * LowBits + i] = i + 1 < LowBits ? q[e * LowBits + i + 1] : one;
            }
        var terms = await SecureArithmetic.MultiplyAsync(session, bits, prefixes, cancellationToken).ConfigureAwait(false);
        var borrow = new ulong[len];
        var top = new ulong[len];
        for (int e = 0; e < len; e++)
        {
            ulong sum = 0;
            for (int i = 0; i < LowBits; i++) if (((c[e] >> i) & 1) == 0) sum += terms[e * LowBits + i];
            borrow[e] = sum;
            top[e] = Bit(e, 63);
        }
        // r_63 ⊕ borrow = r_63 + borrow − 2·r_63·borrow, then ⊕ the public c_63.
        var both = await SecureArithmetic.MultiplyAsync(session, top, borrow, cancellationToken).ConfigureAwait(false);
        var sign = new ulong[len];
        for (int e = 0; e < len; e++)
        {
            ulong y = top[e] + borrow[e] - 2 * both[e];
            sign[e] = (c[e] >> 63) == 1 ? one - y : y;
        }
        return sign;
    }

    /// <summary>Shares of max(x, 0) (signed), exactly: x·(1 − [x &lt; 0]); no truncation, so a fixed-point x keeps its scale.</summary>
    public static async Task<ulong[]> ReluAsync(MpcSession session, ulong[] x, CancellationToken cancellationToken = default)
    {
        var negative = await IsNegativeAsync(session, x, cancellationToken).ConfigureAwait(false);
        ulong one = session.Party == 0 ? 1UL : 0UL;
        var keep = new ulong[negative.Length];
        for (int e = 0; e < keep.Length; e++) keep[e] = one - negative[e];
        return await SecureArithmetic.MultiplyAsync(session, x, keep, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The largest of <paramref name="values"/> (signed; differences must not overflow) and a one-hot vector of its
    /// position (the first one on ties): <see cref="ArgmaxRowsAsync"/> on one row.
    /// </summary>
    /// <exception cref="ArgumentException">No values.</exception>
    public static Task<(ulong[] Max, ulong[] OneHot)> ArgmaxAsync(MpcSession session, ulong[] values, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        return ArgmaxRowsAsync(session, values, 1, values.Length, cancellationToken);
    }

    /// <summary>
    /// For each row of a rows × n matrix (row-major), its largest value and the one-hot position of it (the first on
    /// ties), all rows at once, by a tournament: each level compares all its pairs in one comparison and, in one product
    /// round, selects the larger value and multiplies each leaf's indicator by its side's outcome, so ⌈log2 n⌉ levels of
    /// 10 rounds; per row about n comparisons and n·⌈log2 n⌉ more triples.
    /// </summary>
    /// <exception cref="ArgumentException">No values, or a shape that does not match the length.</exception>
    public static async Task<(ulong[] Max, ulong[] OneHot)> ArgmaxRowsAsync(MpcSession session, ulong[] values, int rows, int n, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(values);
        if (rows < 1 || n < 1 || values.Length != (long)rows * n) throw new ArgumentException(n < 1 || values.Length == 0 ? "No values." : $"{values.Length} values are not {rows} rows of {n}.", nameof(values));
        ulong one = session.Party == 0 ? 1UL : 0UL;
        // Node j of the current level covers leaves [j·span, (j + 1)·span) ∩ [0, n); nodes merge in order, an odd last one waits.
        var v = (ulong[])values.Clone();
        var indicator = new ulong[rows * n];
        Array.Fill(indicator, one);
        int count = n, span = 1;
        while (count > 1)
        {
            int pairs = count / 2, leaves = Math.Min(n, 2 * pairs * span);
            var a = new ulong[rows * pairs];
            var b = new ulong[rows * pairs];
            for (int r = 0; r < rows; r++)
                for (int p = 0; p < pairs; p++) { a[r * pairs + p] = v[r * count + 2 * p]; b[r * pairs + p] = v[r * count + 2 * p + 1]; }
            var less = await LessThanAsync(session, a, b, cancellationToken).ConfigureAwait(false); // [a < b]: take b
            // One product round: (b − a)·[a < b] per pair, and each paired leaf's indicator times its side's outcome.
            int per = pairs + leaves;
            var lhs = new ulong[rows * per];
            var rhs = new ulong[rows * per];
            for (int r = 0; r < rows; r++)
            {
                for (int p = 0; p < pairs; p++)
                {
                    lhs[r * per + p] = b[r * pairs + p] - a[r * pairs + p];
                    rhs[r * per + p] = less[r * pairs + p];
                }
                for (int i = 0; i < leaves; i++)
                {
                    int node = i / span;
                    ulong right = less[r * pairs + node / 2];
                    lhs[r * per + pairs + i] = indicator[r * n + i];
                    rhs[r * per + pairs + i] = node % 2 == 1 ? right : one - right;
                }
            }
            var products = await SecureArithmetic.MultiplyAsync(session, lhs, rhs, cancellationToken).ConfigureAwait(false);
            int next = pairs + count % 2;
            var nv = new ulong[rows * next];
            for (int r = 0; r < rows; r++)
            {
                for (int p = 0; p < pairs; p++) nv[r * next + p] = a[r * pairs + p] + products[r * per + p];
                if (count % 2 == 1) nv[r * next + pairs] = v[r * count + count - 1];
                for (int i = 0; i < leaves; i++) indicator[r * n + i] = products[r * per + pairs + i];
            }
            v = nv;
            count = next;
            span *= 2;
        }
        return (v, indicator);
    }

    /// <summary>
    /// The <paramref name="k"/> largest of <paramref name="values"/> in descending order (the first on ties) and the
    /// one-hot position of each: <see cref="TopKRowsAsync"/> on one row.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">k is not in [1, n].</exception>
    public static async Task<(ulong[] Values, ulong[][] OneHot)> TopKAsync(MpcSession session, ulong[] values, int k, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var (top, oneHot) = await TopKRowsAsync(session, values, 1, values.Length, k, cancellationToken).ConfigureAwait(false);
        return (top, oneHot);
    }

    /// <summary>
    /// For each row of a rows × n matrix, its <paramref name="k"/> largest values in descending order (the first on ties)
    /// and their one-hot positions: k argmaxes, each found value replaced by −2^62 before the next (one product round),
    /// so k·(10·⌈log2 n⌉ + 1) − 1 rounds. Values must lie in (−2^62, 2^62). Values[t·rows + r] is row r's t-th;
    /// OneHot[t] is rows × n.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">k is not in [1, n].</exception>
    public static async Task<(ulong[] Values, ulong[][] OneHot)> TopKRowsAsync(MpcSession session, ulong[] values, int rows, int n, int k, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(values);
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), k, $"k is 1 … {n}.");
        ulong floor = session.Party == 0 ? unchecked((ulong)(-(1L << 62))) : 0UL; // shares of −2^62
        var current = (ulong[])values.Clone();
        var top = new ulong[k * rows];
        var positions = new ulong[k][];
        for (int t = 0; t < k; t++)
        {
            var (max, oneHot) = await ArgmaxRowsAsync(session, current, rows, n, cancellationToken).ConfigureAwait(false);
            max.CopyTo(top, t * rows);
            positions[t] = oneHot;
            if (t == k - 1) break;
            // v_i ← v_i + onehot_i·(−2^62 − v_i): only the found position changes.
            var gap = new ulong[current.Length];
            for (int i = 0; i < gap.Length; i++) gap[i] = floor - current[i];
            var change = await SecureArithmetic.MultiplyAsync(session, oneHot, gap, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < current.Length; i++) current[i] += change[i];
        }
        return (top, positions);
    }

    /// <summary>Shares of [x &lt; y] (signed; x − y must not overflow: |x − y| &lt; 2^63).</summary>
    public static Task<ulong[]> LessThanAsync(MpcSession session, ulong[] x, ulong[] y, CancellationToken cancellationToken = default) =>
        IsNegativeAsync(session, SecureArithmetic.Subtract(x, y), cancellationToken);
}
