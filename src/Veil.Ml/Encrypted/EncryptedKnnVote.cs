using Veil.Ckks;
using Veil.Circuits;
using Veil.Ml.Data;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// K-nearest-neighbours classification with the vote taken on ciphertexts (mode (b)): the computing party turns an
/// encrypted query, encrypted references and encrypted labels into encrypted per-class tallies of about the k nearest
/// references; the key owner decrypts only those C numbers — never a distance.
/// </summary>
/// <remarks>
/// <para>Roles and what each learns.
/// The <b>data owner</b> (key owner, and the one asking) standardizes its references, scales them by 1/√D so that
/// every squared distance is at most 1 (D is the largest squared distance from a point of the training box to a
/// reference), encrypts them in one ciphertext (reference j in the block of slots [jT, jT + T)) and its labels one-hot
/// (one ciphertext per class), and derives the public <see cref="Circuit"/> from its training data. A query is
/// standardized, clamped to the training box, scaled and encrypted by the owner; up to G =
/// <see cref="QueriesPerCiphertext"/> queries share a ciphertext (interleaved lanes).
/// The <b>computing party</b> holds the public context (no secret key: it cannot decrypt), the ciphertexts and the
/// circuit. It learns n, the number of features and classes, k, T, G, and the circuit's constants: J, I and the radii,
/// which summarize the leave-one-out k-th neighbour distances of the training data in units of D (their smallest and
/// largest value and median octave). It sees no plaintext value — not the features, labels or query, not a distance,
/// a rank or the result — and its operations are the same for every query.
/// The <b>owner</b> decrypts C ciphertexts and reads, for each query, C real numbers: each class's tally, a soft count
/// of that class among about the k nearest references (the same value in every slot of the query's lane: no partial
/// sums or other values are left in the ciphertexts), and takes the largest. It does not see the per-reference
/// distances, the ranks, or which references were near; the tallies (up to CKKS noise, about 0.1 neighbour at the
/// default parameters) depend smoothly on how the neighbours' distances fall around the selected radius, which is all
/// they reveal beyond the class counts.</para>
/// <para>Circuit (see <see cref="KnnVoteCircuit"/>): distances (depth 1), mask and replication of each distance over
/// its block (1), compression e = mean of (1 − x)^(2^i), i = I … J (J squarings), the radius step on e − θ_s for all T
/// radii at once (7), counts and class votes per radius by rotate-and-sum over the blocks, the count step
/// u_s ≈ [count_s ≥ k] (7), and Σ_s u_s·(V_(c,s) − V_(c,s+1)) (1): depth J + 17, 24 for iris and breast cancer
/// (N = 2^15, 30-bit scale, see <see cref="DefaultParameters"/>). Every block takes part in the cyclic sums (padding
/// blocks add a known constant, subtracted in plaintext), so the output is periodic and needs no final mask. Per
/// ciphertext of G queries: 31 + J + 2C ciphertext multiplications and log2(row width) + log2 T + (1 + C)·log2(S/(T·G)) +
/// C·(1 + log2 T) rotations; rotation keys: the powers of two below the slot count S.</para>
/// <para>The plaintext twin (<see cref="FitPlaintext"/>, <see cref="PlaintextTallies"/>, <see cref="PlaintextPredict"/>)
/// runs the same scaling, clamping and polynomials in doubles; the encrypted tallies equal it up to CKKS noise.</para>
/// </remarks>
public sealed class EncryptedKnnVote : IDisposable
{
    private readonly int _k, _radii;
    private Standardizer? _standardizer;
    private double[] _low = [], _high = [];
    private double _scale;
    private double[][] _references = [];
    private double[] _labels = [];
    private KnnVoteCircuit? _circuit;
    private CkksContext? _owner;
    private Ciphertext? _encryptedReferences;
    private Ciphertext[] _encryptedLabels = [];

    /// <summary>A classifier voting among <paramref name="k"/> neighbours.</summary>
    /// <param name="k">Neighbours voting.</param>
    /// <param name="radii">Number of radii T (a power of two from 8 to 256; raised to the next power of two of the
    /// feature count if that is larger). Fewer radii let more queries share a ciphertext, at a coarser selection.</param>
    /// <exception cref="ArgumentOutOfRangeException">k is below 1, or <paramref name="radii"/> is not a power of two in [8, 256].</exception>
    public EncryptedKnnVote(int k = 5, int radii = 32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (radii < 8 || radii > 256 || (radii & (radii - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(radii), $"The number of radii must be a power of two in [8, 256]; got {radii}.");
        _k = k;
        _radii = radii;
    }

    /// <summary>Neighbours voting.</summary>
    public int K => _k;

    /// <summary>The public circuit (after <see cref="Fit"/>).</summary>
    public KnnVoteCircuit? Circuit => _circuit;

    /// <summary>The parameters in use (after <see cref="Fit"/>).</summary>
    public CkksParameters? Parameters => _owner?.Parameters;

    /// <summary>The owner's context (after <see cref="Fit"/>); hand <see cref="CkksContext.ToPublic"/> to the computing party.</summary>
    public CkksContext? OwnerContext => _owner;

    /// <summary>
    /// The parameters chosen when none are given: the ring <see cref="ParameterSelector.Select"/> picks for the
    /// circuit's depth and slots at 128-bit security, with the modulus spent differently: a 40-bit first prime (the
    /// output, a soft count below 2, needs no more) and three 40-bit special primes instead of two of 60 bits, which
    /// leaves one more bit of scale per level (2^30 instead of 2^29 for depth 24 at N = 2^15, halving the noise) and
    /// key switching in 9 digits instead of 13.
    /// </summary>
    /// <remarks>Falls back to the selector's choice when the re-spent modulus would not give a larger scale.</remarks>
    /// <exception cref="ArgumentException">No supported ring holds the circuit.</exception>
    public static CkksParametersLiteral DefaultParameters(KnnVoteCircuit circuit)
    {
        ArgumentNullException.ThrowIfNull(circuit);
        var selected = ParameterSelector.Select(circuit.Depth, circuit.RequiredSlots);
        const int first = 40, special = 40, specialCount = 3;
        int? max = HomomorphicEncryptionStandard.MaxLogQP(selected.LogN, SecurityLevel.Bits128);
        if (max is null) return selected;
        int scale = Math.Min(40, (max.Value - first - special * specialCount) / circuit.Depth);
        // Key switching needs each digit (three chain primes, the first included) below the special modulus.
        if (scale <= selected.LogDefaultScale || first + 2 * scale > special * specialCount) return selected;
        return selected with
        {
            LogQ = [first, .. Enumerable.Repeat(scale, circuit.Depth)],
            LogP = [.. Enumerable.Repeat(special, specialCount)],
            LogDefaultScale = scale,
        };
    }

    /// <summary>
    /// Owner's step: standardizes and scales the references, designs the public circuit from them, creates keys and
    /// encrypts the references and one-hot labels.
    /// </summary>
    /// <param name="x">References (n × features).</param>
    /// <param name="y">Class indices 0 … C − 1.</param>
    /// <param name="parameters">Parameters to use; by default <see cref="DefaultParameters"/>.</param>
    /// <param name="minimumSecurity">The lowest security level accepted for <paramref name="parameters"/>.</param>
    /// <exception cref="ArgumentException">Empty or mismatched inputs, labels that are not class indices, fewer than
    /// k + 1 references, or parameters with too few levels or slots or below <paramref name="minimumSecurity"/>.</exception>
    public void Fit(double[][] x, double[] y, CkksParametersLiteral? parameters = null, SecurityLevel minimumSecurity = SecurityLevel.Bits128)
    {
        FitPlaintext(x, y);
        var circuit = _circuit!;
        var p = CkksParameters.Create(parameters ?? DefaultParameters(circuit), minimumSecurity);
        if (p.MaxLevel < circuit.Depth) throw new ArgumentException($"The vote needs depth {circuit.Depth}; the parameters have {p.MaxLevel} levels.", nameof(parameters));
        if (p.Slots < circuit.RequiredSlots) throw new ArgumentException($"The vote needs {circuit.RequiredSlots} slots (n = {x.Length} blocks of {circuit.BlockWidth}); the parameters have {p.Slots}.", nameof(parameters));
        _owner = CkksContext.Create(p, SlotOperations.SumRotations(p.Slots));
        var references = _references;
        int features = circuit.Features;
        // References and one-hot labels, repeated in each of the G query lanes (slot = position·G + lane).
        int slots = p.Slots, t = circuit.BlockWidth, stride = BatchSize(slots, circuit), positions = slots / stride;
        var packed = new double[slots];
        for (int j = 0; j < references.Length; j++)
            for (int f = 0; f < features; f++)
                for (int g = 0; g < stride; g++) packed[RowPosition(j, f, t, positions) * stride + g] = references[j][f];
        _encryptedReferences = _owner.Encrypt(packed);
        _encryptedLabels = new Ciphertext[circuit.Classes];
        for (int c = 0; c < circuit.Classes; c++)
        {
            var onehot = new double[slots];
            for (int j = 0; j < references.Length; j++)
                if ((int)y[j] == c) Array.Fill(onehot, 1.0, j * t * stride, t * stride);
            _encryptedLabels[c] = _owner.Encrypt(onehot);
        }
    }

    /// <summary>
    /// The plaintext twin only: the same standardization, scaling and circuit as <see cref="Fit"/>, without keys or
    /// ciphertexts (for <see cref="PlaintextTallies"/> and <see cref="PlaintextPredict"/>).
    /// </summary>
    /// <exception cref="ArgumentException">As for <see cref="Fit"/>.</exception>
    public void FitPlaintext(double[][] x, double[] y)
    {
        _owner?.Dispose();
        _owner = null;
        _encryptedReferences = null;
        _encryptedLabels = [];
        Design(x, y);
    }

    /// <summary>Standardizes, finds the box and D, scales, and designs the circuit; keeps what the twin needs.</summary>
    private KnnVoteCircuit Design(double[][] x, double[] y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length == 0 || x.Length != y.Length) throw new ArgumentException("References and labels must be non-empty and of equal length.", nameof(y));
        if (x.Length < _k + 1) throw new ArgumentException($"The vote needs at least k + 1 = {_k + 1} references; got {x.Length}.", nameof(x));
        var standardizer = new Standardizer().Fit(x);
        var standardized = standardizer.Transform(x);
        int features = standardized[0].Length;
        var low = new double[features];
        var high = new double[features];
        for (int f = 0; f < features; f++)
        {
            low[f] = standardized.Min(r => r[f]);
            high[f] = standardized.Max(r => r[f]);
        }
        // D: the largest squared distance from a point of the box [low, high] to a reference.
        double bound = standardized.Max(r => Enumerable.Range(0, features).Sum(f => Math.Max(Square(r[f] - low[f]), Square(high[f] - r[f]))));
        double scale = bound > 0 ? 1 / Math.Sqrt(bound) : 1;
        var references = standardized.Select(r => r.Select(v => v * scale).ToArray()).ToArray();
        var circuit = KnnVoteCircuit.Design(references, y, _k, _radii);
        _standardizer = standardizer;
        _low = low;
        _high = high;
        _scale = scale;
        _references = references;
        _labels = (double[])y.Clone();
        _circuit = circuit;
        return circuit;
    }

    private static double Square(double v) => v * v;

    /// <summary>
    /// Queries per ciphertext G: the largest power of two with n·T·G ≤ S. Query g of a batch occupies the slots
    /// ≡ g (mod G); position p = jT + s of the single-query layout becomes slot p·G + g, and every rotation by k
    /// becomes one by k·G.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public int QueriesPerCiphertext => _owner is null || _circuit is null
        ? throw new InvalidOperationException("Fit the model first.")
        : BatchSize(_owner.Parameters.Slots, _circuit);

    private static int BatchSize(int slots, KnnVoteCircuit circuit)
    {
        int g = 1;
        while ((long)circuit.References * circuit.BlockWidth * g * 2 <= slots) g *= 2;
        return g;
    }

    /// <summary>Position of feature f of row j: rows start at the last position of their block, so that a row's sum lands there.</summary>
    private static int RowPosition(int j, int f, int blockWidth, int positions) => (j * blockWidth + blockWidth - 1 + f) % positions;

    /// <summary>The owner's scaled query: standardized, clamped to the training box, times 1/√D.</summary>
    private double[] Prepare(double[] query)
    {
        var z = _standardizer!.Transform([query])[0];
        for (int f = 0; f < z.Length; f++) z[f] = Math.Clamp(z[f], _low[f], _high[f]) * _scale;
        return z;
    }

    /// <summary>
    /// Owner's step: up to <see cref="QueriesPerCiphertext"/> queries standardized, clamped, scaled and encrypted in one
    /// ciphertext, each repeated in every block (query g in the slots ≡ g mod G; unused lanes hold the origin).
    /// </summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentException">No query, more than G, or a query with the wrong number of features.</exception>
    public Ciphertext EncryptQueries(IReadOnlyList<double[]> queries)
    {
        ArgumentNullException.ThrowIfNull(queries);
        var owner = _owner ?? throw new InvalidOperationException("Fit the model first.");
        var circuit = _circuit!;
        int slots = owner.Parameters.Slots, t = circuit.BlockWidth, stride = BatchSize(slots, circuit), positions = slots / stride;
        if (queries.Count == 0 || queries.Count > stride) throw new ArgumentException($"A ciphertext holds 1 … {stride} queries; got {queries.Count}.", nameof(queries));
        var packed = new double[slots];
        for (int g = 0; g < queries.Count; g++)
        {
            if (queries[g] is null || queries[g].Length != circuit.Features) throw new ArgumentException($"Each query needs {circuit.Features} features.", nameof(queries));
            var z = Prepare(queries[g]);
            for (int j = 0; j < positions / t; j++)
                for (int f = 0; f < z.Length; f++) packed[RowPosition(j, f, t, positions) * stride + g] = z[f];
        }
        return owner.Encrypt(packed);
    }

    /// <summary>
    /// The computing party's step: one ciphertext per class whose slots ≡ g (mod G) all hold α·tally_c of query g,
    /// from encrypted queries (<see cref="EncryptQueries"/>), using only the public context, the encrypted references
    /// and labels, and the public circuit.
    /// </summary>
    /// <param name="publicContext">A context with the owner's evaluation keys (its secret key is not needed).</param>
    /// <param name="queries">The encrypted queries, at the top level.</param>
    /// <exception cref="InvalidOperationException">Not fitted, or the queries are below the top level.</exception>
    public IReadOnlyList<Ciphertext> Vote(CkksContext publicContext, Ciphertext queries)
    {
        ArgumentNullException.ThrowIfNull(publicContext);
        ArgumentNullException.ThrowIfNull(queries);
        var references = _encryptedReferences ?? throw new InvalidOperationException("Fit the model first.");
        var circuit = _circuit!;
        if (queries.Level != references.Level) throw new InvalidOperationException($"The queries must be at the top level ({references.Level}); they are at {queries.Level}.");
        var ev = publicContext.Evaluator;
        var encoder = publicContext.Encoder;
        double delta = publicContext.Parameters.DefaultScale;
        int slots = publicContext.Parameters.Slots, t = circuit.BlockWidth, n = circuit.References;
        int stride = BatchSize(slots, circuit), blocks = slots / stride / t;
        var polynomials = new PolynomialEvaluator(ev);
        // A plaintext whose slot p·G + g holds value(p mod T).
        double[] ByRadius(Func<int, double> value)
        {
            var v = new double[slots];
            for (int i = 0; i < slots; i++) v[i] = value(i / stride % t);
            return v;
        }
        // Every slot receives the sum of the positions p, p + first, p + 2·first, … below p + end (same lane), cyclically.
        Ciphertext RotateAndSum(Ciphertext x, int first, int end)
        {
            var acc = x.Clone();
            for (int k = first; k < end; k <<= 1) ev.Add(acc, ev.Rotate(acc, k * stride), acc);
            return acc;
        }

        // 1. x_j = Σ_f (r_jf − q_f)² at the last position of block j.
        var diff = ev.Sub(references, queries);
        var sums = RotateAndSum(ev.MultiplyRelinearizeRescale(diff, diff), 1, circuit.RowWidth);

        // 2. y_j = β(1 − x_j) there, zero elsewhere (one plaintext product), then copied over the block. y's scale is
        //    chosen so that the J squarings (each s → s²/q_ℓ) end exactly at the default scale.
        var weight = new double[slots];
        var offset = new double[slots];
        for (int j = 0; j < n; j++)
            for (int g = 0; g < stride; g++)
            {
                weight[(j * t + t - 1) * stride + g] = -circuit.Beta;
                offset[(j * t + t - 1) * stride + g] = circuit.Beta;
            }
        double start = ev.ScaleBeforeSquarings(sums.Level, circuit.HighestPower, delta);
        var y = ev.MultiplyValuesTo(sums, weight, sums.Level - 1, start, encoder);
        ev.AddValues(y, offset, encoder, y);
        y = RotateAndSum(y, 1, t);

        // 3. e = Σ_i c_i·y^(2^i) (J squarings; the shallower terms are placed at the deepest one's level and scale).
        var powers = new List<Ciphertext>();
        var p = y;
        for (int i = 1; i <= circuit.HighestPower; i++)
        {
            p = ev.MultiplyRelinearizeRescale(p, p);
            if (i >= circuit.LowestPower) powers.Add(p);
        }
        var e = powers[^1];
        for (int i = 0; i < powers.Count - 1; i++)
            ev.Add(e, ev.MultiplyScalarTo(powers[i], circuit.MixtureCoefficients[i], e), e);

        // 4. h_(j,s) = P1(e_j − θ_s) at position jT + s.
        ev.AddValues(e, ByRadius(s => -circuit.Thresholds[s]), encoder, e);
        var h = polynomials.Evaluate(polynomials.Evaluate(e, circuit.StepStage, delta), circuit.StepFlatten, delta);

        // 5. Counts over all blocks, less the padding blocks' known share (e = 0 there), moved onto P2's axis; u_s.
        var counts = RotateAndSum(h, t, slots / stride);
        double padding = blocks - n;
        ev.AddValues(counts, ByRadius(s => -padding * circuit.RadiusStep(-circuit.Thresholds[s]) - 1 + KnnVoteCircuit.CountOffset), encoder, counts);
        var u = polynomials.Evaluate(polynomials.Evaluate(counts, circuit.CountStage, delta), circuit.CountFlatten, delta);

        // 6. Per class: V_(c,s) = Σ_j [y_j = c]·h_(j,s); tally_c = Σ_s u_s·(V_(c,s) − V_(c,s+1)), in every position.
        var result = new Ciphertext[circuit.Classes];
        var notLast = ByRadius(s => s + 1 < t ? 1.0 : 0.0);
        for (int c = 0; c < circuit.Classes; c++)
        {
            var votes = RotateAndSum(ev.MultiplyRelinearizeRescale(h, ev.DropToLevel(_encryptedLabels[c], h.Level)), t, slots / stride);
            var next = ev.MultiplyValues(ev.Rotate(votes, stride), notLast, encoder);
            var shells = ev.Sub(ev.DropToLevel(votes, next.Level), next);
            result[c] = RotateAndSum(ev.MultiplyRelinearizeRescale(u, ev.DropToLevel(shells, u.Level)), 1, t);
        }
        return result;
    }

    /// <summary>Owner's step: the decrypted tallies of the first <paramref name="count"/> queries of a batch, in neighbours.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    /// <exception cref="ArgumentException">Not one ciphertext per class, or a count outside 1 … G.</exception>
    public double[][] DecryptTallies(IReadOnlyList<Ciphertext> tallies, int count = 1)
    {
        ArgumentNullException.ThrowIfNull(tallies);
        var owner = _owner ?? throw new InvalidOperationException("Fit the model first.");
        var circuit = _circuit!;
        if (tallies.Count != circuit.Classes) throw new ArgumentException($"Expected {circuit.Classes} ciphertexts; got {tallies.Count}.", nameof(tallies));
        int stride = BatchSize(owner.Parameters.Slots, circuit);
        if (count < 1 || count > stride) throw new ArgumentOutOfRangeException(nameof(count), $"A batch holds 1 … {stride} queries; got {count}.");
        var values = tallies.Select(owner.Decrypt).ToArray();
        return Enumerable.Range(0, count).Select(g => values.Select(v => v[g] / circuit.Alpha).ToArray()).ToArray();
    }

    /// <summary>Encrypted tallies for each query: encrypted by the owner (G a ciphertext), voted on ciphertexts, decrypted by the owner.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public double[][] Tallies(double[][] queries)
    {
        ArgumentNullException.ThrowIfNull(queries);
        var owner = _owner ?? throw new InvalidOperationException("Fit the model first.");
        var computing = owner.ToPublic();
        int stride = QueriesPerCiphertext;
        return queries.Chunk(stride)
            .SelectMany(batch => DecryptTallies(Vote(computing, EncryptQueries(batch)), batch.Length))
            .ToArray();
    }

    /// <summary>Predicted labels: the class with the largest encrypted tally.</summary>
    public double[] Predict(double[][] queries) => Tallies(queries).Select(t => (double)KnnVoteCircuit.Winner(t)).ToArray();

    /// <summary>Accuracy on labelled queries.</summary>
    public double Score(double[][] x, double[] y) => Metrics.Accuracy(y, Predict(x));

    /// <summary>The plaintext twin's tallies: the same scaling, clamping and polynomials in doubles.</summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public double[][] PlaintextTallies(double[][] queries)
    {
        ArgumentNullException.ThrowIfNull(queries);
        var circuit = _circuit ?? throw new InvalidOperationException("Fit the model first.");
        return queries.Select(query =>
        {
            if (query is null || query.Length != circuit.Features) throw new ArgumentException($"Each query needs {circuit.Features} features.", nameof(queries));
            var z = Prepare(query);
            var distances = _references.Select(r => r.Zip(z, (a, b) => (a - b) * (a - b)).Sum()).ToArray();
            return circuit.Tallies(distances, _labels);
        }).ToArray();
    }

    /// <summary>The plaintext twin's predictions.</summary>
    public double[] PlaintextPredict(double[][] queries) => PlaintextTallies(queries).Select(t => (double)KnnVoteCircuit.Winner(t)).ToArray();

    /// <summary>Clears the secret key.</summary>
    public void Dispose() => _owner?.Dispose();
}
