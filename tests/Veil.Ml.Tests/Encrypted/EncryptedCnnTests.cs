using Veil.Ckks;
using Veil.Ml.Encrypted;
using Veil.Ml.Models;
using Veil.Rlwe;

namespace Veil.Ml.Tests.Encrypted;

public class EncryptedCnnTests
{
    /// <summary>A small network of the real shape (5×5 kernel, stride 2; conv, square, dense, square, dense) on 13×13 images.</summary>
    private static SquareCnn RandomNetwork(int seed, int imageSize = 13, int maps = 3, int hidden = 10, int outputs = 4)
    {
        var rng = new Random(seed);
        double R(double s) => s * (2 * rng.NextDouble() - 1);
        int o = (imageSize - 5) / 2 + 1, convOutputs = maps * o * o;
        double[][] M(int rows, int cols, double s) => Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, cols).Select(_ => R(s)).ToArray()).ToArray();
        return new SquareCnn(imageSize, 5, 2, M(maps, 25, 0.3), Enumerable.Range(0, maps).Select(_ => R(0.2)).ToArray(),
            M(hidden, convOutputs, 0.15), Enumerable.Range(0, hidden).Select(_ => R(0.2)).ToArray(),
            M(outputs, hidden, 0.3), Enumerable.Range(0, outputs).Select(_ => R(0.2)).ToArray());
    }

    // N = 2048 with depth 5: insecure on purpose, for speed (the real parameters come from DefaultParameters).
    private static readonly Lazy<CkksParameters> Small = new(() => CkksParameters.Create(new CkksParametersLiteral
    {
        LogN = 11, LogQ = [60, 40, 40, 40, 40, 40], LogP = [60], LogDefaultScale = 40, Security = SecurityLevel.InsecureNoCheck,
    }, SecurityLevel.InsecureNoCheck));

    private static double[][] Images(int count, int size, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, size * size).Select(_ => rng.NextDouble()).ToArray()).ToArray();
    }

    [Fact]
    public void SingleImage_LogitsMatchPlaintextWithOnlyTheDerivedRotationKeys()
    {
        var net = RandomNetwork(1);
        var p = Small.Value;
        var inference = new EncryptedCnnInference(net, p.Slots);
        using var client = CkksContext.Create(p, inference.RequiredRotations);
        var server = client.ToPublic();
        foreach (var image in Images(3, 13, 2))
        {
            var ct = inference.EncryptSingle(client, image);
            var logits = inference.EvaluateSingle(server, ct);
            Assert.Equal(ct.Level - EncryptedCnnInference.Depth, logits.Level);
            var got = inference.DecryptSingleLogits(client, logits);
            var expected = net.Forward(image);
            for (int k = 0; k < net.Outputs; k++) Assert.True(Math.Abs(got[k] - expected[k]) < 1e-4, $"class {k}: {got[k]} vs {expected[k]}");
            Assert.Equal(SquareMlp.ArgMax(expected), SquareMlp.ArgMax(got));
        }
    }

    [Fact]
    public void Batched_LogitsMatchPlaintextForEveryImage()
    {
        var net = RandomNetwork(3);
        var p = Small.Value;
        var inference = new EncryptedCnnInference(net, p.Slots);
        using var client = CkksContext.Create(p, []);
        var images = Images(37, 13, 4);
        var logits = inference.DecryptBatchLogits(client, inference.EvaluateBatch(client.ToPublic(), inference.EncryptBatch(client, images)), images.Length);
        for (int i = 0; i < images.Length; i++)
        {
            var expected = net.Forward(images[i]);
            for (int k = 0; k < net.Outputs; k++) Assert.True(Math.Abs(logits[i][k] - expected[k]) < 1e-4, $"image {i}, class {k}: {logits[i][k]} vs {expected[k]}");
        }
    }

    [Fact]
    public void Im2Col_PutsEveryTapOfEveryOutputWhereTheConvolutionReadsIt()
    {
        var net = RandomNetwork(5);
        var inference = new EncryptedCnnInference(net, 1024);
        var image = Images(1, 13, 6)[0];
        var packed = inference.Im2Col(image);
        // Map m of the convolution, computed from the packed layout the way the encrypted diagonals do.
        var pre = net.ConvPreActivations(image);
        int o = net.ConvOutputSize, block = o * o;
        for (int m = 0; m < net.Maps; m++)
            for (int pos = 0; pos < block; pos++)
            {
                double z = net.ConvBias[m];
                for (int tap = 0; tap < 25; tap++) z += net.ConvWeights[m][tap] * packed[tap * block + pos];
                Assert.Equal(pre[m * block + pos], z, 12);
            }
    }

    [Fact]
    public void BadInputs_AreRejected()
    {
        var net = RandomNetwork(7);
        var p = Small.Value;
        var inference = new EncryptedCnnInference(net, p.Slots);
        using var client = CkksContext.Create(p, inference.RequiredRotations);
        Assert.Throws<ArgumentException>(() => inference.EncryptSingle(client, new double[100]));
        Assert.Throws<ArgumentException>(() => inference.EncryptSingle(client, Enumerable.Repeat(double.NaN, 169).ToArray()));
        Assert.Throws<ArgumentException>(() => inference.EncryptBatch(client, []));
        Assert.Throws<ArgumentException>(() => new EncryptedCnnInference(RandomNetwork(8, imageSize: 28), 512)); // 25 × 144 slots needed
        var low = client.Evaluator.DropToLevel(inference.EncryptSingle(client, Images(1, 13, 9)[0]), 3);
        Assert.Throws<InvalidOperationException>(() => inference.EvaluateSingle(client.ToPublic(), low));
    }

    [Fact]
    public void DefaultParameters_Are128BitAndHoldTheFashionLayout()
    {
        var literal = EncryptedCnnInference.DefaultParameters(RandomNetwork(10, imageSize: 28, maps: 5, hidden: 64, outputs: 10));
        var p = CkksParameters.Create(literal);
        Assert.Equal(128, (int)p.Ring.Security);
        Assert.True(p.MaxLevel >= EncryptedCnnInference.Depth);
        Assert.True(p.Slots >= 25 * 144);
    }
}
