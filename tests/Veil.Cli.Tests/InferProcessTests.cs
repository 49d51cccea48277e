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
        gemm.OpType = "Relu";
        File.WriteAllBytes(scratch.File("bad.onnx"), model.ToByteArray());
        var refused = VeilProcess.Run(scratch.Path, "infer", scratch.File("bad.onnx"), scratch.File("iris.csv"), "--target", "label");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("ovr", refused.Stderr);
    }
}
