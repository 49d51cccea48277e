namespace Veil.Serialization;

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

    /// <summary>The default for <see cref="MaxGaloisKeys"/>: 512.</summary>
    public const int DefaultMaxGaloisKeys = 512;

    /// <summary>
    /// Most Galois keys one set may hold when loaded. A set can never hold more than N (the distinct Galois elements);
    /// this caps it lower, at what real computations use (a power-of-two set has 2·log2(N) − 1 keys, a bootstrapping
    /// key set a few hundred), since each key is large and a compressed blob of zeros would declare thousands.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public int MaxGaloisKeys
    {
        get;
        init
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(MaxGaloisKeys), value, "The limit must be positive.");
            field = value;
        }
    } = DefaultMaxGaloisKeys;

    /// <summary>The default for <see cref="MaxExpansionRatio"/>: 64.</summary>
    public const int DefaultMaxExpansionRatio = 64;

    /// <summary>
    /// Largest ratio of decompressed to stored bytes accepted (beyond the first MiB). Ciphertexts and keys are uniform
    /// residues that compress by a few percent and a secret key by at most about five times, so a larger ratio is a
    /// decompression bomb: refused from the header, before anything is inflated.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public int MaxExpansionRatio
    {
        get;
        init
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(MaxExpansionRatio), value, "The ratio must be at least 1.");
            field = value;
        }
    } = DefaultMaxExpansionRatio;

    /// <summary>
    /// Whether key-switching, relinearization and Galois keys in format version 1 are accepted. Version 1 does not
    /// bind a key to its kind and Galois element, so a relabelled key would load and give wrong results; such files
    /// load only when the caller opts in here (to read keys saved by releases before version 2).
    /// </summary>
    public bool AllowUnboundLegacyKeys { get; init; }
}
