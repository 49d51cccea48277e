using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Veil.Client;
using Veil.Ml.Data;
using Veil.Ml.Networks;
using Veil.Ml.Serving;
using Veil.Server;

namespace Veil.Cli;

/// <summary>veil serve, veil deploy, veil predict: the encrypted-inference service and its two clients (admin and tenant).</summary>
internal static class ServeCommands
{
    public static int Serve(string dataDirectory, string[] urls, string? postgres, int workers, Veil.Cluster.ClusterSettings? cluster = null)
    {
        try { cluster?.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var options = new ServerOptions
        {
            DataDirectory = Path.GetFullPath(dataDirectory), Urls = urls.Length == 0 ? ["https://127.0.0.1:5443"] : urls,
            PostgresConnectionString = postgres ?? (Environment.GetEnvironmentVariable("VEIL_SERVER_POSTGRES") is { Length: > 0 } cs ? cs : null),
            Workers = workers,
        };
        if (cluster is not null && options.PostgresConnectionString is null) throw new UsageException("A cluster's silos share one store: pass --postgres (or VEIL_SERVER_POSTGRES).");
        var server = VeilServer.CreateAsync(options, cluster is null ? null : b => Veil.Cluster.VeilCluster.AddSilo(b, cluster)).GetAwaiter().GetResult();
        try
        {
            server.StartAsync().GetAwaiter().GetResult();
            foreach (var address in server.Addresses) Console.WriteLine($"veil serve: listening on {address}");
            Console.WriteLine($"veil serve: certificate pin {server.CertificatePin} (also in {Path.Combine(options.DataDirectory, "server.pin")})");
            if (cluster is not null) Console.WriteLine($"veil serve: silo of cluster {cluster.ClusterId} (Redis {cluster.Redis}), silo port {cluster.SiloPort}, gateway {cluster.GatewayPort}");
            Console.WriteLine($"veil serve: store {(options.PostgresConnectionString is null ? "SQLite in " + options.DataDirectory : "PostgreSQL")}");
            if (server.NewAdminKey is not null) Console.WriteLine($"veil serve: admin key written to {VeilServer.AdminKeyPath(options.DataDirectory)} (keep it; it is shown once)");
            Console.Out.Flush();
            Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.WaitForShutdown(server.App);
            return 0;
        }
        finally { server.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private static VeilServiceClient Client(string server, string? apiKey, string? apiKeyFile, string? pin, string? pinFile)
    {
        string key = apiKey ?? (apiKeyFile is not null ? File.ReadAllText(apiKeyFile).Trim() : null) ?? Environment.GetEnvironmentVariable("VEIL_API_KEY")
            ?? throw new UsageException("No API key: pass --api-key, --api-key-file or set VEIL_API_KEY.");
        string? serverPin = pin ?? (pinFile is not null ? File.ReadAllText(pinFile).Trim() : null);
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http")) throw new UsageException($"--server must be an http(s) URL; got '{server}'.");
        return new VeilServiceClient(uri, key, serverPin);
    }

    public static int Deploy(string? file, string? builtin, string? name, bool grantAll, string? writeTest, string server, string? apiKey, string? apiKeyFile, string? pin, string? pinFile, bool json)
    {
        if ((file is null) == (builtin is null)) throw new UsageException("Give a saved network file or --builtin digits (one of them).");
        if (writeTest is not null && builtin is null) throw new UsageException("--write-test goes with --builtin.");
        byte[] network;
        if (file is not null) network = File.ReadAllBytes(file);
        else
        {
            var (net, test) = ServingExamples.DigitsMlp();
            network = net.Save();
            if (writeTest is not null) WriteCsv(writeTest, test);
        }
        name ??= builtin ?? Path.GetFileNameWithoutExtension(file!);
        using var client = Client(server, apiKey, apiKeyFile, pin, pinFile);
        var manifest = Run(() => client.DeployAsync(name, network, grantAll));
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { model = manifest.Name, digest = manifest.Digest, inputs = manifest.Inputs, outputs = manifest.Outputs,
            depth = manifest.Depth, n = 1 << manifest.LogN, security_bits = manifest.SecurityBits, single_input = manifest.SingleInput, rotations = manifest.Rotations.Count }));
        else
        {
            Console.WriteLine($"Deployed '{manifest.Name}' ({manifest.Digest[..16]}…): {manifest.Inputs} inputs → {manifest.Outputs} outputs, depth {manifest.Depth}, " +
                              $"N = {1 << manifest.LogN}, {manifest.SecurityBits}-bit; single input: {(manifest.SingleInput ? $"yes ({manifest.Rotations.Count} rotation keys)" : "no")}.");
            foreach (var layer in manifest.Layers) Console.WriteLine("  " + layer);
        }
        return 0;
    }

    public static int Predict(string data, string model, string target, bool batched, int? limit, string server, string? apiKey, string? apiKeyFile, string? pin, string? pinFile, bool json)
    {
        // Output k of the model is class k: the label column holds class numbers.
        var dataset = CsvLoader.Load(data, target, TargetKind.Numeric);
        var rows = dataset.Features.Take(limit ?? int.MaxValue).ToArray();
        var labels = dataset.Targets.Take(rows.Length).ToArray();
        using var client = Client(server, apiKey, apiKeyFile, pin, pinFile);
        var total = Stopwatch.StartNew();
        using var session = Run(() => client.OpenSessionAsync(model, batchedOnly: batched));
        double setup = total.Elapsed.TotalSeconds;
        var latencies = new List<double>();
        double[] predictions;
        if (batched)
        {
            int slots = session.Keys.Context.Parameters.Slots;
            var outputs = new List<double[]>();
            foreach (var chunk in rows.Chunk(slots))
            {
                var job = Run(() => session.SubmitBatchAsync(chunk));
                outputs.AddRange(Run(() => session.WaitForJobAsync(job.JobId, chunk.Length)));
            }
            predictions = [.. outputs.Select(o => (double)Veil.Ml.Models.SquareMlp.ArgMax(o))];
        }
        else
        {
            predictions = new double[rows.Length];
            for (int i = 0; i < rows.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                var y = Run(() => session.PredictAsync(rows[i]));
                latencies.Add(sw.Elapsed.TotalMilliseconds);
                predictions[i] = Veil.Ml.Models.SquareMlp.ArgMax(y);
            }
        }
        double seconds = total.Elapsed.TotalSeconds;
        double accuracy = Veil.Ml.Data.Metrics.Accuracy(labels, predictions);
        Run(() => session.DeleteAsync());
        double? P(double q) => latencies.Count == 0 ? null : BenchServeCommand.Percentile(latencies, q);
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new { model, rows = rows.Length, accuracy, mode = batched ? "batched" : "single", seconds, setup_seconds = setup,
                p50_ms = P(0.5), p99_ms = P(0.99), key_bytes = session.Info.Bytes }));
        else
            Console.WriteLine(FormattableString.Invariant(
                $"{model}: {rows.Length} rows {(batched ? "batched" : "one at a time")}, accuracy {accuracy:P2}, {seconds:F1} s (keys {session.Info.Bytes / 1048576.0:F1} MiB, set-up {setup:F1} s)")
                + (latencies.Count > 0 ? FormattableString.Invariant($", latency p50 {P(0.5):F0} ms, p99 {P(0.99):F0} ms") : ""));
        return 0;
    }

    /// <summary>What the demo shows of the service: digits classified through it over loopback HTTPS, beside the plaintext network.</summary>
    internal sealed record ServiceDemoResult(int Single, int Batched, double PlainAccuracy, double ServiceAccuracy, bool EqualPredictions, double P50Ms,
        long KeyBytes, long BatchedKeyBytes, bool RestartKept, double Seconds);

    /// <summary>
    /// A service in a temporary folder on loopback HTTPS, the digits network deployed, one tenant: some test images one at a time,
    /// the rest as a background job; then a restart, after which the same session answers again.
    /// </summary>
    internal static ServiceDemoResult DemoRun(int singles)
    {
        var clock = Stopwatch.StartNew();
        var (net, test) = ServingExamples.DigitsMlp();
        string dir = Directory.CreateTempSubdirectory("veil-demo-service-").FullName;
        try
        {
            var options = new ServerOptions { DataDirectory = dir, Urls = ["https://127.0.0.1:0"], ConsoleLog = false };
            var server = VeilServer.CreateAsync(options).GetAwaiter().GetResult();
            string adminKey = server.NewAdminKey!, pin = server.CertificatePin;
            TenantCreated tenant;
            ModelSession single, batched;
            var latencies = new List<double>();
            var predictions = new List<double>();
            var images = test.Features;
            try
            {
                server.StartAsync().GetAwaiter().GetResult();
                using var admin = new VeilServiceClient(new Uri(server.Addresses[0]), adminKey, pin);
                admin.DeployAsync("digits", net.Save()).GetAwaiter().GetResult();
                tenant = admin.CreateTenantAsync(new CreateTenantRequest("hospital")).GetAwaiter().GetResult();
                admin.GrantAsync("digits", tenant.TenantId).GetAwaiter().GetResult();
                using var client = new VeilServiceClient(new Uri(server.Addresses[0]), tenant.ApiKey, pin);
                single = client.OpenSessionAsync("digits").GetAwaiter().GetResult();
                batched = client.OpenSessionAsync("digits", batchedOnly: true).GetAwaiter().GetResult();
                foreach (var x in images.Take(singles))
                {
                    var sw = Stopwatch.StartNew();
                    predictions.Add(Veil.Ml.Models.SquareMlp.ArgMax(single.PredictAsync(x).GetAwaiter().GetResult()));
                    latencies.Add(sw.Elapsed.TotalMilliseconds);
                }
                var rest = images.Skip(singles).ToArray();
                var job = batched.SubmitBatchAsync(rest).GetAwaiter().GetResult();
                predictions.AddRange(batched.WaitForJobAsync(job.JobId, rest.Length).GetAwaiter().GetResult().Select(o => (double)Veil.Ml.Models.SquareMlp.ArgMax(o)));
            }
            finally { server.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            // A restart on the same folder: the keys registered before it still serve.
            bool kept;
            var again = VeilServer.CreateAsync(options).GetAwaiter().GetResult();
            try
            {
                again.StartAsync().GetAwaiter().GetResult();
                using var client = new VeilServiceClient(new Uri(again.Addresses[0]), tenant.ApiKey, pin);
                var probe = new ModelSessionProbe(client, single);
                kept = Veil.Ml.Models.SquareMlp.ArgMax(probe.Predict(images[0])) == predictions[0];
            }
            finally { again.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            var plain = net.Predict(images);
            latencies.Sort();
            var result = new ServiceDemoResult(singles, images.Length - singles, Veil.Ml.Data.Metrics.Accuracy(test.Targets, plain),
                Veil.Ml.Data.Metrics.Accuracy(test.Targets, [.. predictions]), plain.SequenceEqual(predictions), latencies[latencies.Count / 2],
                single.Info.Bytes, batched.Info.Bytes, kept, clock.Elapsed.TotalSeconds);
            single.Dispose();
            batched.Dispose();
            return result;
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }

    /// <summary>A session's keys used through another client (the same tenant after a restart).</summary>
    private sealed class ModelSessionProbe(VeilServiceClient client, ModelSession session)
    {
        public double[] Predict(double[] x) => session.Keys.DecryptSingle(client.PredictRawAsync(session.Info.SessionId, session.Keys.EncryptSingle(x)).GetAwaiter().GetResult());
    }

    /// <summary>The rows the example was not trained on, as CSV with a header (pixel_0 … pixel_63, target).</summary>
    private static void WriteCsv(string path, Dataset data)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine(string.Join(',', Enumerable.Range(0, data.Columns).Select(i => $"pixel_{i}").Append("target")));
        for (int r = 0; r < data.Rows; r++)
            writer.WriteLine(string.Join(',', data.Features[r].Append(data.Targets[r]).Select(v => v.ToString(CultureInfo.InvariantCulture))));
    }

    private static T Run<T>(Func<Task<T>> call)
    {
        try { return call().GetAwaiter().GetResult(); }
        catch (VeilServiceException e) { throw new InvalidOperationException($"The service refused: {e.Message}", e); }
        catch (HttpRequestException e) { throw new IOException($"The service could not be reached: {e.Message}", e); }
    }

    private static void Run(Func<Task> call) => Run(async () => { await call(); return 0; });
}
