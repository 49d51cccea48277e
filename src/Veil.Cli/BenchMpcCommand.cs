using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Veil.Mpc;

namespace Veil.Cli;

/// <summary>veil bench mpc: triples, fixed-point products, comparisons and argmax per second, parties in this process.</summary>
internal static class BenchMpcCommand
{
    public static int Run(int reps, int paillierBits, bool json, string? outPath)
    {
        var results = MpcBenchmark.Run(reps, paillierBits).ToList();
        foreach (int parties in new[] { 2, 3 })
        {
            // The demo's workloads (training, KNN and, for two parties, the hybrid inferences) together, beside the same work in the clear.
            var (secure, plain) = Veil.Ml.Secure.MpcDemo.Benchmark(parties, reps);
            results.Add(new MpcBenchmarkResult($"demo workloads{(parties == 2 ? ": training, KNN, hybrid inference" : ": training, KNN")} (dealer; in the clear {plain:F3} s, {secure / plain:F0}× slower)", parties, 1, secure, 1 / secure, 0, 0));
        }
        var text = JsonSerializer.Serialize(results);
        if (outPath is not null) File.WriteAllText(outPath, text + Environment.NewLine);
        if (json) { Console.WriteLine(text); return 0; }
        var table = new Table().Title($"Secret-sharing MPC, parties in one process on all cores, median of {reps}")
            .AddColumns("workload", "parties", "elements", "median s", "per second", "bytes sent per party", "rounds");
        foreach (var r in results)
            table.AddRow(r.Name, r.Parties.ToString(CultureInfo.InvariantCulture), r.Elements.ToString("N0", CultureInfo.InvariantCulture),
                r.MedianSeconds.ToString("F3", CultureInfo.InvariantCulture), r.PerSecond.ToString("N0", CultureInfo.InvariantCulture),
                r.BytesPerParty.ToString("N0", CultureInfo.InvariantCulture), r.Rounds.ToString(CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        return 0;
    }
}
