using Veil.Ml.Networks;

namespace Veil.Ml.Serving;

/// <summary>
/// KNN as a deployable model: labelled reference rows become one dense layer whose output j is ‖q − r_j‖² − ‖q‖²
/// (rows −2·r_j, biases ‖r_j‖²), which orders the references exactly as the squared distances do, at depth 1 and
/// without squaring the query. The service computes it on the client's ciphertext; the client decrypts the distances
/// and votes with the labels the manifest publishes.
/// </summary>
/// <remarks>
/// The outputs are affine in the query, so a client that queries 0 and the d unit vectors recovers every reference
/// row: deploy references only to tenants allowed to know them. HE hides the client's query from the service here,
/// not the references from the client.
/// </remarks>
public static class KnnReferences
{
    /// <summary>The layer for <paramref name="references"/>, after an optional elementwise preprocessing x ↦ scale ∘ x + shift folded in.</summary>
    /// <exception cref="ArgumentException">No references, ragged rows, or non-finite values.</exception>
    public static SequentialNetwork ToNetwork(double[][] references, double[]? scale = null, double[]? shift = null)
    {
        ArgumentNullException.ThrowIfNull(references);
        if (references.Length == 0 || references.Any(r => r is null || r.Length != references[0].Length)) throw new ArgumentException("References must be non-empty rows of one length.", nameof(references));
        var weights = references.Select(r => r.Select(v => -2 * v).ToArray()).ToArray();
        var bias = references.Select(r => r.Sum(v => v * v)).ToArray();
        var network = new SequentialNetwork([new Dense(weights, bias)]);
        return scale is null && shift is null ? network
            : network.WithInputAffine(scale ?? [.. Enumerable.Repeat(1.0, references[0].Length)], shift ?? new double[references[0].Length]);
    }

    /// <summary>
    /// The majority label of the <paramref name="k"/> nearest references (a tie goes to the tied label whose nearest
    /// member is closest), from the layer's outputs.
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ or k is out of range.</exception>
    public static double Vote(ReadOnlySpan<double> distances, IReadOnlyList<double> labels, int k)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (distances.Length != labels.Count) throw new ArgumentException($"{distances.Length} distances for {labels.Count} labels.", nameof(labels));
        if (k < 1 || k > labels.Count) throw new ArgumentOutOfRangeException(nameof(k), k, $"k is 1 … {labels.Count}.");
        var order = Enumerable.Range(0, distances.Length).ToArray();
        var keys = distances.ToArray();
        Array.Sort(keys, order);
        var nearest = order.Take(k).ToArray();
        var counts = nearest.GroupBy(i => labels[i]).Select(g => (Label: g.Key, Count: g.Count(), First: Array.IndexOf(nearest, g.First()))).ToArray();
        int best = counts.Max(c => c.Count);
        return counts.Where(c => c.Count == best).MinBy(c => c.First).Label;
    }
}
