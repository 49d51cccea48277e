using System.Buffers.Binary;

namespace Veil.Ml.Models;

/// <summary>
/// A CryptoNets-style convolutional network with square activations: one strided convolution without padding, a
/// square, a dense layer, a square and a dense output layer. Every step is an addition, a multiplication by a public
/// weight or a square, so the same network runs on CKKS ciphertexts at multiplicative depth 5
/// (conv, square, dense, square, dense).
/// </summary>
/// <remarks>
/// <para>
/// Input: one S × S channel flattened row-major, x[y·S + x']. With K × K kernels, stride s and O = ⌊(S − K)/s⌋ + 1
/// outputs per side, conv output m·O² + oy·O + ox is
/// c = b_m + Σ_{ky,kx} w_m[ky·K + kx] · x[(s·oy + ky)·S + s·ox + kx] and a = c²; then
/// h = (W1·a + b1)² and logits = W2·h + b2.
/// </para>
/// <para>
/// Weight file (`.veilcnn`, little-endian): magic "VCN1"; image size S, kernel size K, stride s, maps M, hidden H,
/// outputs C as int32 (28 bytes in all); then float64 arrays in this order: conv weights (M × K², map-major, tap
/// ky·K + kx), conv biases (M), W1 (H × M·O², row-major), b1 (H), W2 (C × H), b2 (C). Loading checks the magic, each
/// size against its limit and the geometry (1 ≤ s ≤ K ≤ S, M·O² ≤ <see cref="MaxConvOutputs"/>), then the exact byte
/// count with checked arithmetic, and only then allocates; every value must be finite.
/// </para>
/// </remarks>
public sealed class SquareCnn
{
    /// <summary>Largest image side accepted when loading.</summary>
    public const int MaxImageSize = 1024;
    /// <summary>Largest number of convolution maps accepted when loading.</summary>
    public const int MaxMaps = 256;
    /// <summary>Largest number of convolution outputs (maps · O²) accepted when loading.</summary>
    public const int MaxConvOutputs = 1 << 16;
    /// <summary>Largest hidden or output layer accepted when loading.</summary>
    public const int MaxLayerSize = 4096;
    /// <summary>Kernel side used by <see cref="Train"/>.</summary>
    public const int DefaultKernelSize = 5;
    /// <summary>Stride used by <see cref="Train"/>.</summary>
    public const int DefaultStride = 2;
    /// <summary>Hidden size used by <see cref="Train"/> unless told otherwise.</summary>
    public const int DefaultHidden = 64;
    /// <summary>Epochs used by <see cref="Train"/> unless told otherwise.</summary>
    public const int DefaultEpochs = 10;
    /// <summary>Peak learning rate used by <see cref="Train"/> unless told otherwise.</summary>
    public const double DefaultLearningRate = 0.02;

    /// <summary>Momentum coefficient of <see cref="Train"/>.</summary>
    public const double Momentum = 0.9;
    /// <summary>L2 weight decay λ of <see cref="Train"/> (added to the gradient of every weight, not of the biases).</summary>
    public const double WeightDecay = 3e-3;
    /// <summary>Weight β of the logit penalty (β/2)·Σ_k z_k² that <see cref="Train"/> adds to the cross-entropy.</summary>
    public const double LogitPenalty = 1e-3;
    /// <summary>Largest Euclidean norm of a mini-batch gradient in <see cref="Train"/>; longer ones are scaled down to it.</summary>
    public const double GradientClip = 5.0;

    private const int HeaderBytes = 28;

    /// <summary>Image side S (images are S × S, one channel).</summary>
    public int ImageSize { get; }
    /// <summary>Kernel side K.</summary>
    public int KernelSize { get; }
    /// <summary>Convolution stride s (both directions).</summary>
    public int Stride { get; }
    /// <summary>Number of convolution maps M.</summary>
    public int Maps => ConvWeights.Length;
    /// <summary>Convolution outputs per side, O = ⌊(S − K)/s⌋ + 1.</summary>
    public int ConvOutputSize { get; }
    /// <summary>Number of convolution outputs, M·O² (the first dense layer's input size).</summary>
    public int ConvOutputs => Maps * ConvOutputSize * ConvOutputSize;
    /// <summary>Hidden size H.</summary>
    public int Hidden => W1.Length;
    /// <summary>Number of classes C.</summary>
    public int Outputs => W2.Length;

    /// <summary>Convolution kernels, [map][ky·K + kx].</summary>
    public double[][] ConvWeights { get; }
    /// <summary>Convolution biases, one per map.</summary>
    public double[] ConvBias { get; }
    /// <summary>First dense layer, [hidden][M·O²] (input index m·O² + oy·O + ox).</summary>
    public double[][] W1 { get; }
    /// <summary>First dense layer biases.</summary>
    public double[] B1 { get; }
    /// <summary>Output layer, [output][hidden].</summary>
    public double[][] W2 { get; }
    /// <summary>Output layer biases.</summary>
    public double[] B2 { get; }

    /// <summary>A network from its parameters (the arrays are kept, not copied).</summary>
    /// <param name="imageSize">Image side S.</param>
    /// <param name="kernelSize">Kernel side K, in [1, S].</param>
    /// <param name="stride">Stride s, in [1, K].</param>
    /// <param name="convWeights">M kernels of K² weights.</param>
    /// <param name="convBias">M biases.</param>
    /// <param name="w1">H rows of M·O² weights.</param>
    /// <param name="b1">H biases.</param>
    /// <param name="w2">C rows of H weights.</param>
    /// <param name="b2">C biases.</param>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The geometry is inconsistent.</exception>
    /// <exception cref="ArgumentException">Shapes do not agree or a value is not finite.</exception>
    public SquareCnn(int imageSize, int kernelSize, int stride, double[][] convWeights, double[] convBias,
        double[][] w1, double[] b1, double[][] w2, double[] b2)
    {
        ArgumentNullException.ThrowIfNull(convWeights); ArgumentNullException.ThrowIfNull(convBias);
        ArgumentNullException.ThrowIfNull(w1); ArgumentNullException.ThrowIfNull(b1);
        ArgumentNullException.ThrowIfNull(w2); ArgumentNullException.ThrowIfNull(b2);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(kernelSize, imageSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(stride, kernelSize);
        int o = (imageSize - kernelSize) / stride + 1;
        if (convWeights.Length == 0 || convWeights.Any(k => k is null || k.Length != kernelSize * kernelSize) || convBias.Length != convWeights.Length)
            throw new ArgumentException($"The convolution must be maps × {kernelSize * kernelSize} weights with one bias per map.", nameof(convWeights));
        int inputs = convWeights.Length * o * o;
        if (w1.Length == 0 || w1.Any(r => r is null || r.Length != inputs) || b1.Length != w1.Length)
            throw new ArgumentException($"W1 must be hidden × {inputs} (maps · {o}²) with one bias per hidden unit.", nameof(w1));
        if (w2.Length == 0 || w2.Any(r => r is null || r.Length != w1.Length) || b2.Length != w2.Length)
            throw new ArgumentException("W2 must be output × hidden with one bias per output.", nameof(w2));
        if (convWeights.Concat(w1).Concat(w2).SelectMany(r => r).Concat(convBias).Concat(b1).Concat(b2).Any(v => !double.IsFinite(v)))
            throw new ArgumentException("Weights must be finite.", nameof(w1));
        ImageSize = imageSize; KernelSize = kernelSize; Stride = stride; ConvOutputSize = o;
        ConvWeights = convWeights; ConvBias = convBias; W1 = w1; B1 = b1; W2 = w2; B2 = b2;
    }

    /// <summary>The convolution's pre-activations c (length M·O², index m·O² + oy·O + ox), bias included.</summary>
    /// <param name="image">S² pixels, row-major.</param>
    /// <exception cref="ArgumentException">The image does not have S² values.</exception>
    public double[] ConvPreActivations(ReadOnlySpan<double> image)
    {
        if (image.Length != ImageSize * ImageSize)
            throw new ArgumentException($"Expected an image of {ImageSize * ImageSize} values ({ImageSize} × {ImageSize}), found {image.Length}.", nameof(image));
        int o = ConvOutputSize, k = KernelSize, s = ImageSize;
        var c = new double[ConvOutputs];
        for (int m = 0; m < Maps; m++)
        {
            var w = ConvWeights[m];
            for (int oy = 0; oy < o; oy++)
                for (int ox = 0; ox < o; ox++)
                {
                    double z = ConvBias[m];
                    int corner = Stride * oy * s + Stride * ox;
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) z += w[ky * k + kx] * image[corner + ky * s + kx];
                    c[(m * o + oy) * o + ox] = z;
                }
        }
        return c;
    }

    /// <summary>The squared convolution activations a = c² (length M·O²).</summary>
    /// <param name="image">S² pixels, row-major.</param>
    /// <exception cref="ArgumentException">The image does not have S² values.</exception>
    public double[] ConvLayer(ReadOnlySpan<double> image)
    {
        var c = ConvPreActivations(image);
        for (int i = 0; i < c.Length; i++) c[i] *= c[i];
        return c;
    }

    /// <summary>The first dense layer's pre-activations W1·a + b1, from the squared convolution activations a.</summary>
    /// <param name="convActivations">The squared convolution activations, M·O² values.</param>
    /// <exception cref="ArgumentException"><paramref name="convActivations"/> does not have M·O² values.</exception>
    public double[] HiddenPreActivations(ReadOnlySpan<double> convActivations)
    {
        if (convActivations.Length != ConvOutputs)
            throw new ArgumentException($"Expected {ConvOutputs} convolution activations, found {convActivations.Length}.", nameof(convActivations));
        var z = new double[Hidden];
        for (int j = 0; j < Hidden; j++) z[j] = B1[j] + LinearAlgebra.VectorDot(W1[j], convActivations);
        return z;
    }

    /// <summary>The hidden activations h = (W1·a + b1)², from the squared convolution activations a (<see cref="ConvLayer"/>).</summary>
    /// <param name="convActivations">The squared convolution activations, M·O² values.</param>
    /// <exception cref="ArgumentException"><paramref name="convActivations"/> does not have M·O² values.</exception>
    public double[] HiddenLayer(ReadOnlySpan<double> convActivations)
    {
        var h = HiddenPreActivations(convActivations);
        for (int j = 0; j < h.Length; j++) h[j] *= h[j];
        return h;
    }

    /// <summary>The logits W2·h + b2 from the hidden activations h.</summary>
    /// <param name="hidden">The hidden activations, H values.</param>
    /// <exception cref="ArgumentException"><paramref name="hidden"/> does not have H values.</exception>
    public double[] OutputLayer(ReadOnlySpan<double> hidden)
    {
        if (hidden.Length != Hidden) throw new ArgumentException($"Expected {Hidden} hidden activations, found {hidden.Length}.", nameof(hidden));
        var logits = new double[Outputs];
        for (int k = 0; k < Outputs; k++) logits[k] = B2[k] + LinearAlgebra.VectorDot(W2[k], hidden);
        return logits;
    }

    /// <summary>The logits of one image.</summary>
    /// <param name="image">S² pixels, row-major.</param>
    /// <exception cref="ArgumentException">The image does not have S² values.</exception>
    public double[] Forward(ReadOnlySpan<double> image) => OutputLayer(HiddenLayer(ConvLayer(image)));

    /// <summary>The same network as layers: convolution, square, dense, square, dense.</summary>
    public Networks.SequentialNetwork ToNetwork()
    {
        var conv = new Networks.Conv2D(new Networks.TensorShape(1, ImageSize, ImageSize), KernelSize, Stride, ConvWeights, ConvBias);
        return new([conv, new Networks.SquareActivation(conv.OutputShape), new Networks.Dense(conv.OutputShape, W1, B1),
            new Networks.SquareActivation(Networks.TensorShape.Vector(Hidden)), new Networks.Dense(W2, B2)]);
    }

    /// <summary>The predicted class of each image (images are evaluated in parallel).</summary>
    /// <param name="images">Images of S² pixels.</param>
    /// <exception cref="ArgumentNullException"><paramref name="images"/> or an image is null.</exception>
    /// <exception cref="ArgumentException">An image does not have S² values.</exception>
    public double[] Predict(double[][] images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var predictions = new double[images.Length];
        Parallel.For(0, images.Length, i =>
        {
            ArgumentNullException.ThrowIfNull(images[i], nameof(images));
            predictions[i] = SquareMlp.ArgMax(Forward(images[i]));
        });
        return predictions;
    }

    /// <summary>Accuracy on labelled images.</summary>
    /// <param name="images">Images of S² pixels.</param>
    /// <param name="labels">Their class indices.</param>
    /// <exception cref="ArgumentException">Counts differ or an image has the wrong size.</exception>
    public double Score(double[][] images, double[] labels) => Data.Metrics.Accuracy(labels, Predict(images));

    /// <summary>
    /// The largest |value| of the convolution pre-activations c, the hidden pre-activations W1·a + b1 and the logits over
    /// some images: the ranges that an encrypted evaluation has to accommodate.
    /// </summary>
    /// <param name="images">Images of S² pixels.</param>
    /// <exception cref="ArgumentNullException"><paramref name="images"/> is null.</exception>
    /// <exception cref="ArgumentException">An image has the wrong size.</exception>
    public (double Conv, double Hidden, double Logits) MaxAbsActivations(double[][] images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var maxima = new (double Conv, double Hidden, double Logits)[images.Length];
        Parallel.For(0, images.Length, i =>
        {
            var c = ConvPreActivations(images[i]);
            double conv = MaxAbs(c);
            for (int t = 0; t < c.Length; t++) c[t] *= c[t];
            var z = HiddenPreActivations(c);
            double hidden = MaxAbs(z);
            for (int j = 0; j < z.Length; j++) z[j] *= z[j];
            maxima[i] = (conv, hidden, MaxAbs(OutputLayer(z)));
        });
        (double Conv, double Hidden, double Logits) result = (0, 0, 0);
        foreach (var m in maxima)
            result = (Math.Max(result.Conv, m.Conv), Math.Max(result.Hidden, m.Hidden), Math.Max(result.Logits, m.Logits));
        return result;
    }

    private static double MaxAbs(ReadOnlySpan<double> v)
    {
        double max = 0;
        foreach (double x in v) max = Math.Max(max, Math.Abs(x));
        return max;
    }

    /// <summary>
    /// The convolution without its bias as a dense (M·O²) × S² matrix T, so that c = T·x + b_m (row by row): the form in
    /// which the batched encrypted evaluation applies it (a sparse dense layer, K² non-zeros per row).
    /// </summary>
    /// <remarks>T[m·O² + oy·O + ox][(s·oy + ky)·S + s·ox + kx] = w_m[ky·K + kx]; every other entry is 0.</remarks>
    public double[][] ConvAsMatrix()
    {
        int o = ConvOutputSize, k = KernelSize, s = ImageSize;
        var t = new double[ConvOutputs][];
        for (int m = 0; m < Maps; m++)
            for (int oy = 0; oy < o; oy++)
                for (int ox = 0; ox < o; ox++)
                {
                    var row = t[(m * o + oy) * o + ox] = new double[s * s];
                    int corner = Stride * oy * s + Stride * ox;
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) row[corner + ky * s + kx] = ConvWeights[m][ky * k + kx];
                }
        return t;
    }

    /// <summary>
    /// Trains the network by mini-batch SGD with momentum on the softmax cross-entropy; the result depends only on the
    /// data, the arguments and the seed (the batch is spread over threads, but every sum runs in a fixed order).
    /// </summary>
    /// <param name="images">Training images, S² values each, expected in [0, 1].</param>
    /// <param name="labels">Class indices 0 … C − 1 (C is the largest label plus one, at least 2).</param>
    /// <param name="imageSize">Image side S.</param>
    /// <param name="maps">Convolution maps M (kernels of <see cref="DefaultKernelSize"/>², stride <see cref="DefaultStride"/>).</param>
    /// <param name="hidden">Hidden units H.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="learningRate">Peak step size.</param>
    /// <param name="batch">Images per step.</param>
    /// <param name="seed">Seed of the initial weights and of the shuffles.</param>
    /// <param name="progress">Receives the fraction of steps done, at most about 100 times.</param>
    /// <returns>The trained network.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="images"/> or <paramref name="labels"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size, count or rate is out of range.</exception>
    /// <exception cref="ArgumentException">Images of the wrong size or not finite, counts that differ, or labels that are not class indices.</exception>
    /// <remarks>
    /// Square activations make plain SGD fragile: a large pre-activation squares into a larger one, and the gradient
    /// follows. Training therefore (1) starts from a data-dependent initialisation: weights drawn from a seeded normal
    /// distribution, then each unit of each layer, in turn, shifted and scaled so that its pre-activation has mean 0
    /// and standard deviation 1 on 512 training images; (2) warms the step up linearly over the first 5% of the steps
    /// and then lets it decay along a cosine to 0; (3) clips the gradient's Euclidean norm at
    /// <see cref="GradientClip"/>; (4) uses momentum <see cref="Momentum"/> and weight decay
    /// <see cref="WeightDecay"/> on the weights (not the biases). The loss is the mean over the batch of
    /// log Σ_k e^{z_k} − z_label + (β/2) Σ_k z_k² with β = <see cref="LogitPenalty"/>: cross-entropy alone keeps
    /// pushing the logits of confidently classified images up, and the encrypted evaluation has to cover their range.
    /// On Fashion-MNIST the defaults reach about 89.5% test accuracy with |conv| &lt; 5, |hidden| &lt; 10 and
    /// |logits| &lt; 20 before the squares.
    /// </remarks>
    public static SquareCnn Train(double[][] images, double[] labels, int imageSize = 28, int maps = 5, int hidden = DefaultHidden,
        int epochs = DefaultEpochs, double learningRate = DefaultLearningRate, int batch = 64, int seed = 1, IProgress<double>? progress = null)
    {
        Data.Guard.Matrix(images, imageSize * imageSize, nameof(images));
        Data.Guard.Vector(labels, images.Length, nameof(labels));
        ArgumentOutOfRangeException.ThrowIfLessThan(imageSize, DefaultKernelSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(imageSize, MaxImageSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(maps, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maps, MaxMaps);
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hidden, MaxLayerSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (!(learningRate > 0 && double.IsFinite(learningRate)))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be positive and finite.");
        int outputs = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (!Data.Guard.IsClassIndex(labels[i]) || labels[i] >= MaxLayerSize)
                throw new ArgumentException($"labels[{i}] = {labels[i]} is not a class index below {MaxLayerSize}.", nameof(labels));
            outputs = Math.Max(outputs, (int)labels[i] + 1);
        }
        var shape = new CnnShape(imageSize, DefaultKernelSize, DefaultStride, maps, hidden, Math.Max(outputs, 2));
        if (shape.ConvOutputs > MaxConvOutputs)
            throw new ArgumentOutOfRangeException(nameof(maps), $"maps · O² = {shape.ConvOutputs} exceeds {MaxConvOutputs}.");
        return new CnnTrainer(shape, images, labels, batch, seed).Run(epochs, learningRate, progress);
    }

    /// <summary>Writes the weight file (layout in the remarks of <see cref="SquareCnn"/>).</summary>
    /// <param name="stream">Where to write.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new byte[HeaderBytes];
        "VCN1"u8.CopyTo(header);
        int[] sizes = [ImageSize, KernelSize, Stride, Maps, Hidden, Outputs];
        for (int i = 0; i < sizes.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4 + 4 * i), sizes[i]);
        stream.Write(header);
        var values = ConvWeights.SelectMany(r => r).Concat(ConvBias).Concat(W1.SelectMany(r => r)).Concat(B1)
            .Concat(W2.SelectMany(r => r)).Concat(B2).ToArray();
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), values[i]);
        stream.Write(bytes);
    }

    /// <summary>Reads a weight file written by <see cref="Save"/>.</summary>
    /// <param name="bytes">The whole file.</param>
    /// <exception cref="FormatException">
    /// Bad magic, a size beyond its limit, an inconsistent geometry, a wrong length, or a non-finite value; the message
    /// names the field.
    /// </exception>
    public static SquareCnn Load(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderBytes) throw new FormatException($"Weight file: fewer than {HeaderBytes} bytes (header).");
        if (!bytes[..4].SequenceEqual("VCN1"u8)) throw new FormatException("Weight file: bad magic (expected VCN1).");
        var sizes = new int[6];
        for (int i = 0; i < sizes.Length; i++) sizes[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 + 4 * i)..]);
        int imageSize = sizes[0], kernel = sizes[1], stride = sizes[2], maps = sizes[3], hidden = sizes[4], outputs = sizes[5];
        // Each bound depends only on fields checked before it, so the messages name the first field at fault.
        foreach (var (name, v, max) in new[]
        {
            ("image size", imageSize, MaxImageSize), ("kernel size", kernel, imageSize), ("stride", stride, kernel),
            ("map count", maps, MaxMaps), ("hidden size", hidden, MaxLayerSize), ("output size", outputs, MaxLayerSize),
        })
            if (v < 1 || v > max) throw new FormatException($"Weight file: {name} {v} is outside [1, {max}].");
        var shape = new CnnShape(imageSize, kernel, stride, maps, hidden, outputs);
        if (shape.ConvOutputs > MaxConvOutputs)
            throw new FormatException($"Weight file: map count {maps} · {shape.O}² = {shape.ConvOutputs} convolution outputs exceed {MaxConvOutputs}.");
        long expected = checked(HeaderBytes + 8 * shape.ParameterCount);
        if (bytes.Length != expected)
            throw new FormatException($"Weight file: expected {expected} bytes for image {imageSize}, kernel {kernel}, stride {stride}, {maps} maps, {hidden} hidden, {outputs} outputs; got {bytes.Length}.");
        int offset = HeaderBytes;
        double[] Read(ReadOnlySpan<byte> b, int count, string field)
        {
            var v = new double[count];
            for (int i = 0; i < count; i++, offset += 8)
            {
                v[i] = BinaryPrimitives.ReadDoubleLittleEndian(b[offset..]);
                if (!double.IsFinite(v[i])) throw new FormatException($"Weight file: a non-finite value in {field}.");
            }
            return v;
        }
        double[][] Rows(ReadOnlySpan<byte> b, int rows, int columns, string field)
        {
            var m = new double[rows][];
            for (int r = 0; r < rows; r++) m[r] = Read(b, columns, field);
            return m;
        }
        var convWeights = Rows(bytes, maps, kernel * kernel, "conv weights");
        var convBias = Read(bytes, maps, "conv bias");
        var w1 = Rows(bytes, hidden, shape.ConvOutputs, "W1");
        var b1 = Read(bytes, hidden, "b1");
        var w2 = Rows(bytes, outputs, hidden, "W2");
        var b2 = Read(bytes, outputs, "b2");
        return new SquareCnn(imageSize, kernel, stride, convWeights, convBias, w1, b1, w2, b2);
    }

    /// <summary>The parameters in the weight file's order, as one flat vector (the trainer's layout).</summary>
    internal double[] Flatten() =>
        [.. ConvWeights.SelectMany(r => r), .. ConvBias, .. W1.SelectMany(r => r), .. B1, .. W2.SelectMany(r => r), .. B2];

    /// <summary>A network from a flat parameter vector in the weight file's order.</summary>
    internal static SquareCnn FromFlat(CnnShape shape, ReadOnlySpan<double> theta)
    {
        double[][] Rows(ReadOnlySpan<double> v, int rows, int columns)
        {
            var m = new double[rows][];
            for (int r = 0; r < rows; r++) m[r] = v.Slice(r * columns, columns).ToArray();
            return m;
        }
        return new SquareCnn(shape.ImageSize, shape.Kernel, shape.Stride,
            Rows(theta[shape.ConvWeightsAt..], shape.Maps, shape.Taps), theta.Slice(shape.ConvBiasAt, shape.Maps).ToArray(),
            Rows(theta[shape.W1At..], shape.Hidden, shape.ConvOutputs), theta.Slice(shape.B1At, shape.Hidden).ToArray(),
            Rows(theta[shape.W2At..], shape.Outputs, shape.Hidden), theta.Slice(shape.B2At, shape.Outputs).ToArray());
    }

    /// <summary>The network's shape for the flat layout: sizes, and where each array starts in the parameter vector.</summary>
    internal CnnShape Shape => new(ImageSize, KernelSize, Stride, Maps, Hidden, Outputs);
}

/// <summary>Sizes of a <see cref="SquareCnn"/> and the offsets of its arrays in the flat parameter vector (weight file order).</summary>
internal readonly record struct CnnShape(int ImageSize, int Kernel, int Stride, int Maps, int Hidden, int Outputs)
{
    /// <summary>Outputs per side of the convolution.</summary>
    public int O => (ImageSize - Kernel) / Stride + 1;
    /// <summary>Kernel taps K².</summary>
    public int Taps => Kernel * Kernel;
    /// <summary>Positions per map O².</summary>
    public int Positions => O * O;
    /// <summary>Convolution outputs M·O².</summary>
    public int ConvOutputs => Maps * Positions;
    public int ConvWeightsAt => 0;
    public int ConvBiasAt => Maps * Taps;
    public int W1At => ConvBiasAt + Maps;
    public int B1At => W1At + Hidden * ConvOutputs;
    public int W2At => B1At + Hidden;
    public int B2At => W2At + Outputs * Hidden;
    /// <summary>Number of parameters (computed in 64 bits: a weight file's header may claim anything).</summary>
    public long ParameterCount => (long)Maps * Taps + Maps + (long)Hidden * ConvOutputs + Hidden + (long)Outputs * Hidden + Outputs;
}
