using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>Column means and sample variances computed on ciphertexts and released by the key owner.</summary>
/// <param name="Mean">Per column, the released mean.</param>
/// <param name="Variance">Per column, the released sample variance (divided by n − 1).</param>
/// <param name="MeanErrorBound">Per column, the bound the release guarantees on |released − exact| for the mean, with
/// probability 1 − 2^−40: eight standard deviations of the flooding noise, in the column's units.</param>
/// <param name="VarianceErrorBound">The same for the variance.</param>
/// <param name="PrecisionBits">Bits kept by the release of the means and of the variances, in the scaled units
/// (every column scaled into [−1, 1]).</param>
public sealed record ColumnStatistics(double[] Mean, double[] Variance, double[] MeanErrorBound, double[] VarianceErrorBound,
    (double Mean, double Variance) PrecisionBits);

/// <summary>
/// The data owner's side of encrypted column statistics: it scales every column into [−1, 1] by a power of two, packs
/// rows into ciphertexts (feature c of a row in slot row·stride + c), and releases the two results — which it means to
/// share — through flooding (<see cref="CkksContext.Release"/>), from a key whose budget is exactly those two releases.
/// </summary>
/// <remarks>
/// <para><b>What each party learns.</b> The computing party: the row and column counts, the stride, the power-of-two
/// scale of each column (which brackets the column's largest magnitude within a factor of two), ciphertexts. The
/// readers of the released statistics: the means and variances to the stated precision, and nothing usable about the
/// key (the flooding is sized for the key's two releases at 40-bit statistical security).</para>
/// <para>Parameters: N = 2^14, Q = {60, 55 × 4}, P = {60} (340 bits, 128-bit secure), scale 2^55. The variance ends at
/// level 0, so values are kept inside [−1, 1] to leave q_0 room above the scale.</para>
/// </remarks>
public sealed class ColumnStatisticsOwner : IDisposable
{
    /// <summary>The parameters used.</summary>
    public static CkksParametersLiteral DefaultParameters => new() { LogN = 14, LogQ = [60, 55, 55, 55, 55], LogP = [60], LogDefaultScale = 55 };

    private readonly CkksContext _context;
    private readonly double[] _scales;

    /// <summary>Rows per ciphertext slot group: slot i holds feature i mod <see cref="Stride"/> of some row.</summary>
    public int Stride { get; }
    /// <summary>Number of rows.</summary>
    public int Rows { get; }
    /// <summary>Number of columns.</summary>
    public int Features { get; }
    /// <summary>The encrypted, scaled rows, to hand to the computing party.</summary>
    public IReadOnlyList<Ciphertext> Blocks { get; }
    /// <summary>The context the computing party gets: parameters, public and evaluation keys, no secret key.</summary>
    public CkksContext PublicContext { get; }
    /// <summary>The parameters.</summary>
    public CkksParameters Parameters => _context.Parameters;

    /// <summary>Generates keys and encrypts the scaled rows.</summary>
    /// <exception cref="ArgumentException">Fewer than two rows, ragged rows, a non-finite value, or more columns than the stride.</exception>
    public ColumnStatisticsOwner(double[][] x, int stride = 32)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Length < 2) throw new ArgumentException("Statistics need at least two rows.", nameof(x));
        Features = x[0].Length;
        if (Features < 1 || Features > stride) throw new ArgumentException($"1 to {stride} columns fit the stride; got {Features}.", nameof(x));
        if ((stride & (stride - 1)) != 0) throw new ArgumentException($"The stride must be a power of two; got {stride}.", nameof(stride));
        foreach (var row in x)
        {
            if (row is null || row.Length != Features) throw new ArgumentException("Rows must all have the same length.", nameof(x));
            if (row.Any(v => !double.IsFinite(v))) throw new ArgumentException("Every value must be finite.", nameof(x));
        }
        Stride = stride;
        Rows = x.Length;
        // A power of two per column, so that scaled values lie in [−1, 1] and unscaling is exact.
        _scales = Enumerable.Range(0, Features).Select(c =>
        {
            double max = x.Max(r => Math.Abs(r[c]));
            return max == 0 ? 1 : Math.Pow(2, Math.Ceiling(Math.Log2(max)));
        }).ToArray();
        var parameters = CkksParameters.Create(DefaultParameters);
        int slots = parameters.Slots;
        _context = CkksContext.Create(parameters, SumRotations(slots, stride), releaseBudget: 2);
        PublicContext = _context.ToPublic();
        int rowsPerBlock = slots / stride, blocks = (Rows + rowsPerBlock - 1) / rowsPerBlock;
        var cts = new Ciphertext[blocks];
        for (int b = 0; b < blocks; b++)
        {
            var packed = new double[slots];
            for (int r = b * rowsPerBlock; r < Math.Min(Rows, (b + 1) * rowsPerBlock); r++)
                for (int c = 0; c < Features; c++) packed[(r - b * rowsPerBlock) * stride + c] = x[r][c] / _scales[c];
            cts[b] = _context.Encrypt(packed);
            Array.Clear(packed);
        }
        Blocks = cts;
    }

    /// <summary>The power-of-two scale of each column (public: the computing party may know it).</summary>
    public IReadOnlyList<double> ColumnScales => _scales;

    /// <summary>The rotations by stride·2^k that sum a feature over all rows of a ciphertext.</summary>
    public static IEnumerable<int> SumRotations(int slots, int stride)
    {
        for (int s = stride; s < slots; s <<= 1) yield return s;
    }

    /// <summary>
    /// Releases the computing party's results: both are flooded (and counted against the key's budget of two), then
    /// unscaled per column.
    /// </summary>
    /// <exception cref="DecryptionBudgetExhaustedException">The statistics were already released.</exception>
    public ColumnStatistics Release(Ciphertext mean, Ciphertext variance)
    {
        var m = _context.Release(mean, 0, Features);
        var v = _context.Release(variance, 0, Features);
        double bm = 8 * Math.Pow(2, -m.PrecisionBits), bv = 8 * Math.Pow(2, -v.PrecisionBits);
        return new ColumnStatistics(
            m.Values.Select((value, c) => value * _scales[c]).ToArray(),
            v.Values.Select((value, c) => value * _scales[c] * _scales[c]).ToArray(),
            _scales.Select(s => bm * s).ToArray(),
            _scales.Select(s => bv * s * s).ToArray(),
            (m.PrecisionBits, v.PrecisionBits));
    }

    /// <summary>Clears the secret key.</summary>
    public void Dispose() => _context.Dispose();
}

/// <summary>The computing party's side of <see cref="ColumnStatisticsOwner"/>: mean and sample variance per column.</summary>
public static class EncryptedColumnStatistics
{
    /// <summary>
    /// Σ rows / n and Σ (row − mean)² / (n − 1) per feature, in slot c of the results (and every slot congruent to c
    /// modulo the stride). Empty slots are masked out of the squared deviations.
    /// </summary>
    /// <exception cref="ArgumentException">No blocks, or shapes that do not fit the parameters.</exception>
    public static (Ciphertext Mean, Ciphertext Variance) Compute(CkksContext computing, IReadOnlyList<Ciphertext> blocks, int rows, int features, int stride)
    {
        ArgumentNullException.ThrowIfNull(computing);
        ArgumentNullException.ThrowIfNull(blocks);
        int slots = computing.Parameters.Slots, rowsPerBlock = slots / stride;
        if (blocks.Count == 0 || rows < 2 || blocks.Count != (rows + rowsPerBlock - 1) / rowsPerBlock || features > stride)
            throw new ArgumentException($"{blocks.Count} blocks do not hold {rows} rows of {features} features at stride {stride}.", nameof(blocks));
        var ev = computing.Evaluator;
        var sum = blocks[0].Clone();
        for (int b = 1; b < blocks.Count; b++) ev.Add(sum, blocks[b], sum);
        SumAcrossRows(ev, sum, slots, stride);
        var mean = ev.Rescale(ev.MultiplyScalar(sum, 1.0 / rows));
        Ciphertext? squares = null;
        for (int b = 0; b < blocks.Count; b++)
        {
            var d = ev.Sub(blocks[b], mean);
            // Zero the empty slots (they would hold −mean), at a scale the next rescale divides away exactly.
            var occupied = new double[slots];
            for (int r = b * rowsPerBlock; r < Math.Min(rows, (b + 1) * rowsPerBlock); r++)
                for (int c = 0; c < features; c++) occupied[(r - b * rowsPerBlock) * stride + c] = 1;
            d = ev.MultiplyValues(d, occupied, computing.Encoder);
            var sq = ev.Square(d);
            ev.Relinearize(sq, sq);
            ev.Rescale(sq, sq);
            if (squares is null) squares = sq; else ev.Add(squares, sq, squares);
        }
        SumAcrossRows(ev, squares!, slots, stride);
        var variance = ev.Rescale(ev.MultiplyScalar(squares!, 1.0 / (rows - 1)));
        return (mean, variance);
    }

    private static void SumAcrossRows(CkksEvaluator ev, Ciphertext ct, int slots, int stride)
    {
        for (int s = stride; s < slots; s <<= 1) ev.Add(ct, ev.Rotate(ct, s), ct);
    }
}
