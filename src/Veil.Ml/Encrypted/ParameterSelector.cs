using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>Chooses CKKS parameters for a circuit from its multiplicative depth and the slots it needs.</summary>
public static class ParameterSelector
{
    /// <summary>
    /// The smallest ring (N = 2^13 … 2^16) whose bound for <paramref name="security"/> fits a 60-bit first prime,
    /// <paramref name="depth"/> scale-sized primes and 60-bit special primes, with at least <paramref name="slots"/> slots.
    /// </summary>
    /// <remarks>
    /// Special primes: about one per eight chain primes (up to 4), so that key switching lifts at most ~8 digits —
    /// fewer digits mean smaller keys and faster switching, at the price of modulus bits. Scale: the largest that fits,
    /// up to 2^40 (or exactly <paramref name="logScale"/> when given); at least 2^28 unless asked otherwise.
    /// </remarks>
    /// <exception cref="ArgumentException">No supported ring fits the request.</exception>
    public static CkksParametersLiteral Select(int depth, int slots, int? logScale = null, SecurityLevel security = SecurityLevel.Bits128)
    {
        if (depth < 1) throw new ArgumentOutOfRangeException(nameof(depth), "Depth must be at least 1.");
        if (logScale is < 20 or > 50) throw new ArgumentOutOfRangeException(nameof(logScale), "logScale must be in [20, 50].");
        const int minimumScale = 28, maximumScale = 40;
        for (int logN = 13; logN <= 16; logN++)
        {
            if ((1 << (logN - 1)) < slots) continue;
            int? max = HomomorphicEncryptionStandard.MaxLogQP(logN, security);
            if (max is null) continue;
            for (int special = Math.Clamp((depth + 1 + 7) / 8, 1, 4); special >= 1; special--)
            {
                int fits = (max.Value - 60 - 60 * special) / depth;
                int chosen = logScale ?? Math.Min(maximumScale, fits);
                if (chosen > fits || chosen < (logScale ?? minimumScale)) continue;
                return new CkksParametersLiteral
                {
                    LogN = logN,
                    LogQ = [60, .. Enumerable.Repeat(chosen, depth)],
                    LogP = [.. Enumerable.Repeat(60, special)],
                    LogDefaultScale = chosen,
                    Security = security,
                };
            }
        }
        throw new ArgumentException($"No ring up to N = 2^16 holds depth {depth} with {slots} slots at {security} and a scale of at least 2^{logScale ?? minimumScale}.");
    }
}
