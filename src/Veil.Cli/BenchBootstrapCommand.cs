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
    public static int Run(string presetName, int reps, int threads, bool planOnly, bool json, string? outPath, int? logSlots = null)
    {
        var preset = Presets.Find(presetName);
        if (preset is null)
        {
            Console.Error.WriteLine($"Unknown preset '{presetName}'; choose one of {string.Join(", ", Presets.All.Select(p => p.Name))}.");
            return 2;
        }
        if (logSlots is { } ls)
        {
            int least = Math.Max(preset.Bootstrapping.CoeffToSlotLevels, preset.Bootstrapping.SlotToCoeffLevels);
            if (ls > preset.Literal.LogN - 1 || ls < least)
            {
                Console.Error.WriteLine($"--log-slots {ls}: {preset.Name} bootstraps 2^{least} to 2^{preset.Literal.LogN - 1} slots (its DFT levels need 2^{least}; N/2 is full packing).");
                return 2;
            }
            preset = preset with { Bootstrapping = preset.Bootstrapping with { LogSlots = ls }, Name = $"{preset.Name}, 2^{ls} slots" };
        }
        var security = preset.Literal.Security;
        var parameters = CkksParameters.Create(preset.Literal, security);
        Bootstrapper bootstrapper;
        try { bootstrapper = new Bootstrapper(parameters, preset.Bootstrapping); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        var ring = parameters.Ring;
        long keyBytes = (long)ring.MaxDigitCount * 2 * ring.Ring.LimbCount * ring.N * sizeof(ulong);
        int keys = bootstrapper.RequiredGaloisElements.Count + 2; // Galois keys, relinearization, encapsulation back
        int? bound = HomomorphicEncryptionStandard.MaxLogQP(parameters.LogN, SecurityLevel.Bits128);
        var plan = new JsonObject
        {
            ["preset"] = preset.Name, ["log_n"] = parameters.LogN, ["slots"] = bootstrapper.Slots, ["log_qp"] = ring.LogQP,
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

        var progress = json ? null : new Progress<string>(m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}[/]"));
        var measured = BootstrapMeasurement.Run(preset, reps, new ExecutionOptions { MaxDegreeOfParallelism = threads }, security, progress);
        var parts = measured.Timings;
        double meanBits = measured.MeanBits, minBits = measured.MinBits;
        static double Median(IEnumerable<double> xs) => BenchCkksCommand.Median(xs.ToArray());
        plan["threads"] = threads;
        plan["reps"] = reps;
        plan["keygen_s"] = measured.KeySeconds;
        plan["bootstrap_s_median"] = Median(parts.Select(p => p.Total.TotalSeconds));
        plan["mod_raise_s"] = Median(parts.Select(p => p.ModRaise.TotalSeconds));
        plan["coeff_to_slot_s"] = Median(parts.Select(p => p.CoeffToSlot.TotalSeconds));
        plan["eval_mod_s"] = Median(parts.Select(p => p.EvalMod.TotalSeconds));
        plan["slot_to_coeff_s"] = Median(parts.Select(p => p.SlotToCoeff.TotalSeconds));
        plan["precision_mean_bits"] = meanBits;
        plan["precision_min_bits"] = minBits;
        plan["precision_mean_bits_vs_encoded_values"] = measured.MeanBitsVsValues;
        plan["peak_memory_gib"] = Process.GetCurrentProcess().PeakWorkingSet64 / (double)(1L << 30);
        if (!json)
        {
            var table = new Table().Title($"{preset.Name}: one bootstrap, {threads} thread(s), median of {reps}");
            table.AddColumns("step", "seconds");
            foreach (var key in new[] { "mod_raise_s", "coeff_to_slot_s", "eval_mod_s", "slot_to_coeff_s", "bootstrap_s_median" })
                table.AddRow(key, plan[key]!.GetValue<double>().ToString("F2", CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"precision against the input's decryption: mean {meanBits:F1} bits, min {minBits:F1} bits (complex slots in the unit square; " +
                $"against the encoded values, with the public-key encryption's noise: {measured.MeanBitsVsValues:F1}); " +
                $"{bootstrapper.OutputLevel} levels left; peak memory {plan["peak_memory_gib"]!.GetValue<double>():F1} GiB");
        }
        Emit(plan, json, outPath);
        return 0;
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
