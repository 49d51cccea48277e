using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Ckks;

/// <summary>
/// A plain, unchecked description of a CKKS parameter set (JSON-friendly); <see cref="CkksParameters.Create"/>
/// validates it.
/// </summary>
public sealed record CkksParametersLiteral
{
    /// <summary>log2 of the ring degree N (12–16 for real use; 10–11 only with the insecure opt-out).</summary>
    public int LogN { get; init; }
    /// <summary>Bit sizes of the ciphertext primes q_0 … q_L (q_0 first; the last ones are divided away by rescaling).</summary>
    public int[] LogQ { get; init; } = [];
    /// <summary>Bit sizes of the special primes P used by key switching.</summary>
    public int[] LogP { get; init; } = [];
    /// <summary>log2 of the default scale Δ.</summary>
    public double LogDefaultScale { get; init; } = 40;
    /// <summary>
    /// Security target the set is checked against. A literal can ask for more than the caller's minimum, never less:
    /// <see cref="SecurityLevel.InsecureNoCheck"/> here is refused unless the code that builds the parameters also
    /// passes it as <c>minimumSecurity</c> to <see cref="CkksParameters.Create"/> (a literal may come from a JSON file).
    /// </summary>
    public SecurityLevel Security { get; init; } = SecurityLevel.Bits128;
}

/// <summary>
/// Validated, immutable CKKS parameters: the ring (<see cref="RlweParameters"/>), the default scale and the slot count.
/// </summary>
public sealed class CkksParameters
{
    /// <summary>The ring parameters.</summary>
    public RlweParameters Ring { get; }
    /// <summary>The literal this set was built from.</summary>
    public CkksParametersLiteral Literal { get; }
    /// <summary>Default scale Δ.</summary>
    public double DefaultScale { get; }
    /// <summary>Ring degree N.</summary>
    public int N => Ring.N;
    /// <summary>log2 N.</summary>
    public int LogN => Ring.LogN;
    /// <summary>Number of complex slots, N/2.</summary>
    public int Slots => Ring.N / 2;
    /// <summary>Highest level L.</summary>
    public int MaxLevel => Ring.MaxLevel;

    private CkksParameters(RlweParameters ring, CkksParametersLiteral literal)
    {
        Ring = ring;
        Literal = literal;
        DefaultScale = Math.Pow(2, literal.LogDefaultScale);
    }

    /// <summary>The largest log2 of a default scale (doubles hold products of two such scales).</summary>
    public const double MaxLogDefaultScale = 120;

    /// <summary>
    /// Validates a literal: generates its primes deterministically (the largest primes ≡ 1 mod 2N of each size,
    /// assigned in order to Q then P), checks security and builds every table once.
    /// </summary>
    /// <param name="literal">The description; its <see cref="CkksParametersLiteral.Security"/> is the level checked.</param>
    /// <param name="minimumSecurity">The lowest level the caller accepts (128-bit by default). A literal below it is
    /// refused; tests and experiments with tiny rings pass <see cref="SecurityLevel.InsecureNoCheck"/> here, in code,
    /// which is the library's only opt-out.</param>
    /// <exception cref="ArgumentException">Any size is out of range, not enough primes exist, the scale is unusable, the
    /// literal asks for less than <paramref name="minimumSecurity"/>, or the set is below its security target.</exception>
    public static CkksParameters Create(CkksParametersLiteral literal, SecurityLevel minimumSecurity = SecurityLevel.Bits128)
    {
        ArgumentNullException.ThrowIfNull(literal);
        if (!Enum.IsDefined(minimumSecurity)) ThrowHelper.Argument(nameof(minimumSecurity), $"Unknown security level {minimumSecurity}.");
        if (!Enum.IsDefined(literal.Security)) ThrowHelper.Argument(nameof(literal), $"Unknown security level {literal.Security}.");
        if ((int)literal.Security < (int)minimumSecurity)
            ThrowHelper.Argument(nameof(literal), literal.Security == SecurityLevel.InsecureNoCheck
                ? $"The literal asks for no security check, and the caller requires {minimumSecurity}. A literal cannot switch the check off; " +
                  "code that really wants an insecure set passes minimumSecurity: SecurityLevel.InsecureNoCheck to CkksParameters.Create."
                : $"The literal asks for {literal.Security}; the caller requires at least {minimumSecurity}.");
        if (literal.LogN < RlweParameters.MinLogN || literal.LogN > RlweParameters.MaxLogN)
            ThrowHelper.OutOfRange(nameof(literal), $"LogN must be in [{RlweParameters.MinLogN}, {RlweParameters.MaxLogN}]; got {literal.LogN}.");
        if (literal.LogQ is null || literal.LogQ.Length == 0) ThrowHelper.Argument(nameof(literal), "LogQ needs at least one prime.");
        if (literal.LogP is null || literal.LogP.Length == 0) ThrowHelper.Argument(nameof(literal), "LogP needs at least one special prime.");
        foreach (int b in literal.LogQ.Concat(literal.LogP))
            if (b < literal.LogN + 2 || b > Modulus.MaxBits)
                ThrowHelper.Argument(nameof(literal), $"Prime sizes must be in [{literal.LogN + 2}, {Modulus.MaxBits}] bits; got {b}.");
        if (!(literal.LogDefaultScale > 0 && literal.LogDefaultScale < literal.LogQ.Sum()))
            ThrowHelper.Argument(nameof(literal), $"LogDefaultScale must be in (0, {literal.LogQ.Sum()}) (the bits of Q); got {literal.LogDefaultScale}.");
        // Check the security bound on the nominal sizes first, so that an oversized set fails before any prime search.
        if (literal.Security != SecurityLevel.InsecureNoCheck)
        {
            int? max = HomomorphicEncryptionStandard.MaxLogQP(literal.LogN, literal.Security);
            int total = literal.LogQ.Sum() + literal.LogP.Sum();
            if (max is null)
                ThrowHelper.Argument(nameof(literal), $"The security standard has no bound for N = 2^{literal.LogN} at {literal.Security}; choose SecurityLevel.InsecureNoCheck explicitly to use it.");
            if (total > max.Value)
                ThrowHelper.Argument(nameof(literal),
                    $"log2(Q·P) = {total} bits exceeds {max} bits, the {(int)literal.Security}-bit bound for N = 2^{literal.LogN} " +
                    $"(HomomorphicEncryption.org standard). Use fewer or smaller primes, a larger N, or SecurityLevel.InsecureNoCheck explicitly.");
        }
        var sizes = literal.LogQ.Concat(literal.LogP).ToArray();
        var pools = sizes.GroupBy(b => b).ToDictionary(g => g.Key, g => new Queue<ulong>(Primes.NttPrimes(g.Key, literal.LogN, g.Count())));
        var primes = sizes.Select(b => pools[b].Dequeue()).ToArray();
        var ring = RlweParameters.Create(literal.LogN, primes[..literal.LogQ.Length], primes[literal.LogQ.Length..], literal.Security);
        return new CkksParameters(ring, literal with { LogQ = (int[])literal.LogQ.Clone(), LogP = (int[])literal.LogP.Clone() });
    }

    /// <summary>Wraps ring parameters built elsewhere (for example loaded from bytes) with a default scale.</summary>
    public static CkksParameters FromRing(RlweParameters ring, double logDefaultScale)
    {
        ArgumentNullException.ThrowIfNull(ring);
        if (!(logDefaultScale > 0 && logDefaultScale < MaxLogDefaultScale)) ThrowHelper.Argument(nameof(logDefaultScale), $"LogDefaultScale must be in (0, {MaxLogDefaultScale}); got {logDefaultScale}.");
        var literal = new CkksParametersLiteral
        {
            LogN = ring.LogN,
            LogQ = ring.Q.Select(q => (int)Math.Ceiling(Math.Log2(q))).ToArray(),
            LogP = ring.P.Select(p => (int)Math.Ceiling(Math.Log2(p))).ToArray(),
            LogDefaultScale = logDefaultScale,
            Security = ring.Security,
        };
        return new CkksParameters(ring, literal);
    }

    /// <summary>Anchor set A: N = 8192, Q = {60, 40, 40} bits, P = {60}, Δ = 2^40 (two multiplicative levels).</summary>
    public static CkksParametersLiteral SetA => new() { LogN = 13, LogQ = [60, 40, 40], LogP = [60], LogDefaultScale = 40 };

    /// <summary>Anchor set B: N = 16384, Q = {60, 40 × 6} bits, P = {60}, Δ = 2^40 (six multiplicative levels).</summary>
    public static CkksParametersLiteral SetB => new() { LogN = 14, LogQ = [60, 40, 40, 40, 40, 40, 40], LogP = [60], LogDefaultScale = 40 };

    /// <inheritdoc/>
    public override string ToString() => $"CKKS {Ring}, Δ = 2^{Literal.LogDefaultScale}, {Slots} slots";
}
