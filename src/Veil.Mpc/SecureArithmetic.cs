namespace Veil.Mpc;

/// <summary>
/// Arithmetic on additive shares of Z_2^64. Linear operations are local; a product uses one Beaver triple from the
/// dealer and one round (both differences opened together). Fixed-point products are truncated afterwards.
/// </summary>
/// <remarks>
/// Cost per operation (n parties, L elements; rounds / bytes sent per party): add, subtract, public add or multiply —
/// 0 / 0; <see cref="MultiplyAsync"/> — 1 / 2·(n − 1)·8L (+ the dealer's 3·8L per party);
/// <see cref="MatrixMultiplyAsync"/> (m×k by k×n) — 1 / (n − 1)·8·(mk + kn); <see cref="TruncateLocal"/> (two parties)
/// — 0 / 0; <see cref="TruncateAsync"/> — 1 / (n − 1)·8L (+ the dealer's 3·8L). Both give ⌊x/2^f⌋ or one more. The
/// dealer's is exact in that sense for |x| &lt; 2^k (it corrects the wrap with the top bit of its mask); the local one
/// (SecureML) is off by about 2^(64 − f) with probability about |x|/2^63 (2^−23 for a product of 2^40).
/// </remarks>
public static class SecureArithmetic
{
    /// <summary>x + y, share by share.</summary>
    public static ulong[] Add(ReadOnlySpan<ulong> x, ReadOnlySpan<ulong> y)
    {
        CheckLengths(x.Length, y.Length);
        var z = new ulong[x.Length];
        for (int i = 0; i < z.Length; i++) z[i] = x[i] + y[i];
        return z;
    }

    /// <summary>x − y, share by share.</summary>
    public static ulong[] Subtract(ReadOnlySpan<ulong> x, ReadOnlySpan<ulong> y)
    {
        CheckLengths(x.Length, y.Length);
        var z = new ulong[x.Length];
        for (int i = 0; i < z.Length; i++) z[i] = x[i] - y[i];
        return z;
    }

    /// <summary>x + c for public c: party 0 adds it.</summary>
    public static ulong[] AddPublic(MpcSession session, ReadOnlySpan<ulong> x, ReadOnlySpan<ulong> c)
    {
        ArgumentNullException.ThrowIfNull(session);
        CheckLengths(x.Length, c.Length);
        var z = x.ToArray();
        if (session.Party == 0) for (int i = 0; i < z.Length; i++) z[i] += c[i];
        return z;
    }

    /// <summary>x·c for a public integer c, share by share.</summary>
    public static ulong[] MultiplyPublic(ReadOnlySpan<ulong> x, ulong c)
    {
        var z = new ulong[x.Length];
        for (int i = 0; i < z.Length; i++) z[i] = x[i] * c;
        return z;
    }

    /// <summary>x·y element by element with Beaver triples: open d = x − a and e = y − b, z = c + d·b + e·a + d·e (the last by party 0).</summary>
    /// <exception cref="MpcProtocolException">A party or the dealer sent a bad frame, or one closed its channel.</exception>
    public static async Task<ulong[]> MultiplyAsync(MpcSession session, ulong[] x, ulong[] y, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        CheckLengths(x.Length, y.Length);
        int len = x.Length;
        if (len == 0) return [];
        var t = await session.Triples.TriplesAsync(session, len, cancellationToken).ConfigureAwait(false);
        var masked = new ulong[2 * len];
        for (int i = 0; i < len; i++)
        {
            masked[i] = x[i] - t[i];
            masked[len + i] = y[i] - t[len + i];
        }
        var de = await session.OpenAsync(masked, cancellationToken).ConfigureAwait(false);
        var z = new ulong[len];
        for (int i = 0; i < len; i++)
        {
            ulong d = de[i], e = de[len + i];
            z[i] = t[2 * len + i] + d * t[len + i] + e * t[i] + (session.Party == 0 ? d * e : 0);
        }
        return z;
    }

    /// <summary>X (m×k) · Y (k×n), row-major, with one matrix triple: one round, (mk + kn) elements opened.</summary>
    /// <exception cref="ArgumentException">The shapes do not match the lengths.</exception>
    /// <exception cref="MpcProtocolException">A party or the dealer sent a bad frame, or one closed its channel.</exception>
    public static async Task<ulong[]> MatrixMultiplyAsync(MpcSession session, ulong[] x, ulong[] y, int m, int k, int n, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (m < 1 || k < 1 || n < 1 || x.Length != (long)m * k || y.Length != (long)k * n)
            throw new ArgumentException($"X must be {m}×{k} and Y {k}×{n}; got {x.Length} and {y.Length} elements.", nameof(y));
        int mk = m * k, kn = k * n;
        if (!session.DealsMatrixTriples)
        {
            // Without a dealer there are no matrix triples: m·k·n elementwise products, summed (one round, more bytes).
            var lhs = new ulong[(long)m * k * n];
            var rhs = new ulong[lhs.Length];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    for (int l = 0; l < k; l++)
                    {
                        long at = ((long)i * n + j) * k + l;
                        lhs[at] = x[i * k + l];
                        rhs[at] = y[l * n + j];
                    }
            var products = await MultiplyAsync(session, lhs, rhs, cancellationToken).ConfigureAwait(false);
            var sums = new ulong[m * n];
            for (int i = 0; i < m * n; i++)
                for (int l = 0; l < k; l++) sums[i] += products[(long)i * k + l];
            return sums;
        }
        var t = await session.DealAsync(DealKind.MatrixTriple, m, k, n, mk + kn + m * n, cancellationToken).ConfigureAwait(false);
        var a = t.AsMemory(0, mk);
        var b = t.AsMemory(mk, kn);
        var masked = new ulong[mk + kn];
        for (int i = 0; i < mk; i++) masked[i] = x[i] - t[i];
        for (int i = 0; i < kn; i++) masked[mk + i] = y[i] - t[mk + i];
        var de = await session.OpenAsync(masked, cancellationToken).ConfigureAwait(false);
        var d = de.AsSpan(0, mk);
        var e = de.AsSpan(mk, kn);
        var z = t.AsSpan(mk + kn, m * n).ToArray(); // C
        MatrixOps.MultiplyAdd(d, b.Span, z, m, k, n);
        MatrixOps.MultiplyAdd(a.Span, e, z, m, k, n);
        if (session.Party == 0) MatrixOps.MultiplyAdd(d, e, z, m, k, n);
        return z;
    }

    /// <summary>
    /// ⌊x/2^f⌋ (or one more) for two parties without communication (SecureML): party 0 shifts its share, party 1
    /// negates, shifts and negates. Fails as described on the type for |x| near 2^63.
    /// </summary>
    /// <exception cref="InvalidOperationException">More than two parties (use <see cref="TruncateAsync"/>).</exception>
    public static ulong[] TruncateLocal(MpcSession session, ReadOnlySpan<ulong> x, int fractionalBits)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.Parties != 2) throw new InvalidOperationException("Local truncation holds for two parties only; use TruncateAsync with a dealer.");
        CheckShift(fractionalBits);
        var z = new ulong[x.Length];
        for (int i = 0; i < z.Length; i++)
            z[i] = session.Party == 0 ? x[i] >> fractionalBits : 0UL - ((0UL - x[i]) >> fractionalBits);
        return z;
    }

    /// <summary>
    /// ⌊x/2^f⌋ (or one more) for any number of parties and |x| &lt; 2^k, with truncation triples (r, r &gt;&gt; f, msb r)
    /// from the dealer: open c = x + 2^k + r and take c &gt;&gt; f − r &gt;&gt; f − 2^(k − f), adding 2^(64 − f) where the sum
    /// wrapped — which is exactly where msb r = 1 and msb c = 0, since x + 2^k &lt; 2^63 — so the result is exact up to
    /// the carry of the low bits. A value past the bound gives a wrong result silently: the bound is the caller's promise.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">f outside [1, 62] or k not in [f, 62].</exception>
    public static async Task<ulong[]> TruncateAsync(MpcSession session, ulong[] x, int fractionalBits, int magnitudeBits, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(x);
        CheckShift(fractionalBits);
        if (magnitudeBits < fractionalBits || magnitudeBits > 62) throw new ArgumentOutOfRangeException(nameof(magnitudeBits), magnitudeBits, $"The magnitude bound is {fractionalBits} … 62 bits.");
        if (x.Length == 0) return [];
        int len = x.Length;
        var r = await session.TruncationPairsAsync(len, fractionalBits, cancellationToken).ConfigureAwait(false);
        ulong offset = 1UL << magnitudeBits;
        var masked = new ulong[len];
        for (int i = 0; i < len; i++) masked[i] = x[i] + r[i] + (session.Party == 0 ? offset : 0);
        var c = await session.OpenAsync(masked, cancellationToken).ConfigureAwait(false);
        return TruncationShares(session.Party, c, r, fractionalBits, magnitudeBits);
    }

    /// <summary>A party's share of the truncation from the opened c and its shares (r, r &gt;&gt; f, msb r), laid out as dealt.</summary>
    internal static ulong[] TruncationShares(int party, ReadOnlySpan<ulong> c, ReadOnlySpan<ulong> r, int fractionalBits, int magnitudeBits)
    {
        int len = c.Length, f = fractionalBits;
        ulong offsetShifted = 1UL << (magnitudeBits - f), wrapUnit = 1UL << (64 - f);
        var z = new ulong[len];
        for (int i = 0; i < len; i++)
        {
            ulong share = 0UL - r[len + i];
            if (party == 0) share += (c[i] >> f) - offsetShifted;
            if (c[i] >> 63 == 0) share += wrapUnit * r[2 * len + i]; // the wrap term msb(r)·(1 − msb(c)), linear in the shares of msb(r)
            z[i] = share;
        }
        return z;
    }

    /// <summary>
    /// x·y for fixed-point shares of format <paramref name="format"/>, truncated back to f fractional bits: locally for
    /// two parties, with a truncation pair (sized for the format's <see cref="FixedPointFormat.ProductBits"/>) otherwise.
    /// </summary>
    public static async Task<ulong[]> MultiplyFixedAsync(MpcSession session, ulong[] x, ulong[] y, FixedPointFormat format, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(format);
        var product = await MultiplyAsync(session, x, y, cancellationToken).ConfigureAwait(false);
        return session.Parties == 2
            ? TruncateLocal(session, product, format.FractionalBits)
            : await TruncateAsync(session, product, format.FractionalBits, format.ProductBits, cancellationToken).ConfigureAwait(false);
    }

    private static void CheckLengths(int a, int b)
    {
        if (a != b) throw new ArgumentException($"The operands have {a} and {b} elements.");
    }

    private static void CheckShift(int f)
    {
        if (f < 1 || f > 62) throw new ArgumentOutOfRangeException(nameof(f), f, "The shift is 1 … 62 bits.");
    }
}
