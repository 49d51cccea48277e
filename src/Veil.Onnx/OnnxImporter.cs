using System.Buffers.Binary;
using Google.Protobuf;
using Veil.Ml.Networks;
using Veil.Onnx.Format;

namespace Veil.Onnx;

/// <summary>A model Veil cannot import, with the node at fault (or "file", "graph") and what to change.</summary>
public sealed class OnnxImportException(string node, string message) : Exception(message)
{
    /// <summary>The node's name and operator, or the part of the file at fault.</summary>
    public string Node { get; } = node;
}

/// <summary>Bounds on what an ONNX file may make the importer read and allocate.</summary>
public sealed record OnnxImportLimits
{
    /// <summary>The defaults.</summary>
    public static OnnxImportLimits Default { get; } = new();
    /// <summary>Largest file (bytes).</summary>
    public long MaxFileBytes { get; init; } = 256L << 20;
    /// <summary>Most nodes in the graph.</summary>
    public int MaxNodes { get; init; } = 10_000;
    /// <summary>Most elements in one tensor (and in one layer's weights).</summary>
    public long MaxTensorElements { get; init; } = Dense.MaxWeights;
    /// <summary>Deepest message nesting (protobuf recursion).</summary>
    public int MaxNesting { get; init; } = 64;
}

/// <summary>
/// Reads an ONNX model (opset 13 and later) whose graph is a chain of supported operators into a
/// <see cref="SequentialNetwork"/> — the layered networks Veil evaluates on ciphertexts. Gemm, MatMul, Conv (unpadded,
/// group 1), AveragePool and GlobalAveragePool (unpadded), BatchNormalization and Add/Sub/Div by constants (folded into
/// the layer before), Flatten, Reshape to a vector, Identity and Dropout (dropped), and the square (Pow by 2, Mul of a
/// value by itself). Anything else is refused by name, with what to change.
/// </summary>
/// <remarks>The file is hostile input: its size, nesting, node count and every tensor's size are bounded before use.</remarks>
public static class OnnxImporter
{
    /// <summary>Imports the model in <paramref name="bytes"/>.</summary>
    /// <exception cref="OnnxImportException">Malformed, out of bounds, or not a chain of supported operators.</exception>
    public static SequentialNetwork Import(ReadOnlySpan<byte> bytes, OnnxImportLimits? limits = null)
    {
        limits ??= OnnxImportLimits.Default;
        if (bytes.Length > limits.MaxFileBytes) throw new OnnxImportException("file", $"The file is {bytes.Length} bytes; at most {limits.MaxFileBytes} are read.");
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(CodedInputStream.CreateWithLimits(new MemoryStream(bytes.ToArray(), false), (int)Math.Min(limits.MaxFileBytes, int.MaxValue), limits.MaxNesting));
        }
        catch (InvalidProtocolBufferException e) { throw new OnnxImportException("file", $"Not an ONNX model: {e.Message}"); }
        return Import(model, limits);
    }

    /// <summary>Imports the ONNX file at <paramref name="path"/>.</summary>
    /// <exception cref="OnnxImportException">As <see cref="Import(ReadOnlySpan{byte}, OnnxImportLimits?)"/>.</exception>
    public static SequentialNetwork ImportFile(string path, OnnxImportLimits? limits = null)
    {
        limits ??= OnnxImportLimits.Default;
        var length = new FileInfo(path).Length;
        if (length > limits.MaxFileBytes) throw new OnnxImportException("file", $"{path} is {length} bytes; at most {limits.MaxFileBytes} are read.");
        return Import(File.ReadAllBytes(path), limits);
    }

    private static SequentialNetwork Import(ModelProto model, OnnxImportLimits limits)
    {
        var graph = model.Graph ?? throw new OnnxImportException("graph", "The model has no graph.");
        long opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset < 13) throw new OnnxImportException("file", $"The model uses opset {opset}; Veil reads opset 13 and later (export with opset_version=13 or higher).");
        if (graph.Node.Count > limits.MaxNodes) throw new OnnxImportException("graph", $"{graph.Node.Count} nodes; at most {limits.MaxNodes} are read.");
        var constants = new Dictionary<string, (long[] Dims, double[] Values)>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer) constants[t.Name] = ReadTensor(t, limits);

        var inputs = graph.Input.Where(i => !constants.ContainsKey(i.Name)).ToArray();
        if (inputs.Length != 1) throw new OnnxImportException("graph", $"The graph has {inputs.Length} data inputs; Veil reads models of one input.");
        string current = inputs[0].Name;
        var shape = InputShape(inputs[0]);
        var layers = new List<Layer>();
        foreach (var node in graph.Node)
        {
            string where = $"{(node.Name.Length > 0 ? node.Name : "(unnamed)")} ({node.OpType})";
            if (node.Domain is not ("" or "ai.onnx")) throw new OnnxImportException(where, $"Node {where} is in domain '{node.Domain}'; only the standard ONNX operators are read.");
            if (node.Input.Count == 0 || node.Input[0] != current || node.Output.Count == 0)
                throw new OnnxImportException(where, $"Node {where} does not continue the chain from '{current}': Veil imports networks whose nodes follow one another (no branches or skip connections).");
            (long[] Dims, double[] Values) Constant(int index) => index < node.Input.Count && constants.TryGetValue(node.Input[index], out var c) ? c
                : throw new OnnxImportException(where, $"Input {index} of node {where} must be a constant (an initializer).");
            switch (node.OpType)
            {
                case "Gemm":
                    layers.Add(Gemm(node, where, shape, Constant(1), node.Input.Count > 2 && node.Input[2].Length > 0 ? Constant(2) : null));
                    break;
                case "MatMul":
                {
                    var b = Constant(1);
                    if (b.Dims.Length != 2) throw new OnnxImportException(where, $"Node {where}: the constant factor must be a matrix; it has {b.Dims.Length} dimensions.");
                    layers.Add(DenseFrom(where, shape, b.Values, (int)b.Dims[0], (int)b.Dims[1], transposed: false, 1, null));
                    break;
                }
                case "Add" or "Sub" or "Div":
                {
                    // y = x + c, x − c or x / c after a dense layer: folded into it (scale 1/c for Div, shift ±c otherwise).
                    var c = Constant(1);
                    if (layers.Count == 0 || layers[^1] is not Dense dense)
                        throw new OnnxImportException(where, $"Node {where}: {node.OpType} by a constant is read only right after a MatMul or Gemm (it folds into that layer).");
                    int outputs = dense.OutputShape.Size;
                    var v = Broadcast(c.Values, outputs, where);
                    if (node.OpType == "Div" && v.Any(x => x == 0)) throw new OnnxImportException(where, $"Node {where} divides by zero.");
                    var scale = node.OpType == "Div" ? v.Select(x => 1 / x).ToArray() : [.. Enumerable.Repeat(1.0, outputs)];
                    var shift = node.OpType switch { "Add" => v, "Sub" => [.. v.Select(x => -x)], _ => new double[outputs] };
                    layers[^1] = ScaleOutputs(dense, scale, shift, where);
                    break;
                }
                case "BatchNormalization":
                {
                    // In inference mode: y = γ (x − μ) / √(σ² + ε) + β per channel, folded into the layer before it.
                    double epsilon = Attribute(node, "epsilon")?.F is { } f && f > 0 ? f : 1e-5;
                    var (gamma, beta, mean, variance) = (Constant(1).Values, Constant(2).Values, Constant(3).Values, Constant(4).Values);
                    if (layers.Count == 0 || layers[^1] is not (Dense or Conv2D))
                        throw new OnnxImportException(where, $"Node {where}: BatchNormalization is read only right after a Conv, Gemm or MatMul (it folds into that layer).");
                    int channels = layers[^1] is Conv2D conv ? conv.Maps : layers[^1].OutputShape.Size;
                    if (new[] { gamma, beta, mean, variance }.Any(a => a.Length != channels) || variance.Any(x => x + epsilon <= 0))
                        throw new OnnxImportException(where, $"Node {where}: scale, bias, mean and variance need {channels} values each, variances + ε > 0.");
                    var a = Enumerable.Range(0, channels).Select(i => gamma[i] / Math.Sqrt(variance[i] + epsilon)).ToArray();
                    var b = Enumerable.Range(0, channels).Select(i => beta[i] - a[i] * mean[i]).ToArray();
                    layers[^1] = layers[^1] is Conv2D c2 ? ScaleMaps(c2, a, b, where) : ScaleOutputs((Dense)layers[^1], a, b, where);
                    break;
                }
                case "Conv":
                    layers.Add(Conv(node, where, shape, Constant(1), node.Input.Count > 2 && node.Input[2].Length > 0 ? Constant(2).Values : null));
                    break;
                case "AveragePool":
                {
                    var k = Attribute(node, "kernel_shape")?.Ints.ToArray() ?? [];
                    var st = Attribute(node, "strides")?.Ints.ToArray() ?? [1, 1];
                    if (k.Length != 2 || k[0] != k[1] || st.Length != 2 || st[0] != st[1]) throw new OnnxImportException(where, $"Node {where}: square windows and equal strides are read.");
                    RequireNoPadding(node, where);
                    if ((Attribute(node, "ceil_mode")?.I ?? 0) != 0) throw new OnnxImportException(where, $"Node {where}: ceil_mode = 1 is not read (export with ceil_mode = 0).");
                    layers.Add(Pool(where, shape, (int)k[0], (int)st[0]));
                    break;
                }
                case "GlobalAveragePool":
                    if (shape.Height != shape.Width) throw new OnnxImportException(where, $"Node {where}: a global average over a {shape.Height}×{shape.Width} map is read only for square maps.");
                    layers.Add(Pool(where, shape, shape.Height, shape.Height));
                    break;
                case "Flatten":
                case "Reshape":
                    if (node.OpType == "Flatten" && Attribute(node, "axis")?.I is { } axis && axis != 1)
                        throw new OnnxImportException(where, $"Node {where}: only Flatten with axis 1 (keep the batch, flatten the rest) is read.");
                    if (node.OpType == "Reshape")
                    {
                        var target = Constant(1).Values;
                        if (!(target.Length == 2 && (target[1] == -1 || target[1] == shape.Size)))
                            throw new OnnxImportException(where, $"Node {where}: only a reshape to (batch, features) is read; this one asks for [{string.Join(", ", target)}].");
                    }
                    if (shape.Height != 1 || shape.Width != 1) layers.Add(new Flatten(shape));
                    break;
                case "Identity":
                case "Dropout":
                    break;
                case "Pow":
                {
                    var e = Constant(1).Values;
                    if (e.Length != 1 || e[0] != 2) throw new OnnxImportException(where, $"Node {where}: only the square (exponent 2) is read; got [{string.Join(", ", e.Take(4))}].");
                    layers.Add(new SquareActivation(shape));
                    break;
                }
                case "Mul":
                    if (node.Input.Count == 2 && node.Input[1] == current) { layers.Add(new SquareActivation(shape)); break; }
                    throw new OnnxImportException(where, $"Node {where}: only x·x (the square) is read as Mul; scale by a constant in the preceding Gemm instead.");
                case "Relu" or "Sigmoid" or "Tanh" or "Gelu" or "Silu" or "HardSigmoid" or "LeakyRelu" or "Elu" or "Softplus":
                    throw new OnnxImportException(where, $"Node {where}: {node.OpType} has no exact encrypted form; replace it by the square (x·x) in the model, or by a polynomial activation (fitting one from calibration data is not built yet).");
                case "MaxPool" or "GlobalMaxPool":
                    throw new OnnxImportException(where, $"Node {where}: {node.OpType} has no encrypted form; use AveragePool.");
                case "Softmax" or "LogSoftmax" or "ArgMax":
                    throw new OnnxImportException(where, $"Node {where}: {node.OpType} is computed by the client after decryption; export the network without it (the logits).");
                default:
                    throw new OnnxImportException(where, $"Node {where}: operator {node.OpType} is not supported (supported: Gemm, MatMul, Conv, AveragePool, GlobalAveragePool, BatchNormalization, Add/Sub/Div by constants after them, Flatten, Reshape to a vector, Identity, Dropout, Pow 2, Mul x·x).");
            }
            if (layers.Count > 0) shape = layers[^1].OutputShape;
            current = node.Output[0];
        }
        if (graph.Output.Count != 1 || graph.Output[0].Name != current)
            throw new OnnxImportException("graph", $"The graph's output is not the end of the chain ('{current}').");
        if (layers.Count == 0) throw new OnnxImportException("graph", "The graph computes nothing Veil can evaluate.");
        try { return new SequentialNetwork(layers); }
        catch (ArgumentException e) { throw new OnnxImportException("graph", $"The layers do not form a network: {e.Message}"); }
    }

    private static TensorShape InputShape(ValueInfoProto input)
    {
        var dims = input.Type?.TensorType?.Shape?.Dim;
        if (dims is null || dims.Count < 2) throw new OnnxImportException("graph", $"Input '{input.Name}' needs a shape of (batch, features) or (batch, channels, height, width).");
        var sizes = dims.Skip(1).Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : 0).ToArray();
        if (sizes.Any(s => s < 1 || s > TensorShape.MaxSide)) throw new OnnxImportException("graph", $"Input '{input.Name}' has a dimension other than the batch that is not a fixed size in 1 … {TensorShape.MaxSide}.");
        try
        {
            return sizes.Length switch
            {
                1 => TensorShape.Vector((int)sizes[0]),
                3 => new TensorShape((int)sizes[0], (int)sizes[1], (int)sizes[2]),
                _ => throw new OnnxImportException("graph", $"Input '{input.Name}' has {sizes.Length + 1} dimensions; Veil reads 2 or 4."),
            };
        }
        catch (ArgumentException e) { throw new OnnxImportException("graph", $"Input '{input.Name}': {e.Message}"); }
    }

    private static (long[] Dims, double[] Values) ReadTensor(TensorProto t, OnnxImportLimits limits)
    {
        string where = $"initializer '{t.Name}'";
        if (t.DataLocation != 0) throw new OnnxImportException(where, $"The {where} is stored outside the file; save the model with its weights inside.");
        long count = 1;
        foreach (var d in t.Dims)
        {
            if (d < 0 || d > limits.MaxTensorElements) throw new OnnxImportException(where, $"The {where} has a dimension of {d}.");
            count *= Math.Max(d, 1);
            if (count > limits.MaxTensorElements) throw new OnnxImportException(where, $"The {where} has more than {limits.MaxTensorElements} elements.");
        }
        if (t.Dims.Any(d => d == 0)) count = 0;
        var values = new double[count];
        var raw = t.RawData.Span;
        switch (t.DataType)
        {
            case 1: // FLOAT
                if (raw.Length > 0) { Need(raw.Length, count * 4, where); for (int i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]); }
                else { Need(t.FloatData.Count, count, where); for (int i = 0; i < count; i++) values[i] = t.FloatData[i]; }
                break;
            case 11: // DOUBLE
                if (raw.Length > 0) { Need(raw.Length, count * 8, where); for (int i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]); }
                else { Need(t.DoubleData.Count, count, where); for (int i = 0; i < count; i++) values[i] = t.DoubleData[i]; }
                break;
            case 7: // INT64 (shapes, exponents)
                if (raw.Length > 0) { Need(raw.Length, count * 8, where); for (int i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]); }
                else { Need(t.Int64Data.Count, count, where); for (int i = 0; i < count; i++) values[i] = t.Int64Data[i]; }
                break;
            default:
                throw new OnnxImportException(where, $"The {where} has element type {t.DataType}; float, double and int64 are read.");
        }
        if (values.Any(v => !double.IsFinite(v))) throw new OnnxImportException(where, $"The {where} holds a value that is not finite.");
        return ([.. t.Dims], values);
    }

    private static void Need(long have, long want, string where)
    {
        if (have != want) throw new OnnxImportException(where, $"The {where} holds {have} values (or bytes) where its shape needs {want}.");
    }

    private static AttributeProto? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    private static void RequireNoPadding(NodeProto node, string where)
    {
        if (Attribute(node, "pads")?.Ints is { } pads && pads.Any(p => p != 0))
            throw new OnnxImportException(where, $"Node {where}: padding is not read (Veil's convolutions and pools are unpadded: pad the input before encryption, or export with padding 0).");
        if (Attribute(node, "auto_pad")?.S is { Length: > 0 } auto && auto.ToStringUtf8() is not ("NOTSET" or "VALID"))
            throw new OnnxImportException(where, $"Node {where}: auto_pad {auto.ToStringUtf8()} is not read (only VALID).");
    }

    private static Conv2D Conv(NodeProto node, string where, TensorShape shape, (long[] Dims, double[] Values) w, double[]? bias)
    {
        if (w.Dims.Length != 4 || w.Dims[2] != w.Dims[3]) throw new OnnxImportException(where, $"Node {where}: the weights must be maps × channels × K × K.");
        if (w.Dims[1] != shape.Channels) throw new OnnxImportException(where, $"Node {where}: the kernels read {w.Dims[1]} channels; the input has {shape.Channels}.");
        if ((Attribute(node, "group")?.I ?? 1) != 1) throw new OnnxImportException(where, $"Node {where}: grouped convolutions (group ≠ 1) are not read.");
        if (Attribute(node, "dilations")?.Ints is { } dil && dil.Any(d => d != 1)) throw new OnnxImportException(where, $"Node {where}: dilated convolutions are not read.");
        RequireNoPadding(node, where);
        var st = Attribute(node, "strides")?.Ints.ToArray() ?? [1, 1];
        if (st.Length != 2 || st[0] != st[1]) throw new OnnxImportException(where, $"Node {where}: equal strides in both directions are read.");
        int maps = (int)w.Dims[0], taps = (int)(w.Dims[1] * w.Dims[2] * w.Dims[3]);
        var kernels = Enumerable.Range(0, maps).Select(m => w.Values.AsSpan(m * taps, taps).ToArray()).ToArray();
        try { return new Conv2D(shape, (int)w.Dims[2], (int)st[0], kernels, bias is null ? new double[maps] : Broadcast(bias, maps, where)); }
        catch (ArgumentException e) { throw new OnnxImportException(where, $"Node {where}: {e.Message}"); }
    }

    private static AveragePool2D Pool(string where, TensorShape shape, int window, int stride)
    {
        try { return new AveragePool2D(shape, window, stride); }
        catch (ArgumentException e) { throw new OnnxImportException(where, $"Node {where}: {e.Message}"); }
    }

    /// <summary>The dense layer followed by y_o ↦ scale_o·y_o + shift_o.</summary>
    private static Dense ScaleOutputs(Dense dense, double[] scale, double[] shift, string where)
    {
        int outputs = dense.OutputShape.Size;
        try
        {
            return new Dense(dense.InputShape, [.. Enumerable.Range(0, outputs).Select(o => dense.Weights(o).ToArray().Select(v => v * scale[o]).ToArray())],
                [.. Enumerable.Range(0, outputs).Select(o => dense.Bias(o) * scale[o] + shift[o])]);
        }
        catch (ArgumentException e) { throw new OnnxImportException(where, $"Node {where}: {e.Message}"); }
    }

    /// <summary>The convolution followed by map m ↦ scale_m·map + shift_m.</summary>
    private static Conv2D ScaleMaps(Conv2D conv, double[] scale, double[] shift, string where)
    {
        int positions = conv.OutputShape.Height * conv.OutputShape.Width;
        try
        {
            return new Conv2D(conv.InputShape, conv.KernelSize, conv.Stride, [.. Enumerable.Range(0, conv.Maps).Select(m => conv.Kernel(m).ToArray().Select(v => v * scale[m]).ToArray())],
                [.. Enumerable.Range(0, conv.Maps).Select(m => conv.Bias(m * positions) * scale[m] + shift[m])]);
        }
        catch (ArgumentException e) { throw new OnnxImportException(where, $"Node {where}: {e.Message}"); }
    }

    private static Dense Gemm(NodeProto node, string where, TensorShape shape, (long[] Dims, double[] Values) b, (long[] Dims, double[] Values)? c)
    {
        if ((Attribute(node, "transA")?.I ?? 0) != 0) throw new OnnxImportException(where, $"Node {where}: a transposed data input (transA = 1) is not read.");
        bool transB = (Attribute(node, "transB")?.I ?? 0) != 0;
        double alpha = Attribute(node, "alpha")?.F ?? 1, beta = Attribute(node, "beta")?.F ?? 1;
        if (b.Dims.Length != 2) throw new OnnxImportException(where, $"Node {where}: B must be a matrix.");
        return DenseFrom(where, shape, b.Values, (int)b.Dims[0], (int)b.Dims[1], transB, alpha, c is { } bias ? [.. bias.Values.Select(v => beta * v)] : null);
    }

    /// <summary>y = alpha·x·B + bias for B of rows × cols (x·Bᵀ when transposed), as a dense layer of W = (alpha·B)ᵀ.</summary>
    private static Dense DenseFrom(string where, TensorShape shape, double[] b, int rows, int cols, bool transposed, double alpha, double[]? bias)
    {
        int inputs = transposed ? cols : rows, outputs = transposed ? rows : cols;
        if (inputs != shape.Size) throw new OnnxImportException(where, $"Node {where}: the weights read {inputs} values; the layer before gives {shape.Size}.");
        var w = new double[outputs][];
        for (int o = 0; o < outputs; o++)
        {
            w[o] = new double[inputs];
            for (int i = 0; i < inputs; i++) w[o][i] = alpha * (transposed ? b[(long)o * cols + i] : b[(long)i * cols + o]);
        }
        var full = bias is null ? new double[outputs] : Broadcast(bias, outputs, where);
        try { return new Dense(shape, w, full); }
        catch (ArgumentException e) { throw new OnnxImportException(where, $"Node {where}: {e.Message}"); }
    }

    private static double[] Broadcast(double[] values, int outputs, string where) => values.Length switch
    {
        1 => [.. Enumerable.Repeat(values[0], outputs)],
        _ when values.Length == outputs => values,
        _ => throw new OnnxImportException(where, $"Node {where}: a bias of {values.Length} values for {outputs} outputs."),
    };
}
