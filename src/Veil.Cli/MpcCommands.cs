using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Veil.Ml.Secure;
using Veil.Mpc;

namespace Veil.Cli;

/// <summary>veil mpc demo and its nodes: each command parses, calls Veil.Mpc / Veil.Ml.Secure and prints.</summary>
internal static class MpcCommands
{
    public static int Demo(int parties, bool dealer, bool he, int iterations, bool inProcess, bool json, string? fault = null, int digitsImages = 100, int fashionImages = 40)
    {
        if (dealer && he) throw new UsageException("--dealer and --he-triples exclude each other.");
        var options = new MpcDemoOptions(HeTriples: he, Iterations: iterations, DigitsImages: digitsImages, FashionImages: fashionImages);
        var clock = Stopwatch.StartNew();
        IReadOnlyList<MpcWorkloadReport> reports;
        if (fault is not null && inProcess) throw new UsageException("--fault needs separate processes.");
        if (inProcess) reports = [.. MpcDemo.RunInProcess(parties, options).SelectMany(r => r)];
        else
        {
            var nodes = MpcProcessGroup.RunAsync(parties, dealer: !he, role => NodeStart(role, parties, !he, he, iterations, role == parties - 1 ? fault : null, digitsImages, fashionImages), TimeSpan.FromMinutes(10)).GetAwaiter().GetResult();
            var failed = nodes.Where(n => n.ExitCode != 0).ToList();
            if (failed.Count > 0)
                throw new InvalidOperationException("the MPC group stopped, no result released: " + string.Join("; ", failed.Select(n => $"{Name(n.Role)} exited {n.ExitCode}: {Last(n.Errors)}")));
            reports = [.. nodes.Where(n => n.Role != MpcFrame.Dealer).SelectMany(n => JsonSerializer.Deserialize<MpcWorkloadReport[]>(n.Result ?? "[]", MpcProcessGroup.Json) ?? [])];
        }
        double seconds = clock.Elapsed.TotalSeconds;
        var twin = MpcDemo.Twin(options);
        var rows = MpcDemo.Summarize(reports, twin);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { parties, triples = he ? "bfv" : "dealer", processes = !inProcess, transport = inProcess ? "in-process" : "mutual TLS on loopback", seconds, workloads = rows,
                hybrid_twins = twin?.Hybrid.ToDictionary(h => h.Key, h => new { accuracy = h.Value.Accuracy, float_agreement = h.Value.FloatAgreement }) }, MpcProcessGroup.Json));
            return 0;
        }
        var table = new Table().Title($"Secret-sharing MPC: {parties} parties {(inProcess ? "in one process" : "as separate processes over mutual TLS on loopback")}, triples from {(he ? "BFV between the parties (no dealer)" : "a dealer process")}")
            .AddColumns("workload", "items", "secure", "plaintext twin", "equal", "seconds", "rounds", "MiB sent per party");
        foreach (var r in rows)
        {
            string Score(double? v) => v is null ? "-" : r.Workload == "products" ? $"worst error {v:E1}" : $"{v:P2}";
            table.AddRow(r.Workload switch
                {
                    "logistic" => "logistic regression, breast cancer (train)", "knn" => $"exact KNN k = {options.K}, iris (queries)",
                    "hybrid-digits" => "HE + MPC ReLU network, digits (images)", "hybrid-digits-latency" => "the same, one image (latency)",
                    "hybrid-fashion" => "HE + MPC ReLU network, Fashion-MNIST (images)", _ => "fixed-point products",
                },
                r.Items.ToString(CultureInfo.InvariantCulture), Score(r.Score), Score(r.Plaintext), r.EqualPredictions is null ? "-" : r.EqualPredictions.Value ? "yes" : "NO",
                r.Seconds.ToString("F1", CultureInfo.InvariantCulture), r.Rounds.ToString(CultureInfo.InvariantCulture),
                string.Join(" / ", r.BytesPerParty.Select(b => (b / 1048576.0).ToString("F1", CultureInfo.InvariantCulture))));
        }
        AnsiConsole.Write(table);
        foreach (var r in rows.Where(r => r.Workload.StartsWith("hybrid", StringComparison.Ordinal)))
        {
            string agreement = twin is not null && twin.Hybrid.TryGetValue(r.Workload, out var h) ? $"; the quantized twin agrees with the float network on {h.FloatAgreement} of {r.Items}" : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Workload}: {1000 * r.Seconds / r.Items:F0} ms an image at the client ({r.Items} image{(r.Items == 1 ? "" : "s")} in one batch){agreement}"));
        }
        Console.WriteLine($"total {seconds:F1} s");
        return 0;
    }

    public static int Node(int role, int parties, bool dealer, bool he, int iterations, string? fault = null, int faultAfter = 5, int digitsImages = 100, int fashionImages = 40)
    {
        try
        {
            if (role == MpcFrame.Dealer)
            {
                MpcNodeHost.RunDealerAsync(parties, Console.In, Console.Out).GetAwaiter().GetResult();
                Console.WriteLine("{}");
                return 0;
            }
            var triples = he ? new BfvTriples() : null;
            var reports = MpcNodeHost.RunPartyAsync(role, parties, dealer, Console.In, Console.Out,
                s => MpcDemo.RunPartyAsync(s, new MpcDemoOptions(HeTriples: he, Iterations: iterations, DigitsImages: digitsImages, FashionImages: fashionImages)), triples,
                fault is null ? null : (peer, channel) => peer == 0 ? new FaultyChannel(channel, fault == "garbage" ? ChannelFault.Garbage : ChannelFault.Disconnect, faultAfter) : channel)
                .GetAwaiter().GetResult();
            Console.WriteLine(JsonSerializer.Serialize(reports, MpcProcessGroup.Json));
            return 0;
        }
        catch (MpcProtocolException e)
        {
            Console.Error.WriteLine($"veil mpc node {role}: {e.Field}: {e.Message}");
            return CommandLine.FailureExit;
        }
    }

    private static ProcessStartInfo NodeStart(int role, int parties, bool dealer, bool he, int iterations, string? fault, int digitsImages, int fashionImages)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(MpcCommands).Assembly.Location);
        foreach (var a in new[] { "mpc", "node", "--role", role.ToString(CultureInfo.InvariantCulture), "--parties", parties.ToString(CultureInfo.InvariantCulture),
            "--iterations", iterations.ToString(CultureInfo.InvariantCulture), "--digits-images", digitsImages.ToString(CultureInfo.InvariantCulture),
            "--fashion-images", fashionImages.ToString(CultureInfo.InvariantCulture) }) start.ArgumentList.Add(a);
        if (dealer) start.ArgumentList.Add("--dealer");
        if (he) start.ArgumentList.Add("--he-triples");
        if (fault is not null) { start.ArgumentList.Add("--fault"); start.ArgumentList.Add(fault); }
        return start;
    }

    private static string Name(int role) => role == MpcFrame.Dealer ? "the dealer" : $"party {role}";

    private static string Last(string errors) => errors.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "(no error output)";
}
