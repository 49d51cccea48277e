namespace Veil.Rlwe;

/// <summary>Target security of a parameter set, against classical attacks.</summary>
public enum SecurityLevel
{
    /// <summary>
    /// No security check at all. Only for tests and experiments with tiny rings; never for real data.
    /// Choosing it is the explicit, visible opt-out the library requires.
    /// </summary>
    InsecureNoCheck = 0,
    /// <summary>128-bit classical security.</summary>
    Bits128 = 128,
    /// <summary>192-bit classical security.</summary>
    Bits192 = 192,
    /// <summary>256-bit classical security.</summary>
    Bits256 = 256,
}

/// <summary>
/// Maximum total modulus log2(Q·P) per ring degree from the HomomorphicEncryption.org security standard
/// (Albrecht et al. 2018), ternary secret, error σ = 3.2.
/// </summary>
public static class HomomorphicEncryptionStandard
{
    private static readonly Dictionary<int, (int b128, int b192, int b256)> Table = new()
    {
        [10] = (27, 19, 14),
        [11] = (54, 37, 29),
        [12] = (109, 75, 58),
        [13] = (218, 152, 118),
        [14] = (438, 305, 237),
        [15] = (881, 611, 476),
    };

    /// <summary>
    /// The largest log2(Q·P) that keeps the level for ring degree 2^logN, or null when the standard has no entry
    /// (2^16 and above: the table stops at 2^15, so larger rings are only accepted with the explicit opt-out or
    /// the bound 1747 from later lattice-estimator runs for 2^16 at 128 bits).
    /// </summary>
    public static int? MaxLogQP(int logN, SecurityLevel level)
    {
        if (logN == 16 && level == SecurityLevel.Bits128) return 1747;
        if (!Table.TryGetValue(logN, out var row)) return null;
        return level switch
        {
            SecurityLevel.Bits128 => row.b128,
            SecurityLevel.Bits192 => row.b192,
            SecurityLevel.Bits256 => row.b256,
            _ => null,
        };
    }
}
