using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Veil.Onnx.Format;

namespace Veil.Cli.Tests;

/// <summary>veil infer on an ONNX file: the encrypted rows classified as the plaintext network classifies them.</summary>
public sealed class InferProcessTests
{
    private static TensorProto Floats(string name, long[] dims, double[] values)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values.Select(v => (float)v));
        return t;
    }

    private static ValueInfoProto Value(string name, long features) => new()
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = "n" }, new TensorShapeProto.Types.Dimension { DimValue = features } } } } },
    };

    [Fact]
    public void Infer_RunsAnOnnxModelOnEncryptedRows_AndMatchesThePlaintextNetwork()
    {
        using var scratch = new ScratchDirectory();
        // A linear classifier for iris (one-vs-rest weights fitted in plaintext here), exported as an ONNX Gemm.
        var iris = Veil.Ml.Data.BuiltinDatasets.Iris();
        var nets = Enumerable.Range(0, 3).Select(k =>
        {
            var one = new Veil.Ml.Encrypted.EncryptedLogisticRegression(new Veil.Ml.Encrypted.EncryptedModelOptions { Encrypted = false });
            one.Fit(iris.Features, [.. iris.Targets.Select(t => t == k ? 1.0 : 0.0)]);
            return one.ToNetwork();
        }).ToArray();
        var w = nets.SelectMany(n => ((Veil.Ml.Networks.Dense)n.Layers[0]).Weights(0).ToArray()).ToArray();
        var b = nets.Select(n => ((Veil.Ml.Networks.Dense)n.Layers[0]).Bias(0)).ToArray();
        var graph = new GraphProto { Name = "iris" };
        graph.Input.Add(Value("x", 4));
        graph.Output.Add(Value("scores", 3));
        graph.Initializer.Add(Floats("w", [3, 4], w));
        graph.Initializer.Add(Floats("b", [3], b));
        var gemm = new NodeProto { OpType = "Gemm", Name = "ovr", Input = { "x", "w", "b" }, Output = { "scores" } };
        gemm.Attribute.Add(new AttributeProto { Name = "transB", I = 1, Type = 2 });
        graph.Node.Add(gemm);
        var model = new ModelProto { IrVersion = 8, Graph = graph, OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 13 } } };
        File.WriteAllBytes(scratch.File("iris.onnx"), model.ToByteArray());
        File.WriteAllLines(scratch.File("iris.csv"), ["f0,f1,f2,f3,label", .. Enumerable.Range(0, iris.Rows).Select(i =>
            string.Join(',', iris.Features[i].Append(iris.Targets[i]).Select(v => v.ToString(CultureInfo.InvariantCulture))))]);

        var json = JsonDocument.Parse(VeilProcess.Ok(scratch.Path, "infer", scratch.File("iris.onnx"), scratch.File("iris.csv"), "--target", "label", "--json")).RootElement;
        Assert.Equal(150, json.GetProperty("rows").GetInt32());
        Assert.Equal(128, json.GetProperty("security_bits").GetInt32());
        double plain = json.GetProperty("plaintext").GetDouble(), encrypted = json.GetProperty("encrypted").GetDouble();
        Assert.True(plain > 0.6, $"plaintext accuracy {plain}"); // five gradient steps per class: a weak model, but one to compare against
        Assert.InRange(encrypted - plain, -0.01, 0.01);

        // An unsupported operator: exit 1 with the node named.
        gemm.OpType = "MaxPool";
        File.WriteAllBytes(scratch.File("bad.onnx"), model.ToByteArray());
        var refused = VeilProcess.Run(scratch.Path, "infer", scratch.File("bad.onnx"), scratch.File("iris.csv"), "--target", "label");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("ovr", refused.Stderr);
        Assert.Contains("AveragePool", refused.Stderr);
    }

    private static string ModelPath(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "models", name + ".onnx"))) return Path.Combine(dir.FullName, "models", name + ".onnx");
        throw new FileNotFoundException($"models/{name}.onnx");
    }

    [Fact]
    public void Compile_PrintsThePlan_AndWritesANetworkThatLoads_AndInferFitsTheActivationsOnTheData()
    {
        using var scratch = new ScratchDirectory();
        var digits = Veil.Ml.Data.BuiltinDatasets.Digits();
        // The PyTorch CNN reads pixels / 16 (models/make_models.py); the last 360 rows are its test rows.
        File.WriteAllLines(scratch.File("digits.csv"), [string.Join(',', Enumerable.Range(0, 64).Select(i => $"p{i}").Append("label")),
            .. Enumerable.Range(0, digits.Rows).Select(i => string.Join(',', digits.Features[i].Select(v => v / 16).Append(digits.Targets[i]).Select(v => v.ToString(CultureInfo.InvariantCulture))))]);
        var json = JsonDocument.Parse(VeilProcess.Ok(scratch.Path, "compile", ModelPath("digits_cnn"), "--calibration", scratch.File("digits.csv"), "--target", "label",
            "--out", scratch.File("cnn.veilnet"), "--json")).RootElement;
        Assert.Equal("latency", json.GetProperty("packing").GetString());
        Assert.Equal(128, json.GetProperty("security_bits").GetInt32());
        Assert.True(json.GetProperty("rotations").GetInt32() > 0 && json.GetProperty("key_bytes").GetInt64() > 1 << 20);
        Assert.True(json.GetProperty("predicted_seconds").GetDouble() > 0);
        Assert.True(json.GetProperty("compile_seconds").GetDouble() < 10, "compile time under 10 s");
        var relu = json.GetProperty("activations")[0];
        Assert.Equal("Relu", relu.GetProperty("function").GetString());
        var network = Veil.Ml.Networks.SequentialNetwork.Load(File.ReadAllBytes(scratch.File("cnn.veilnet")));
        Assert.Equal(json.GetProperty("depth").GetInt32(), network.Depth);
        var batched = JsonDocument.Parse(VeilProcess.Ok(scratch.Path, "compile", ModelPath("digits_cnn"), "--calibration", scratch.File("digits.csv"), "--target", "label",
            "--out", scratch.File("b.veilnet"), "--batched", "--json")).RootElement;
        Assert.Equal(0, batched.GetProperty("rotations").GetInt32());
        Assert.True(batched.GetProperty("inputs_per_evaluation").GetInt32() >= 4096);
        // Without calibration data the activation is refused, naming the node.
        var refused = VeilProcess.Run(scratch.Path, "compile", ModelPath("digits_cnn"));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("Relu", refused.Stderr);

        // infer on the MLP (raw pixels): its 32 fitted ReLUs keep the batched run short.
        File.WriteAllLines(scratch.File("raw.csv"), [string.Join(',', Enumerable.Range(0, 64).Select(i => $"p{i}").Append("label")),
            .. Enumerable.Range(0, digits.Rows).Select(i => string.Join(',', digits.Features[i].Append(digits.Targets[i]).Select(v => v.ToString(CultureInfo.InvariantCulture))))]);
        var infer = JsonDocument.Parse(VeilProcess.Ok(scratch.Path, "infer", ModelPath("digits_mlp"), scratch.File("raw.csv"), "--target", "label", "--json")).RootElement;
        double plain = infer.GetProperty("plaintext").GetDouble(), encrypted = infer.GetProperty("encrypted").GetDouble();
        Assert.True(plain > 0.9, $"exact plaintext accuracy {plain}");
        Assert.Equal(digits.Rows, infer.GetProperty("rows").GetInt32());
        Assert.InRange(encrypted - plain, -0.02, 0.02);
    }
}
