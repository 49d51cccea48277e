using Veil.Ckks;
using Veil.Ml.Models;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// Inference of a <see cref="SquareMlp"/> on encrypted inputs: batched (CryptoNets: one ciphertext per input feature,
/// one image per slot) and single-image (one ciphertext, layers as baby-step giant-step linear transforms). A
/// convenience over <see cref="EncryptedNetworkInference"/> on <see cref="SquareMlp.ToNetwork"/>.
/// </summary>
/// <remarks>
/// Depth 3 either way (linear, square, linear). The client encrypts and decrypts; the server holds the plaintext
/// weights and a public context. Batched: S images per ciphertext set, |W1| + |W2| scalar multiplications and
/// `hidden` ciphertext squarings per batch. Single image: the input repeated with period n = next power of two of
/// max(input, hidden, output); two linear transforms and one squaring; the server's rotation keys are exactly those
/// the transforms list.
/// </remarks>
public sealed class EncryptedMlpInference
{
    private readonly EncryptedNetworkInference _inference;

    /// <summary>The network.</summary>
    public SquareMlp Network { get; }

    /// <summary>The same inference on the network as layers.</summary>
    public EncryptedNetworkInference Inference => _inference;

    /// <summary>Prepares both modes for parameters with <paramref name="slots"/> slots.</summary>
    public EncryptedMlpInference(SquareMlp network, int slots)
    {
        ArgumentNullException.ThrowIfNull(network);
        Network = network;
        _inference = new EncryptedNetworkInference(network.ToNetwork(), slots);
    }

    /// <summary>Parameters for depth 3 at 128-bit: N = 8192, Q = {60, 32 × 3}, P = {60}.</summary>
    public static CkksParametersLiteral DefaultParameters => ParameterSelector.Select(depth: 3, slots: 4096);

    /// <summary>Rotation steps the single-image mode needs.</summary>
    public IReadOnlyList<int> RequiredRotations => _inference.RequiredRotations;

    /// <summary>Client: one ciphertext per input feature, image i in slot i.</summary>
    public IReadOnlyList<Ciphertext> EncryptBatch(CkksContext client, double[][] images) => _inference.EncryptBatch(client, images);

    /// <summary>Server: the logits, one ciphertext per class, image i in slot i.</summary>
    public IReadOnlyList<Ciphertext> EvaluateBatch(CkksContext server, IReadOnlyList<Ciphertext> inputs) => _inference.EvaluateBatch(server, inputs);

    /// <summary>Client: the predicted class of each image of the batch.</summary>
    public double[] DecryptBatch(CkksContext client, IReadOnlyList<Ciphertext> logits, int count) =>
        [.. _inference.DecryptBatch(client, logits, count).Select(l => (double)SquareMlp.ArgMax(l))];

    /// <summary>Client: one image in one ciphertext, repeated with the transforms' period.</summary>
    public Ciphertext EncryptSingle(CkksContext client, double[] image) => _inference.EncryptSingle(client, image);

    /// <summary>Server: the logits of one image in slots 0 … classes − 1.</summary>
    public Ciphertext EvaluateSingle(CkksContext server, Ciphertext image) => _inference.EvaluateSingle(server, image);

    /// <summary>Client: the predicted class of a single image.</summary>
    public double DecryptSingle(CkksContext client, Ciphertext logits) => SquareMlp.ArgMax(_inference.DecryptSingle(client, logits));
}
