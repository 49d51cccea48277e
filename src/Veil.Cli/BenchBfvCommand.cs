using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Veil.Bfv;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Cli;

/// <summary>
/// veil bench bfv: per-operation BFV timings on N = 8192 and 16384 with SEAL's default 128-bit modulus sizes and a
/// 20-bit batching prime, in the JSON shape of ../shared/peers/node-seal-bfv-bench.sh, with ratios against a peer's JSON.
/// </summary>
internal static class BenchBfvCommand
{
    private static readonly string[] Operations =
    [
        "keygen_relin", "keygen_galois_pow2", "encode", "encrypt_pk", "decrypt", "decode", "add", "multiply_plain", "multiply",
        "relinearize", "rotate_rows_1", "mul+relin",
    ];

    public static int Run(int reps, int threads, bool json, string? comparePath, string? outPath)
    {
        JsonObject? peer = comparePath is null ? null : BenchCkksCommand.LoadPeer(comparePath);
        var result = new JsonObject { ["scheme"] = "bfv", ["threads"] = threads, ["reps"] = reps, ["sets"] = new JsonObject() };
        foreach (var (n, keyReps) in new[] { (8192, 10), (16384, 5) })
        {
            if (!json) AnsiConsole.MarkupLine($"[grey]measuring N={n} …[/]");
            result["sets"]![$"N={n}"] = Measure(n, reps, keyReps, threads);
        }
        if (outPath is not null) File.WriteAllText(outPath, result.ToJsonString() + Environment.NewLine);
        if (json) { Console.WriteLine(result.ToJsonString()); return 0; }
        foreach (var (tag, node) in result["sets"]!.AsObject())
        {
            var peerSet = peer?["sets"]?[tag];
            var table = new Table().Title($"BFV {tag}, {threads} thread(s), median of {reps}").AddColumns("operation", "Veil median µs");
            if (peerSet is not null) table.AddColumns("peer median µs", "Veil / peer");
            foreach (var op in Operations)
            {
                double median = node![op]!["median_us"]!.GetValue<double>();
                var row = new List<string> { op, median.ToString("F0", CultureInfo.InvariantCulture) };
                if (peerSet?[op]?["median_us"] is { } pm)
                {
                    row.Add(pm.GetValue<double>().ToString("F0", CultureInfo.InvariantCulture));
                    row.Add((median / pm.GetValue<double>()).ToString("F2", CultureInfo.InvariantCulture));
                }
                table.AddRow(row.ToArray());
            }
            AnsiConsole.Write(table);
            AnsiConsole.WriteLine($"noise budget fresh {node!["noise_budget_fresh_bits"]}, after x·y + relinearize {node["noise_budget_after_mul_relin_bits"]} bits" +
                (peerSet is null ? "" : $" (peer {peerSet["noise_budget_fresh_bits"]}, {peerSet["noise_budget_after_mul_relin_bits"]}); ") +
                $"wrong slots after x·y: {node["mul_relin_wrong_slots"]}");
        }
        return 0;
    }

    private static JsonObject Measure(int n, int reps, int keyReps, int threads)
    {
        var p = BfvParameters.Default(n, 20);
        var keygen = new KeyGenerator(p.Ring) { MaxDegreeOfParallelism = threads };
        var pk = keygen.CreatePublicKey();
        var rk = keygen.CreateRelinearizationKey();
        var gk = keygen.CreatePowerOfTwoRotationKeys(includeConjugation: true);
        var encoder = new BfvEncoder(p);
        var encryptor = new Encryptor(p.Ring, pk) { MaxDegreeOfParallelism = threads };
        var decryptor = new BfvDecryptor(p, keygen.SecretKey);
        var ev = new BfvEvaluator(p, rk, gk) { MaxDegreeOfParallelism = threads };
        ulong t = p.PlainModulus;
        // The peer's generator (a 64-bit LCG, bits 33 … 63), so both encrypt the same inputs.
        ulong s = 12345;
        ulong Next() { s = s * 6364136223846793005UL + 1442695040888963407UL; return (s >> 33) % t; }
        var x = new ulong[n]; var y = new ulong[n];
        for (int i = 0; i < n; i++) { x[i] = Next(); y[i] = Next(); }
        var px = encoder.EncodeBatch(x);
        var py = encoder.EncodeBatch(y);
        var cx = encryptor.Encrypt(encoder.ScaledForEncryption(px, p.MaxLevel));
        var cy = encryptor.Encrypt(encoder.ScaledForEncryption(py, p.MaxLevel));
        var ctmp = new Ciphertext(p.Ring, p.MaxLevel);
        var c3 = new Ciphertext(p.Ring, p.MaxLevel, 3);
        var c2 = new Ciphertext(p.Ring, p.MaxLevel);
        var o = new JsonObject { ["plain_modulus"] = t, ["log_q"] = (int)Math.Round((double)p.Ring.LogQP) };
        o["keygen_relin"] = BenchCkksCommand.Time(1, keyReps, () => keygen.CreateRelinearizationKey(), collectBetween: true);
        o["keygen_galois_pow2"] = BenchCkksCommand.Time(1, Math.Max(3, keyReps / 4), () => keygen.CreatePowerOfTwoRotationKeys(includeConjugation: true), collectBetween: true);
        o["encode"] = BenchCkksCommand.Time(5, reps, () => encoder.EncodeBatch(x));
        o["encrypt_pk"] = BenchCkksCommand.Time(5, reps, () => encryptor.Encrypt(encoder.ScaledForEncryption(px, p.MaxLevel), ctmp));
        BfvPlaintext? decrypted = null;
        o["decrypt"] = BenchCkksCommand.Time(5, reps, () => decrypted = decryptor.Decrypt(cx));
        var decodedSlots = new ulong[n];
        o["decode"] = BenchCkksCommand.Time(5, reps, () => encoder.DecodeBatch(decrypted!, decodedSlots));
        o["add"] = BenchCkksCommand.Time(5, reps, () => ev.Add(cx, cy, ctmp));
        // As SEAL's multiply_plain, from a batch-encoded plaintext: its lift to Q and transform are part of the operation.
        o["multiply_plain"] = BenchCkksCommand.Time(5, reps, () => ev.MultiplyPlain(cx, encoder.ForMultiplication(py, p.MaxLevel), ctmp));
        o["multiply"] = BenchCkksCommand.Time(5, reps, () => ev.Multiply(cx, cy, c3));
        o["relinearize"] = BenchCkksCommand.Time(5, reps, () => ev.Relinearize(c3, c2));
        o["rotate_rows_1"] = BenchCkksCommand.Time(5, reps, () => ev.Rotate(cx, 1, ctmp));
        o["mul+relin"] = BenchCkksCommand.Time(5, reps, () => { ev.Multiply(cx, cy, c3); ev.Relinearize(c3, c3); });
        ev.Multiply(cx, cy, c3);
        ev.Relinearize(c3, c3);
        var got = encoder.DecodeBatch(decryptor.Decrypt(c3));
        int wrong = 0;
        for (int i = 0; i < n; i++) if (got[i] != (ulong)((System.Numerics.BigInteger)x[i] * y[i] % t)) wrong++;
        o["mul_relin_wrong_slots"] = wrong;
        o["noise_budget_fresh_bits"] = decryptor.InvariantNoiseBudget(cx);
        o["noise_budget_after_mul_relin_bits"] = decryptor.InvariantNoiseBudget(c3);
        o["sizes"] = new JsonObject { ["ct_fresh"] = RlweSerializer.Save(cx).Length, ["pk"] = RlweSerializer.Save(pk).Length, ["relin_keys"] = RlweSerializer.Save(rk).Length };
        keygen.SecretKey.Dispose();
        return o;
    }
}
