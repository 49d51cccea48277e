using Veil.Ml.Data;
using Veil.Ml.Encrypted;
using Veil.Ml.Networks;

namespace Veil.Onnx.Tests;

/// <summary>The compiler's plans: the packing asked for, parameters that fit, keys that cover the rotations, costs counted per layer.</summary>
public sealed class ModelCompilerTests
{
    private static SequentialNetwork DigitsCnn() => OnnxImporter.ImportModelFile(ActivationAndModelTests.ModelPath("digits_cnn"),
        new OnnxImportOptions { Calibration = [.. BuiltinDatasets.Digits().Features.Take(200).Select(r => r.Select(v => v / 16).ToArray())] }).Network;

    [Fact]
    public void BothPackings_ArePlannedWithParametersThatHoldTheDepth_AndCostsThatFollowTheLayers()
    {
        var net = DigitsCnn();
        var single = ModelCompiler.Compile(net, Packing.Latency);
        var batched = ModelCompiler.Compile(net, Packing.Batched);
        Assert.Equal(Packing.Latency, single.Packing);
        Assert.Equal(1, single.InputsPerEvaluation);
        Assert.Equal(new EncryptedNetworkInference(net, 1 << (single.Parameters.LogN - 1)).RequiredRotations, single.Rotations);
        Assert.Empty(batched.Rotations);
        Assert.Equal(1 << (batched.Parameters.LogN - 1), batched.InputsPerEvaluation);
        foreach (var plan in new[] { single, batched })
        {
            Assert.True(plan.Parameters.LogQ.Length - 1 >= net.Depth, "levels for the whole network");
            Assert.Equal(net.Layers.Count, plan.Layers.Count);
            Assert.Equal(plan.Layers.Sum(l => l.PredictedSeconds), plan.PredictedSeconds, 1e-9);
            // Each layer starts where the one before left off.
            for (int i = 1; i < plan.Layers.Count; i++) Assert.Equal(plan.Layers[i - 1].Level - plan.Layers[i - 1].Depth, plan.Layers[i].Level);
            Assert.True(plan.KeyBytes > 0 && plan.PredictedMemoryBytes > plan.KeyBytes);
        }
        // Batched, a linear layer costs one product per nonzero weight; the square-free fitted activation its multiplications per value.
        var dense = (LinearLayer)net.Layers[^1];
        Assert.Equal(Enumerable.Range(0, dense.OutputShape.Size).Sum(o => (long)dense.Row(o).Count()), batched.Layers[^1].ScalarProducts);
        Assert.True(single.Rotations.Count > 0 && single.KeyBytes > batched.KeyBytes);
        var auto = ModelCompiler.Compile(net);
        Assert.Contains(auto.Packing, new[] { Packing.Latency, Packing.Batched });
        Assert.False(string.IsNullOrEmpty(auto.Why));
    }
}
