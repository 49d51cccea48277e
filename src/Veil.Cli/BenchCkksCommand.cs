using Veil.Serialization;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Veil.Ckks;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Cli;

/// <summary>
/// veil bench ckks: the per-operation benchmark of ../shared/peers/node-seal-bench.mjs, on the same parameter sets,
/// operations and inputs, with the same JSON shape, so that the two can be compared side by side.
/// </summary>
internal static class BenchCkksCommand
{
    public static readonly string[] Operations =
    [
        "keygen_relin", "keygen_galois_pow2", "encode", "encrypt_pk", "decrypt", "decode", "add",
        "multiply_plain", "multiply", "relinearize", "rescale_to_next", "rotate_vector_1", "mul+relin+rescale",
    ];

    public static int Run(string setList, int reps, int threads, bool json, string? comparePath, string? outPath)
    {
        var sets = setList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var s in sets)
            if (s is not ("A" or "B")) throw new UsageException($"--sets takes A and/or B; got '{s}'.");
        JsonObject? peer = comparePath is null ? null : LoadPeer(comparePath);

        var result = new JsonObject
        {
            ["veil"] = typeof(CkksEvaluator).Assembly.GetName().Version?.ToString(),
            ["dotnet"] = Environment.Version.ToString(),
            ["threads"] = threads,
            ["reps"] = reps,
            ["sets"] = new JsonObject(),
        };
        var peak = Stopwatch.StartNew();
        foreach (var set in sets)
        {
            var (tag, literal, keyReps) = set == "A" ? ("N=8192", CkksParameters.SetA, 20) : ("N=16384", CkksParameters.SetB, 10);
            if (!json) AnsiConsole.MarkupLine($"[grey]measuring {tag} …[/]");
            var measured = Measure(literal, reps, keyReps, threads);
            result["sets"]![tag] = measured;
        }
        result["peak_working_set_bytes"] = Process.GetCurrentProcess().PeakWorkingSet64;

        if (outPath is not null) File.WriteAllText(outPath, result.ToJsonString() + Environment.NewLine);
        if (json)
        {
            Console.WriteLine(result.ToJsonString());
            return 0;
        }
        foreach (var (tag, node) in result["sets"]!.AsObject())
        {
            var peerSet = peer?["sets"]?[tag];
            var table = new Table().Title($"CKKS {tag}, {threads} thread(s), median of {reps}");
            table.AddColumns("operation", "Veil median µs", "Veil min µs");
            if (peerSet is not null) table.AddColumns("peer median µs", "Veil / peer");
            foreach (var op in Operations)
            {
                double median = node![op]!["median_us"]!.GetValue<double>();
                var row = new List<string> { op, F(median), F(node[op]!["min_us"]!.GetValue<double>()) };
                if (peerSet?[op]?["median_us"] is { } pm)
                {
                    double p = pm.GetValue<double>();
                    row.Add(F(p));
                    row.Add((median / p).ToString("F2", CultureInfo.InvariantCulture));
                }
                else if (peerSet is not null) { row.Add("–"); row.Add("–"); }
                table.AddRow(row.ToArray());
            }
            AnsiConsole.Write(table);
            var prec = node!["precision_mul_relin_rescale"]!;
            foreach (int count in new[] { 8, 16 })
                if (node[$"rotate_hoisted_{count}"] is { } hoisted)
                    AnsiConsole.MarkupLine($"{count} hoisted rotations: {F(hoisted["median_us"]!.GetValue<double>())} µs vs {count} separate {F(node[$"rotate_separate_{count}"]!["median_us"]!.GetValue<double>())} µs (median of paired ratios {node[count == 8 ? "hoisted_over_separate" : $"hoisted_over_separate_{count}"]!.GetValue<double>():F2})");
            AnsiConsole.MarkupLine($"precision of x·y after relinearize+rescale: worst {prec["worst_bits"]!.GetValue<double>():F2} bits over {prec["trials"]} trials" +
                (peerSet?["precision_mul_relin_rescale"]?["worst_bits"] is { } pb ? $" (peer {pb.GetValue<double>():F2})" : ""));
            var sizes = node["sizes"]!.AsObject();
            AnsiConsole.MarkupLine("sizes (bytes, uncompressed): " + string.Join(", ", sizes.Select(kv => $"{kv.Key} {kv.Value}")));
        }
        AnsiConsole.MarkupLine($"peak working set {result["peak_working_set_bytes"]!.GetValue<long>() / (1 << 20)} MiB");
        return 0;
    }

    /// <summary>A peer script's JSON: it prints log lines before it, so the last line that parses with "sets" is taken.</summary>
    internal static JsonObject LoadPeer(string path)
    {
        var text = File.ReadAllText(path);
        return text.Split('\n').Reverse().Select(l => l.Trim()).Where(l => l.StartsWith('{'))
            .Select(l => { try { return JsonNode.Parse(l) as JsonObject; } catch (JsonException) { return null; } })
            .FirstOrDefault(o => o?["sets"] is not null)
            ?? throw new FormatException($"{path}: no JSON object with \"sets\" found.");
    }

    private static string F(double v) => v.ToString(v < 100 ? "F1" : "F0", CultureInfo.InvariantCulture);

    private static JsonObject Measure(CkksParametersLiteral literal, int reps, int keyReps, int threads)
    {
        var parameters = CkksParameters.Create(literal);
        var keygen = new KeyGenerator(parameters.Ring) { MaxDegreeOfParallelism = threads };
        var pk = keygen.CreatePublicKey();
        var rk = keygen.CreateRelinearizationKey();
        var gk = keygen.CreatePowerOfTwoRotationKeys(includeConjugation: true);
        var encoder = new CkksEncoder(parameters) { MaxDegreeOfParallelism = threads };
        var encryptor = new Encryptor(parameters.Ring, pk) { MaxDegreeOfParallelism = threads };
        var decryptor = new Decryptor(parameters.Ring, keygen.SecretKey);
        var ev = new CkksEvaluator(parameters, rk, gk) { MaxDegreeOfParallelism = threads };
        int slots = parameters.Slots;
        double scale = parameters.DefaultScale;
        int top = parameters.MaxLevel;

        // The peer's generator (xorshift on 64 bits, top 53 bits), so both benchmarks encrypt the same inputs.
        ulong state = 12345 | 1;
        double Next()
        {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            return (state >> 11) / 9007199254740992.0;
        }
        var x = new double[slots]; var y = new double[slots];
        for (int i = 0; i < slots; i++) { x[i] = 2 * Next() - 1; y[i] = 2 * Next() - 1; }

        var px = encoder.Encode(x, scale, top);
        var py = encoder.Encode(y, scale, top);
        var ptmp = new Plaintext(parameters.Ring, top, scale);
        var cx = encryptor.Encrypt(px);
        var cy = encryptor.Encrypt(py);
        var ctmp = new Ciphertext(parameters.Ring, top);
        var c3 = new Ciphertext(parameters.Ring, top, 3);
        var c2 = new Ciphertext(parameters.Ring, top);
        var cr = new Ciphertext(parameters.Ring, top);

        var o = new JsonObject();
        o["keygen_relin"] = Time(1, keyReps, () => keygen.CreateRelinearizationKey(), collectBetween: true);
        o["keygen_galois_pow2"] = Time(1, Math.Max(3, keyReps / 4), () => keygen.CreatePowerOfTwoRotationKeys(includeConjugation: true), collectBetween: true);
        o["encode"] = Time(5, reps, () => encoder.Encode(x, scale, top, ptmp));
        o["encrypt_pk"] = Time(5, reps, () => encryptor.Encrypt(px, ctmp));
        o["decrypt"] = Time(5, reps, () => decryptor.Decrypt(cx, ptmp));
        var decodeOut = new System.Numerics.Complex[slots];
        o["decode"] = Time(5, reps, () => encoder.Decode(ptmp, decodeOut));
        o["decrypt+decode"] = Time(5, reps, () => { decryptor.Decrypt(cx, ptmp); encoder.Decode(ptmp, decodeOut); });
        o["add"] = Time(5, reps, () => ev.Add(cx, cy, ctmp));
        o["add_inplace"] = Time(5, reps, () => ev.Add(ctmp, cy, ctmp));
        o["multiply_plain"] = Time(5, reps, () => ev.MultiplyPlain(cx, py, ctmp));
        o["multiply"] = Time(5, reps, () => ev.Multiply(cx, cy, c3));
        o["relinearize"] = Time(5, reps, () => ev.Relinearize(c3, c2));
        o["rescale_to_next"] = Time(5, reps, () => ev.Rescale(c2, cr));
        o["rotate_vector_1"] = Time(5, reps, () => ev.Rotate(cx, 1, ctmp));
        o["mul+relin+rescale"] = Time(5, reps, () => { ev.Multiply(cx, cy, c3); ev.Relinearize(c3, c3); ev.Rescale(c3, c3); });

        // Hoisting: 8 and 16 rotations of one ciphertext through one shared decomposition, against as many separate ones.
        foreach (int count in new[] { 8, 16 })
        {
            int[] hoistSteps = Enumerable.Range(1, count).ToArray();
            var hoistKeys = keygen.CreateRotationKeys(hoistSteps);
            var hoistEvaluator = new CkksEvaluator(parameters, rk, hoistKeys) { MaxDegreeOfParallelism = threads };
            var hoistDestinations = hoistSteps.Select(_ => cx.Clone()).ToArray();
            // Timed in alternation and compared pair by pair, so that a slow spell of a shared host hits both sides.
            var (hoisted, separate, ratio) = TimePairs(2, Math.Max(5, reps / 3),
                () => hoistEvaluator.RotateHoisted(cx, hoistSteps, hoistDestinations),
                () => { foreach (int s in hoistSteps) hoistEvaluator.Rotate(cx, s, ctmp); });
            o[$"rotate_hoisted_{count}"] = hoisted;
            o[$"rotate_separate_{count}"] = separate;
            o[count == 8 ? "hoisted_over_separate" : $"hoisted_over_separate_{count}"] = ratio;
        }

        // Precision of x·y after relinearize + rescale: 10 trials with fresh encryptions, as the peer does.
        const int trials = 10;
        double worst = 0, sumErr = 0;
        var trialBits = new List<double>();
        for (int t = 0; t < trials; t++)
        {
            var ax = encryptor.Encrypt(px); var ay = encryptor.Encrypt(py);
            var prod = ev.MultiplyRelinearizeRescale(ax, ay);
            var d = encoder.Decode(decryptor.Decrypt(prod));
            double maxErr = 0;
            for (int i = 0; i < slots; i++) { double e = Math.Abs(d[i] - x[i] * y[i]); maxErr = Math.Max(maxErr, e); sumErr += e; }
            worst = Math.Max(worst, maxErr);
            trialBits.Add(-Math.Log2(maxErr));
        }
        trialBits.Sort();
        o["precision_mul_relin_rescale"] = new JsonObject
        {
            ["trials"] = trials, ["worst_max_abs_err"] = worst, ["worst_bits"] = -Math.Log2(worst),
            ["median_trial_bits"] = 0.5 * (trialBits[trials / 2 - 1] + trialBits[trials / 2]),
            ["mean_abs_err"] = sumErr / (trials * slots), ["mean_bits"] = -Math.Log2(sumErr / (trials * slots)),
        };
        var fresh = encoder.Decode(decryptor.Decrypt(cx));
        double freshErr = 0;
        for (int i = 0; i < slots; i++) freshErr = Math.Max(freshErr, Math.Abs(fresh[i] - x[i]));
        o["precision_fresh_enc_dec"] = new JsonObject { ["max_abs_err"] = freshErr, ["bits"] = -Math.Log2(freshErr) };

        var afterRescale = ev.MultiplyRelinearizeRescale(cx, cy);
        var symmetric = new Encryptor(parameters.Ring, keygen.SecretKey).Encrypt(px);
        o["sizes"] = new JsonObject
        {
            ["ct_fresh"] = RlweSerializer.Save(cx).Length,
            ["ct_after_rescale"] = RlweSerializer.Save(afterRescale).Length,
            ["ct_fresh_symmetric_seeded"] = RlweSerializer.Save(symmetric).Length,
            ["pk"] = RlweSerializer.Save(pk).Length,
            ["relin_keys"] = RlweSerializer.Save(rk).Length,
            ["galois_keys"] = parameters.N <= 8192 ? RlweSerializer.Save(gk).Length : "skipped (large)",
            ["ct_fresh_brotli"] = RlweSerializer.Save(cx, Compression.Brotli).Length,
        };
        o["galois_keys_count"] = gk.Elements.Count;
        o["log_qp"] = parameters.Ring.LogQP;
        keygen.SecretKey.Dispose();
        return o;
    }

    /// <summary>
    /// f and g timed alternately, <paramref name="reps"/> times each: their summaries and the median of the per-pair
    /// ratios f/g (robust to drift in the host's speed, which a ratio of two separately taken medians is not).
    /// </summary>
    internal static (JsonObject F, JsonObject G, double Ratio) TimePairs(int warm, int reps, Action f, Action g)
    {
        for (int i = 0; i < warm; i++) { f(); g(); }
        var tf = new double[reps];
        var tg = new double[reps];
        var ratios = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long start = Stopwatch.GetTimestamp();
            f();
            tf[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            start = Stopwatch.GetTimestamp();
            g();
            tg[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            ratios[i] = tf[i] / tg[i];
        }
        return (Summary(tf), Summary(tg), Median(ratios));
    }

    internal static double Median(double[] values)
    {
        var s = (double[])values.Clone();
        Array.Sort(s);
        int n = s.Length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    private static JsonObject Summary(double[] t) =>
        new() { ["median_us"] = Median(t), ["min_us"] = t.Min(), ["mean_us"] = t.Average(), ["reps"] = t.Length };

    /// <summary>
    /// Median, least and mean of <paramref name="reps"/> timed calls after <paramref name="warm"/> untimed ones. With
    /// <paramref name="collectBetween"/>, a full blocking collection runs before each call, outside the timing (as
    /// BenchmarkDotNet does by default): for calls that allocate large results (keys), so that each writes into memory
    /// the runtime already holds instead of fresh pages, whose first-touch cost depends on the host.
    /// </summary>
    internal static JsonObject Time(int warm, int reps, Action f, bool collectBetween = false)
    {
        for (int i = 0; i < warm; i++) f();
        var t = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            if (collectBetween) GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            long start = Stopwatch.GetTimestamp();
            f();
            t[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        return Summary(t);
    }
}
