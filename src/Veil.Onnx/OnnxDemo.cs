using System.Diagnostics;
using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;

namespace Veil.Onnx;

/// <summary>What <see cref="OnnxDemo.Run"/> measured.</summary>
/// <param name="Layers">Layers of the imported network.</param>
/// <param name="Depth">Its depth.</param>
/// <param name="Degree">Degree of the fitted ReLU.</param>
/// <param name="CompileSeconds">Import, fit and compile.</param>
/// <param name="Images">Test images run encrypted, one per ciphertext.</param>
/// <param name="EncryptedAccuracy">Accuracy on them, decrypted.</param>
/// <param name="ExactAccuracy">Accuracy of the graph in plaintext with its exact ReLU on the same images.</param>
/// <param name="MedianMs">Median time per image (encrypt, evaluate, decrypt).</param>
/// <param name="N">Ring degree.</param>
public sealed record OnnxDemoResult(int Layers, int Depth, int Degree, double CompileSeconds, int Images, double EncryptedAccuracy, double ExactAccuracy, double MedianMs, int N);

/// <summary>
/// The PyTorch digits CNN shipped with Veil (models/digits_cnn.onnx: padded convolution, BatchNorm, ReLU, average pool,
/// dense) imported, its ReLU fitted on training digits, compiled for latency and run on encrypted test digits.
/// </summary>
public static class OnnxDemo
{
    /// <summary>The embedded model's bytes.</summary>
    public static byte[] DigitsCnn()
    {
        using var stream = typeof(OnnxDemo).Assembly.GetManifestResourceStream("Veil.Onnx.digits_cnn.onnx")
            ?? throw new InvalidOperationException("The embedded digits_cnn.onnx is missing from Veil.Onnx.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Runs the demo on <paramref name="images"/> test digits.</summary>
    public static OnnxDemoResult Run(int images, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(images, 1);
        var digits = BuiltinDatasets.Digits();
        var pixels = digits.Features.Select(r => r.Select(v => v / 16).ToArray()).ToArray(); // the CNN was trained on pixels / 16
        var clock = Stopwatch.StartNew();
        var imported = OnnxImporter.ImportModel(DigitsCnn(), new OnnxImportOptions { Calibration = pixels[..1024] });
        var plan = ModelCompiler.Compile(imported.Network, Packing.Latency, cancellation);
        double compile = clock.Elapsed.TotalSeconds;
        var parameters = CkksParameters.Create(plan.Parameters);
        var inference = new EncryptedNetworkInference(plan.Network, parameters.Slots);
        using var client = CkksContext.Create(parameters, plan.Rotations);
        var server = client.ToPublic();
        int correct = 0, exact = 0;
        var times = new List<double>();
        for (int i = 0; i < images; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            int row = 1437 + i * 360 / images; // spread over the 360 test digits
            long start = Stopwatch.GetTimestamp();
            var y = inference.DecryptSingle(client, inference.EvaluateSingle(server, inference.EncryptSingle(client, pixels[row])));
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (Veil.Ml.Models.SquareMlp.ArgMax(y) == (int)digits.Targets[row]) correct++;
            if (Veil.Ml.Models.SquareMlp.ArgMax(imported.Reference(pixels[row])) == (int)digits.Targets[row]) exact++;
        }
        times.Sort();
        return new OnnxDemoResult(plan.Network.Layers.Count, plan.Depth, imported.Activations.Single().Degree, compile, images, (double)correct / images, (double)exact / images,
            times[times.Count / 2], 1 << plan.Parameters.LogN);
    }
}
