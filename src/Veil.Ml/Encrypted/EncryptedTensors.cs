using Veil.Serialization;
using System.Buffers.Binary;
using Veil.Ckks;
using Veil.Circuits;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Ml.Encrypted;

/// <summary>
/// A vector of up to S values (S = slots) in one ciphertext, repeated with a period P (a power of two ≥ its length,
/// P = S for an unreplicated vector). Operations relinearize and rescale automatically, and align levels and scales.
/// </summary>
/// <remarks>
/// Rotation keys needed: <see cref="RequiredRotations"/> for sums and dot products with period P, plus those of any
/// <see cref="LinearTransform"/> used by <see cref="MatMul"/>.
/// </remarks>
public sealed class EncryptedVector
{
    /// <summary>The context the vector lives in.</summary>
    public CkksContext Context { get; }
    /// <summary>The ciphertext.</summary>
    public Ciphertext Ciphertext { get; }
    /// <summary>Number of meaningful values.</summary>
    public int Length { get; }
    /// <summary>Repetition period (power of two).</summary>
    public int Period { get; }

    internal EncryptedVector(CkksContext context, Ciphertext ciphertext, int length, int period)
    {
        Context = context;
        Ciphertext = ciphertext;
        Length = length;
        Period = period;
    }

    /// <summary>The period used for a vector of a given length: the next power of two.</summary>
    public static int PeriodFor(int length) => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, length));

    /// <summary>Rotations for sums and dot products of vectors with period P.</summary>
    public static IReadOnlyList<int> RequiredRotations(int period) => SlotOperations.SumRotations(period);

    /// <summary>Encrypts values, repeated with period <see cref="PeriodFor"/> across all slots (replicated packing).</summary>
    /// <exception cref="ArgumentException">More values than slots, or a non-finite value.</exception>
    public static EncryptedVector Encrypt(CkksContext context, ReadOnlySpan<double> values)
    {
        ArgumentNullException.ThrowIfNull(context);
        int slots = context.Parameters.Slots;
        if (values.Length == 0 || values.Length > slots) throw new ArgumentException($"A vector holds 1 … {slots} values; got {values.Length}.", nameof(values));
        int period = PeriodFor(values.Length);
        var packed = new double[slots];
        for (int i = 0; i < slots; i++) packed[i] = i % period < values.Length ? values[i % period] : 0;
        return new EncryptedVector(context, context.Encrypt(packed), values.Length, period);
    }

    /// <summary>The values (key owner only).</summary>
    /// <exception cref="InvalidOperationException">The context is public.</exception>
    public double[] Decrypt() => Context.Decrypt(Ciphertext)[..Length];

    private CkksEvaluator Ev => Context.Evaluator;

    private EncryptedVector With(Ciphertext ct, int length) => new(Context, ct, length, Period);

    private void CheckPartner(EncryptedVector other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!ReferenceEquals(other.Context.Parameters, Context.Parameters) && !other.Context.Parameters.Ring.SameRingAs(Context.Parameters.Ring))
            throw new ArgumentException("The vectors belong to different parameters.", nameof(other));
        if (other.Period != Period || other.Length != Length)
            throw new ArgumentException($"Shapes differ: length {Length} period {Period} vs length {other.Length} period {other.Period}.", nameof(other));
    }

    private double[] Packed(ReadOnlySpan<double> values)
    {
        if (values.Length != Length) throw new ArgumentException($"Expected {Length} values; got {values.Length}.", nameof(values));
        int slots = Context.Parameters.Slots;
        var packed = new double[slots];
        for (int i = 0; i < slots; i++) packed[i] = i % Period < Length ? values[i % Period] : 0;
        return packed;
    }

    /// <summary>Brings b to a's level and exact scale (one scalar multiplication and rescale on b's side when needed).</summary>
    private Ciphertext AlignTo(Ciphertext a, Ciphertext b) => b.Level > a.Level ? Ev.BringTo(b, a) : b;

    private (Ciphertext, Ciphertext) Aligned(Ciphertext a, Ciphertext b) => a.Level <= b.Level ? (a, AlignTo(a, b)) : (AlignTo(b, a), b);

    /// <summary>this + other, slot by slot.</summary>
    public EncryptedVector Add(EncryptedVector other)
    {
        CheckPartner(other);
        var (a, b) = Aligned(Ciphertext, other.Ciphertext);
        return With(Ev.Add(a, b), Length);
    }

    /// <summary>this − other, slot by slot.</summary>
    public EncryptedVector Sub(EncryptedVector other)
    {
        CheckPartner(other);
        var (a, b) = Aligned(Ciphertext, other.Ciphertext);
        return With(Ev.Sub(a, b), Length);
    }

    /// <summary>this + plaintext values.</summary>
    public EncryptedVector Add(ReadOnlySpan<double> values) =>
        With(AddValuesTo(Packed(values)), Length);

    private Ciphertext AddValuesTo(double[] values)
    {
        var result = Ciphertext.Clone();
        Ev.AddValues(Ciphertext, values, Context.Encoder, result);
        return result;
    }

    /// <summary>this + c in every slot.</summary>
    public EncryptedVector Add(double value) => With(Ev.AddScalar(Ciphertext, value), Length);

    /// <summary>this ⊙ other (relinearized and rescaled: one level).</summary>
    public EncryptedVector Multiply(EncryptedVector other)
    {
        CheckPartner(other);
        var (a, b) = Aligned(Ciphertext, other.Ciphertext);
        return With(Ev.MultiplyRelinearizeRescale(a, b), Length);
    }

    /// <summary>this ⊙ plaintext values (rescaled back to this scale: one level).</summary>
    public EncryptedVector Multiply(ReadOnlySpan<double> values)
    {
        return With(Ev.MultiplyValues(Ciphertext, Packed(values), Context.Encoder), Length);
    }

    /// <summary>this · c (rescaled back to this scale: one level).</summary>
    public EncryptedVector Multiply(double value) => With(Ev.Rescale(Ev.MultiplyScalar(Ciphertext, value)), Length);

    /// <summary>Σ_i this_i, repeated in every slot of the period (log2 P rotations).</summary>
    public EncryptedVector Sum() => new(Context, SlotOperations.SumWithinBlocks(Ev, Ciphertext, Period), 1, Period);

    /// <summary>⟨this, other⟩ in every slot (one level).</summary>
    public EncryptedVector Dot(EncryptedVector other) => Multiply(other).Sum();

    /// <summary>⟨this, w⟩ for plaintext weights, in every slot (one level).</summary>
    public EncryptedVector Dot(ReadOnlySpan<double> weights) => Multiply(weights).Sum();

    /// <summary>M·this for a plaintext matrix with <see cref="Length"/> columns (one level).</summary>
    /// <exception cref="ArgumentException">The matrix does not fit the vector's period.</exception>
    public EncryptedVector MatMul(double[][] matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.Length == 0 || matrix[0].Length != Length) throw new ArgumentException($"The matrix needs {Length} columns.", nameof(matrix));
        int n = PeriodFor(Math.Max(matrix.Length, Length));
        if (n != Period) throw new ArgumentException($"The product needs period {n}; the vector has {Period}. Encrypt it with a length that pads to {n}.", nameof(matrix));
        var transform = LinearTransform.MatrixVector(matrix, Context.Parameters.Slots);
        return With(transform.Apply(Ev, Context.Encoder, Ciphertext), matrix.Length);
    }

    /// <summary>p(this) slot by slot for a Chebyshev series (values must lie in its interval).</summary>
    public EncryptedVector Polynomial(ChebyshevSeries series) => With(new PolynomialEvaluator(Ev).Evaluate(Ciphertext, series), Length);

    /// <summary>Σ c_k·this^k slot by slot.</summary>
    public EncryptedVector Polynomial(IReadOnlyList<double> coefficients) => With(new PolynomialEvaluator(Ev).EvaluatePowerBasis(Ciphertext, coefficients), Length);

    /// <summary>
    /// Serializes as one Veil object of type (Ml, 1): length u32 ‖ period u32 ‖ the ciphertext, itself a Veil object
    /// (compressed as asked).
    /// </summary>
    public byte[] Save(Compression compression = Compression.None)
    {
        var ct = RlweSerializer.Save(Ciphertext, compression);
        var payload = new byte[8 + ct.Length];
        var w = new PayloadWriter(payload);
        w.WriteInt32(Length);
        w.WriteInt32(Period);
        w.WriteBytes(ct);
        w.EnsureFull();
        return VeilEnvelope.Pack(MlObjectTypes.EncryptedVector, Context.Parameters.Ring.Hash.Span, payload, Compression.None);
    }

    /// <summary>Loads a vector saved by <see cref="Save"/> under the same parameters (or by earlier releases, which wrote
    /// the shape as a bare prefix).</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, a bad shape, or other parameters.</exception>
    public static EncryptedVector Load(CkksContext context, ReadOnlySpan<byte> bytes, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ring = context.Parameters.Ring;
        ReadOnlySpan<byte> body;
        if (bytes.StartsWith(VeilHeader.Magic))
            body = VeilEnvelope.Unpack(bytes, MlObjectTypes.EncryptedVector, ring.Hash.Span, default, limits,
                (limits ?? SerializationLimits.Default).MaxObjectBytes, out _, out _);
        else if (bytes.Length < 8) throw new VeilFormatException("shape", "Fewer than 8 bytes: no shape header.");
        else body = bytes; // the release-1 layout: the same fields without an envelope
        var r = new PayloadReader(body);
        int length = r.ReadInt32("length");
        int period = r.ReadInt32("period");
        int slots = context.Parameters.Slots;
        if (period < 1 || period > slots || (period & (period - 1)) != 0 || slots % period != 0)
            throw new VeilFormatException("period", $"The period must be a power of two dividing {slots}; got {period}.");
        if (length < 1 || length > period) throw new VeilFormatException("length", $"The length must be in [1, {period}]; got {length}.");
        var ct = RlweSerializer.LoadCiphertext(body[8..], ring, limits);
        return new EncryptedVector(context, ct, length, period);
    }
}

/// <summary>How a matrix is laid out in slots.</summary>
public enum MatrixPacking
{
    /// <summary>Row r in slots [r·W, r·W + cols), W = next power of two of the column count; many rows a ciphertext.</summary>
    RowMajor,
    /// <summary>Column c in slots [c·H, c·H + rows), H = next power of two of the row count; many columns a ciphertext.</summary>
    ColumnMajor,
}

/// <summary>
/// A matrix packed row-major (the layout encrypted training uses) or column-major, several rows or columns per ciphertext.
/// </summary>
public sealed class EncryptedMatrix
{
    /// <summary>The context.</summary>
    public CkksContext Context { get; }
    /// <summary>Ciphertexts, each holding S/W rows.</summary>
    public IReadOnlyList<Ciphertext> Blocks { get; }
    /// <summary>Rows.</summary>
    public int Rows { get; }
    /// <summary>Columns.</summary>
    public int Columns { get; }
    /// <summary>Slots per row (row-major) or per column (column-major).</summary>
    public int Width { get; }
    /// <summary>The layout.</summary>
    public MatrixPacking Packing { get; }

    private EncryptedMatrix(CkksContext context, Ciphertext[] blocks, int rows, int cols, int width, MatrixPacking packing = MatrixPacking.RowMajor)
    {
        Context = context;
        Blocks = blocks;
        Rows = rows;
        Columns = cols;
        Width = width;
        Packing = packing;
    }

    /// <summary>Rotations for <see cref="ColumnWeightedSum"/> of a column-major matrix.</summary>
    public static IReadOnlyList<int> ColumnSumRotations(int rows, int columns)
    {
        int height = EncryptedVector.PeriodFor(rows), span = EncryptedVector.PeriodFor(columns);
        var steps = new List<int>();
        for (int k = height; k < height * span; k <<= 1) steps.Add(k);
        return steps;
    }

    /// <summary>Encrypts a matrix column-major: column c in slots [c·H, c·H + rows) of block ⌊c / (S/H)⌋.</summary>
    /// <exception cref="ArgumentException">Empty or ragged, or a column longer than the slots.</exception>
    public static EncryptedMatrix EncryptColumns(CkksContext context, double[][] matrix)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.Length == 0 || matrix[0].Length == 0 || matrix.Any(r => r.Length != matrix[0].Length))
            throw new ArgumentException("The matrix must be non-empty with rows of equal length.", nameof(matrix));
        int rows = matrix.Length, cols = matrix[0].Length, height = EncryptedVector.PeriodFor(rows), slots = context.Parameters.Slots;
        if (height > slots) throw new ArgumentException($"{rows} rows do not fit {slots} slots.", nameof(matrix));
        int perCt = slots / height, blocks = (cols + perCt - 1) / perCt;
        var cts = new Ciphertext[blocks];
        for (int b = 0; b < blocks; b++)
        {
            var packed = new double[slots];
            for (int c = b * perCt; c < Math.Min(cols, (b + 1) * perCt); c++)
                for (int r = 0; r < rows; r++) packed[(c - b * perCt) * height + r] = matrix[r][c];
            cts[b] = context.Encrypt(packed);
        }
        return new EncryptedMatrix(context, cts, rows, cols, height, MatrixPacking.ColumnMajor);
    }

    /// <summary>
    /// Σ_c w_c·column_c for a column-major matrix and plaintext weights: an encrypted vector of the row values (one
    /// level, log2 of the columns per block rotations).
    /// </summary>
    /// <exception cref="InvalidOperationException">The matrix is row-major.</exception>
    public EncryptedVector ColumnWeightedSum(ReadOnlySpan<double> weights)
    {
        if (Packing != MatrixPacking.ColumnMajor) throw new InvalidOperationException("ColumnWeightedSum needs a column-major matrix.");
        if (weights.Length != Columns) throw new ArgumentException($"Expected {Columns} weights; got {weights.Length}.", nameof(weights));
        var ev = Context.Evaluator;
        int slots = Context.Parameters.Slots, perCt = slots / Width;
        Ciphertext? total = null;
        for (int b = 0; b < Blocks.Count; b++)
        {
            var packed = new double[slots];
            for (int c = b * perCt; c < Math.Min(Columns, (b + 1) * perCt); c++)
                for (int r = 0; r < Width; r++) packed[(c - b * perCt) * Width + r] = weights[c];
            var block = Blocks[b];
            var product = ev.MultiplyValues(block, packed, Context.Encoder);
            if (total is null) total = product; else ev.Add(total, product, total);
        }
        int span = EncryptedVector.PeriodFor(Math.Min(Columns, perCt));
        for (int k = Width; k < Width * span; k <<= 1) ev.Add(total!, ev.Rotate(total!, k), total!);
        return new EncryptedVector(Context, total!, Rows, slots);
    }

    /// <summary>
    /// Serializes as one Veil object of type (Ml, 2): rows ‖ columns ‖ width ‖ packing ‖ block count (u32 each) ‖ the
    /// blocks, each a Veil ciphertext object (compressed as asked).
    /// </summary>
    public byte[] Save(Compression compression = Compression.None)
    {
        using var stream = new MemoryStream();
        Span<byte> header = stackalloc byte[20];
        BinaryPrimitives.WriteInt32LittleEndian(header, Rows);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], Columns);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], Width);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], (int)Packing);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], Blocks.Count);
        stream.Write(header);
        foreach (var block in Blocks) RlweSerializer.Save(block, stream, compression);
        return VeilEnvelope.Pack(MlObjectTypes.EncryptedMatrix, Context.Parameters.Ring.Hash.Span, stream.ToArray(), Compression.None);
    }

    /// <summary>Loads a matrix saved by <see cref="Save"/> under the same parameters (or by earlier releases, which wrote
    /// the shape as a bare prefix); every count is checked before use.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, an inconsistent shape, or other parameters.</exception>
    public static EncryptedMatrix Load(CkksContext context, byte[] bytes, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.AsSpan().StartsWith(VeilHeader.Magic))
            bytes = VeilEnvelope.Unpack(bytes, MlObjectTypes.EncryptedMatrix, context.Parameters.Ring.Hash.Span, default, limits,
                (limits ?? SerializationLimits.Default).MaxObjectBytes, out _, out _).ToArray();
        if (bytes.Length < 20) throw new VeilFormatException("shape", "Fewer than 20 bytes: no shape header.");
        int rows = BinaryPrimitives.ReadInt32LittleEndian(bytes), cols = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4));
        int width = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)), packing = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        int blocks = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16));
        int slots = context.Parameters.Slots;
        if (packing is not (0 or 1)) throw new VeilFormatException("packing", $"Unknown packing {packing}.");
        var kind = (MatrixPacking)packing;
        if (rows < 1 || cols < 1 || rows > 1 << 24 || cols > 1 << 24) throw new VeilFormatException("shape", $"Bad shape {rows} × {cols}.");
        int inner = kind == MatrixPacking.RowMajor ? cols : rows, outer = kind == MatrixPacking.RowMajor ? rows : cols;
        if (width != EncryptedVector.PeriodFor(inner) || width > slots) throw new VeilFormatException("width", $"Width {width} does not match {inner} within {slots} slots.");
        long expectedBlocks = ((long)outer + slots / width - 1) / (slots / width);
        if (blocks != expectedBlocks) throw new VeilFormatException("blocks", $"Expected {expectedBlocks} blocks for this shape; got {blocks}.");
        using var stream = new MemoryStream(bytes, 20, bytes.Length - 20, writable: false);
        var cts = new Ciphertext[blocks];
        for (int b = 0; b < blocks; b++) cts[b] = RlweSerializer.LoadCiphertext(stream, context.Parameters.Ring, limits);
        if (stream.Position != stream.Length) throw new VeilFormatException("trailing", $"{stream.Length - stream.Position} bytes follow the last block.");
        return new EncryptedMatrix(context, cts, rows, cols, width, kind);
    }

    /// <summary>Rotations for row-wise dot products (sum within a row, then copy over the row).</summary>
    public static IReadOnlyList<int> RequiredRotations(int columns)
    {
        int width = EncryptedVector.PeriodFor(columns);
        var sums = SlotOperations.SumRotations(width);
        return sums.Concat(sums.Select(s => -s)).ToArray();
    }

    /// <summary>Encrypts a matrix row-major.</summary>
    /// <exception cref="ArgumentException">Empty or ragged, or a row wider than the slots.</exception>
    public static EncryptedMatrix Encrypt(CkksContext context, double[][] matrix)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.Length == 0 || matrix[0].Length == 0 || matrix.Any(r => r.Length != matrix[0].Length))
            throw new ArgumentException("The matrix must be non-empty with rows of equal length.", nameof(matrix));
        int cols = matrix[0].Length, width = EncryptedVector.PeriodFor(cols), slots = context.Parameters.Slots;
        if (width > slots) throw new ArgumentException($"{cols} columns do not fit {slots} slots.", nameof(matrix));
        int perCt = slots / width, blocks = (matrix.Length + perCt - 1) / perCt;
        var cts = new Ciphertext[blocks];
        for (int b = 0; b < blocks; b++)
        {
            var packed = new double[slots];
            for (int r = b * perCt; r < Math.Min(matrix.Length, (b + 1) * perCt); r++)
                for (int c = 0; c < cols; c++) packed[(r - b * perCt) * width + c] = matrix[r][c];
            cts[b] = context.Encrypt(packed);
        }
        return new EncryptedMatrix(context, cts, matrix.Length, cols, width);
    }

    /// <summary>The matrix (key owner only).</summary>
    public double[][] Decrypt()
    {
        int perCt = Context.Parameters.Slots / Width;
        if (Packing == MatrixPacking.ColumnMajor)
        {
            var m = Enumerable.Range(0, Rows).Select(_ => new double[Columns]).ToArray();
            for (int b = 0; b < Blocks.Count; b++)
            {
                var v = Context.Decrypt(Blocks[b]);
                for (int c = b * perCt; c < Math.Min(Columns, (b + 1) * perCt); c++)
                    for (int r = 0; r < Rows; r++) m[r][c] = v[(c - b * perCt) * Width + r];
            }
            return m;
        }
        var result = new double[Rows][];
        for (int b = 0; b < Blocks.Count; b++)
        {
            var v = Context.Decrypt(Blocks[b]);
            for (int r = b * perCt; r < Math.Min(Rows, (b + 1) * perCt); r++)
                result[r] = v.AsSpan((r - b * perCt) * Width, Columns).ToArray();
        }
        return result;
    }

    /// <summary>
    /// The row scores X·w for an encrypted weight vector of period W (replicated per row): each row's score lands in
    /// the row's first slot and is copied over the row (one level for the product, one for the mask).
    /// </summary>
    public double[] DecryptRowScores(IReadOnlyList<Ciphertext> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        int perCt = Context.Parameters.Slots / Width;
        var result = new double[Rows];
        for (int b = 0; b < scores.Count; b++)
        {
            var v = Context.Decrypt(scores[b]);
            for (int r = b * perCt; r < Math.Min(Rows, (b + 1) * perCt); r++) result[r] = v[(r - b * perCt) * Width];
        }
        return result;
    }

    /// <summary>X·w with w encrypted (period W): one ciphertext of row scores per block (two levels).</summary>
    public IReadOnlyList<Ciphertext> MatVec(EncryptedVector weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (Packing != MatrixPacking.RowMajor) throw new InvalidOperationException("MatVec needs a row-major matrix; use ColumnWeightedSum for column-major.");
        if (weights.Period != Width || weights.Length > Width) throw new ArgumentException($"The weights need period {Width}; got {weights.Period}.", nameof(weights));
        return Blocks.Select(block => RowScores(Context.Evaluator.MultiplyRelinearizeRescale(block, weights.Ciphertext))).ToArray();
    }

    /// <summary>X·w with plaintext weights: one ciphertext of row scores per block (two levels).</summary>
    public IReadOnlyList<Ciphertext> MatVec(ReadOnlySpan<double> weights)
    {
        if (Packing != MatrixPacking.RowMajor) throw new InvalidOperationException("MatVec needs a row-major matrix; use ColumnWeightedSum for column-major.");
        if (weights.Length != Columns) throw new ArgumentException($"Expected {Columns} weights; got {weights.Length}.", nameof(weights));
        int slots = Context.Parameters.Slots;
        var packed = new double[slots];
        for (int i = 0; i < slots; i++) packed[i] = i % Width < Columns ? weights[i % Width] : 0;
        var ev = Context.Evaluator;
        return Blocks.Select(block =>
        {
            return RowScores(ev.MultiplyValues(block, packed, Context.Encoder));
        }).ToArray();
    }

    private Ciphertext RowScores(Ciphertext products)
    {
        var ev = Context.Evaluator;
        int slots = Context.Parameters.Slots;
        var sums = SlotOperations.SumWithinBlocks(ev, products, Width);
        var starts = SlotOperations.BlockStarts(slots, Width);
        var masked = ev.MultiplyValues(sums, starts, Context.Encoder);
        for (int k = 1; k < Width; k <<= 1) ev.Add(masked, ev.Rotate(masked, -k), masked);
        return masked;
    }
}
