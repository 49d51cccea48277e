using Veil.Ckks;
using Veil.Ml.Models;
using Veil.Ml.Networks;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// Inference of a <see cref="SquareCnn"/> (convolution, square, dense, square, dense) on encrypted images, in two
/// packings: batched (CryptoNets: one ciphertext per pixel, one image per slot) and single-image (LoLa-style: one
/// ciphertext, the convolution as a few generalized diagonals over an im2col layout). A convenience over
/// <see cref="EncryptedNetworkInference"/> on <see cref="SquareCnn.ToNetwork"/>.
/// </summary>
/// <remarks>
/// <para>Depth 5 either way; <see cref="DefaultParameters"/> picks the smallest 128-bit ring for it. The client
/// encrypts and decrypts; the server holds the plaintext weights and a public context with exactly the rotation keys
/// of <see cref="RequiredRotations"/>.</para>
/// <para>Single image: the <see cref="Im2ColLayout"/> and <see cref="Conv2D"/>'s diagonals, then dense layers as
/// rectangular diagonals and a fold, so each layer's output occupies slots [0, rows) and the next layer reads only
/// those. Batched: conv output (m, p) is Σ_k w·x over K² pixel ciphertexts; its square is streamed into the dense
/// layer's accumulators right away, so only the pixels and `hidden` accumulators are held.</para>
/// </remarks>
public sealed class EncryptedCnnInference
{
    private readonly EncryptedNetworkInference _inference;

    /// <summary>The network.</summary>
    public SquareCnn Network { get; }

    /// <summary>The same inference on the network as layers.</summary>
    public EncryptedNetworkInference Inference => _inference;

    /// <summary>Multiplicative depth of either mode.</summary>
    public const int Depth = 5;

    /// <summary>Prepares both modes for parameters with <paramref name="slots"/> slots.</summary>
    /// <exception cref="ArgumentException">The im2col layout or a dense layer does not fit the slots.</exception>
    public EncryptedCnnInference(SquareCnn network, int slots)
    {
        ArgumentNullException.ThrowIfNull(network);
        Network = network;
        _inference = new EncryptedNetworkInference(network.ToNetwork(), slots);
        if (_inference.InputLayout is not Im2ColLayout) throw new ArgumentException(_inference.SingleInputProblem ??
            $"The im2col layout needs {((Conv2D)_inference.Network.Layers[0]).Im2ColSlots} slots; the parameters have {slots}.", nameof(slots));
    }

    /// <summary>The smallest 128-bit parameters of depth 5 whose slots hold the im2col layout of <paramref name="network"/>.</summary>
    public static CkksParametersLiteral DefaultParameters(SquareCnn network)
    {
        ArgumentNullException.ThrowIfNull(network);
        int o = network.ConvOutputSize, k = network.KernelSize;
        int needed = Math.Max(k * k, network.Maps) * o * o;
        return ParameterSelector.Select(depth: Depth, slots: needed);
    }

    /// <summary>Rotation steps the single-image mode needs (the batched mode needs none).</summary>
    public IReadOnlyList<int> RequiredRotations => _inference.RequiredRotations;

    /// <summary>Rotations per single-image evaluation: hoisted baby steps and plain ones (giant steps and folds).</summary>
    public (int Hoisted, int Plain) RotationsPerImage => _inference.RotationsPerInput;

    /// <summary>Client: the image in the im2col layout, one ciphertext.</summary>
    /// <exception cref="ArgumentException">The image has the wrong number of pixels or a non-finite one.</exception>
    public Ciphertext EncryptSingle(CkksContext client, double[] image) => _inference.EncryptSingle(client, image);

    /// <summary>The im2col slot vector of an image (public layout; see <see cref="Im2ColLayout"/>).</summary>
    public double[] Im2Col(double[] image) => _inference.PackSingle(image);

    /// <summary>Server: the logits of one image in slots 0 … classes − 1.</summary>
    /// <exception cref="InvalidOperationException">The image ciphertext has fewer than 5 levels, or a rotation key is missing.</exception>
    public Ciphertext EvaluateSingle(CkksContext server, Ciphertext image) => _inference.EvaluateSingle(server, image);

    /// <summary>Client: the logits of a single image, decrypted.</summary>
    public double[] DecryptSingleLogits(CkksContext client, Ciphertext logits) => _inference.DecryptSingle(client, logits);

    /// <summary>Client: one ciphertext per pixel, image i in slot i.</summary>
    /// <exception cref="ArgumentException">No images, more than the slots, or an image of the wrong size.</exception>
    public IReadOnlyList<Ciphertext> EncryptBatch(CkksContext client, double[][] images) => _inference.EncryptBatch(client, images);

    /// <summary>Server: the logits, one ciphertext per class, image i in slot i.</summary>
    /// <exception cref="ArgumentException">The pixel count differs from the network's input.</exception>
    public IReadOnlyList<Ciphertext> EvaluateBatch(CkksContext server, IReadOnlyList<Ciphertext> pixels, IProgress<double>? progress = null) =>
        _inference.EvaluateBatch(server, pixels, progress);

    /// <summary>Client: the logits of each image of the batch, decrypted ([image][class]).</summary>
    public double[][] DecryptBatchLogits(CkksContext client, IReadOnlyList<Ciphertext> logits, int count) => _inference.DecryptBatch(client, logits, count);
}
