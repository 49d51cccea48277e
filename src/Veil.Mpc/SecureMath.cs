namespace Veil.Mpc;

/// <summary>
/// Functions of fixed-point shares by iterative methods (CrypTen's choices): the exponential by repeated squaring of
/// 1 + x/2^n, the reciprocal by Newton–Raphson, division as a product with the reciprocal, and the logistic sigmoid
/// from the sign, the exponential of −|x| and a reciprocal on (1, 2].
/// </summary>
/// <remarks>
/// Rounds (two parties, local truncation; three or more add one truncation round per product):
/// <see cref="ExpAsync"/> n (8 by default); <see cref="ReciprocalAsync"/> 1 + n + 2·k (its initial guess is an
/// exponential; k Newton steps, 10 by default); <see cref="SigmoidAsync"/> 9 + 1 + 8 + 2·5 + 1 = 29. Triples per
/// element: the same counts as rounds except the sign's 379. Errors are those of the methods at f fractional bits:
/// each squaring doubles the relative error of the base, so exp keeps about f − n bits (8 of 16).
/// </remarks>
public static class SecureMath
{
    /// <summary>Squarings of the exponential's base (1 + x/2^n)^(2^n), CrypTen's default.</summary>
    public const int ExpIterations = 8;

    /// <summary>
    /// exp(x) by (1 + x/2^n)^(2^n): n rounds of squaring. Valid for −2^n &lt; x and exp(x) inside the format
    /// (x &lt; IntegerBits·ln 2); the relative error grows with |x| (about x²/2^(n+1) from the method).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">n outside [1, f].</exception>
    public static async Task<ulong[]> ExpAsync(MpcSession session, ulong[] x, FixedPointFormat format, int iterations = ExpIterations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(format);
        if (iterations < 1 || iterations > format.FractionalBits) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, $"1 … {format.FractionalBits} squarings.");
        // x/2^n is x's bits read with f + n fractional bits: shifting them by n is a truncation of a value below 2^(f + IntegerBits).
        var y = await RescaleAsync(session, x, iterations, format.FractionalBits + format.IntegerBits, cancellationToken).ConfigureAwait(false);
        y = SecureArithmetic.AddPublic(session, y, Fill(y.Length, format.Encode(1.0)));
        for (int i = 0; i < iterations; i++) y = await SecureArithmetic.MultiplyFixedAsync(session, y, y, format, cancellationToken).ConfigureAwait(false);
        return y;
    }

    /// <summary>
    /// 1/x for positive x by Newton–Raphson, r ← r·(2 − x·r), from CrypTen's initial guess 3·exp(½ − x) + 0.003
    /// (which converges for x in about [0.01, 2^IntegerBits); k steps, 10 by default). Error: about 2^−f relative to 1/x
    /// once converged; for x below 2^−f/2 the reciprocal leaves the format.
    /// </summary>
    public static async Task<ulong[]> ReciprocalAsync(MpcSession session, ulong[] x, FixedPointFormat format, int iterations = 10, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(format);
        // exp(½ − x) stays inside the format for the positive x the method is meant for.
        var half = SecureArithmetic.AddPublic(session, Negate(x), Fill(x.Length, format.Encode(0.5)));
        var guess = await ExpAsync(session, half, format, ExpIterations, cancellationToken).ConfigureAwait(false);
        guess = SecureArithmetic.AddPublic(session, SecureArithmetic.MultiplyPublic(guess, 3), Fill(x.Length, format.Encode(0.003)));
        return await NewtonReciprocalAsync(session, x, guess, format, iterations, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>x / y element by element, as x·(1/y) for positive y (see <see cref="ReciprocalAsync"/>); the quotient must lie inside the format.</summary>
    public static async Task<ulong[]> DivideAsync(MpcSession session, ulong[] x, ulong[] y, FixedPointFormat format, int iterations = 10, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length != y.Length) throw new ArgumentException($"The operands have {x.Length} and {y.Length} elements.", nameof(y));
        var inverse = await ReciprocalAsync(session, y, format, iterations, cancellationToken).ConfigureAwait(false);
        return await SecureArithmetic.MultiplyFixedAsync(session, x, inverse, format, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The logistic sigmoid 1/(1 + e^−x) for every x of the format: with s = [x &lt; 0], a = |x|, d = 1 + e^−a in (1, 2],
    /// p = 1/d by five Newton steps from ¾ (the error |1 − d·r| starts below ½ and squares each step), and σ = p where x ≥ 0,
    /// 1 − p otherwise. 29 rounds, about 400 triples per element. Absolute error below 2^−(f − 8) (0.004 for f = 16),
    /// mostly from the exponential.
    /// </summary>
    public static async Task<ulong[]> SigmoidAsync(MpcSession session, ulong[] x, FixedPointFormat format, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(format);
        int len = x.Length;
        if (len == 0) return [];
        ulong one = session.Party == 0 ? 1UL : 0UL;
        var negative = await SecureComparison.IsNegativeAsync(session, x, cancellationToken).ConfigureAwait(false);
        // −|x| = x·(2s − 1): an integer factor, so no truncation.
        var factor = new ulong[len];
        for (int i = 0; i < len; i++) factor[i] = 2 * negative[i] - one;
        var minusAbs = await SecureArithmetic.MultiplyAsync(session, x, factor, cancellationToken).ConfigureAwait(false);
        var e = await ExpAsync(session, minusAbs, format, ExpIterations, cancellationToken).ConfigureAwait(false);
        var d = SecureArithmetic.AddPublic(session, e, Fill(len, format.Encode(1.0)));
        var p = await NewtonReciprocalAsync(session, d, Fill(len, session.Party == 0 ? format.Encode(0.75) : 0), format, 5, cancellationToken).ConfigureAwait(false);
        // σ = p + s·(1 − 2p).
        var flip = SecureArithmetic.AddPublic(session, SecureArithmetic.MultiplyPublic(p, unchecked((ulong)-2L)), Fill(len, format.Encode(1.0)));
        var change = await SecureArithmetic.MultiplyAsync(session, negative, flip, cancellationToken).ConfigureAwait(false);
        return SecureArithmetic.Add(p, change);
    }

    /// <summary>k Newton steps r ← r·(2 − x·r) from the shared guess r.</summary>
    private static async Task<ulong[]> NewtonReciprocalAsync(MpcSession session, ulong[] x, ulong[] r, FixedPointFormat format, int iterations, CancellationToken cancellationToken)
    {
        if (iterations < 1 || iterations > 64) throw new ArgumentOutOfRangeException(nameof(iterations), iterations, "1 … 64 Newton steps.");
        var two = Fill(x.Length, format.Encode(2.0));
        for (int k = 0; k < iterations; k++)
        {
            var xr = await SecureArithmetic.MultiplyFixedAsync(session, x, r, format, cancellationToken).ConfigureAwait(false);
            var gap = SecureArithmetic.AddPublic(session, Negate(xr), two);
            r = await SecureArithmetic.MultiplyFixedAsync(session, r, gap, format, cancellationToken).ConfigureAwait(false);
        }
        return r;
    }

    /// <summary>⌊x/2^bits⌋ (or one more) for |x| &lt; 2^magnitudeBits: locally for two parties, with the dealer's pairs otherwise.</summary>
    internal static Task<ulong[]> RescaleAsync(MpcSession session, ulong[] x, int bits, int magnitudeBits, CancellationToken cancellationToken) =>
        session.Parties == 2
            ? Task.FromResult(SecureArithmetic.TruncateLocal(session, x, bits))
            : SecureArithmetic.TruncateAsync(session, x, bits, Math.Max(bits, magnitudeBits), cancellationToken);

    private static ulong[] Negate(ReadOnlySpan<ulong> x)
    {
        var z = new ulong[x.Length];
        for (int i = 0; i < z.Length; i++) z[i] = 0UL - x[i];
        return z;
    }

    private static ulong[] Fill(int length, ulong value)
    {
        var z = new ulong[length];
        Array.Fill(z, value);
        return z;
    }
}
