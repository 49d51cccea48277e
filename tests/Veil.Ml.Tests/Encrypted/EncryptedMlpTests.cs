using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;
using Veil.Ml.Models;

namespace Veil.Ml.Tests.Encrypted;

public class EncryptedMlpTests
{
    private static readonly Lazy<(SquareMlp Net, double[][] Test, double[] Labels)> Digits = new(() =>
    {
        var (train, test) = DataSplit.TrainTest(BuiltinDatasets.Digits(), 0.2, 42, stratify: true);
        double[][] Scale(double[][] x) => x.Select(r => r.Select(v => v / 16.0).ToArray()).ToArray();
        var net = SquareMlp.Train(Scale(train.Features), train.Targets, hidden: 32, epochs: 40, learningRate: 0.02);
        return (net, Scale(test.Features), test.Targets);
    });

    [Fact]
    public void PlaintextNetwork_LearnsDigits()
    {
        var (net, test, labels) = Digits.Value;
        Assert.True(net.Score(test, labels) >= 0.93, $"{net.Score(test, labels)}");
    }

    [Fact]
    public void BatchedAndSingleImage_EncryptedInferenceMatchesPlaintext()
    {
        var (net, test, _) = Digits.Value;
        var p = CkksParameters.Create(EncryptedMlpInference.DefaultParameters);
        Assert.Equal(128, (int)p.Ring.Security);
        var inference = new EncryptedMlpInference(net, p.Slots);
        using var client = CkksContext.Create(p, inference.RequiredRotations);
        var server = client.ToPublic();
        var images = test.Take(64).ToArray();
        var logits = inference.EvaluateBatch(server, inference.EncryptBatch(client, images));
        var expected = images.Select(x => net.Forward(x)).ToArray();
        var decrypted = logits.Select(client.Decrypt).ToArray();
        for (int i = 0; i < images.Length; i++)
            for (int k = 0; k < net.Outputs; k++)
                Assert.True(Math.Abs(decrypted[k][i] - expected[i][k]) < 1e-3, $"image {i}, class {k}: {decrypted[k][i]} vs {expected[i][k]}");
        Assert.Equal(net.Predict(images), inference.DecryptBatch(client, logits, images.Length));
        for (int i = 0; i < 3; i++)
        {
            var single = client.Decrypt(inference.EvaluateSingle(server, inference.EncryptSingle(client, images[i])));
            for (int k = 0; k < net.Outputs; k++) Assert.True(Math.Abs(single[k] - expected[i][k]) < 1e-3, $"single {i}, class {k}");
        }
    }

    [Fact]
    public void WeightFile_RoundTripsAndRejectsMalformedFiles()
    {
        var net = Digits.Value.Net;
        using var stream = new MemoryStream();
        net.Save(stream);
        var bytes = stream.ToArray();
        var back = SquareMlp.Load(bytes);
        Assert.Equal(net.W1.SelectMany(r => r), back.W1.SelectMany(r => r));
        Assert.Equal(net.B2, back.B2);
        Assert.Contains("magic", Assert.Throws<FormatException>(() => SquareMlp.Load([.. "XNN1"u8, .. bytes[4..]])).Message);
        Assert.Contains("expected", Assert.Throws<FormatException>(() => SquareMlp.Load(bytes[..^8])).Message);
        var huge = (byte[])bytes.Clone();
        BitConverter.GetBytes(int.MaxValue).CopyTo(huge, 8);
        Assert.Contains("hidden size", Assert.Throws<FormatException>(() => SquareMlp.Load(huge)).Message);
        var nan = (byte[])bytes.Clone();
        BitConverter.GetBytes(double.NaN).CopyTo(nan, 16);
        Assert.Contains("non-finite", Assert.Throws<FormatException>(() => SquareMlp.Load(nan)).Message);
        Assert.Throws<FormatException>(() => SquareMlp.Load(bytes[..10]));
    }
}
