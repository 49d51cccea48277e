using System.Diagnostics;
using System.Numerics;
using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>What <see cref="BootstrapMeasurement.Run"/> measured on a preset.</summary>
/// <param name="Preset">The preset's name.</param>
/// <param name="LogN">log2 N.</param>
/// <param name="LogQP">log2(Q·P).</param>
/// <param name="LevelsLeft">Levels a bootstrapped ciphertext comes back with.</param>
/// <param name="KeySeconds">Key generation: evaluation keys, conjugation and encapsulation.</param>
/// <param name="Timings">Each bootstrap's split (the first also encodes the transforms' plaintexts).</param>
/// <param name="MeanBits">The bootstrap's own error: the average over the slots of −log2 of each slot's distance from
/// what the input ciphertext decrypts to (complex values in the unit square), Lattigo's measure.</param>
/// <param name="MinBits">−log2 of the worst slot's distance from the input's decryption.</param>
/// <param name="MeanBitsVsValues">The same against the values first encoded: it adds the public-key encryption's own
/// noise (about 2^−22.6 of a 2^40 scale in the slots at N = 2^16), which no bootstrap removes.</param>
public sealed record BootstrapMeasurement(string Preset, int LogN, int LogQP, int LevelsLeft, double KeySeconds, IReadOnlyList<BootstrapTimings> Timings,
    double MeanBits, double MinBits, double MeanBitsVsValues)
{
    /// <summary>
    /// Generates the keys of <paramref name="preset"/>, encrypts random complex slots, drops them to level 0 and
    /// bootstraps <paramref name="repetitions"/> times, checking the values of the first result.
    /// </summary>
    /// <exception cref="ArgumentException">The preset is below <paramref name="minimumSecurity"/>.</exception>
    public static BootstrapMeasurement Run(BootstrappingPreset preset, int repetitions = 1, ExecutionOptions? options = null,
        SecurityLevel minimumSecurity = SecurityLevel.Bits128, IProgress<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(preset);
        ArgumentOutOfRangeException.ThrowIfLessThan(repetitions, 1);
        var parameters = CkksParameters.Create(preset.Literal, minimumSecurity);
        var clock = Stopwatch.StartNew();
        var (owner, kit) = BootstrapKit.CreateOwner(parameters, preset.Bootstrapping, [], options);
        using (owner)
        {
            double keySeconds = clock.Elapsed.TotalSeconds;
            progress?.Report($"keys generated in {keySeconds:F1} s");
            var computing = owner.ToPublic();
            var random = new Random(1);
            int slots = kit.Bootstrapper.Slots; // sparse packing: n values repeated over the N/2 slots
            var values = Enumerable.Range(0, slots).Select(_ => new Complex(random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1)).ToArray();
            var input = computing.Evaluator.DropToLevel(computing.Encryptor.Encrypt(computing.Encoder.EncodeSparse(values, slots, parameters.DefaultScale, parameters.MaxLevel)), 0);
            var timings = new List<BootstrapTimings>();
            var carried = owner.DecryptComplex(input); // what the bootstrap must preserve
            if (slots < parameters.Slots) carried = AverageRuns(carried, slots); // sparse: the trace averages the encryption noise's non-repeating part away
            double mean = 0, min = 0, vsValues = 0;
            for (int r = 0; r < repetitions; r++)
            {
                var result = kit.Bootstrapper.Bootstrap(computing.Evaluator, computing.Encoder, input, kit.Encapsulation, out var t);
                timings.Add(t);
                progress?.Report($"bootstrap {r + 1}: {t.Total.TotalSeconds:F2} s");
                if (r == 0)
                {
                    var decrypted = owner.DecryptComplex(result);
                    (mean, min) = Precision(decrypted, carried);
                    vsValues = Precision(decrypted, values).Mean;
                }
            }
            return new BootstrapMeasurement(preset.Name, parameters.LogN, parameters.Ring.LogQP, kit.OutputLevel, keySeconds, timings, mean, min, vsValues);
        }
    }

    /// <summary>Slot j of the result is the average of slots j mod n, j mod n + n, … of <paramref name="values"/>.</summary>
    public static Complex[] AverageRuns(IReadOnlyList<Complex> values, int n)
    {
        ArgumentNullException.ThrowIfNull(values);
        int runs = values.Count / n;
        var result = new Complex[values.Count];
        for (int j = 0; j < n; j++)
        {
            var sum = Complex.Zero;
            for (int r = 0; r < runs; r++) sum += values[j + r * n];
            for (int r = 0; r < runs; r++) result[j + r * n] = sum / runs;
        }
        return result;
    }

    /// <summary>−log2 of the error, averaged over the slots and at the worst slot.</summary>
    public static (double Mean, double Min) Precision(IReadOnlyList<Complex> actual, IReadOnlyList<Complex> expected)
    {
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(expected);
        double sum = 0, worst = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            double e = Complex.Abs(actual[i] - expected[i]);
            worst = Math.Max(worst, e);
            sum += -Math.Log2(Math.Max(e, 1e-300));
        }
        return (sum / expected.Count, -Math.Log2(Math.Max(worst, 1e-300)));
    }
}
