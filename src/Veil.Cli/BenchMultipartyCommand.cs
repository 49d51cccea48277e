using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Veil.Ckks;
using Veil.Multiparty;
using Veil.Rlwe;

namespace Veil.Cli;

/// <summary>
/// veil bench multiparty: per party and per protocol, time (one thread) and bytes sent, at Lattigo's parameter sets
/// (N = 2^14, log QP 360; N = 2^15, log QP 740) for several party counts, beside Lattigo v5 mhe's figures from
/// ../shared/anchors.md; and the precision of a collectively decrypted product against single-key decryption.
/// </summary>
internal static class BenchMultipartyCommand
{
    // Lattigo v5.0.7 mhe, one thread, this machine kind (../shared/anchors.md): time µs and bytes per share.
    private static readonly Dictionary<string, (double Us, double Bytes)> Lattigo14 = new()
    {
        ["public_key_share"] = (1_960, 1.05e6), ["relinearization_round1"] = (29_300, 14.7e6), ["relinearization_round2"] = (26_500, 14.7e6),
        ["galois_key_share"] = (14_200, double.NaN), ["decryption_share"] = (1_720, 0.92e6),
    };
    private static readonly Dictionary<string, (double Us, double Bytes)> Lattigo15 = new()
    {
        ["public_key_share"] = (8_100, 4.46e6), ["relinearization_round1"] = (132_000, 71.3e6), ["relinearization_round2"] = (145_000, 71.3e6),
        ["galois_key_share"] = (61_700, double.NaN), ["decryption_share"] = (6_900, 3.93e6),
    };

    // Lattigo's benchmarks expand the common reference polynomials before the timed call; "_from_expanded_a" rows do the
    // same (the plain rows count the expansion of a from the seed, which every party must also do).
    private const string ExpandedSuffix = "_from_expanded_a";
    private static readonly string[] Operations =
    [
        "public_key_share", "public_key_share" + ExpandedSuffix, "relinearization_round1", "relinearization_round1" + ExpandedSuffix,
        "relinearization_round2", "galois_key_share", "galois_key_share" + ExpandedSuffix, "decryption_share", "decryption_share_level0",
        "threshold_decryption_share", "key_switch_share",
    ];

    public static int Run(int reps, int[] partyCounts, bool json, string? outPath)
    {
        var result = new JsonObject { ["reps"] = reps, ["threads"] = 1, ["sets"] = new JsonObject() };
        var sets = new (string Tag, CkksParametersLiteral Literal, Dictionary<string, (double Us, double Bytes)> Peer)[]
        {
            ("N=2^14", new CkksParametersLiteral { LogN = 14, LogQ = [60, 40, 40, 40, 40, 40, 40], LogP = [60], LogDefaultScale = 40 }, Lattigo14),
            ("N=2^15", new CkksParametersLiteral { LogN = 15, LogQ = [60, .. Enumerable.Repeat(40, 14)], LogP = [60, 60], LogDefaultScale = 40 }, Lattigo15),
        };
        foreach (var (tag, literal, peer) in sets)
        {
            var p = CkksParameters.Create(literal);
            var setNode = new JsonObject { ["log_qp"] = p.Ring.LogQP };
            foreach (int n in partyCounts)
            {
                if (!json) AnsiConsole.MarkupLine($"[grey]measuring {tag}, {n} parties …[/]");
                setNode[$"parties={n}"] = Measure(p, n, reps);
            }
            result["sets"]![tag] = setNode;
        }
        result["precision"] = Precision(3);
        if (outPath is not null) File.WriteAllText(outPath, result.ToJsonString() + Environment.NewLine);
        if (json) { Console.WriteLine(result.ToJsonString()); return 0; }
        foreach (var (tag, _, peer) in sets)
        {
            var setNode = result["sets"]![tag]!.AsObject();
            foreach (var (parties, node) in setNode.Where(kv => kv.Key.StartsWith("parties=", StringComparison.Ordinal)))
            {
                var table = new Table().Title($"{tag} (log QP {setNode["log_qp"]}), {parties[8..]} parties (threshold t = {node!["threshold"]}), one thread, median of {reps}")
                    .AddColumns("per party", "Veil ms", "Veil MB", "Lattigo ms", "Lattigo MB", "time ÷ Lattigo", "size ÷ Lattigo");
                foreach (var op in Operations)
                {
                    var o = node![op]!;
                    double us = o["median_us"]!.GetValue<double>(), bytes = o["bytes"]!.GetValue<double>();
                    string key = op is "decryption_share_level0" or "threshold_decryption_share" ? "decryption_share" : op.Replace(ExpandedSuffix, "", StringComparison.Ordinal);
                    bool has = peer.TryGetValue(key, out var l);
                    table.AddRow(op, F(us / 1000), F(bytes / 1e6), has ? F(l.Us / 1000) : "–", has && !double.IsNaN(l.Bytes) ? F(l.Bytes / 1e6) : "–",
                        has ? (us / l.Us).ToString("F2", CultureInfo.InvariantCulture) : "–", has && !double.IsNaN(l.Bytes) ? (bytes / l.Bytes).ToString("F2", CultureInfo.InvariantCulture) : "–");
                }
                AnsiConsole.Write(table);
                AnsiConsole.MarkupLine($"aggregation of all {parties[8..]} parties' shares: public key {F(node!["aggregate_public_key_ms"]!.GetValue<double>())} ms, relinearization key {F(node["aggregate_relinearization_ms"]!.GetValue<double>())} ms, decryption {F(node["aggregate_decryption_ms"]!.GetValue<double>())} ms");
            }
        }
        var pr = result["precision"]!;
        AnsiConsole.MarkupLine($"Precision of x·y (relinearized, rescaled, scale 2^55, N = 2^14, 3 parties): single key {F(pr["single_key_bits"]!.GetValue<double>())} bits, collective keys " +
            $"{F(pr["collective_unflooded_bits"]!.GetValue<double>())} bits, collective flooded decryption {F(pr["collective_flooded_bits"]!.GetValue<double>())} bits " +
            $"(σ = 2^{F(pr["flooding_sigma_bits"]!.GetValue<double>())} per party for s = 40, τ = 16, B = 2^{pr["error_bits"]}; flooding costs {F(pr["flooding_cost_bits"]!.GetValue<double>())} bits).");
        return 0;
    }

    private static JsonObject Measure(CkksParameters p, int n, int reps)
    {
        var session = new MultipartySession(p.Ring, new byte[32], n, "bench");
        var parties = Enumerable.Range(0, n).Select(i => new MultipartyParty(session, i) { MaxDegreeOfParallelism = 1 }).ToArray();
        try
        {
            var o = new JsonObject();
            var me = parties[0];
            JsonObject Op(Func<object> make, Func<object, byte[]> save)
            {
                object last = null!;
                // Warm up for half a second (at most 250 calls, inside a party's budget of 1,024): the tiered JIT recompiles
                // hot methods only after 30 calls and 100 ms without new ones, and Lattigo's figures are steady-state.
                long warmStart = System.Diagnostics.Stopwatch.GetTimestamp();
                for (int w = 0; w < 250 && (w < 40 || System.Diagnostics.Stopwatch.GetElapsedTime(warmStart).TotalMilliseconds < 500); w++) last = make();
                var t = BenchCkksCommand.Time(0, reps, () => last = make(), collectBetween: true);
                t["bytes"] = (double)save(last).Length;
                return t;
            }
            // Key-generation shares are made once per party, so each timed call gets a fresh party (made outside the timing).
            JsonObject Fresh(Func<MultipartyParty, object> make, Func<object, byte[]> save, Action<MultipartyParty>? before = null)
            {
                var times = new double[reps];
                object last = null!;
                for (int i = -1; i < reps; i++)
                {
                    using var fresh = new MultipartyParty(session, 0) { MaxDegreeOfParallelism = 1 };
                    before?.Invoke(fresh);
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                    long start = System.Diagnostics.Stopwatch.GetTimestamp();
                    last = make(fresh);
                    if (i >= 0) times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }
                Array.Sort(times);
                return new JsonObject { ["median_us"] = reps % 2 == 1 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]), ["reps"] = reps, ["bytes"] = (double)save(last).Length };
            }
            o["public_key_share"] = Fresh(q => q.CreatePublicKeyShare(), s => MultipartySerializer.Save((PublicKeyShare)s));
            var pkReference = session.ExpandPublicKeyReference();
            o["public_key_share" + ExpandedSuffix] = Fresh(q => q.CreatePublicKeyShare(pkReference), s => MultipartySerializer.Save((PublicKeyShare)s));
            var pkShares = parties.Select(q => q.CreatePublicKeyShare()).ToArray();
            o["aggregate_public_key_ms"] = BenchCkksCommand.Time(0, 3, () => Collective.PublicKey(session, pkShares))["median_us"]!.GetValue<double>() / 1000;
            var pk = Collective.PublicKey(session, pkShares);
            o["relinearization_round1"] = Fresh(q => q.CreateRelinearizationShare1(), s => MultipartySerializer.Save((RelinearizationShare1)s));
            var rlkReference = session.ExpandRelinearizationReference();
            o["relinearization_round1" + ExpandedSuffix] = Fresh(q => q.CreateRelinearizationShare1(rlkReference), s => MultipartySerializer.Save((RelinearizationShare1)s));
            var r1 = Collective.RelinearizationRound1(session, parties.Select(q => q.CreateRelinearizationShare1()).ToArray());
            o["relinearization_round2"] = Fresh(q => q.CreateRelinearizationShare2(r1), s => MultipartySerializer.Save((RelinearizationShare2)s), q => q.CreateRelinearizationShare1());
            var r2 = parties.Select(q => q.CreateRelinearizationShare2(r1)).ToArray();
            o["aggregate_relinearization_ms"] = BenchCkksCommand.Time(0, 3, () => Collective.RelinearizationKey(session, r1, r2))["median_us"]!.GetValue<double>() / 1000;
            ulong g = GaloisElements.ForRotation(1, p.N);
            o["galois_key_share"] = Fresh(q => q.CreateGaloisKeyShare(g), s => MultipartySerializer.Save((GaloisKeyShare)s));
            var galoisReference = session.ExpandGaloisReference(g);
            o["galois_key_share" + ExpandedSuffix] = Fresh(q => q.CreateGaloisKeyShare(g, galoisReference), s => MultipartySerializer.Save((GaloisKeyShare)s));
            var encoder = new CkksEncoder(p);
            var ct = new Encryptor(p.Ring, pk).Encrypt(encoder.Encode([0.5, 0.25]));
            var policy = new FloodingPolicy(40, 10);
            o["decryption_share"] = Op(() => me.CreateDecryptionShare(ct, policy), s => MultipartySerializer.Save((DecryptionShare)s));
            var low = new CkksEvaluator(p).DropToLevel(ct, 0);
            o["decryption_share_level0"] = Op(() => me.CreateDecryptionShare(low, policy), s => MultipartySerializer.Save((DecryptionShare)s));
            var decShares = parties.Select(q => q.CreateDecryptionShare(ct, policy)).ToArray();
            o["aggregate_decryption_ms"] = BenchCkksCommand.Time(0, 3, () => Collective.Decrypt(session, ct, decShares))["median_us"]!.GetValue<double>() / 1000;
            // Threshold t = ⌈2n/3⌉: one party's share for the first t parties, after every party dealt.
            int t = (2 * n + 2) / 3;
            var dealings = parties.Select(q => q.DealThresholdShares(t)).ToArray();
            var mine = ThresholdParty.Combine(me, dealings.Select(d => d[0]).ToArray());
            foreach (var d in dealings.SelectMany(x => x)) d.Dispose();
            int[] set = [.. Enumerable.Range(0, t)];
            o["threshold_decryption_share"] = Op(() => mine.CreateDecryptionShare(ct, set, policy), s => MultipartySerializer.Save((ThresholdDecryptionShare)s));
            o["threshold"] = t;
            mine.Dispose();
            var recipient = new KeyGenerator(p.Ring).CreatePublicKey();
            o["key_switch_share"] = Op(() => me.CreateKeySwitchShare(ct, recipient, policy), s => MultipartySerializer.Save((KeySwitchShare)s));
            return o;
        }
        finally { foreach (var q in parties) q.Dispose(); }
    }

    // x·y relinearized and rescaled at a 2^55 scale: single key, collective keys decrypted without flooding, and flooded.
    private static JsonObject Precision(int n)
    {
        var p = CkksParameters.Create(new CkksParametersLiteral { LogN = 14, LogQ = [60, 55, 55, 55], LogP = [60], LogDefaultScale = 55 });
        var result = MultipartyPrecision.Measure(p, n, new FloodingPolicy(40, 12), budget: 16);
        return new JsonObject
        {
            ["single_key_bits"] = result.SingleKeyBits, ["collective_unflooded_bits"] = result.CollectiveBits, ["collective_flooded_bits"] = result.FloodedBits,
            ["flooding_sigma_bits"] = result.SigmaBits, ["error_bits"] = 12, ["flooding_cost_bits"] = result.CollectiveBits - result.FloodedBits,
        };
    }

    private static string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
}
