using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Veil.ElGamal;

namespace Veil.Cli;

/// <summary>veil bench elgamal: EC-ElGamal on P-256 per operation, decryption over a 2^20 range (table built once per key).</summary>
internal static class BenchElGamalCommand
{
    // BouncyCastle's code runs unoptimised until the JIT's second tier takes over: warm up well past that.
    private const int Warm = 200;
    private static readonly string[] Operations = ["keygen", "encrypt", "add", "multiply_plain", "decrypt_low", "decrypt_random", "decrypt_high"];

    public static int Run(int reps, int rangeBits, bool json, string? outPath)
    {
        var range = new ElGamalRange(0, (1L << rangeBits) - 1);
        var o = new JsonObject { ["scheme"] = "ec-elgamal", ["curve"] = "P-256", ["reps"] = reps, ["threads"] = 1, ["range"] = $"[0, 2^{rangeBits})", ["baby_steps"] = range.BabySteps };
        o["keygen"] = BenchCkksCommand.Time(Warm, reps, () => ElGamalScheme.GenerateKeys());
        var (pk, sk) = ElGamalScheme.GenerateKeys();
        var clock = Stopwatch.StartNew();
        sk.Decrypt(pk.Encrypt(0), range);
        o["table_build_ms"] = clock.Elapsed.TotalMilliseconds;
        var c1 = pk.Encrypt(12345);
        var c2 = pk.Encrypt(67890);
        o["encrypt"] = BenchCkksCommand.Time(Warm, reps, () => pk.Encrypt(12345));
        o["add"] = BenchCkksCommand.Time(Warm, reps, () => ElGamalScheme.Add(c1, c2));
        o["multiply_plain"] = BenchCkksCommand.Time(Warm, reps, () => ElGamalScheme.MultiplyScalar(c1, 31));
        var low = pk.Encrypt(3);
        var high = pk.Encrypt(range.Max);
        var rng = new Random(1);
        var randoms = Enumerable.Range(0, 16).Select(_ => pk.Encrypt(rng.NextInt64(0, range.Max + 1))).ToArray();
        int next = 0;
        o["decrypt_low"] = BenchCkksCommand.Time(Warm, reps, () => sk.Decrypt(low, range));
        o["decrypt_random"] = BenchCkksCommand.Time(Warm, reps, () => sk.Decrypt(randoms[next++ % randoms.Length], range));
        o["decrypt_high"] = BenchCkksCommand.Time(Warm, reps, () => sk.Decrypt(high, range));
        o["correct"] = sk.Decrypt(ElGamalScheme.Add(c1, c2), range) == 12345 + 67890 && sk.Decrypt(ElGamalScheme.MultiplyScalar(c1, 31), range) == 12345 * 31 && sk.Decrypt(high, range) == range.Max;
        o["ciphertext_bytes"] = 66;
        if (outPath is not null) File.WriteAllText(outPath, o.ToJsonString() + Environment.NewLine);
        if (json) { Console.WriteLine(o.ToJsonString()); return 0; }
        var table = new Table().Title($"EC-ElGamal P-256, one thread, median of {reps}; range [[0, 2^{rangeBits})), {range.BabySteps} baby steps built in {o["table_build_ms"]!.GetValue<double>():F0} ms")
            .AddColumns("operation", "median µs");
        foreach (var op in Operations) table.AddRow(op, o[op]!["median_us"]!.GetValue<double>().ToString("F1", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(o["correct"]!.GetValue<bool>() ? "[green]results exact[/]" : "[red]WRONG RESULTS[/]");
        return o["correct"]!.GetValue<bool>() ? 0 : 1;
    }
}
