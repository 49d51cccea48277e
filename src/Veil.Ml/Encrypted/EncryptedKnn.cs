using Veil.Ckks;
using Veil.Circuits;
using Veil.Ml.Data;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// K-nearest-neighbours classification with encrypted references and encrypted queries (mode (a): the key owner
/// decrypts only the distances and votes).
/// </summary>
/// <remarks>
/// <para>Roles. The data owner standardizes its reference rows, encrypts them row-major (W = next power of two of the
/// feature count slots a row, S/W rows a ciphertext) and keeps the labels. A query is encrypted by the owner, repeated
/// every W slots. The computing party, holding only the public context, forms (r − q)², sums each row by log2 W
/// rotations, and multiplies by a mask of row starts, so that the ciphertext it returns holds one squared distance per
/// reference and zeros elsewhere — no partial, per-feature sums. The owner decrypts those distances (it learns the
/// distance of the query to every reference, nothing else) and takes the majority label of the k nearest.</para>
/// <para>Depth 2 (square, mask). The plaintext twin <see cref="PlaintextPredict"/> runs the same standardization,
/// distances and vote in doubles; ties in the vote go to the nearest of the tied classes, in both.</para>
/// </remarks>
public sealed class EncryptedKnn : IDisposable
{
    private readonly int _k;
    private Standardizer? _standardizer;
    private double[][] _references = [];
    private double[] _labels = [];
    private CkksContext? _owner;
    private EncryptedMatrix? _encryptedReferences;

    /// <summary>A classifier voting among <paramref name="k"/> neighbours.</summary>
    /// <exception cref="ArgumentOutOfRangeException">k is below 1.</exception>
    public EncryptedKnn(int k = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        _k = k;
    }

    /// <summary>Parameters used: N = 8192, Q = {60, 40, 40}, P = {60}, 128-bit (depth 2, 4096 slots).</summary>
    public CkksParameters? Parameters => _owner?.Parameters;

    /// <summary>Owner's step: standardize and encrypt the references, keep the labels.</summary>
    /// <param name="x">References.</param>
    /// <param name="y">Labels.</param>
    /// <param name="parameters">Parameters; set A by default.</param>
    /// <param name="minimumSecurity">The lowest security level accepted for <paramref name="parameters"/>.</param>
    public void Fit(double[][] x, double[] y, CkksParametersLiteral? parameters = null, SecurityLevel minimumSecurity = SecurityLevel.Bits128)
    {
        FitPlaintextOnly(x, y);
        var p = CkksParameters.Create(parameters ?? CkksParameters.SetA, minimumSecurity);
        _owner?.Dispose();
        _owner = CkksContext.Create(p, EncryptedMatrix.RequiredRotations(x[0].Length));
        _encryptedReferences = EncryptedMatrix.Encrypt(_owner, _references);
    }

    /// <summary>Keeps the standardized references and labels for <see cref="PlaintextPredict"/> only: no keys, no encryption.</summary>
    public void FitPlaintextOnly(double[][] x, double[] y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length == 0 || x.Length != y.Length) throw new ArgumentException("References and labels must be non-empty and of equal length.", nameof(y));
        if (x.Length < _k) throw new ArgumentException($"k = {_k} exceeds the {x.Length} references.", nameof(x));
        _standardizer = new Standardizer().Fit(x);
        _references = _standardizer.Transform(x);
        _labels = (double[])y.Clone();
    }

    /// <summary>The computing party's step: encrypted squared distances of an encrypted query to every reference.</summary>
    public IReadOnlyList<Ciphertext> Distances(CkksContext publicContext, EncryptedVector query)
    {
        ArgumentNullException.ThrowIfNull(publicContext);
        ArgumentNullException.ThrowIfNull(query);
        var references = _encryptedReferences ?? throw new InvalidOperationException("Fit the model first.");
        var ev = publicContext.Evaluator;
        int slots = publicContext.Parameters.Slots, width = references.Width;
        var starts = SlotOperations.BlockStarts(slots, width);
        var result = new Ciphertext[references.Blocks.Count];
        for (int b = 0; b < result.Length; b++)
        {
            var diff = ev.Sub(references.Blocks[b], query.Ciphertext);
            var square = ev.MultiplyRelinearizeRescale(diff, diff);
            var sums = SlotOperations.SumWithinBlocks(ev, square, width);
            result[b] = ev.MultiplyValues(sums, starts, publicContext.Encoder);
        }
        return result;
    }

    /// <summary>Predicts labels: each query encrypted by the owner, distances computed on ciphertexts, decrypted and voted by the owner.</summary>
    public double[] Predict(double[][] queries)
    {
        ArgumentNullException.ThrowIfNull(queries);
        var owner = _owner ?? throw new InvalidOperationException("Fit the model first.");
        var trainer = owner.ToPublic();
        var standardized = _standardizer!.Transform(queries);
        var predictions = new double[queries.Length];
        int width = _encryptedReferences!.Width;
        for (int i = 0; i < queries.Length; i++)
        {
            var q = EncryptedVector.Encrypt(owner, standardized[i].Concat(new double[width - standardized[i].Length]).ToArray());
            var distances = _encryptedReferences.DecryptRowScores(Distances(trainer, q));
            predictions[i] = Vote(distances);
        }
        return predictions;
    }

    /// <summary>Accuracy on labelled queries.</summary>
    public double Score(double[][] x, double[] y) => Metrics.Accuracy(y, Predict(x));

    /// <summary>The plaintext twin: same standardization, distances and vote, in doubles.</summary>
    public double[] PlaintextPredict(double[][] queries)
    {
        ArgumentNullException.ThrowIfNull(queries);
        if (_standardizer is null) throw new InvalidOperationException("Fit the model first.");
        return _standardizer.Transform(queries)
            .Select(q => Vote(_references.Select(r => r.Zip(q, (a, b) => (a - b) * (a - b)).Sum()).ToArray()))
            .ToArray();
    }

    /// <summary>Majority label among the k smallest distances; a tie goes to the class whose nearest member is closest.</summary>
    private double Vote(double[] distances)
    {
        var nearest = Enumerable.Range(0, distances.Length).OrderBy(i => distances[i]).Take(_k).ToArray();
        return nearest.GroupBy(i => _labels[i])
            .OrderByDescending(g => g.Count())
            .ThenBy(g => g.Min(i => distances[i]))
            .First().Key;
    }

    /// <summary>Clears the secret key.</summary>
    public void Dispose() => _owner?.Dispose();
}
