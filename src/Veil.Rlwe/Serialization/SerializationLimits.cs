namespace Veil.Rlwe.Serialization;

/// <summary>
/// Bounds applied when loading untrusted bytes, so that a declared length can never make the loader read or
/// allocate more than the caller agreed to.
/// </summary>
/// <remarks>Immutable; derive variants with <c>SerializationLimits.Default with { MaxObjectBytes = … }</c>.</remarks>
public sealed record SerializationLimits
{
    /// <summary>The default for <see cref="MaxObjectBytes"/>: 1 GiB.</summary>
    public const long DefaultMaxObjectBytes = 1L << 30;

    /// <summary>The default limits.</summary>
    public static SerializationLimits Default { get; } = new();

    /// <summary>
    /// Largest payload accepted, in bytes, both as stored (possibly compressed) and after decompression.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or above <see cref="Array.MaxLength"/>
    /// (a payload is held in one array).</exception>
    public long MaxObjectBytes
    {
        get;
        init
        {
            if (value < 0 || value > Array.MaxLength)
                throw new ArgumentOutOfRangeException(nameof(MaxObjectBytes), value, $"The limit must be in [0, {Array.MaxLength}] bytes.");
            field = value;
        }
    } = DefaultMaxObjectBytes;

    /// <summary>The default for <see cref="MaxRingWords"/>: 2^22 (e.g. N = 65536 with 64 primes).</summary>
    public const long DefaultMaxRingWords = 1L << 22;

    /// <summary>
    /// Largest N·(|Q| + |P|) a loaded parameter set may have. A few hundred bytes of parameters make the loader
    /// build NTT tables of 32 bytes per ring word, so this bounds the memory and time that untrusted parameters cost.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public long MaxRingWords
    {
        get;
        init
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(MaxRingWords), value, "The limit must be positive.");
            field = value;
        }
    } = DefaultMaxRingWords;
}
