using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>
/// How a bootstrap spends its levels: the level budgets of CoeffToSlot and SlotToCoeff, and EvalMod's shape (the
/// secret's Hamming weight, which bounds the multiples of q_0 to remove, the double-angle count and the sine degree).
/// </summary>
public sealed record BootstrappingParameters
{
    /// <summary>Levels of CoeffToSlot (each merges log2(n)/levels butterfly stages, n the slot count).</summary>
    public int CoeffToSlotLevels { get; init; } = 3;

    /// <summary>Levels of SlotToCoeff.</summary>
    public int SlotToCoeffLevels { get; init; } = 3;

    /// <summary>
    /// Hamming weight h of the secret the ciphertexts are under at ModRaise (the ephemeral secret's, with
    /// <see cref="Veil.Rlwe.SparseSecretEncapsulation"/>): ModRaise adds q_0·I with every |I_k| ≤ (h + 1)/2
    /// (|c_0| ≤ q_0/2 and each of the h terms of c_1·s is at most q_0/2), so EvalMod's interval K = ⌊(h + 1)/2⌋ + 1
    /// holds every I with certainty — no failure probability.
    /// </summary>
    public int SecretHammingWeight { get; init; } = 32;

    /// <summary>
    /// Double-angle iterations r: EvalMod interpolates cos((2πKx − π/2)/2^r) and squares r times. Null chooses r and
    /// the degree together: the fewest ciphertext products plus three per level (ties: the shallower) that meet <see cref="MaxEvalModError"/>.
    /// </summary>
    public int? DoubleAngle { get; init; }

    /// <summary>Degree of the interpolated cosine; null chooses it (with <see cref="DoubleAngle"/>) to meet <see cref="MaxEvalModError"/> at the least cost.</summary>
    public int? SineDegree { get; init; }

    /// <summary>Largest error of EvalMod's sin(2πKx) as evaluated in doubles (the sine's own units; a message error of
    /// that times q_0/(2π·scale)), over the whole interval, accepted when choosing the degree.</summary>
    public double MaxEvalModError { get; init; } = Math.Pow(2, -40);

    /// <summary>
    /// log2 of q_0 / scale at ModRaise: an input at a smaller scale is multiplied by an integer (no level) to reach it.
    /// Smaller ratios amplify EvalMod's error less; larger ones leave the sine closer to linear (its error is
    /// (2π·m/q_0)²/6 relative to m).
    /// </summary>
    public double LogMessageRatio { get; init; } = 8;

    /// <summary>
    /// log2 of the slot count n the bootstrap works on; null packs all N/2 slots. With n ≤ N/4 (sparse packing) the
    /// values live in the subring of X^(N/2n) — their N/2 slots repeat n values, as
    /// <see cref="Veil.Ckks.CkksEncoder.EncodeSparse(ReadOnlySpan{System.Numerics.Complex}, int, double, int)"/> encodes
    /// them — and the bootstrap costs one EvalMod instead of two and log2 n DFT stages instead of log2(N/2).
    /// </summary>
    public int? LogSlots { get; init; }

    /// <summary>K, the half-width of EvalMod's interval in multiples of q_0.</summary>
    public int K => (SecretHammingWeight + 1) / 2 + 1;

    /// <summary>The slot count the bootstrap works on for a ring with <paramref name="fullSlots"/> = N/2 slots.</summary>
    public int SlotsFor(int fullSlots) => LogSlots is { } l ? 1 << l : fullSlots;

    /// <summary>Checks the fields against each other and against <paramref name="slots"/>.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate(int slots)
    {
        int logFull = System.Numerics.BitOperations.Log2((uint)slots);
        if (LogSlots is { } ls && (ls < 1 || ls > logFull)) throw new ArgumentException($"LogSlots must be in [1, {logFull}] (N/2 = {slots} slots); got {ls}.");
        int logSlots = LogSlots ?? logFull;
        if (CoeffToSlotLevels < 1 || CoeffToSlotLevels > logSlots) throw new ArgumentException($"CoeffToSlotLevels must be in [1, {logSlots}]; got {CoeffToSlotLevels}.");
        if (SlotToCoeffLevels < 1 || SlotToCoeffLevels > logSlots) throw new ArgumentException($"SlotToCoeffLevels must be in [1, {logSlots}]; got {SlotToCoeffLevels}.");
        if (SecretHammingWeight < 1 || SecretHammingWeight > 2 * slots) throw new ArgumentException($"SecretHammingWeight must be in [1, N = {2 * slots}]; got {SecretHammingWeight}.");
        if (DoubleAngle is < 0 or > 8) throw new ArgumentException($"DoubleAngle must be in [0, 8]; got {DoubleAngle}.");
        if (SineDegree is { } d && (d < 3 || d > 255)) throw new ArgumentException($"SineDegree must be in [3, 255]; got {d}.");
        if (!(MaxEvalModError > 0 && MaxEvalModError < 1)) throw new ArgumentException($"MaxEvalModError must be in (0, 1); got {MaxEvalModError}.");
        if (!(LogMessageRatio >= 1 && LogMessageRatio <= 30)) throw new ArgumentException($"LogMessageRatio must be in [1, 30]; got {LogMessageRatio}.");
    }
}

/// <summary>
/// A bootstrappable parameter set: the CKKS literal, laid out as q_0, the levels left for computation, then
/// SlotToCoeff, EvalMod and CoeffToSlot from the bottom up, and the bootstrapping parameters that spend them.
/// </summary>
/// <param name="Literal">The CKKS parameters (the secret's Hamming weight is in <paramref name="Bootstrapping"/>).</param>
/// <param name="Bootstrapping">The bootstrap's shape.</param>
/// <param name="ComputationLevels">Levels left above q_0 after each bootstrap.</param>
/// <param name="Name">A short name for tables.</param>
public sealed record BootstrappingPreset(CkksParametersLiteral Literal, BootstrappingParameters Bootstrapping, int ComputationLevels, string Name)
{
    /// <summary>
    /// Lays out a chain: q_0 of <paramref name="logQ0"/> bits, <paramref name="computationLevels"/> primes of
    /// <paramref name="logComputation"/> bits, then SlotToCoeff's, EvalMod's and CoeffToSlot's primes.
    /// </summary>
    public static BootstrappingPreset Layout(string name, int logN, int logQ0, int computationLevels, int logComputation, BootstrappingParameters bootstrapping,
        int logSlotToCoeff, int logEvalMod, int logCoeffToSlot, int[] logP, SecurityLevel security = SecurityLevel.Bits128)
    {
        ArgumentNullException.ThrowIfNull(bootstrapping);
        ArgumentNullException.ThrowIfNull(logP);
        int evalModDepth = EvalMod.DepthFor(bootstrapping);
        var logQ = new List<int> { logQ0 };
        logQ.AddRange(Enumerable.Repeat(logComputation, computationLevels));
        logQ.AddRange(Enumerable.Repeat(logSlotToCoeff, bootstrapping.SlotToCoeffLevels));
        logQ.AddRange(Enumerable.Repeat(logEvalMod, evalModDepth));
        logQ.AddRange(Enumerable.Repeat(logCoeffToSlot, bootstrapping.CoeffToSlotLevels));
        var literal = new CkksParametersLiteral { LogN = logN, LogQ = logQ.ToArray(), LogP = (int[])logP.Clone(), LogDefaultScale = logComputation, Security = security };
        return new BootstrappingPreset(literal, bootstrapping, computationLevels, name);
    }

    /// <summary>log2(Q·P) of the literal.</summary>
    public int LogQP => Literal.LogQ.Sum() + Literal.LogP.Sum();

    /// <summary>
    /// N = 2^16, dense ternary secret, ephemeral H = 32 for ModRaise (encapsulation), q_0 of 55 bits and ten 40-bit
    /// levels left for computation, like Lattigo's example set; 60-bit EvalMod primes (CoeffToSlot's output noise,
    /// amplified by 2πK, follows their size) and a message ratio of 2^6 (at N = 2^16 that noise outweighs the sine's
    /// curvature: 2^8 / 2^7 / 2^6 gave 23.0 / 24.0 / 24.2 bits): log QP = 1,692, within the HomomorphicEncryption.org
    /// 128-bit bound for N = 2^16 (1,772) and the lattice estimator's 1,747 of <c>../shared/anchors.md</c>.
    /// </summary>
    public static BootstrappingPreset N16 => Layout("N16", 16, 55, 10, 40,
        new BootstrappingParameters { CoeffToSlotLevels = 4, SlotToCoeffLevels = 4, SecretHammingWeight = 32, LogMessageRatio = 6 },
        logSlotToCoeff: 42, logEvalMod: 60, logCoeffToSlot: 56, logP: [61, 61, 61, 61, 61]);

    /// <summary>
    /// N = 2^15, dense secret, ephemeral H = 32, one 40-bit level left: log QP = 861, within the 128-bit bound for
    /// N = 2^15 (881). Two-level transforms and two double angles (degree 56, 8 levels instead of 9) keep room for
    /// 60-bit EvalMod primes: the precision follows their size (55-bit primes gave about 5 bits less).
    /// </summary>
    public static BootstrappingPreset N15 => Layout("N15", 15, 55, 1, 40,
        new BootstrappingParameters { CoeffToSlotLevels = 2, SlotToCoeffLevels = 2, SecretHammingWeight = 32, DoubleAngle = 2 },
        logSlotToCoeff: 35, logEvalMod: 60, logCoeffToSlot: 50, logP: [58, 58]);

    /// <summary>
    /// N = 2^14 with the N = 2^16 chain's shape (two levels left): NOT secure (log QP about 1,000 bits where N = 2^14
    /// allows 438), marked <see cref="SecurityLevel.InsecureNoCheck"/>, for quick demonstrations and tests only.
    /// </summary>
    public static BootstrappingPreset N14Insecure => Layout("N14-insecure", 14, 55, 2, 40,
        new BootstrappingParameters { CoeffToSlotLevels = 3, SlotToCoeffLevels = 3, SecretHammingWeight = 32 },
        logSlotToCoeff: 45, logEvalMod: 60, logCoeffToSlot: 58, logP: [61, 61, 61], SecurityLevel.InsecureNoCheck);
}
