using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;
using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Cli;

/// <summary>
/// veil bench scaling: multiply+relinearize+rescale and rotate across ring degrees and chain lengths, with the time
/// divided by N·log2 N·(limbs) to show that the cost grows like that product and not faster.
/// </summary>
internal static class BenchScalingCommand
{
    // (logN, Q bit sizes): the same 60-bit first prime, 40-bit primes and one 60-bit special prime throughout, so
    // only N and the number of limbs change. Sets above the 128-bit bound for their N are marked (insecure, timing only).
    private static readonly (int LogN, int[] LogQ)[] Sets =
    [
        (12, [60, 40]),
        (13, [60, 40, 40]),
        (14, [60, 40, 40, 40, 40, 40, 40]),
        (15, [60, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40, 40]),
        (13, [60, 40]),
        (14, [60, 40, 40]),
        (15, [60, 40, 40]),
    ];

    public static int Run(int reps, int threads, bool json)
    {
        var rows = new JsonArray();
        foreach (var (logN, logQ) in Sets)
        {
            var literal = new CkksParametersLiteral { LogN = logN, LogQ = logQ, LogP = [60], LogDefaultScale = 40, Security = SecurityLevel.InsecureNoCheck };
            var parameters = CkksParameters.Create(literal, SecurityLevel.InsecureNoCheck); // cost scaling only: no data
            int? bound = HomomorphicEncryptionStandard.MaxLogQP(logN, SecurityLevel.Bits128);
            bool secure = bound is not null && parameters.Ring.LogQP <= bound;
            if (!json) AnsiConsole.MarkupLine($"[grey]N = {parameters.N}, {logQ.Length} limbs …[/]");
            var keygen = new KeyGenerator(parameters.Ring) { MaxDegreeOfParallelism = threads };
            var ev = new CkksEvaluator(parameters, keygen.CreateRelinearizationKey(), keygen.CreateRotationKeys([1])) { MaxDegreeOfParallelism = threads };
            var encoder = new CkksEncoder(parameters);
            var encryptor = new Encryptor(parameters.Ring, keygen.CreatePublicKey());
            var x = Enumerable.Range(0, parameters.Slots).Select(i => Math.Sin(i)).ToArray();
            var cx = encryptor.Encrypt(encoder.Encode(x));
            var c3 = new Ciphertext(parameters.Ring, parameters.MaxLevel, 3);
            var tmp = new Ciphertext(parameters.Ring, parameters.MaxLevel);
            double mrr = BenchCkksCommand.Time(2, reps, () => { ev.Multiply(cx, cx, c3); ev.Relinearize(c3, c3); ev.Rescale(c3, c3); })["median_us"]!.GetValue<double>();
            double rot = BenchCkksCommand.Time(2, reps, () => ev.Rotate(cx, 1, tmp))["median_us"]!.GetValue<double>();
            int limbs = logQ.Length, digits = parameters.Ring.DigitCount(parameters.MaxLevel);
            double work = parameters.N * (double)logN * limbs;
            // Key switching lifts each of its digits to every limb: N·log N·(limbs + |P|)·digits.
            double switchWork = parameters.N * (double)logN * (limbs + 1) * digits;
            rows.Add(new JsonObject
            {
                ["n"] = parameters.N, ["limbs"] = limbs, ["log_qp"] = parameters.Ring.LogQP, ["secure_128"] = secure,
                ["mul_relin_rescale_us"] = mrr, ["rotate_us"] = rot,
                ["digits"] = digits,
                ["mul_relin_rescale_ns_per_unit"] = mrr * 1000 / work, ["rotate_ns_per_unit"] = rot * 1000 / work,
                ["rotate_ns_per_switch_unit"] = rot * 1000 / switchWork,
            });
            keygen.SecretKey.Dispose();
        }
        if (json)
        {
            Console.WriteLine(new JsonObject { ["threads"] = threads, ["reps"] = reps, ["rows"] = rows }.ToJsonString());
            return 0;
        }
        var table = new Table().Title($"Scaling, {threads} thread(s), median of {reps}; u = N·log2 N·limbs, k = N·log2 N·(limbs+1)·digits");
        table.AddColumns("N", "limbs", "log2 QP", "128-bit", "mul+relin+rescale µs", "ns / u", "rotate µs", "ns / u", "ns / k");
        foreach (var r in rows)
        {
            table.AddRow(r!["n"]!.ToString(), r["limbs"]!.ToString(), r["log_qp"]!.ToString(), r["secure_128"]!.GetValue<bool>() ? "yes" : "no",
                F(r["mul_relin_rescale_us"]!), F(r["mul_relin_rescale_ns_per_unit"]!, "F3"), F(r["rotate_us"]!), F(r["rotate_ns_per_unit"]!, "F3"),
                F(r["rotate_ns_per_switch_unit"]!, "F3"));
        }
        AnsiConsole.Write(table);
        return 0;
    }

    private static string F(JsonNode v, string format = "F0") => v.GetValue<double>().ToString(format, CultureInfo.InvariantCulture);
}
