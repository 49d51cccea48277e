using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>
/// An encrypted matrix–vector product y = M·x by the diagonal method with baby-step giant-step rotations
/// (Halevi–Shoup 2014, 2018), for vectors packed in slots [0, n) and repeated with period n across all slots.
/// </summary>
/// <remarks>
/// <para>y = Σ_t Rot_(t·g)( Σ_s Rot_(−t·g)(diag_(t·g+s)) ⊙ Rot_s(x) ), diag_i[j] = M[j, (j + i) mod n], with g baby steps
/// and n/g giant steps. The g − 1 baby rotations of x share one key-switching decomposition (hoisting); the diagonals
/// are encoded at scale q_ℓ so that the single rescale at the end restores the input's scale exactly, once per level
/// (cached: a transform applied to many inputs encodes nothing after the first).</para>
/// <para>Cost: depth 1; (g − 1) hoisted rotations + (n/g − 1) rotations; n plaintext multiplications.
/// The output is again packed with period n, so transforms chain.</para>
/// </remarks>
public sealed class LinearTransform
{
    private readonly double[][] _diagonals; // pre-rotated by −t·g
    private readonly int _n, _baby, _giant;
    private readonly Dictionary<(int Level, int Slots), Plaintext?[]> _encoded = [];
    private readonly Lock _gate = new();

    /// <summary>The dimension n (a power of two at least the matrix's larger side).</summary>
    public int Dimension => _n;

    /// <summary>The rotation steps this transform uses: generate Galois keys for exactly these.</summary>
    public IReadOnlyList<int> RequiredRotations { get; }

    /// <summary>Hoisted baby-step rotations and plain giant-step rotations per application.</summary>
    public (int Baby, int Giant) RotationCount => (_baby - 1, _giant - 1);

    /// <summary>Nonzero diagonals: plaintext products per application.</summary>
    public int DiagonalCount => _diagonals.Count(d => d is not null);

    private LinearTransform(double[][] diagonals, int n, int baby)
    {
        _diagonals = diagonals;
        _n = n;
        _baby = baby;
        _giant = n / baby;
        var steps = new List<int>();
        for (int s = 1; s < _baby; s++) steps.Add(s);
        for (int t = 1; t < _giant; t++) steps.Add(t * _baby);
        RequiredRotations = steps;
    }

    /// <summary>The transform x ↦ M·x for an r × c matrix (padded with zeros to n × n, n = next power of two of max(r, c)).</summary>
    /// <param name="matrix">The matrix, row-major as jagged rows of equal length.</param>
    /// <param name="slots">The slot count of the parameters (n must divide it).</param>
    /// <param name="babySteps">Baby steps g (a power of two dividing n); default ≈ √n.</param>
    /// <exception cref="ArgumentException">Empty or ragged matrix, non-finite entries, n above the slot count, or a bad g.</exception>
    public static LinearTransform MatrixVector(double[][] matrix, int slots, int? babySteps = null)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.Length == 0 || matrix[0].Length == 0) throw new ArgumentException("The matrix is empty.", nameof(matrix));
        int cols = matrix[0].Length;
        if (matrix.Any(r => r is null || r.Length != cols)) throw new ArgumentException("All rows must have the same length.", nameof(matrix));
        if (matrix.Any(r => r.Any(v => !double.IsFinite(v)))) throw new ArgumentException("Entries must be finite.", nameof(matrix));
        int n = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(matrix.Length, cols));
        if (n > slots || slots % n != 0) throw new ArgumentException($"Dimension {n} does not divide the {slots} slots.", nameof(matrix));
        int g = babySteps ?? (1 << ((System.Numerics.BitOperations.Log2((uint)n) + 1) / 2));
        if (g < 1 || g > n || n % g != 0 || (g & (g - 1)) != 0) throw new ArgumentException($"Baby steps must be a power of two dividing {n}; got {g}.", nameof(babySteps));
        var diagonals = new double[n][];
        for (int i = 0; i < n; i++)
        {
            int shift = i / g * g; // pre-rotate by −t·g so the giant rotation can be applied after the sum
            var d = new double[n];
            for (int j = 0; j < n; j++)
            {
                int row = ((j - shift) % n + n) % n;
                int col = (row + i) % n;
                d[j] = row < matrix.Length && col < cols ? matrix[row][col] : 0;
            }
            diagonals[i] = d;
        }
        return new LinearTransform(diagonals, n, g);
    }

    /// <summary>The transform x ↦ xᵀ·M = Mᵀ·x.</summary>
    public static LinearTransform VectorMatrix(double[][] matrix, int slots, int? babySteps = null)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.Length == 0) throw new ArgumentException("The matrix is empty.", nameof(matrix));
        int rows = matrix.Length, cols = matrix[0].Length;
        var transposed = new double[cols][];
        for (int c = 0; c < cols; c++)
        {
            transposed[c] = new double[rows];
            for (int r = 0; r < rows; r++) transposed[c][r] = matrix[r].Length == cols ? matrix[r][c] : throw new ArgumentException("All rows must have the same length.", nameof(matrix));
        }
        return MatrixVector(transposed, slots, babySteps);
    }

    /// <summary>Applies the transform to x (packed with period n); the result has the input's scale, one level lower.</summary>
    /// <exception cref="InvalidOperationException">x is at level 0, or a rotation key is missing.</exception>
    public Ciphertext Apply(CkksEvaluator evaluator, CkksEncoder encoder, Ciphertext x)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(encoder);
        return Apply(new CkksCircuitEvaluator(evaluator, encoder), x);
    }

    /// <summary>Applies the transform to x (packed with period n) through a scheme's evaluator.</summary>
    /// <exception cref="InvalidOperationException">x is at level 0, or a rotation key is missing.</exception>
    public Ciphertext Apply(ICircuitEvaluator evaluator, Ciphertext x)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(x);
        if (x.Level == 0) throw new InvalidOperationException("A linear transform needs one level; the ciphertext has none left.");
        int level = x.Level;
        double diagonalScale = evaluator.RescaleFactor(level);
        var plaintexts = Encoded(evaluator, level, diagonalScale);
        var babySteps = Enumerable.Range(0, _baby).ToArray();
        var rotated = evaluator.RotateHoisted(x, babySteps);
        Ciphertext? result = null;
        for (int t = 0; t < _giant; t++)
        {
            Ciphertext? inner = null;
            for (int s = 0; s < _baby; s++)
            {
                var pt = plaintexts[t * _baby + s];
                if (pt is null) continue;
                var term = evaluator.MultiplyPlain(rotated[s], pt);
                if (inner is null) inner = term; else evaluator.Add(inner, term, inner);
            }
            if (inner is null) continue;
            if (t > 0) evaluator.Rotate(inner, t * _baby, inner);
            if (result is null) result = inner; else evaluator.Add(result, inner, result);
        }
        result ??= evaluator.MultiplyScalar(x, 0.0, diagonalScale);
        evaluator.Rescale(result, result);
        return result;
    }

    /// <summary>The diagonals repeated with period n and encoded at q_level, once per level and slot count (null: all zero).</summary>
    private Plaintext?[] Encoded(ICircuitEvaluator encoder, int level, double scale)
    {
        lock (_gate)
        {
            if (_encoded.TryGetValue((level, encoder.Slots), out var cached)) return cached;
            int slots = encoder.Slots;
            var periodic = new double[slots];
            var result = new Plaintext?[_diagonals.Length];
            for (int i = 0; i < _diagonals.Length; i++)
            {
                var diagonal = _diagonals[i];
                if (diagonal.All(v => v == 0)) continue;
                for (int j = 0; j < slots; j++) periodic[j] = diagonal[j % _n];
                result[i] = encoder.Encode(periodic, scale, level);
            }
            _encoded[(level, slots)] = result;
            return result;
        }
    }
}

/// <summary>Sums and replications across slots by rotate-and-add.</summary>
public static class SlotOperations
{
    /// <summary>A 0/1 vector of <paramref name="slots"/> values with a 1 at the first slot of every block of <paramref name="width"/>.</summary>
    public static double[] BlockStarts(int slots, int width)
    {
        if (width < 1 || slots % width != 0) throw new ArgumentException($"The block width must divide the {slots} slots; got {width}.", nameof(width));
        var mask = new double[slots];
        for (int i = 0; i < slots; i += width) mask[i] = 1;
        return mask;
    }

    /// <summary>Rotation steps used by <see cref="SumWithinBlocks(ICircuitEvaluator, Ciphertext, int)"/> for blocks of n slots.</summary>
    public static IReadOnlyList<int> SumRotations(int n)
    {
        var steps = new List<int>();
        for (int k = 1; k < n; k <<= 1) steps.Add(k);
        return steps;
    }

    /// <summary>Rotation steps used by <see cref="Replicate(ICircuitEvaluator, Ciphertext, int)"/> from n slots to all of them.</summary>
    public static IReadOnlyList<int> ReplicateRotations(int n, int slots)
    {
        var steps = new List<int>();
        for (int k = n; k < slots; k <<= 1) steps.Add(-k);
        return steps;
    }

    /// <summary>
    /// For x packed with period n (n a power of two), every slot receives the sum of the n values of its period:
    /// log2 n rotations and additions.
    /// </summary>
    public static Ciphertext SumWithinBlocks(CkksEvaluator evaluator, Ciphertext x, int n) =>
        SumWithinBlocks(new CkksCircuitEvaluator(evaluator ?? throw new ArgumentNullException(nameof(evaluator))), x, n);

    /// <summary><see cref="SumWithinBlocks(CkksEvaluator, Ciphertext, int)"/> through any scheme's evaluator.</summary>
    public static Ciphertext SumWithinBlocks(ICircuitEvaluator evaluator, Ciphertext x, int n)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        if (n < 1 || (n & (n - 1)) != 0) throw new ArgumentException("n must be a power of two.", nameof(n));
        var acc = x.Clone();
        for (int k = 1; k < n; k <<= 1) evaluator.Add(acc, evaluator.Rotate(acc, k), acc);
        return acc;
    }

    /// <summary>Values in slots [0, n) (zero elsewhere) repeated with period n across all slots.</summary>
    public static Ciphertext Replicate(CkksEvaluator evaluator, Ciphertext x, int n) =>
        Replicate(new CkksCircuitEvaluator(evaluator ?? throw new ArgumentNullException(nameof(evaluator))), x, n);

    /// <summary><see cref="Replicate(CkksEvaluator, Ciphertext, int)"/> through any scheme's evaluator.</summary>
    public static Ciphertext Replicate(ICircuitEvaluator evaluator, Ciphertext x, int n)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        int slots = evaluator.Slots;
        if (n < 1 || n > slots || slots % n != 0) throw new ArgumentException($"n must divide the {slots} slots.", nameof(n));
        var acc = x.Clone();
        for (int k = n; k < slots; k <<= 1) evaluator.Add(acc, evaluator.Rotate(acc, -k), acc);
        return acc;
    }
}
