using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Spectre.Console;
using Veil.Paillier;

namespace Veil.Cli;

/// <summary>
/// veil bench paillier: key generation, encryption (DJN and textbook), decryption, addition and scalar multiplication
/// for 2048- and 3072-bit n, in the JSON shape of ../shared/peers/node-paillier-bench.sh; ratios against its JSON.
/// </summary>
internal static class BenchPaillierCommand
{
    private static readonly string[] Operations = ["keygen", "encrypt", "encrypt_standard", "decrypt", "add", "multiply_plain"];

    public static int Run(int reps, bool json, string? comparePath, string? outPath)
    {
        var peer = comparePath is null ? null : BenchCkksCommand.LoadPeer(comparePath);
        var result = new JsonObject { ["scheme"] = "paillier", ["reps"] = reps, ["threads"] = 1, ["sets"] = new JsonObject() };
        foreach (int bits in new[] { 2048, 3072 })
        {
            if (!json) AnsiConsole.MarkupLine($"[grey]measuring n={bits} …[/]");
            var o = new JsonObject();
            o["keygen"] = BenchCkksCommand.Time(0, Math.Max(3, reps / 10), () => PaillierScheme.GenerateKeys(bits, allowBelow128Bits: true));
            var (pk, sk) = PaillierScheme.GenerateKeys(bits, allowBelow128Bits: true);
            pk.Precompute();
            BigInteger m1 = 123456789012345, m2 = 987654321, k = 31337;
            var c1 = PaillierScheme.Encrypt(pk, m1);
            var c2 = PaillierScheme.Encrypt(pk, m2);
            o["encrypt"] = BenchCkksCommand.Time(2, reps, () => PaillierScheme.Encrypt(pk, m1));
            o["encrypt_standard"] = BenchCkksCommand.Time(2, Math.Max(3, reps / 3), () => PaillierScheme.EncryptStandard(pk, m1));
            o["decrypt"] = BenchCkksCommand.Time(2, reps, () => PaillierScheme.Decrypt(sk, c1));
            o["add"] = BenchCkksCommand.Time(5, reps, () => PaillierScheme.Add(c1, c2));
            o["multiply_plain"] = BenchCkksCommand.Time(5, reps, () => PaillierScheme.MultiplyScalar(c1, k));
            o["correct"] = PaillierScheme.Decrypt(sk, PaillierScheme.Add(c1, c2)) == m1 + m2 && PaillierScheme.Decrypt(sk, PaillierScheme.MultiplyScalar(c1, k)) == m1 * k;
            o["ciphertext_bytes"] = (2 * bits + 7) / 8;
            result["sets"]![$"n={bits}"] = o;
        }
        if (outPath is not null) File.WriteAllText(outPath, result.ToJsonString() + Environment.NewLine);
        if (json) { Console.WriteLine(result.ToJsonString()); return 0; }
        foreach (var (tag, node) in result["sets"]!.AsObject())
        {
            var peerSet = peer?["sets"]?[tag];
            var table = new Table().Title($"Paillier {tag}, one thread, median of {reps}").AddColumns("operation", "Veil median µs");
            if (peerSet is not null) table.AddColumns("peer median µs", "peer / Veil");
            foreach (var op in Operations)
            {
                double median = node![op]!["median_us"]!.GetValue<double>();
                var row = new List<string> { op, median.ToString("F0", CultureInfo.InvariantCulture) };
                var pm = peerSet?[op == "encrypt_standard" ? "encrypt" : op]?["median_us"];
                if (pm is not null) { row.Add(pm.GetValue<double>().ToString("F0", CultureInfo.InvariantCulture)); row.Add((pm.GetValue<double>() / median).ToString("F1", CultureInfo.InvariantCulture)); }
                table.AddRow(row.ToArray());
            }
            AnsiConsole.Write(table);
        }
        return 0;
    }
}
