using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Veil.Ckks;
using Veil.Ml.Encrypted;
using Veil.Ml.Networks;
using Veil.Onnx.Format;

namespace Veil.Onnx.Tests;

/// <summary>Every supported operator against OnnxRuntime on small random graphs, the refusals, and hostile files.</summary>
public sealed class OnnxImporterTests
{
    internal static TensorProto Floats(string name, long[] dims, Random rng, double scale = 0.5)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.AddRange(dims);
        long count = dims.Aggregate(1L, (a, b) => a * b);
        for (long i = 0; i < count; i++) t.FloatData.Add((float)((rng.NextDouble() * 2 - 1) * scale));
        return t;
    }

    internal static TensorProto Ints(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = 7 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        return t;
    }

    internal static ValueInfoProto Value(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        foreach (var d in dims.Skip(1)) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }

    internal static NodeProto Node(string op, string name, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        n.Attribute.AddRange(attributes);
        return n;
    }

    internal static AttributeProto Int(string name, long v) => new() { Name = name, I = v, Type = 2 };
    internal static AttributeProto Float(string name, float v) => new() { Name = name, F = v, Type = 1 };

    internal static ModelProto Model(GraphProto graph, long opset = 13)
    {
        var m = new ModelProto { IrVersion = 8, ProducerName = "veil-tests", Graph = graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m;
    }

    /// <summary>Gemm (transB, alpha, beta) → Pow 2 → Dropout → Gemm: an MLP as PyTorch exports it.</summary>
    private static ModelProto Mlp(int seed = 1)
    {
        var rng = new Random(seed);
        var g = new GraphProto { Name = "mlp" };
        g.Input.Add(Value("x", 1, 12));
        g.Output.Add(Value("y", 1, 3));
        g.Initializer.Add(Floats("w1", [8, 12], rng));
        g.Initializer.Add(Floats("b1", [8], rng, 0.1));
        g.Initializer.Add(Floats("w2", [12 - 4, 3], rng));
        g.Initializer.Add(Floats("b2", [3], rng, 0.1));
        g.Initializer.Add(new TensorProto { Name = "two", DataType = 1, FloatData = { 2f } });
        g.Node.Add(Node("Gemm", "fc1", ["x", "w1", "b1"], "h", Int("transB", 1), Float("alpha", 0.75f), Float("beta", 2f)));
        g.Node.Add(Node("Pow", "square", ["h", "two"], "s"));
        g.Node.Add(Node("Dropout", "drop", ["s"], "d"));
        g.Node.Add(Node("Gemm", "fc2", ["d", "w2", "b2"], "y"));
        return Model(g);
    }

    /// <summary>An image input flattened, then MatMul + Add (folded), Mul x·x, Identity, Reshape, Gemm.</summary>
    private static ModelProto Flattened(int seed = 2)
    {
        var rng = new Random(seed);
        var g = new GraphProto { Name = "flattened" };
        g.Input.Add(Value("img", 1, 2, 3, 3));
        g.Output.Add(Value("out", 1, 4));
        g.Initializer.Add(Floats("m", [18, 6], rng));
        g.Initializer.Add(Floats("c", [6], rng, 0.1));
        g.Initializer.Add(Ints("shape", 1, -1));
        g.Initializer.Add(Floats("w", [6, 4], rng));
        g.Node.Add(Node("Flatten", "flat", ["img"], "f", Int("axis", 1)));
        g.Node.Add(Node("MatMul", "mm", ["f", "m"], "p"));
        g.Node.Add(Node("Add", "bias", ["p", "c"], "q"));
        g.Node.Add(Node("Mul", "sq", ["q", "q"], "r"));
        g.Node.Add(Node("Identity", "id", ["r"], "r2"));
        g.Node.Add(Node("Reshape", "rs", ["r2", "shape"], "r3"));
        g.Node.Add(Node("Gemm", "head", ["r3", "w"], "out"));
        return Model(g);
    }

    /// <summary>Conv → BatchNormalization → x·x → AveragePool → Conv → GlobalAveragePool → Flatten → Gemm → Sub → Div: a small CNN.</summary>
    private static ModelProto Cnn(int seed = 4)
    {
        var rng = new Random(seed);
        var g = new GraphProto { Name = "cnn" };
        g.Input.Add(Value("img", 1, 1, 10, 10));
        g.Output.Add(Value("logits", 1, 3));
        g.Initializer.Add(Floats("k1", [3, 1, 3, 3], rng));
        g.Initializer.Add(Floats("c1", [3], rng, 0.1));
        foreach (var (name, lo) in new[] { ("gamma", 0.5), ("beta", -0.2), ("mean", -0.3), ("var", 0.2) })
        {
            var t = new TensorProto { Name = name, DataType = 1 };
            t.Dims.Add(3);
            for (int i = 0; i < 3; i++) t.FloatData.Add((float)(Math.Abs(lo) * (1 + rng.NextDouble()) * Math.Sign(lo)));
            g.Initializer.Add(t);
        }
        g.Initializer.Add(Floats("k2", [2, 3, 2, 2], rng));
        g.Initializer.Add(Floats("w", [2, 3], rng));
        g.Initializer.Add(Floats("off", [3], rng, 0.1));
        g.Initializer.Add(new TensorProto { Name = "half", DataType = 1, FloatData = { 0.5f } });
        g.Node.Add(Node("Conv", "conv1", ["img", "k1", "c1"], "a", new AttributeProto { Name = "kernel_shape", Type = 7, Ints = { 3, 3 } }));
        g.Node.Add(Node("BatchNormalization", "bn", ["a", "gamma", "beta", "mean", "var"], "b", Float("epsilon", 1e-3f)));
        g.Node.Add(Node("Mul", "sq", ["b", "b"], "c"));
        g.Node.Add(Node("AveragePool", "pool", ["c"], "d", new AttributeProto { Name = "kernel_shape", Type = 7, Ints = { 2, 2 } }, new AttributeProto { Name = "strides", Type = 7, Ints = { 2, 2 } }));
        g.Node.Add(Node("Conv", "conv2", ["d", "k2"], "e", new AttributeProto { Name = "strides", Type = 7, Ints = { 1, 1 } }));
        g.Node.Add(Node("GlobalAveragePool", "gap", ["e"], "f"));
        g.Node.Add(Node("Flatten", "flat", ["f"], "h"));
        g.Node.Add(Node("Gemm", "head", ["h", "w"], "i"));
        g.Node.Add(Node("Sub", "shift", ["i", "off"], "j"));
        g.Node.Add(Node("Div", "temperature", ["j", "half"], "logits"));
        return Model(g);
    }

    [Fact]
    public void AnImportedCnn_WithFoldedBatchNorm_ComputesWhatOnnxRuntimeComputes()
    {
        var bytes = Cnn().ToByteArray();
        var net = OnnxImporter.Import(bytes);
        Assert.Contains(net.Layers, l => l is Conv2D);
        Assert.Contains(net.Layers, l => l is AveragePool2D);
        var rng = new Random(8);
        for (int trial = 0; trial < 5; trial++)
        {
            var x = Enumerable.Range(0, 100).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var expected = RunOnnxRuntime(bytes, "img", x, [1, 1, 10, 10]);
            var actual = net.Forward([.. x.Select(v => (double)v)]);
            for (int i = 0; i < actual.Length; i++) Assert.InRange(actual[i] - expected[i], -1e-4, 1e-4);
        }
        // Symmetric padding is read (and matches); uneven padding is refused by name.
        var padded = Cnn();
        padded.Graph.Node[0].Attribute.Add(new AttributeProto { Name = "pads", Type = 7, Ints = { 1, 1, 1, 1 } });
        padded.Graph.Node[4].Attribute.Add(new AttributeProto { Name = "pads", Type = 7, Ints = { 1, 1, 1, 1 } });
        var paddedBytes = padded.ToByteArray();
        var paddedNet = OnnxImporter.Import(paddedBytes);
        Assert.Contains(paddedNet.Layers, l => l is Conv2D { Padding: 1 });
        for (int trial = 0; trial < 3; trial++)
        {
            var x = Enumerable.Range(0, 100).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var expected = RunOnnxRuntime(paddedBytes, "img", x, [1, 1, 10, 10]);
            var actual = paddedNet.Forward([.. x.Select(v => (double)v)]);
            for (int i = 0; i < actual.Length; i++) Assert.InRange(actual[i] - expected[i], -1e-4, 1e-4);
        }
        var uneven = Cnn();
        uneven.Graph.Node[0].Attribute.Add(new AttributeProto { Name = "pads", Type = 7, Ints = { 0, 0, 1, 1 } });
        Assert.Contains("pads", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(uneven.ToByteArray())).Message);
    }

    internal static float[] RunOnnxRuntime(byte[] model, string input, float[] x, int[] shape)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(x, shape))]);
        return [.. results.First().AsEnumerable<float>()];
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("flattened")]
    public void ImportedNetworks_ComputeWhatOnnxRuntimeComputes(string which)
    {
        var model = which == "mlp" ? Mlp() : Flattened();
        var bytes = model.ToByteArray();
        var net = OnnxImporter.Import(bytes);
        var rng = new Random(5);
        int[] shape = which == "mlp" ? [1, 12] : [1, 2, 3, 3];
        for (int trial = 0; trial < 5; trial++)
        {
            var x = Enumerable.Range(0, net.InputShape.Size).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var expected = RunOnnxRuntime(bytes, which == "mlp" ? "x" : "img", x, shape);
            var actual = net.Forward([.. x.Select(v => (double)v)]);
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < actual.Length; i++) Assert.InRange(actual[i] - expected[i], -1e-4, 1e-4);
        }
    }

    [Fact]
    public void AnImportedNetwork_RunsOnCiphertexts_WithinCkksPrecisionOfOnnxRuntime()
    {
        var bytes = Mlp(3).ToByteArray();
        var net = OnnxImporter.Import(bytes);
        var parameters = CkksParameters.Create(EncryptedNetworkInference.DefaultParameters(net));
        var inference = new EncryptedNetworkInference(net, parameters.Slots);
        using var client = CkksContext.Create(parameters, inference.RequiredRotations);
        var server = client.ToPublic();
        var x = Enumerable.Range(0, 12).Select(i => (float)Math.Sin(i)).ToArray();
        var expected = RunOnnxRuntime(bytes, "x", x, [1, 12]);
        var y = inference.DecryptSingle(client, inference.EvaluateSingle(server, inference.EncryptSingle(client, [.. x.Select(v => (double)v)])));
        for (int i = 0; i < y.Length; i++) Assert.InRange(y[i] - expected[i], -1e-3, 1e-3);
    }

    [Theory]
    [InlineData("Relu", "square")]
    [InlineData("MaxPool", "AveragePool")]
    [InlineData("Softmax", "logits")]
    [InlineData("Conv2DTranspose", "not supported")]
    public void UnsupportedOperators_AreRefusedByName_WithWhatToChange(string op, string advice)
    {
        var model = Mlp();
        model.Graph.Node[1] = Node(op, "the_node", ["h"], "s");
        var e = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(model.ToByteArray()));
        Assert.Contains("the_node", e.Message);
        Assert.Contains(op, e.Message);
        Assert.Contains(advice, e.Message);
    }

    [Fact]
    public void OldOpsets_BranchesAndExternalData_AreRefused()
    {
        var old = Mlp();
        old.OpsetImport[0].Version = 11;
        Assert.Contains("opset 11", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(old.ToByteArray())).Message);
        var branch = Mlp();
        branch.Graph.Node[3].Input[0] = "h"; // fc2 reads fc1's output, skipping the square: a branch
        Assert.Contains("chain", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(branch.ToByteArray())).Message);
        var external = Mlp();
        external.Graph.Initializer[0].DataLocation = 1;
        Assert.Contains("outside the file", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(external.ToByteArray())).Message);
        var huge = Mlp();
        huge.Graph.Initializer[0].Dims[0] = 1L << 40;
        Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(huge.ToByteArray()));
    }

    [Fact]
    public void HostileFiles_GetOnnxImportExceptionOnly()
    {
        var good = Mlp().ToByteArray();
        var rng = new Random(17);
        int refused = 0;
        for (int i = 0; i < 2000; i++)
        {
            var bytes = (byte[])good.Clone();
            switch (i % 4)
            {
                case 0: for (int k = 0; k < 1 + rng.Next(4); k++) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8)); break;
                case 1: bytes = bytes[..rng.Next(bytes.Length)]; break;
                case 2: bytes[rng.Next(bytes.Length)] = 0xFF; break;
                default: rng.NextBytes(bytes.AsSpan(rng.Next(bytes.Length / 2))); break;
            }
            try { _ = OnnxImporter.Import(bytes); }
            catch (OnnxImportException) { refused++; }
        }
        Assert.True(refused > 1000, $"{refused} refused");
        // Deep nesting and random garbage.
        Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(Enumerable.Repeat((byte)0x3A, 100_000).ToArray()));
        Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(new byte[1024], new OnnxImportLimits { MaxFileBytes = 100 }));
    }
}
