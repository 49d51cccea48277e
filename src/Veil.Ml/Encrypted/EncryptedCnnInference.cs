using Veil.Ckks;
using Veil.Circuits;
using Veil.Ml.Models;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// Inference of a <see cref="SquareCnn"/> (convolution, square, dense, square, dense) on encrypted images, in two
/// packings: batched (CryptoNets: one ciphertext per pixel, one image per slot) and single-image (LoLa-style: one
/// ciphertext, the convolution as a few generalized diagonals over an im2col layout).
/// </summary>
/// <remarks>
/// <para>Depth 5 either way; <see cref="DefaultParameters"/> picks the smallest 128-bit ring for it. The client
/// encrypts and decrypts; the server holds the plaintext weights and a public context with exactly the rotation keys
/// of <see cref="RequiredRotations"/>.</para>
/// <para>Single image. With B = O² output positions per map and K² kernel taps, the client writes pixel
/// (stride·oy + ky, stride·ox + kx) into slot (ky·K + kx)·B + oy·O + ox — the layout is public and the pixels are the
/// client's own. The convolution is then Σ_δ d_δ ⊙ Rot_(δ·B)(x) over δ ∈ [−(maps − 1), K² − 1], which leaves map m in
/// slots [m·B, (m + 1)·B) and zeros elsewhere: the input of the first dense layer as a plain vector. Dense layers use
/// <see cref="DiagonalTransform.Rectangular"/> and a fold, so each layer's output occupies slots [0, rows) and the
/// next layer reads only those.</para>
/// <para>Batched. Conv output (m, p) is Σ_k w·x over 25 pixel ciphertexts; its square is streamed into the dense-layer
/// accumulators right away (fused multiply-add on ciphertexts), so only the pixels and `hidden` accumulators are held.</para>
/// </remarks>
public sealed class EncryptedCnnInference
{
    private readonly SquareCnn _network;
    private readonly int _slots, _block, _taps;
    private readonly DiagonalTransform _conv, _dense1, _dense2;
    private readonly int _width1, _width2;
    private readonly double[] _convBias, _bias1, _bias2; // slot vectors of the biases, built once

    /// <summary>The network.</summary>
    public SquareCnn Network => _network;

    /// <summary>Multiplicative depth of either mode.</summary>
    public const int Depth = 5;

    /// <summary>Prepares both modes for parameters with <paramref name="slots"/> slots.</summary>
    /// <exception cref="ArgumentException">The im2col layout or a dense layer does not fit the slots.</exception>
    public EncryptedCnnInference(SquareCnn network, int slots)
    {
        ArgumentNullException.ThrowIfNull(network);
        _network = network;
        _slots = slots;
        int o = network.ConvOutputSize, k = network.KernelSize;
        _block = o * o;
        _taps = k * k;
        if ((long)_taps * _block > slots || (long)network.Maps * _block > slots)
            throw new ArgumentException($"The im2col layout needs {(long)Math.Max(_taps, network.Maps) * _block} slots; the parameters have {slots}.", nameof(slots));
        var diagonals = new Dictionary<int, double[]>();
        for (int delta = -(network.Maps - 1); delta < _taps; delta++)
        {
            var d = new double[slots];
            bool any = false;
            for (int m = 0; m < network.Maps; m++)
            {
                int tap = m + delta;
                if (tap < 0 || tap >= _taps) continue;
                double w = network.ConvWeights[m][tap];
                if (w == 0) continue;
                for (int p = 0; p < _block; p++) d[m * _block + p] = w;
                any = true;
            }
            if (any) diagonals[delta * _block] = d;
        }
        _conv = new DiagonalTransform(diagonals, slots);
        (_dense1, _width1) = DiagonalTransform.Rectangular(network.W1, slots);
        (_dense2, _width2) = DiagonalTransform.Rectangular(network.W2, slots);
        _convBias = new double[slots];
        for (int m = 0; m < network.Maps; m++) Array.Fill(_convBias, network.ConvBias[m], m * _block, _block);
        _bias1 = Padded(network.B1);
        _bias2 = Padded(network.B2);
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
    public IReadOnlyList<int> RequiredRotations =>
        _conv.RequiredRotations
            .Union(_dense1.RequiredRotations).Union(DiagonalTransform.FoldRotations(_width1, _slots))
            .Union(_dense2.RequiredRotations).Union(DiagonalTransform.FoldRotations(_width2, _slots))
            .Order().ToArray();

    /// <summary>Rotations per single-image evaluation: hoisted baby steps and plain ones (giant steps and folds).</summary>
    public (int Hoisted, int Plain) RotationsPerImage
    {
        get
        {
            var (b0, g0) = _conv.RotationCount; var (b1, g1) = _dense1.RotationCount; var (b2, g2) = _dense2.RotationCount;
            return (b0 + b1 + b2, g0 + g1 + g2 + DiagonalTransform.FoldRotations(_width1, _slots).Count + DiagonalTransform.FoldRotations(_width2, _slots).Count);
        }
    }

    // ------------------------------------------------------------------ single image

    /// <summary>Client: the image in the im2col layout, one ciphertext.</summary>
    /// <exception cref="ArgumentException">The image has the wrong number of pixels or a non-finite one.</exception>
    public Ciphertext EncryptSingle(CkksContext client, double[] image)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.Encrypt(Im2Col(image));
    }

    /// <summary>The im2col slot vector of an image (public layout; see the remarks).</summary>
    public double[] Im2Col(double[] image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int s = _network.ImageSize, k = _network.KernelSize, o = _network.ConvOutputSize, stride = _network.Stride;
        if (image.Length != s * s) throw new ArgumentException($"An image has {s * s} pixels; got {image.Length}.", nameof(image));
        if (image.Any(v => !double.IsFinite(v))) throw new ArgumentException("Pixels must be finite.", nameof(image));
        var packed = new double[_slots];
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                for (int oy = 0; oy < o; oy++)
                    for (int ox = 0; ox < o; ox++)
                        packed[(ky * k + kx) * _block + oy * o + ox] = image[(stride * oy + ky) * s + stride * ox + kx];
        return packed;
    }

    /// <summary>Server: the logits of one image in slots 0 … classes − 1.</summary>
    /// <exception cref="InvalidOperationException">The image ciphertext has fewer than 5 levels, or a rotation key is missing.</exception>
    public Ciphertext EvaluateSingle(CkksContext server, Ciphertext image)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(image);
        if (image.Level < Depth) throw new InvalidOperationException($"Inference needs {Depth} levels; the ciphertext has {image.Level}.");
        var ev = server.Evaluator;
        var encoder = server.Encoder;
        var z = _conv.Apply(ev, encoder, image);
        ev.AddValues(z, _convBias, encoder, z);
        var h = ev.MultiplyRelinearizeRescale(z, z);
        var u = DiagonalTransform.Fold(ev, _dense1.Apply(ev, encoder, h), _width1);
        ev.AddValues(u, _bias1, encoder, u);
        var g = ev.MultiplyRelinearizeRescale(u, u);
        var logits = DiagonalTransform.Fold(ev, _dense2.Apply(ev, encoder, g), _width2);
        ev.AddValues(logits, _bias2, encoder, logits);
        return logits;
    }

    private double[] Padded(double[] values)
    {
        var v = new double[_slots];
        values.CopyTo(v, 0);
        return v;
    }

    /// <summary>Client: the logits of a single image, decrypted.</summary>
    public double[] DecryptSingleLogits(CkksContext client, Ciphertext logits)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.Decrypt(logits).AsSpan(0, _network.Outputs).ToArray();
    }

    // ------------------------------------------------------------------ batched

    /// <summary>Client: one ciphertext per pixel, image i in slot i.</summary>
    /// <exception cref="ArgumentException">No images, more than the slots, or an image of the wrong size.</exception>
    public IReadOnlyList<Ciphertext> EncryptBatch(CkksContext client, double[][] images)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(images);
        int pixels = _network.ImageSize * _network.ImageSize;
        if (images.Length == 0 || images.Length > client.Parameters.Slots) throw new ArgumentException($"A batch holds 1 … {client.Parameters.Slots} images.", nameof(images));
        if (images.Any(img => img is null || img.Length != pixels)) throw new ArgumentException($"Every image has {pixels} pixels.", nameof(images));
        var column = new double[images.Length];
        var result = new Ciphertext[pixels];
        for (int i = 0; i < pixels; i++)
        {
            for (int b = 0; b < images.Length; b++) column[b] = images[b][i];
            result[i] = client.Encrypt(column);
        }
        return result;
    }

    /// <summary>Server: the logits, one ciphertext per class, image i in slot i.</summary>
    /// <exception cref="ArgumentException">The pixel count differs from the network's input.</exception>
    public IReadOnlyList<Ciphertext> EvaluateBatch(CkksContext server, IReadOnlyList<Ciphertext> pixels, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(pixels);
        int s = _network.ImageSize, k = _network.KernelSize, o = _network.ConvOutputSize, stride = _network.Stride;
        if (pixels.Count != s * s) throw new ArgumentException($"Expected {s * s} pixel ciphertexts; got {pixels.Count}.", nameof(pixels));
        var ev = server.Evaluator;
        int level = pixels[0].Level;
        if (level < Depth) throw new InvalidOperationException($"Inference needs {Depth} levels; the ciphertexts have {level}.");
        // Conv outputs come out at level − 2 (conv, square) with scale inputScale (every constant at scale q_ℓ).
        var hidden = new Ciphertext[_network.Hidden];
        Ciphertext? conv = null;
        int done = 0, total = _network.ConvOutputs;
        for (int m = 0; m < _network.Maps; m++)
            for (int oy = 0; oy < o; oy++)
                for (int ox = 0; ox < o; ox++)
                {
                    // One accumulator reused for every output: a convolution output allocates only its result.
                    if (conv is null) conv = ev.WeightedSumAccumulator(pixels[0]);
                    else ev.ResetWeightedSum(conv, pixels[0]);
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++)
                            ev.AddWeighted(pixels[(stride * oy + ky) * s + stride * ox + kx], _network.ConvWeights[m][ky * k + kx], conv);
                    var z = ev.FinishWeightedSum(conv, _network.ConvBias[m]);
                    var a = ev.MultiplyRelinearizeRescale(z, z);
                    int index = m * _block + oy * o + ox;
                    for (int j = 0; j < hidden.Length; j++) hidden[j] ??= ev.WeightedSumAccumulator(a);
                    // Each hidden unit has its own accumulator: the units split across threads without locking.
                    Veil.Arithmetic.Parallelism.For(hidden.Length, ev.MaxDegreeOfParallelism, j => ev.AddWeighted(a, _network.W1[j][index], hidden[j]));
                    progress?.Report(0.9 * ++done / total);
                }
        var activations = new Ciphertext[hidden.Length];
        for (int j = 0; j < hidden.Length; j++)
        {
            var z = ev.FinishWeightedSum(hidden[j], _network.B1[j]);
            activations[j] = ev.MultiplyRelinearizeRescale(z, z);
        }
        var logits = new Ciphertext[_network.Outputs];
        for (int c = 0; c < logits.Length; c++)
        {
            logits[c] = ev.LinearCombination(activations, _network.W2[c], _network.B2[c]);
        }
        progress?.Report(1);
        return logits;
    }

    /// <summary>Client: the logits of each image of the batch, decrypted ([image][class]).</summary>
    public double[][] DecryptBatchLogits(CkksContext client, IReadOnlyList<Ciphertext> logits, int count)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(logits);
        var values = logits.Select(client.Decrypt).ToArray();
        return Enumerable.Range(0, count).Select(i => values.Select(v => v[i]).ToArray()).ToArray();
    }
}
