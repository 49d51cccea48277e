using System.Globalization;
using System.Text.Json;
using Veil.Ml.Data;
using Veil.Onnx;

namespace Veil.Cli;

/// <summary>veil compile MODEL.onnx: the plan (layers, depth, parameters, keys, predicted time and memory) and a deployable network file.</summary>
internal static class CompileCommand
{
    /// <summary>Imports <paramref name="model"/>, fitting its activations on the calibration file (or, without one, on <paramref name="fallback"/>).</summary>
    public static OnnxImportResult Import(string model, string? calibration, string? target, double[][]? fallback, int? degree)
    {
        double[][]? rows = fallback;
        if (calibration is not null)
        {
            if (target is null) throw new UsageException("--calibration needs --target: the label column is dropped, the rest are the graph's inputs.");
            rows = CsvLoader.Load(calibration, target, TargetKind.Numeric).Features;
        }
        return OnnxImporter.ImportModelFile(model, new OnnxImportOptions { Calibration = rows?.Take(1024).ToArray(), Degree = degree });
    }

    public static int Run(string model, bool batched, bool latency, string? calibration, string? target, string? output, int? degree, bool json)
    {
        if (batched && latency) throw new UsageException("Give --batched or --latency, not both.");
        var imported = Import(model, calibration, target, null, degree);
        var plan = ModelCompiler.Compile(imported.Network, batched ? Packing.Batched : latency ? Packing.Latency : Packing.Auto);
        output ??= Path.ChangeExtension(Path.GetFileName(model), ".veilnet");
        File.WriteAllBytes(output, plan.Network.Save());
        var p = plan.Parameters;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = Path.GetFileName(model), artefact = output, packing = plan.Packing.ToString().ToLowerInvariant(), why = plan.Why, depth = plan.Depth,
                n = 1 << p.LogN, levels = p.LogQ.Length - 1, log_qp = p.LogQ.Sum() + p.LogP.Sum(), log_scale = p.LogDefaultScale, security_bits = 128, rotations = plan.Rotations.Count, key_bytes = plan.KeyBytes,
                inputs_per_evaluation = plan.InputsPerEvaluation, predicted_seconds = plan.PredictedSeconds, predicted_inputs_per_second = plan.PredictedInputsPerSecond,
                predicted_memory_bytes = plan.PredictedMemoryBytes, compile_seconds = plan.CompileSeconds, agreement = imported.Agreement,
                activations = imported.Activations.Select(a => new { node = a.Node, function = a.Function, low = a.Low, high = a.High, degree = a.Degree, max_error = a.MaxError, folded = a.Folded }),
                layers = plan.Layers.Select(l => new { index = l.Index, layer = l.Layer, depth = l.Depth, level = l.Level, multiplications = l.Multiplications, scalar_products = l.ScalarProducts, rotations = l.Rotations, predicted_seconds = l.PredictedSeconds }),
            }));
            return 0;
        }
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"{Path.GetFileName(model)}: opset {imported.Opset}, {imported.Nodes} nodes → {plan.Network.Layers.Count} layers, depth {plan.Depth}"));
        foreach (var a in imported.Activations)
            Console.WriteLine(string.Create(inv, $"  {a.Node}: {a.Function} ≈ Chebyshev degree {a.Degree} on [{a.Low:G4}, {a.High:G4}], max error {a.MaxError:G3}{(a.Folded ? ", interval map folded into the layer before" : "")}"));
        if (imported.Agreement is { } agreement) Console.WriteLine(string.Create(inv, $"  calibration inputs decided as the exact model, by a safe margin: {agreement:P1}"));
        Console.WriteLine(string.Create(inv, $"{"layer",-32} {"depth",5} {"level",5} {"ct×ct",9} {"ct×const",10} {"rotations",9} {"predicted",10}"));
        foreach (var l in plan.Layers)
            Console.WriteLine(string.Create(inv, $"{l.Index + ": " + l.Layer,-32} {l.Depth,5} {l.Level,5} {l.Multiplications,9} {l.ScalarProducts,10} {l.Rotations,9} {l.PredictedSeconds * 1000,8:F1} ms"));
        Console.WriteLine(string.Create(inv, $"packing: {plan.Packing.ToString().ToLowerInvariant()} — {plan.Why}"));
        Console.WriteLine(string.Create(inv, $"parameters: N = {1 << p.LogN}, {p.LogQ.Length - 1} levels of 2^{p.LogDefaultScale}, log QP {p.LogQ.Sum() + p.LogP.Sum()}, 128-bit; keys {plan.KeyBytes / 1048576.0:F1} MiB ({plan.Rotations.Count} rotations)"));
        Console.WriteLine(string.Create(inv, $"predicted: {plan.PredictedSeconds:F3} s per evaluation of {plan.InputsPerEvaluation} input(s) = {plan.PredictedInputsPerSecond:F1} inputs/s, memory {plan.PredictedMemoryBytes / 1048576.0:F0} MiB"));
        Console.WriteLine(string.Create(inv, $"compiled in {plan.CompileSeconds:F2} s; wrote {output} (veil deploy {output})"));
        return 0;
    }
}
