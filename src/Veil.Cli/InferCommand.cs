using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;

namespace Veil.Cli;

/// <summary>veil infer MODEL.onnx DATA.csv --target COLUMN: an imported ONNX network run on the encrypted rows of a CSV file, beside the same network in plaintext.</summary>
internal static class InferCommand
{
    public static int Run(string model, string data, string target, int? limit, string? calibration, int? degree, bool latency, bool json)
    {
        var dataset = CsvLoader.Load(data, target, TargetKind.Numeric);
        var imported = CompileCommand.Import(model, calibration, target, dataset.Features.Take(256).ToArray(), degree);
        var network = imported.Network;
        if (dataset.Columns != network.InputShape.Size)
            throw new InvalidOperationException($"{Path.GetFileName(data)} has {dataset.Columns} feature columns; the model reads {network.InputShape.Size} (in the graph's input order).");
        var rows = dataset.Features.Take(limit ?? int.MaxValue).ToArray();
        var labels = dataset.Targets.Take(rows.Length).ToArray();
        // The reference is the graph with its exact activations; the fitted network in plaintext shows what the polynomials cost.
        var plain = rows.Select(r => (double)Veil.Ml.Models.SquareMlp.ArgMax(imported.Reference(r))).ToArray();
        var fitted = network.Predict(rows);
        // Batched (one input per slot) for throughput, as veil compile --batched plans it; --latency: one input per
        // ciphertext, as veil compile --latency plans it, each row timed on its own.
        var parameters = CkksParameters.Create(latency ? EncryptedNetworkInference.DefaultParameters(network) : ParameterSelector.Select(network.Depth, Math.Min(rows.Length, 1 << 12)));
        var inference = new EncryptedNetworkInference(network, parameters.Slots);
        using var client = CkksContext.Create(parameters, latency ? inference.RequiredRotations : []);
        var server = client.ToPublic();
        var predicted = new List<double>();
        var perRow = new List<double>();
        var clock = Stopwatch.StartNew();
        if (latency)
            foreach (var row in rows)
            {
                long start = Stopwatch.GetTimestamp();
                var y = inference.DecryptSingle(client, inference.EvaluateSingle(server, inference.EncryptSingle(client, row)));
                perRow.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
                predicted.Add(Veil.Ml.Models.SquareMlp.ArgMax(y));
            }
        else
            foreach (var chunk in rows.Chunk(parameters.Slots))
            {
                var outputs = inference.DecryptBatch(client, inference.EvaluateBatch(server, inference.EncryptBatch(client, chunk)), chunk.Length);
                predicted.AddRange(outputs.Select(o => (double)Veil.Ml.Models.SquareMlp.ArgMax(o)));
            }
        double seconds = clock.Elapsed.TotalSeconds;
        double? medianLatency = perRow.Count == 0 ? null : perRow.Order().ElementAt(perRow.Count / 2);
        double plainAccuracy = Metrics.Accuracy(labels, plain), fittedAccuracy = Metrics.Accuracy(labels, fitted), encryptedAccuracy = Metrics.Accuracy(labels, [.. predicted]);
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new { model = Path.GetFileName(model), metric = "accuracy", plaintext = plainAccuracy, fitted = fittedAccuracy, encrypted = encryptedAccuracy,
                rows = rows.Length, seconds, packing = latency ? "latency" : "batched", median_latency_seconds = medianLatency, inputs_per_second = rows.Length / seconds, n = parameters.Ring.N, levels = parameters.MaxLevel, security_bits = (int)parameters.Ring.Security }));
        else
            Console.WriteLine(FormattableString.Invariant(
                $"{Path.GetFileName(model)} ({network.Layers.Count} layers, depth {network.Depth}): {rows.Length} rows encrypted, accuracy {encryptedAccuracy:P2} vs plaintext {plainAccuracy:P2} (fitted activations in plaintext {fittedAccuracy:P2}), {seconds:F1} s{(medianLatency is { } m ? $", median {m * 1000:F0} ms per row" : $", {rows.Length / seconds:F0} rows/s")}; N = {parameters.Ring.N}, {parameters.MaxLevel} levels, {(int)parameters.Ring.Security}-bit"));
        return 0;
    }
}
