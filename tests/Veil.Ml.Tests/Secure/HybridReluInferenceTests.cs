using Veil.Ml.Data;
using Veil.Ml.Models;
using Veil.Ml.Secure;
using Veil.Mpc;

namespace Veil.Ml.Tests.Secure;

public class HybridReluInferenceTests
{
    private static double[][] Scale(double[][] rows, double by) => [.. rows.Select(r => r.Select(v => v / by).ToArray())];

    private static int[] RunHybrid(QuantizedReluMlp model, double[][] images)
    {
        var results = InProcessRun.Parties(2, _ => DealerTriples.Instance, async s =>
        {
            if (s.Party == 0) return await HybridReluInference.ClientAsync(s, images);
            await HybridReluInference.ServerAsync(s, model);
            return null;
        });
        Assert.Null(results[1]); // the server learns no prediction
        return results[0]!.Predictions;
    }

    private static void Check(ReluMlp model, double[][] images, double[] labels, double minAccuracy)
    {
        var quantized = new QuantizedReluMlp(model);
        var (hidden, logits) = quantized.MaxMagnitudes(images);
        Assert.True(hidden < 1L << 47 && logits < 1L << 47, $"pre-activations reach {hidden} and {logits}: past the 48-bit plaintexts");
        var twin = quantized.Predict(images);
        Assert.Equal(twin, RunHybrid(quantized, images)); // exact integers on both sides: equal, not close
        var plain = model.Predict(images);
        Assert.True(twin.Zip(plain).Count(p => p.First == p.Second) >= images.Length - 1, "quantization changed more than one prediction of the float network");
        Assert.True(Metrics.Accuracy(labels, [.. twin.Select(c => (double)c)]) >= minAccuracy);
    }

    [Fact]
    public void Digits_ReluNetwork_HybridPredictionsEqualThePlaintextTwin()
    {
        var (train, test) = DataSplit.TrainTest(BuiltinDatasets.Digits(), 0.2, seed: 1, stratify: true);
        var model = ReluMlp.Train(Scale(train.Features, 16), train.Targets, hidden: 32, epochs: 15, seed: 2);
        Check(model, Scale(test.Features, 16)[..60], test.Targets[..60], 0.9);
    }

    [SkippableFact]
    public void FashionMnist_ReluNetwork_HybridPredictionsEqualThePlaintextTwin()
    {
        // CI installs the data set and sets VEIL_REQUIRE_FASHION_MNIST: there a missing one is a failure, not a skip.
        if (!FashionMnist.IsInstalled() && Environment.GetEnvironmentVariable("VEIL_REQUIRE_FASHION_MNIST") == "1") Assert.Fail(FashionMnist.InstallHint);
        Skip.IfNot(FashionMnist.IsInstalled(), FashionMnist.InstallHint);
        var (train, test) = FashionMnist.Load(maxTrain: 6000, maxTest: 24);
        var model = ReluMlp.Train(train.Features, train.Targets, hidden: 64, epochs: 4, seed: 3); // pixels already in [0, 1]
        Check(model, test.Features, test.Targets, 0.6);
    }

    [Fact]
    public void AClientWithImagesOfTheWrongWidth_IsRefusedByName()
    {
        var model = new QuantizedReluMlp(ReluMlp.Train([[0.0, 1.0], [1.0, 0.0]], [0, 1], hidden: 4, epochs: 1));
        var e = Assert.ThrowsAny<Exception>(() => InProcessRun.Parties(2, _ => DealerTriples.Instance, async s =>
        {
            if (s.Party == 0) await HybridReluInference.ClientAsync(s, [[0.5, 0.5, 0.5]]);
            else await HybridReluInference.ServerAsync(s, model);
            return 0;
        }));
        var all = (e as AggregateException)?.Flatten().InnerExceptions ?? [e];
        Assert.Contains(all, x => x is MpcProtocolException { Field: "shape" } || x is MpcProtocolException { Field: "closed" });
    }
}

public class HybridReluInferenceFuzzTests
{
    [Fact]
    public void AServerThatAnswersWithMangledCiphertexts_GetsATypedRefusal_NeverAPrediction()
    {
        var rng = new Random(23);
        var images = new[] { new double[] { 0.25, 0.5 } };
        for (int trial = 0; trial < 24; trial++)
        {
            int mode = trial % 4;
            var results = Record.Exception(() => InProcessRun.Parties(2, _ => DealerTriples.Instance, async s =>
            {
                if (s.Party == 0) return (await HybridReluInference.ClientAsync(s, images)).Predictions.Length;
                // A server that speaks the first round correctly and then answers the ciphertexts with mangled bytes.
                var shape = new byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(shape, 3);
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(shape.AsSpan(4), 2);
                var hello = await s.ExchangeAsync(shape, 4 << 20);
                var upload = await s.ExchangeAsync([], 64 << 20);
                byte[] answer = mode switch
                {
                    0 => upload,                                        // the client's own ciphertext echoed: wrong count for one block? still one
                    1 => upload[..(upload.Length / 2)],                 // truncated
                    2 => [.. upload.Select((b, i) => i > 8 && rng.Next(50) == 0 ? (byte)rng.Next(256) : b)], // bytes flipped
                    _ => [1, 0, 0, 0, 255, 255, 255, 127],              // a length past the end
                };
                await s.ExchangeAsync(answer, 0);
                return -1;
            }));
            Assert.NotNull(results);
            var all = (results as AggregateException)?.Flatten().InnerExceptions ?? [results];
            // The client refuses with a typed protocol error, or (an echoed ciphertext decrypts to noise) the later rounds stop with the server gone.
            Assert.Contains(all, e => e is MpcProtocolException);
            Assert.DoesNotContain(all, e => e is NullReferenceException or IndexOutOfRangeException or OverflowException);
        }
    }

    [Fact]
    public void AClientWithAMangledFirstMessage_IsRefusedByTheServer_ByName()
    {
        var model = new QuantizedReluMlp(ReluMlp.Train([[0.0, 1.0], [1.0, 0.0]], [0, 1], hidden: 4, epochs: 1));
        var rng = new Random(37);
        for (int trial = 0; trial < 12; trial++)
        {
            var hello = new byte[8 + rng.Next(3) * 700];
            rng.NextBytes(hello);
            if (trial % 2 == 0) { System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(hello, 1); System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(hello.AsSpan(4), 2); }
            var e = Record.Exception(() => InProcessRun.Parties(2, _ => DealerTriples.Instance, async s =>
            {
                if (s.Party == 1) { await HybridReluInference.ServerAsync(s, model); return 0; }
                await s.ExchangeAsync(hello, 8); // a client whose images count, width or public key is garbage
                return 0;
            }));
            var all = (e as AggregateException)?.Flatten().InnerExceptions ?? (e is null ? [] : [e]);
            Assert.Contains(all, x => x is MpcProtocolException { Field: "keys" or "shape" });
        }
    }
}
