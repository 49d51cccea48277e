using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Spectre.Console;
using Veil.Ckks;
using Veil.Circuits;
using Veil.Rlwe;

namespace Veil.Cli;

/// <summary>
/// veil bench bootstrap: one bootstrap on a preset — its plan (levels, log QP against the 128-bit bounds, keys and
/// their size), then key generation, the time of each step (median of the repetitions), the precision of the values
/// that come back and the process's peak memory.
/// </summary>
internal static class BenchBootstrapCommand
{
    public static int Run(string presetName, int reps, int threads, bool planOnly, bool json, string? outPath)
    {
        var preset = Presets.Find(presetName);
        if (preset is null)
        {
            Console.Error.WriteLine($"Unknown preset '{presetName}'; choose one of {string.Join(", ", Presets.All.Select(p => p.Name))}.");
            return 2;
        }
        var security = preset.Literal.Security;
        var parameters = CkksParameters.Create(preset.Literal, security);
        var bootstrapper = new Bootstrapper(parameters, preset.Bootstrapping);
        var ring = parameters.Ring;
        long keyBytes = (long)ring.MaxDigitCount * 2 * ring.Ring.LimbCount * ring.N * sizeof(ulong);
        int keys = bootstrapper.RequiredGaloisElements.Count + 2; // Galois keys, relinearization, encapsulation back
        int? bound = HomomorphicEncryptionStandard.MaxLogQP(parameters.LogN, SecurityLevel.Bits128);
        var plan = new JsonObject
        {
            ["preset"] = preset.Name, ["log_n"] = parameters.LogN, ["slots"] = parameters.Slots, ["log_qp"] = ring.LogQP,
            ["he_standard_bound_128"] = bound, ["secure_128"] = security != SecurityLevel.InsecureNoCheck,
            ["levels_total"] = parameters.MaxLevel, ["levels_left"] = bootstrapper.OutputLevel,
            ["coeff_to_slot_levels"] = preset.Bootstrapping.CoeffToSlotLevels, ["eval_mod_levels"] = bootstrapper.EvalMod.Depth,
            ["slot_to_coeff_levels"] = preset.Bootstrapping.SlotToCoeffLevels,
            ["k"] = bootstrapper.EvalMod.K, ["sine_degree"] = bootstrapper.EvalMod.Series.Degree, ["double_angle"] = bootstrapper.EvalMod.DoubleAngle,
            ["ephemeral_hamming_weight"] = preset.Bootstrapping.SecretHammingWeight,
            ["rotations"] = bootstrapper.RequiredRotations.Count, ["diagonals_cts"] = bootstrapper.DiagonalCounts.CoeffToSlot,
            ["diagonals_stc"] = bootstrapper.DiagonalCounts.SlotToCoeff, ["key_count"] = keys, ["key_mib_each"] = keyBytes / 1048576.0,
            ["keys_gib"] = keys * (double)keyBytes / (1L << 30),
        };
        if (!json) AnsiConsole.MarkupLine($"[bold]{preset.Name}[/]: N = 2^{parameters.LogN}, log QP = {ring.LogQP} (128-bit bound {bound}), " +
            $"levels {parameters.MaxLevel} → {bootstrapper.OutputLevel} left; CoeffToSlot {preset.Bootstrapping.CoeffToSlotLevels}, EvalMod {bootstrapper.EvalMod.Depth} " +
            $"(K = {bootstrapper.EvalMod.K}, degree {bootstrapper.EvalMod.Series.Degree}, {bootstrapper.EvalMod.DoubleAngle} double angles), SlotToCoeff {preset.Bootstrapping.SlotToCoeffLevels}; " +
            $"{bootstrapper.RequiredRotations.Count} rotations, {keys} keys of {keyBytes / 1048576.0:F0} MiB ({keys * (double)keyBytes / (1L << 30):F2} GiB)");
        if (planOnly)
        {
            Emit(plan, json, outPath);
            return 0;
        }

        var options = new ExecutionOptions { MaxDegreeOfParallelism = threads };
        var clock = Stopwatch.StartNew();
        using var context = CkksContext.Create(parameters, bootstrapper.RequiredRotations, options: options, conjugation: true);
        var encapsulation = context.CreateEncapsulation(preset.Bootstrapping.SecretHammingWeight);
        double keygenSeconds = clock.Elapsed.TotalSeconds;
        if (!json) AnsiConsole.MarkupLine($"[grey]keys generated in {keygenSeconds:F1} s[/]");

        var random = new Random(1);
        var values = Enumerable.Range(0, parameters.Slots).Select(_ => new Complex(random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1)).ToArray();
        var input = context.Evaluator.DropToLevel(context.Encryptor.Encrypt(context.Encoder.Encode(values, parameters.DefaultScale, parameters.MaxLevel)), 0);
        var totals = new List<double>();
        var parts = new List<BootstrapTimings>();
        double meanBits = 0, minBits = 0;
        for (int r = 0; r < reps; r++)
        {
            var result = bootstrapper.Bootstrap(context.Evaluator, context.Encoder, input, encapsulation, out var timings);
            parts.Add(timings);
            totals.Add(timings.Total.TotalSeconds);
            if (!json) AnsiConsole.MarkupLine($"[grey]bootstrap {r + 1}: {timings.Total.TotalSeconds:F2} s[/]");
            if (r == 0) (meanBits, minBits) = Precision(context.DecryptComplex(result), values);
        }
        static double Median(IEnumerable<double> xs) { var a = xs.Order().ToArray(); return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
        plan["threads"] = threads;
        plan["reps"] = reps;
        plan["keygen_s"] = keygenSeconds;
        plan["bootstrap_s_median"] = Median(totals);
        plan["mod_raise_s"] = Median(parts.Select(p => p.ModRaise.TotalSeconds));
        plan["coeff_to_slot_s"] = Median(parts.Select(p => p.CoeffToSlot.TotalSeconds));
        plan["eval_mod_s"] = Median(parts.Select(p => p.EvalMod.TotalSeconds));
        plan["slot_to_coeff_s"] = Median(parts.Select(p => p.SlotToCoeff.TotalSeconds));
        plan["precision_mean_bits"] = meanBits;
        plan["precision_min_bits"] = minBits;
        plan["peak_memory_gib"] = Process.GetCurrentProcess().PeakWorkingSet64 / (double)(1L << 30);
        if (!json)
        {
            var table = new Table().Title($"{preset.Name}: one bootstrap, {threads} thread(s), median of {reps}");
            table.AddColumns("step", "seconds");
            foreach (var key in new[] { "mod_raise_s", "coeff_to_slot_s", "eval_mod_s", "slot_to_coeff_s", "bootstrap_s_median" })
                table.AddRow(key, plan[key]!.GetValue<double>().ToString("F2", CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"precision: mean {meanBits:F1} bits, min {minBits:F1} bits (complex slots in the unit square); " +
                $"{bootstrapper.OutputLevel} levels left; peak memory {plan["peak_memory_gib"]!.GetValue<double>():F1} GiB");
        }
        Emit(plan, json, outPath);
        return 0;
    }

    /// <summary>−log2 of the error, averaged over the slots and at the worst slot.</summary>
    internal static (double Mean, double Min) Precision(IReadOnlyList<Complex> actual, IReadOnlyList<Complex> expected)
    {
        double sum = 0, worst = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            double e = Complex.Abs(actual[i] - expected[i]);
            worst = Math.Max(worst, e);
            sum += -Math.Log2(Math.Max(e, 1e-300));
        }
        return (sum / expected.Count, -Math.Log2(Math.Max(worst, 1e-300)));
    }

    private static void Emit(JsonObject result, bool json, string? outPath)
    {
        string text = result.ToJsonString();
        if (json) Console.WriteLine(text);
        if (outPath is not null) File.WriteAllText(outPath, text);
    }

    /// <summary>The presets the command knows, by name.</summary>
    internal static class Presets
    {
        public static IReadOnlyList<BootstrappingPreset> All => [BootstrappingPreset.N16, BootstrappingPreset.N15, BootstrappingPreset.N14Insecure];

        public static BootstrappingPreset? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
    }
}
