using Veil.Ml.Models;
using Veil.Serialization;

namespace Veil.Ml.Networks;

/// <summary>
/// Layers applied in order: the model type of every network Veil trains, runs encrypted or imports. Its plaintext
/// forward pass is the reference the encrypted evaluation (<see cref="Encrypted.EncryptedNetworkInference"/>) must match.
/// </summary>
/// <remarks>
/// Saved as a Veil object of type <see cref="Type"/> (any compression); the payload is input channels, height, width
/// (u32) ‖ layer count (u32) ‖ per layer its kind (u8) and its own fields: Dense outputs (u32), W row-major, b;
/// Conv2D kernel, stride, maps (u32) (PaddedConv2D: kernel, stride, padding, maps), kernels map-major, biases; AveragePool2D window, stride (u32); Polynomial degree
/// (u32), c_0 … c_d; Chebyshev degree (u32), a, b, c_0 … c_d; Flatten and Square nothing. Each layer's input is the previous one's output. Values are f64,
/// little-endian, finite. <see cref="Load"/> also reads the older single-purpose weight files (VNN1, VCN1).
/// </remarks>
public sealed class SequentialNetwork
{
    /// <summary>The object type of a saved network.</summary>
    public static ObjectType Type { get; } = ObjectTypes.Register(Schemes.Ml, 7, "SequentialNetwork");

    /// <summary>Largest number of layers accepted.</summary>
    public const int MaxLayers = 256;

    private static readonly byte[] NoHash = new byte[VeilHeader.ContextHashSize];
    private readonly Layer[] _layers;

    /// <summary>A network of <paramref name="layers"/>; each must read what the one before writes.</summary>
    /// <exception cref="ArgumentException">No layers, too many, or shapes that do not chain (dense layers accept any shape of the right size).</exception>
    public SequentialNetwork(IEnumerable<Layer> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        _layers = [.. layers];
        if (_layers.Length == 0 || _layers.Length > MaxLayers) throw new ArgumentException($"A network has 1 … {MaxLayers} layers; got {_layers.Length}.", nameof(layers));
        for (int i = 0; i < _layers.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(_layers[i], nameof(layers));
            if (i == 0) continue;
            var before = _layers[i - 1].OutputShape;
            var after = _layers[i].InputShape;
            bool fits = _layers[i] is Dense or Flatten or SquareActivation or PolynomialActivation ? before.Size == after.Size : before == after;
            if (!fits) throw new ArgumentException($"Layer {i} ({_layers[i]}) cannot read layer {i - 1}'s output {before}.", nameof(layers));
        }
    }

    /// <summary>The layers, in order.</summary>
    public IReadOnlyList<Layer> Layers => _layers;
    /// <summary>The first layer's input shape.</summary>
    public TensorShape InputShape => _layers[0].InputShape;
    /// <summary>The last layer's output shape.</summary>
    public TensorShape OutputShape => _layers[^1].OutputShape;
    /// <summary>Levels the encrypted evaluation consumes: the sum of the layers' depths.</summary>
    public int Depth => _layers.Sum(l => l.Depth);

    /// <summary>The network's outputs for one input.</summary>
    /// <exception cref="ArgumentException">The input has the wrong length.</exception>
    public double[] Forward(ReadOnlySpan<double> input)
    {
        var x = _layers[0].Forward(input);
        for (int i = 1; i < _layers.Length; i++) x = _layers[i].Forward(x);
        return x;
    }

    /// <summary>The predicted class (largest output) of each input, evaluated in parallel.</summary>
    /// <exception cref="ArgumentException">An input has the wrong length.</exception>
    public double[] Predict(double[][] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var predictions = new double[inputs.Length];
        Parallel.For(0, inputs.Length, i =>
        {
            ArgumentNullException.ThrowIfNull(inputs[i], nameof(inputs));
            predictions[i] = SquareMlp.ArgMax(Forward(inputs[i]));
        });
        return predictions;
    }

    /// <summary>Accuracy on labelled inputs.</summary>
    public double Score(double[][] inputs, double[] labels) => Data.Metrics.Accuracy(labels, Predict(inputs));

    /// <summary>
    /// The same network on inputs before an elementwise affine preprocessing: f'(x) = f(scale ∘ x + shift), folded into
    /// the first layer (a dense one), so that a deployed model reads raw features and its depth does not grow.
    /// </summary>
    /// <exception cref="ArgumentException">The first layer is not dense, or the vectors have the wrong length or non-finite values.</exception>
    public SequentialNetwork WithInputAffine(ReadOnlySpan<double> scale, ReadOnlySpan<double> shift)
    {
        if (_layers[0] is not Dense first) throw new ArgumentException("Only a network that starts with a dense layer can fold its input preprocessing.", nameof(scale));
        int n = InputShape.Size;
        if (scale.Length != n || shift.Length != n) throw new ArgumentException($"Scale and shift need {n} values each.", nameof(scale));
        var weights = new double[first.OutputShape.Size][];
        var bias = new double[weights.Length];
        for (int o = 0; o < weights.Length; o++)
        {
            var row = first.Weights(o);
            weights[o] = new double[n];
            double b = first.Bias(o);
            for (int i = 0; i < n; i++)
            {
                weights[o][i] = row[i] * scale[i];
                b += row[i] * shift[i];
            }
            bias[o] = b;
        }
        return new SequentialNetwork([new Dense(InputShape, weights, bias), .. _layers.Skip(1)]);
    }

    /// <summary>One line per layer: kind, shapes and depth.</summary>
    public string Describe() => string.Join(Environment.NewLine, _layers.Select((l, i) => $"{i}: {l} (depth {l.Depth})"));

    /// <summary>The network as a Veil object.</summary>
    public byte[] Save(Compression compression = Compression.None)
    {
        var payload = new byte[16 + _layers.Sum(l => 1 + l.PayloadBytes)];
        var w = new PayloadWriter(payload);
        w.WriteInt32(InputShape.Channels);
        w.WriteInt32(InputShape.Height);
        w.WriteInt32(InputShape.Width);
        w.WriteInt32(_layers.Length);
        foreach (var layer in _layers)
        {
            w.WriteByte((byte)layer.Kind);
            layer.Write(ref w);
        }
        w.EnsureFull();
        return VeilEnvelope.Pack(Type, NoHash, payload, compression);
    }

    /// <summary>Loads a network saved by <see cref="Save"/>, or an older VNN1 (two-layer MLP) or VCN1 (CNN) weight file.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes: the field that is wrong is named.</exception>
    /// <exception cref="FormatException">A malformed VNN1 or VCN1 file.</exception>
    public static SequentialNetwork Load(ReadOnlySpan<byte> bytes, SerializationLimits? limits = null)
    {
        if (bytes.StartsWith("VNN1"u8)) return SquareMlp.Load(bytes).ToNetwork();
        if (bytes.StartsWith("VCN1"u8)) return SquareCnn.Load(bytes).ToNetwork();
        limits ??= SerializationLimits.Default;
        var body = VeilEnvelope.Unpack(bytes, Type, NoHash, default, limits, limits.MaxObjectBytes, out _, out _);
        var r = new PayloadReader(body);
        int channels = r.ReadCount("input.channels", 1, TensorShape.MaxSide);
        int height = r.ReadCount("input.height", 1, TensorShape.MaxSide);
        int width = r.ReadCount("input.width", 1, TensorShape.MaxSide);
        if ((long)channels * height * width > TensorShape.MaxSize) throw new VeilFormatException("input", $"An input of {channels} × {height} × {width} exceeds {TensorShape.MaxSize} values.");
        int count = r.ReadCount("layerCount", 1, MaxLayers);
        var shape = new TensorShape(channels, height, width);
        var layers = new Layer[count];
        for (int i = 0; i < count; i++)
        {
            var kind = (LayerKind)r.ReadByte("layerKind");
            try { layers[i] = Layer.Read(ref r, kind, shape); }
            catch (ArgumentException e) { throw new VeilFormatException($"layer{i}", $"Layer {i} ({kind}): {e.Message}"); }
            shape = layers[i].OutputShape;
        }
        r.EnsureEnd("payloadLength");
        return new SequentialNetwork(layers);
    }
}
