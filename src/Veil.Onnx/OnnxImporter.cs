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

/// <summary>How activations without an exact encrypted form are replaced by fitted polynomials, and the file's bounds.</summary>
public sealed record OnnxImportOptions
{
    /// <summary>The defaults (no calibration data: a model with such activations is refused).</summary>
    public static OnnxImportOptions Default { get; } = new();
    /// <summary>Bounds on what the file may make the importer read.</summary>
    public OnnxImportLimits Limits { get; init; } = OnnxImportLimits.Default;
    /// <summary>Inputs in the graph's order (flattened C·H·W) whose pre-activation ranges the polynomials are fitted on.</summary>
    public IReadOnlyList<double[]>? Calibration { get; init; }
    /// <summary>Each measured range is widened by this fraction of its width on both sides (inputs unseen in calibration).</summary>
    public double Margin { get; init; } = 0.1;
    /// <summary>Fraction of calibration inputs the fitted network must decide as the exact model does, by a safe distance: its
    /// largest output error below half the exact margin (top score − runner-up, or |y| for a single output).</summary>
    public double TargetAgreement { get; init; } = 0.999;
    /// <summary>A fixed degree for every fitted activation instead of the search over 3, 7, 15, 31.</summary>
    public int? Degree { get; init; }
    /// <summary>Highest degree the search may choose.</summary>
    public int MaxDegree { get; init; } = 31;
}

/// <summary>An activation replaced by a polynomial: where, on which interval, of which degree and how far from exact.</summary>
/// <param name="Node">The node (name and operator).</param>
/// <param name="Function">The exact function (Relu, Sigmoid …).</param>
/// <param name="Low">Left end of the fitted interval (the measured range with its margin).</param>
/// <param name="High">Right end.</param>
/// <param name="Degree">The polynomial's degree.</param>
/// <param name="MaxError">Largest |p(x) − f(x)| on the interval.</param>
/// <param name="Folded">Whether the map onto [−1, 1] was folded into the layer before (saving a level).</param>
public sealed record FittedActivation(string Node, string Function, double Low, double High, int Degree, double MaxError, bool Folded);

/// <summary>An imported model: the network, its fitted activations and how well it agrees with the exact model.</summary>
/// <param name="Network">The network Veil evaluates.</param>
/// <param name="Activations">The activations replaced by polynomials (empty when every operator is exact).</param>
/// <param name="Agreement">Fraction of calibration inputs decided as the exact model decides them (null without fitted activations).</param>
/// <param name="Opset">The model's ONNX opset.</param>
/// <param name="Nodes">Nodes in the graph.</param>
/// <param name="Reference">The graph in plaintext with its exact activations (double precision; the tests hold it to OnnxRuntime within 1e-4).</param>
public sealed record OnnxImportResult(SequentialNetwork Network, IReadOnlyList<FittedActivation> Activations, double? Agreement, long Opset, int Nodes, Func<double[], double[]> Reference);

/// <summary>
/// Reads an ONNX model (opset 13 and later) whose graph is a chain of supported operators into a
/// <see cref="SequentialNetwork"/> — the layered networks Veil evaluates on ciphertexts. Gemm, MatMul, Conv (stride,
/// symmetric zero padding, group 1), AveragePool and GlobalAveragePool (unpadded), BatchNormalization and
/// Add/Sub/Mul/Div by constants (folded into the layer before), Flatten, Reshape to a vector, Identity and Dropout
/// (dropped), the square (Pow by 2, Mul of a value by itself), Constant nodes and Transpose/Reshape/Identity of
/// constants (folded), and the activations Relu, LeakyRelu, Elu, Sigmoid, HardSigmoid, Tanh, Softplus, Softsign, Gelu,
/// HardSwish, Mish and SiLU (Sigmoid then Mul) replaced by Chebyshev polynomials fitted on calibration data over the
/// measured input range with a margin, of the lowest degree that reaches the agreement target. Anything else is
/// refused by name, with what to change.
/// </summary>
/// <remarks>The file is hostile input: its size, nesting, node count and every tensor's size are bounded before use.</remarks>
public static class OnnxImporter
{
    /// <summary>Most dimensions a tensor may have (a bound on the work of folding a Transpose).</summary>
    public const int MaxRank = 8;

    /// <summary>Imports the model in <paramref name="bytes"/> (one without activations to fit).</summary>
    /// <exception cref="OnnxImportException">Malformed, out of bounds, not a chain of supported operators, or an activation to fit (use <see cref="ImportModel"/> with calibration data).</exception>
    public static SequentialNetwork Import(ReadOnlySpan<byte> bytes, OnnxImportLimits? limits = null) =>
        ImportModel(bytes, new OnnxImportOptions { Limits = limits ?? OnnxImportLimits.Default }).Network;

    /// <summary>Imports the ONNX file at <paramref name="path"/> with <paramref name="options"/>.</summary>
    /// <exception cref="OnnxImportException">As <see cref="ImportModel"/>.</exception>
    public static OnnxImportResult ImportModelFile(string path, OnnxImportOptions? options = null)
    {
        options ??= OnnxImportOptions.Default;
        var length = new FileInfo(path).Length;
        if (length > options.Limits.MaxFileBytes) throw new OnnxImportException("file", $"{path} is {length} bytes; at most {options.Limits.MaxFileBytes} are read.");
        return ImportModel(File.ReadAllBytes(path), options);
    }

    /// <summary>Imports the model in <paramref name="bytes"/>, fitting its activations on <see cref="OnnxImportOptions.Calibration"/>.</summary>
    /// <exception cref="OnnxImportException">Malformed, out of bounds, not a chain of supported operators, or activations without calibration data.</exception>
    /// <exception cref="ArgumentException">Calibration inputs of the wrong length or not finite, or options out of range.</exception>
    public static OnnxImportResult ImportModel(ReadOnlySpan<byte> bytes, OnnxImportOptions? options = null)
    {
        options ??= OnnxImportOptions.Default;
        var limits = options.Limits;
        if (bytes.Length > limits.MaxFileBytes) throw new OnnxImportException("file", $"The file is {bytes.Length} bytes; at most {limits.MaxFileBytes} are read.");
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(CodedInputStream.CreateWithLimits(new MemoryStream(bytes.ToArray(), false), (int)Math.Min(limits.MaxFileBytes, int.MaxValue), limits.MaxNesting));
        }
        catch (InvalidProtocolBufferException e) { throw new OnnxImportException("file", $"Not an ONNX model: {e.Message}"); }
        List<object> steps; long opset; int nodes;
        try { (steps, opset, nodes) = Read(model, limits); }
        catch (OverflowException) { throw new OnnxImportException("graph", "A shape in the file overflows 64-bit arithmetic."); }
        return ActivationFit.Build(steps, options, opset, nodes);
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

    private static (List<object> Steps, long Opset, int Nodes) Read(ModelProto model, OnnxImportLimits limits)
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
        var steps = new List<object>(); // Layer, or Activation still to fit
        string? labelOutput = null;
        for (int index = 0; index < graph.Node.Count; index++)
        {
            var node = graph.Node[index];
            string where = $"{(node.Name.Length > 0 ? node.Name : "(unnamed)")} ({node.OpType})";
            if (node.Domain is not ("" or "ai.onnx") && !(node.Domain == "ai.onnx.ml" && node.OpType is "LinearRegressor" or "LinearClassifier"))
                throw new OnnxImportException(where, $"Node {where} is in domain '{node.Domain}'; only the standard ONNX operators (and ai.onnx.ml's LinearRegressor and LinearClassifier) are read.");
            string next = node.Output.Count > 0 ? node.Output[0] : "";
            if (node.Output.Count > 0 && FoldConstant(node, where, constants, limits)) continue;
            if (node.Input.Count == 0 || node.Input[0] != current && !(node.OpType is "Add" or "Sub" or "Mul" or "Div" && node.Input.Count == 2 && node.Input[1] == current) || node.Output.Count == 0)
                throw new OnnxImportException(where, $"Node {where} does not continue the chain from '{current}': Veil imports networks whose nodes follow one another (no branches or skip connections).");
            (long[] Dims, double[] Values) Constant(int i) => i < node.Input.Count && constants.TryGetValue(node.Input[i], out var c) ? c
                : throw new OnnxImportException(where, $"Input {i} of node {where} must be a constant (an initializer or Constant node).");
            // Commutative operators may name the constant first.
            int other = node.Input.Count == 2 && node.Input[0] != current ? 0 : 1;
            var layers = new LayerView(steps);
            switch (node.OpType)
            {
                case "LinearRegressor" or "LinearClassifier" when node.Domain == "ai.onnx.ml":
                {
                    // scikit-learn's linear models as skl2onnx writes them: scores = X·Wᵀ + b; the label and any
                    // post_transform (softmax, logistic) are the client's after decryption.
                    bool classifier = node.OpType == "LinearClassifier";
                    if ((Attribute(node, "coefficients")?.Floats.Count ?? 0) > limits.MaxTensorElements)
                        throw new OnnxImportException(where, $"Node {where}: more than {limits.MaxTensorElements} coefficients.");
                    var coefficients = Attribute(node, "coefficients")?.Floats.Select(v => (double)v).ToArray() ?? [];
                    var intercepts = Attribute(node, "intercepts")?.Floats.Select(v => (double)v).ToArray() ?? [];
                    string post = Attribute(node, "post_transform")?.S.ToStringUtf8() is { Length: > 0 } pt ? pt : "NONE";
                    int features = shape.Size;
                    if (coefficients.Length == 0 || coefficients.Length % features != 0 || coefficients.Any(v => !double.IsFinite(v)))
                        throw new OnnxImportException(where, $"Node {where}: {coefficients.Length} coefficients for {features} inputs.");
                    int rows = coefficients.Length / features;
                    if (intercepts.Length is not 0 && intercepts.Length != rows || intercepts.Any(v => !double.IsFinite(v)))
                        throw new OnnxImportException(where, $"Node {where}: {intercepts.Length} intercepts for {rows} score(s).");
                    if (!classifier && post != "NONE") throw new OnnxImportException(where, $"Node {where}: post_transform {post} is not read for a regressor.");
                    if (classifier && post is not ("NONE" or "LOGISTIC" or "SOFTMAX" or "SOFTMAX_ZERO"))
                        throw new OnnxImportException(where, $"Node {where}: post_transform {post} is not read (NONE, LOGISTIC or SOFTMAX are: the client applies them).");
                    if (classifier && node.Output.Count != 2) throw new OnnxImportException(where, $"Node {where}: a LinearClassifier has a label and a score output.");
                    if (classifier && rows == 1)
                        throw new OnnxImportException(where, $"Node {where}: a binary LinearClassifier with one coefficient row is not read; export the decision function (a Gemm) or two rows.");
                    var w = Enumerable.Range(0, rows).Select(r => coefficients.AsSpan(r * features, features).ToArray()).ToArray();
                    try { steps.Add(new Dense(shape, w, intercepts.Length == 0 ? new double[rows] : intercepts)); }
                    catch (ArgumentException e) { throw new OnnxImportException(where, $"Node {where}: {e.Message}"); }
                    if (classifier) { labelOutput = node.Output[0]; next = node.Output[1]; }
                    break;
                }
                case "Gemm":
                    steps.Add(Gemm(node, where, shape, Constant(1), node.Input.Count > 2 && node.Input[2].Length > 0 ? Constant(2) : null));
                    break;
                case "MatMul":
                {
                    var b = Constant(1);
                    if (b.Dims.Length != 2) throw new OnnxImportException(where, $"Node {where}: the constant factor must be a matrix; it has {b.Dims.Length} dimensions.");
                    steps.Add(DenseFrom(where, shape, b.Values, (int)b.Dims[0], (int)b.Dims[1], transposed: false, 1, null));
                    break;
                }
                case "Mul" when node.Input.Count == 2 && node.Input[0] == current && node.Input[1] == current:
                    steps.Add(new SquareActivation(shape));
                    break;
                case "Add" or "Sub" or "Mul" or "Div":
                {
                    // y = x + c, x − c, x·c or x / c after a dense layer or convolution: folded into it (per output or per map).
                    if (node.OpType is "Sub" or "Div" && other == 0)
                        throw new OnnxImportException(where, $"Node {where}: only x {(node.OpType == "Sub" ? "−" : "/")} c is read, not c {(node.OpType == "Sub" ? "−" : "/")} x.");
                    var c = Constant(other);
                    if (layers.Last is not (Dense or Conv2D))
                        throw new OnnxImportException(where, $"Node {where}: {node.OpType} by a constant is read only right after a MatMul, Gemm or Conv (it folds into that layer).");
                    int outputs = layers.Last is Conv2D cv ? cv.Maps : layers.Last.OutputShape.Size;
                    // ONNX broadcasts from the last axis: per map needs [M, 1, 1] (or [1, M, 1, 1]); per output [O] or [1, O].
                    bool perUnit = layers.Last is Conv2D
                        ? c.Dims.SkipWhile(d => d == 1).FirstOrDefault() == outputs && c.Dims.Reverse().TakeWhile(d => d == 1).Count() >= 2 && c.Dims.Length >= 3
                        : c.Dims.Length >= 1 && c.Dims[^1] == outputs;
                    if (c.Values.Length != 1 && !perUnit)
                        throw new OnnxImportException(where, $"Node {where}: a constant of shape [{string.Join(", ", c.Dims)}] does not broadcast per {(layers.Last is Conv2D ? "map ([M, 1, 1])" : "output")} onto the {layers.Last.OutputShape} output; only a scalar or a per-{(layers.Last is Conv2D ? "map" : "output")} constant folds into the layer.");
                    var v = Broadcast(c.Values, outputs, where);
                    if (node.OpType == "Div" && v.Any(x => x == 0)) throw new OnnxImportException(where, $"Node {where} divides by zero.");
                    var scale = node.OpType switch { "Div" => v.Select(x => 1 / x).ToArray(), "Mul" => v, _ => [.. Enumerable.Repeat(1.0, outputs)] };
                    var shift = node.OpType switch { "Add" => v, "Sub" => [.. v.Select(x => -x)], _ => new double[outputs] };
                    layers.Last = layers.Last is Conv2D conv ? ScaleMaps(conv, scale, shift, where) : ScaleOutputs((Dense)layers.Last, scale, shift, where);
                    break;
                }
                case "BatchNormalization":
                {
                    // In inference mode: y = γ (x − μ) / √(σ² + ε) + β per channel, folded into the layer before it.
                    double epsilon = Attribute(node, "epsilon")?.F is { } f && f > 0 ? f : 1e-5;
                    var (gamma, beta, mean, variance) = (Constant(1).Values, Constant(2).Values, Constant(3).Values, Constant(4).Values);
                    if (layers.Last is not (Dense or Conv2D))
                        throw new OnnxImportException(where, $"Node {where}: BatchNormalization is read only right after a Conv, Gemm or MatMul (it folds into that layer; put it before the activation).");
                    int channels = layers.Last is Conv2D conv ? conv.Maps : layers.Last.OutputShape.Size;
                    if (new[] { gamma, beta, mean, variance }.Any(a => a.Length != channels) || variance.Any(x => x + epsilon <= 0))
                        throw new OnnxImportException(where, $"Node {where}: scale, bias, mean and variance need {channels} values each, variances + ε > 0.");
                    var a = Enumerable.Range(0, channels).Select(i => gamma[i] / Math.Sqrt(variance[i] + epsilon)).ToArray();
                    var b = Enumerable.Range(0, channels).Select(i => beta[i] - a[i] * mean[i]).ToArray();
                    layers.Last = layers.Last is Conv2D c2 ? ScaleMaps(c2, a, b, where) : ScaleOutputs((Dense)layers.Last, a, b, where);
                    break;
                }
                case "Conv":
                    steps.Add(Conv(node, where, shape, Constant(1), node.Input.Count > 2 && node.Input[2].Length > 0 ? Constant(2).Values : null));
                    break;
                case "AveragePool":
                {
                    var k = Attribute(node, "kernel_shape")?.Ints.ToArray() ?? [];
                    var st = Attribute(node, "strides")?.Ints.ToArray() ?? [1, 1];
                    if (k.Length != 2 || k[0] != k[1] || st.Length != 2 || st[0] != st[1]) throw new OnnxImportException(where, $"Node {where}: square windows and equal strides are read.");
                    if (k[0] < 1 || k[0] > TensorShape.MaxSide || st[0] < 1 || st[0] > TensorShape.MaxSide) throw new OnnxImportException(where, $"Node {where}: window {k[0]} or stride {st[0]} out of range.");
                    RequireNoPadding(node, where);
                    if ((Attribute(node, "ceil_mode")?.I ?? 0) != 0) throw new OnnxImportException(where, $"Node {where}: ceil_mode = 1 is not read (export with ceil_mode = 0).");
                    steps.Add(Pool(where, shape, (int)k[0], (int)st[0]));
                    break;
                }
                case "GlobalAveragePool":
                    if (shape.Height != shape.Width) throw new OnnxImportException(where, $"Node {where}: a global average over a {shape.Height}×{shape.Width} map is read only for square maps.");
                    steps.Add(Pool(where, shape, shape.Height, shape.Height));
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
                    if (shape.Height != 1 || shape.Width != 1) steps.Add(new Flatten(shape));
                    break;
                case "Identity":
                case "Dropout":
                    break;
                case "Pad":
                {
                    // PyTorch's AvgPool2d exports an explicit Pad, often of zero width: that one is the identity.
                    var pads = Constant(1).Values;
                    if (pads.Any(p => p != 0))
                        throw new OnnxImportException(where, $"Node {where}: a Pad of [{string.Join(", ", pads)}] is not read; pad inside the Conv (its pads attribute) instead.");
                    break;
                }
                case "Pow":
                {
                    var e = Constant(1).Values;
                    if (e.Length != 1 || e[0] != 2) throw new OnnxImportException(where, $"Node {where}: only the square (exponent 2) is read; got [{string.Join(", ", e.Take(4))}].");
                    steps.Add(new SquareActivation(shape));
                    break;
                }
                case "Sigmoid" when index + 1 < graph.Node.Count && graph.Node[index + 1] is { OpType: "Mul", Domain: "" or "ai.onnx" } mul && mul.Input.Count == 2
                    && mul.Input.Contains(current) && mul.Input.Contains(node.Output[0]) && mul.Output.Count > 0:
                    // x·σ(x) as PyTorch exports SiLU/Swish: one activation.
                    steps.Add(new Activation(where, "Silu", Activation.Silu, shape));
                    current = mul.Output[0];
                    index++;
                    continue;
                case "Relu" or "LeakyRelu" or "Elu" or "Sigmoid" or "HardSigmoid" or "Tanh" or "Softplus" or "Softsign" or "Gelu" or "HardSwish" or "Mish":
                    steps.Add(new Activation(where, node.OpType, Activation.Exact(node.OpType, a => Attribute(node, a)), shape));
                    break;
                case "Erf":
                    throw new OnnxImportException(where, $"Node {where}: Erf alone is not read; a GELU exported as Div, Erf, Add, Mul is read as one Gelu node from opset 20 (torch.onnx.export(..., opset_version=20)) or replace it by another activation.");
                case "MaxPool" or "GlobalMaxPool":
                    throw new OnnxImportException(where, $"Node {where}: {node.OpType} has no encrypted form; use AveragePool.");
                case "Softmax" or "LogSoftmax" or "ArgMax":
                    throw new OnnxImportException(where, $"Node {where}: {node.OpType} is computed by the client after decryption; export the network without it (the logits).");
                default:
                    throw new OnnxImportException(where, $"Node {where}: operator {node.OpType} is not supported (supported: Gemm, MatMul, Conv, AveragePool, GlobalAveragePool, BatchNormalization, Add/Sub/Mul/Div by constants after them, Flatten, Reshape to a vector, Identity, Dropout, Pow 2, Mul x·x, Relu, LeakyRelu, Elu, Sigmoid, HardSigmoid, Tanh, Softplus, Softsign, Gelu, HardSwish, Mish, SiLU, and Constant/Transpose/Reshape of constants).");
            }
            if (steps.Count > 0) shape = steps[^1] is Layer l ? l.OutputShape : ((Activation)steps[^1]).Shape;
            current = next;
        }
        // A classifier's label output may be a graph output beside the scores: the client takes the argmax.
        var graphOutputs = graph.Output.Select(o => o.Name).Where(n => n != labelOutput).ToArray();
        if (graphOutputs.Length != 1 || graphOutputs[0] != current)
            throw new OnnxImportException("graph", $"The graph's output is not the end of the chain ('{current}').");
        if (steps.Count == 0) throw new OnnxImportException("graph", "The graph computes nothing Veil can evaluate.");
        return (steps, opset, graph.Node.Count);
    }

    /// <summary>The last step as a layer (null when it is an activation or there is none), replaceable in place.</summary>
    private readonly struct LayerView(List<object> steps)
    {
        public Layer? Last
        {
            get => steps.Count > 0 ? steps[^1] as Layer : null;
            set => steps[^1] = value!;
        }
    }

    /// <summary>Evaluates a node whose inputs are all constants (Constant, Transpose, Reshape, Identity …) into a constant.</summary>
    private static bool FoldConstant(NodeProto node, string where, Dictionary<string, (long[] Dims, double[] Values)> constants, OnnxImportLimits limits)
    {
        if (node.OpType == "Constant")
        {
            var a = node.Attribute.Count == 1 ? node.Attribute[0] : throw new OnnxImportException(where, $"Node {where}: a Constant has one attribute.");
            constants[node.Output[0]] = a.Name switch
            {
                "value" when a.T is not null => ReadTensor(a.T, limits),
                "value_float" => ([], [a.F]),
                "value_int" => ([], [a.I]),
                "value_floats" => ([a.Floats.Count], [.. a.Floats.Select(v => (double)v)]),
                "value_ints" => ([a.Ints.Count], [.. a.Ints.Select(v => (double)v)]),
                _ => throw new OnnxImportException(where, $"Node {where}: a Constant's {a.Name} is not read (a tensor, float(s) or int(s) are)."),
            };
            if (constants[node.Output[0]].Values.Any(v => !double.IsFinite(v))) throw new OnnxImportException(where, $"Node {where} holds a value that is not finite.");
            return true;
        }
        if (node.Input.Count == 0 || node.Input[0].Length == 0 || node.Input.Any(i => i.Length > 0 && !constants.ContainsKey(i))) return false;
        var x = constants[node.Input[0]];
        switch (node.OpType)
        {
            case "Identity":
                constants[node.Output[0]] = x;
                return true;
            case "Transpose":
            {
                var perm = Attribute(node, "perm")?.Ints.ToArray() ?? [.. Enumerable.Range(0, x.Dims.Length).Reverse().Select(i => (long)i)];
                if (perm.Length != x.Dims.Length || perm.Distinct().Count() != perm.Length || perm.Any(p => p < 0 || p >= x.Dims.Length))
                    throw new OnnxImportException(where, $"Node {where}: perm [{string.Join(", ", perm)}] is not a permutation of {x.Dims.Length} axes.");
                constants[node.Output[0]] = Transpose(x.Dims, x.Values, perm);
                return true;
            }
            case "Reshape" when node.Input.Count == 2 && constants.TryGetValue(node.Input[1], out var shapeConstant):
            checked
            {
                if (shapeConstant.Values.Length > MaxRank) throw new OnnxImportException(where, $"Node {where}: a shape of {shapeConstant.Values.Length} dimensions (at most {MaxRank} are read).");
                var target = shapeConstant.Values.Select(v => (long)v).ToArray();
                long known = 1;
                for (int i = 0; i < target.Length; i++)
                {
                    if (target[i] == 0 && i < x.Dims.Length) target[i] = x.Dims[i];
                    if (target[i] > 0) known *= target[i];
                }
                int unknown = target.Count(t => t == -1);
                if (unknown > 1 || target.Any(t => t < -1) || known == 0 || unknown == 1 && x.Values.Length % known != 0)
                    throw new OnnxImportException(where, $"Node {where}: cannot reshape {x.Values.Length} values to [{string.Join(", ", target)}].");
                for (int i = 0; i < target.Length; i++) if (target[i] == -1) target[i] = x.Values.Length / known;
                if (target.Aggregate(1L, (p, t) => p * t) != x.Values.Length) throw new OnnxImportException(where, $"Node {where}: cannot reshape {x.Values.Length} values to [{string.Join(", ", target)}].");
                constants[node.Output[0]] = (target, x.Values);
                return true;
            }
            default:
                return false;
        }
    }

    private static (long[] Dims, double[] Values) Transpose(long[] dims, double[] values, long[] perm)
    {
        int rank = dims.Length;
        var outDims = perm.Select(p => dims[p]).ToArray();
        var inStrides = new long[rank];
        for (int i = rank - 1, s = 1; i >= 0; i--) { inStrides[i] = s; s *= (int)dims[i]; }
        var result = new double[values.Length];
        var index = new long[rank];
        for (long o = 0; o < values.Length; o++)
        {
            long src = 0;
            for (int i = 0; i < rank; i++) src += index[i] * inStrides[perm[i]];
            result[o] = values[src];
            for (int i = rank - 1; i >= 0; i--) { if (++index[i] < outDims[i]) break; index[i] = 0; }
        }
        return (outDims, result);
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
        if (t.Dims.Count > MaxRank) throw new OnnxImportException(where, $"The {where} has {t.Dims.Count} dimensions; at most {MaxRank} are read.");
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

    internal static AttributeProto? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    private static void RequireNoPadding(NodeProto node, string where)
    {
        if (Attribute(node, "pads")?.Ints is { } pads && pads.Any(p => p != 0))
            throw new OnnxImportException(where, $"Node {where}: padding is not read for pools (export the pool with padding 0; convolutions may be padded).");
        if (Attribute(node, "auto_pad")?.S is { Length: > 0 } auto && auto.ToStringUtf8() is not ("NOTSET" or "VALID"))
            throw new OnnxImportException(where, $"Node {where}: auto_pad {auto.ToStringUtf8()} is not read (only VALID).");
    }

    private static Conv2D Conv(NodeProto node, string where, TensorShape shape, (long[] Dims, double[] Values) w, double[]? bias)
    {
        if (w.Dims.Length != 4 || w.Dims[2] != w.Dims[3]) throw new OnnxImportException(where, $"Node {where}: the weights must be maps × channels × K × K.");
        if (w.Dims[1] != shape.Channels) throw new OnnxImportException(where, $"Node {where}: the kernels read {w.Dims[1]} channels; the input has {shape.Channels}.");
        if ((Attribute(node, "group")?.I ?? 1) != 1) throw new OnnxImportException(where, $"Node {where}: grouped convolutions (group ≠ 1) are not read.");
        if (Attribute(node, "dilations")?.Ints is { } dil && dil.Any(d => d != 1)) throw new OnnxImportException(where, $"Node {where}: dilated convolutions are not read.");
        var st = Attribute(node, "strides")?.Ints.ToArray() ?? [1, 1];
        if (st.Length != 2 || st[0] != st[1]) throw new OnnxImportException(where, $"Node {where}: equal strides in both directions are read.");
        if (st[0] < 1 || st[0] > Conv2D.MaxKernel || w.Dims[2] > Conv2D.MaxKernel) throw new OnnxImportException(where, $"Node {where}: kernel {w.Dims[2]} or stride {st[0]} outside 1 … {Conv2D.MaxKernel}.");
        int kernel = (int)w.Dims[2], padding = 0;
        var pads = Attribute(node, "pads")?.Ints.ToArray() ?? [];
        string auto = Attribute(node, "auto_pad")?.S.ToStringUtf8() ?? "";
        if (pads.Length > 0)
        {
            if (pads.Length != 4 || pads.Distinct().Count() != 1 || pads[0] < 0 || pads[0] >= kernel)
                throw new OnnxImportException(where, $"Node {where}: pads [{string.Join(", ", pads)}] are read only when equal on all four sides and below the kernel side {kernel}.");
            padding = (int)pads[0];
        }
        else if (auto is "SAME_UPPER" or "SAME_LOWER")
        {
            if (st[0] != 1 || kernel % 2 == 0) throw new OnnxImportException(where, $"Node {where}: auto_pad {auto} is read for stride 1 and odd kernels (symmetric padding); give explicit pads.");
            padding = (kernel - 1) / 2;
        }
        else if (auto is not ("" or "NOTSET" or "VALID")) throw new OnnxImportException(where, $"Node {where}: auto_pad {auto} is not read.");
        int maps = (int)w.Dims[0], taps = (int)(w.Dims[1] * w.Dims[2] * w.Dims[3]);
        var kernels = Enumerable.Range(0, maps).Select(m => w.Values.AsSpan(m * taps, taps).ToArray()).ToArray();
        try { return new Conv2D(shape, kernel, (int)st[0], padding, kernels, bias is null ? new double[maps] : Broadcast(bias, maps, where)); }
        catch (ArgumentException e) { throw new OnnxImportException(where, $"Node {where}: {e.Message}"); }
    }

    private static AveragePool2D Pool(string where, TensorShape shape, int window, int stride)
    {
        try { return new AveragePool2D(shape, window, stride); }
        catch (ArgumentException e) { throw new OnnxImportException(where, $"Node {where}: {e.Message}"); }
    }

    /// <summary>The dense layer followed by y_o ↦ scale_o·y_o + shift_o.</summary>
    internal static Dense ScaleOutputs(Dense dense, double[] scale, double[] shift, string where)
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
    internal static Conv2D ScaleMaps(Conv2D conv, double[] scale, double[] shift, string where)
    {
        int positions = conv.OutputShape.Height * conv.OutputShape.Width;
        try
        {
            return new Conv2D(conv.InputShape, conv.KernelSize, conv.Stride, conv.Padding, [.. Enumerable.Range(0, conv.Maps).Select(m => conv.Kernel(m).ToArray().Select(v => v * scale[m]).ToArray())],
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
