using Veil.Ckks;
using Veil.Ml.Encrypted;
using Veil.Ml.Networks;
using Veil.Rlwe;
using static Veil.Ml.Tests.Networks.SequentialNetworkTests;

namespace Veil.Ml.Tests.Networks;

/// <summary>Every layer kind encrypted, in both packings, against the plaintext forward pass.</summary>
public class EncryptedNetworkTests
{
    private static CkksParameters Small(int depth) => CkksParameters.Create(new CkksParametersLiteral
    {
        LogN = 12, LogQ = [60, .. Enumerable.Repeat(40, depth)], LogP = [60], LogDefaultScale = 40, Security = SecurityLevel.InsecureNoCheck,
    }, SecurityLevel.InsecureNoCheck);

    private static double[][] Inputs(int count, int size, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, size).Select(_ => rng.NextDouble()).ToArray()).ToArray();
    }

    [Fact]
    public void EveryLayerKind_SingleInput_MatchesPlaintext_WithOnlyItsRotationKeys()
    {
        var net = Mixed();
        var p = Small(net.Depth);
        var inference = new EncryptedNetworkInference(net, p.Slots);
        Assert.IsType<Im2ColLayout>(inference.InputLayout);
        using var client = CkksContext.Create(p, inference.RequiredRotations);
        var server = client.ToPublic();
        foreach (var x in Inputs(2, net.InputShape.Size, 1))
        {
            var ct = inference.EncryptSingle(client, x);
            var y = inference.EvaluateSingle(server, ct);
            Assert.Equal(ct.Level - net.Depth, y.Level);
            var got = inference.DecryptSingle(client, y);
            var expected = net.Forward(x);
            Assert.Equal(expected.Length, got.Length);
            for (int k = 0; k < expected.Length; k++) Assert.True(Math.Abs(got[k] - expected[k]) < 1e-4, $"output {k}: {got[k]} vs {expected[k]}");
        }
    }

    [Fact]
    public void EveryLayerKind_Batched_MatchesPlaintext_AndReportsProgress()
    {
        var net = Mixed(2);
        var p = Small(net.Depth);
        var inference = new EncryptedNetworkInference(net, p.Slots);
        using var client = CkksContext.Create(p, []);
        var inputs = Inputs(25, net.InputShape.Size, 2);
        var reports = new List<double>();
        var outputs = inference.EvaluateBatch(client.ToPublic(), inference.EncryptBatch(client, inputs), new SyncProgress(reports));
        Assert.Equal(net.OutputShape.Size, outputs.Count);
        Assert.All(outputs, o => Assert.Equal(p.MaxLevel - net.Depth, o.Level));
        var got = inference.DecryptBatch(client, outputs, inputs.Length);
        for (int i = 0; i < inputs.Length; i++)
        {
            var expected = net.Forward(inputs[i]);
            for (int k = 0; k < expected.Length; k++) Assert.True(Math.Abs(got[i][k] - expected[k]) < 1e-4, $"input {i}, output {k}: {got[i][k]} vs {expected[k]}");
        }
        Assert.Equal(1.0, reports[^1], 12);
        Assert.True(reports.SequenceEqual(reports.Order()), "progress must not go back");
    }

    [Fact]
    public void DenseNetworks_UseThePeriodicPacking_AndAPolynomialOfHighDegree()
    {
        var rng = new Random(3);
        var d1 = new Dense(M(rng, 12, 20, 0.3), V(rng, 12, 0.1));
        var net = new SequentialNetwork([d1, new PolynomialActivation(d1.OutputShape, [0, 1, 0.5, 0, -0.1, 0, 0.01]), new Dense(M(rng, 5, 12, 0.3), V(rng, 5, 0.1))]);
        Assert.Equal(1 + 3 + 1, net.Depth);
        var p = Small(net.Depth);
        var inference = new EncryptedNetworkInference(net, p.Slots);
        Assert.Equal(new PeriodicLayout(32, 20), inference.InputLayout);
        using var client = CkksContext.Create(p, inference.RequiredRotations);
        var x = Inputs(1, 20, 4)[0];
        var got = inference.DecryptSingle(client, inference.EvaluateSingle(client.ToPublic(), inference.EncryptSingle(client, x)));
        var expected = net.Forward(x);
        for (int k = 0; k < 5; k++) Assert.True(Math.Abs(got[k] - expected[k]) < 1e-4, $"output {k}: {got[k]} vs {expected[k]}");
    }

    [Fact]
    public void Misuse_IsRefused()
    {
        var net = Mixed();
        var p = Small(net.Depth);
        var inference = new EncryptedNetworkInference(net, p.Slots);
        using var client = CkksContext.Create(p, inference.RequiredRotations);
        Assert.Throws<ArgumentException>(() => inference.EncryptSingle(client, new double[5]));
        Assert.Throws<ArgumentException>(() => inference.EncryptBatch(client, [new double[5]]));
        Assert.Throws<ArgumentException>(() => inference.EvaluateBatch(client, [client.Encrypt([1.0])]));
        var low = client.Evaluator.DropToLevel(inference.EncryptSingle(client, Inputs(1, 128, 5)[0]), net.Depth - 1);
        Assert.Throws<InvalidOperationException>(() => inference.EvaluateSingle(client, low));
        // Planned for other slots: refused, not silently wrong.
        var other = new EncryptedNetworkInference(net, p.Slots / 2);
        Assert.Throws<ArgumentException>(() => other.EncryptSingle(client, Inputs(1, 128, 6)[0]));
        // Too few slots for any single-input packing: batched only, and the single-input members say why.
        var tiny = new EncryptedNetworkInference(net, 64);
        Assert.False(tiny.SupportsSingleInput);
        Assert.Contains("slots", Assert.Throws<InvalidOperationException>(() => tiny.RequiredRotations).Message);
    }

    [Fact]
    public void DefaultParameters_Are128Bit_AndHoldTheSingleInputPacking()
    {
        var net = Mixed();
        var literal = EncryptedNetworkInference.DefaultParameters(net);
        var p = CkksParameters.Create(literal);
        Assert.Equal(128, (int)p.Ring.Security);
        Assert.True(p.MaxLevel >= net.Depth);
        Assert.True(new EncryptedNetworkInference(net, p.Slots).SupportsSingleInput);
    }

    private sealed class SyncProgress(List<double> reports) : IProgress<double>
    {
        public void Report(double value) => reports.Add(value);
    }
}
