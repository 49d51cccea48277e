using Veil.Ml.Data;
using Veil.Ml.Models;
using Veil.Ml.Networks;

namespace Veil.Ml.Serving;

/// <summary>Models to deploy in demos, benchmarks and tests of the service, trained from the shipped data.</summary>
public static class ServingExamples
{
    /// <summary>
    /// The digits network (64 → 32 → square → 10) trained on 80 % of the shipped digits, reading raw pixel values (its
    /// preprocessing folded into the first layer), and the 20 % of the images it did not see.
    /// </summary>
    /// <exception cref="FileNotFoundException">The shipped data are missing.</exception>
    public static (SequentialNetwork Network, Dataset Test) DigitsMlp(int seed = 1, string? dataDirectory = null)
    {
        var (train, test) = DataSplit.TrainTest(BuiltinDatasets.Digits(dataDirectory), 0.2, seed, stratify: true);
        // Standardized, then divided by each feature's largest training magnitude: inputs in about [−1, 1] keep the square small.
        var standardizer = new Standardizer().Fit(train.Features);
        var z = standardizer.Transform(train.Features);
        // A column constant in training (all zero after standardizing) keeps a divisor of 1: a tiny one would fold into a huge weight.
        var maxAbs = Enumerable.Range(0, z[0].Length).Select(c => z.Max(r => Math.Abs(r[c])) is var m && m > 1e-9 ? m : 1).ToArray();
        var scaled = z.Select(r => r.Select((v, c) => v / maxAbs[c]).ToArray()).ToArray();
        int epochs = Math.Clamp(20_000 / train.Rows, 40, 400);
        var net = SquareMlp.Train(scaled, train.Targets, hidden: 32, epochs: epochs, learningRate: 0.02, seed: seed).ToNetwork();
        var scale = Enumerable.Range(0, maxAbs.Length).Select(c => 1 / (standardizer.Scales[c] * maxAbs[c])).ToArray();
        var shift = Enumerable.Range(0, maxAbs.Length).Select(c => -standardizer.Means[c] * scale[c]).ToArray();
        return (net.WithInputAffine(scale, shift), test);
    }
}
