using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Veil.Client;
using Veil.Cluster;
using Veil.Ml.Serving;

namespace Veil.Cli;

/// <summary>veil bench cluster: S `veil serve --cluster` processes on loopback, the digits network's batched jobs sharded over them beside the same batches in process.</summary>
internal static class BenchClusterCommand
{
    public static int Federation(int participants, int features, int[] shards, int reps, bool json)
    {
        var costs = FederationAggregationBenchmark.Measure(participants, features, shards, reps);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { participants, features, reps, shards = costs.Select(c => new { shards = c.Shards, coordinator_seconds = c.CoordinatorSeconds, busiest_shard_seconds = c.BusiestShardSeconds, coordinator_bytes = c.CoordinatorBytes }) }));
            return 0;
        }
        Console.WriteLine($"One round's threshold aggregation, {participants} contributions of {features + 2} values (N = 2^13), medians of {reps}:");
        foreach (var c in costs)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {c.Shards,3} silo(s): coordinator {c.CoordinatorSeconds * 1000,8:F1} ms, busiest shard {c.BusiestShardSeconds * 1000,8:F1} ms, coordinator receives {c.CoordinatorBytes / 1048576.0,8:F1} MiB"));
        return 0;
    }

    public static int Run(string? postgres, string redis, int silos, int batchCount, int reps, bool json, string? outPath)
    {
        postgres ??= Environment.GetEnvironmentVariable("VEIL_SERVER_POSTGRES") is { Length: > 0 } e1 ? e1 : Environment.GetEnvironmentVariable("VEIL_POSTGRES") is { Length: > 0 } e2 ? e2 : null;
        if (postgres is null) throw new UsageException("The silos share a PostgreSQL store: pass --postgres (or set VEIL_SERVER_POSTGRES).");
        string schema = "veil_bench_" + Guid.NewGuid().ToString("N")[..10];
        Exec(postgres, $"CREATE SCHEMA {schema}");
        string store = new Npgsql.NpgsqlConnectionStringBuilder(postgres) { SearchPath = schema }.ToString();
        string root = Directory.CreateTempSubdirectory("veil-bench-cluster-").FullName;
        string clusterId = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var processes = new List<Process>();
        try
        {
            var clock = Stopwatch.StartNew();
            var starts = new List<double>();
            string first = Path.Combine(root, "s0");
            processes.Add(StartSilo(first, store, redis, clusterId, starts));
            for (int i = 1; i < silos; i++)
            {
                string dir = Path.Combine(root, "s" + i);
                Directory.CreateDirectory(dir);
                foreach (var f in new[] { "keyring.vkr", "keyring.passphrase", "server-tls.vprot", "server.crt", "server.pin" }) File.Copy(Path.Combine(first, f), Path.Combine(dir, f));
                processes.Add(StartSilo(dir, store, redis, clusterId, starts));
            }
            string pin = File.ReadAllText(Path.Combine(first, "server.pin")).Trim();
            var http = new Uri(File.ReadAllText(Path.Combine(first, "bench.url")).Trim());
            using var admin = new VeilServiceClient(http, File.ReadAllText(Path.Combine(first, "admin.key")).Trim(), pin);
            var (network, test) = ServingExamples.DigitsMlp();
            admin.DeployAsync("digits", network.Save(), grantAll: true).GetAwaiter().GetResult();
            var tenant = admin.CreateTenantAsync(new CreateTenantRequest("bench")).GetAwaiter().GetResult();
            using var client = new VeilServiceClient(http, tenant.ApiKey, pin);
            using var session = client.OpenSessionAsync("digits", batchedOnly: true).GetAwaiter().GetResult();
            var batches = Enumerable.Range(0, batchCount).Select(b => session.Keys.EncryptBatch([.. Enumerable.Range(0, 256).Select(i => test.Features[(b * 256 + i) % test.Rows])])).ToArray();

            // The single-process evaluation of the same ciphertexts (the service's own call), one batch after another.
            var served = ServedModel.Load("digits", network.Save());
            using var context = served.LoadSession(session.Keys.PublicContext());
            var reference = new byte[batches.Length][];
            var inProcess = new List<double>();
            for (int r = 0; r < Math.Max(1, reps); r++)
            {
                var t = Stopwatch.StartNew();
                for (int b = 0; b < batches.Length; b++) reference[b] = served.PredictBatch(context, batches[b]);
                inProcess.Add(t.Elapsed.TotalSeconds);
            }

            using var host = VeilCluster.ConnectAsync(new ClusterSettings(redis, clusterId)).GetAwaiter().GetResult();
            var grains = host.Services.GetRequiredService<IClusterClient>();
            var management = grains.GetGrain<IManagementGrain>(0);
            for (int i = 0; i < 100 && management.GetHosts(onlyActive: true).GetAwaiter().GetResult().Count < silos; i++) Thread.Sleep(100);
            string auth = "Bearer " + tenant.ApiKey;
            var rows = new List<object>();
            foreach (int shards in new[] { 1, silos }.Distinct())
            {
                // The first job activates the replicas (keys loaded from the store); the rest are steady.
                var cold = ClusterBenchmark.MeasureAsync(grains, auth, session.Info.SessionId, batches, shards, reference).GetAwaiter().GetResult();
                var warm = Enumerable.Range(0, reps).Select(_ => ClusterBenchmark.MeasureAsync(grains, auth, session.Info.SessionId, batches, shards, reference).GetAwaiter().GetResult()).ToList();
                rows.Add(new
                {
                    shards, silos_used = warm[0].Silos, cold_seconds = cold.Seconds, key_bytes_loaded = cold.KeyBytesLoaded,
                    seconds = Median(warm.Select(w => w.Seconds)), busiest_silo_seconds = Median(warm.Select(w => w.BusiestSeconds)), overhead_seconds = Median(warm.Select(w => w.OverheadSeconds)),
                    activation_seconds = cold.Seconds - Median(warm.Select(w => w.Seconds)), identical = cold.Identical && warm.All(w => w.Identical),
                });
            }
            var report = new
            {
                silos, batches = batches.Length, images_per_batch = 256, batch_bytes = batches[0].Length, output_bytes = reference[0].Length, session_key_bytes = session.Info.Bytes,
                silo_start_seconds = Median(starts), in_process_seconds = Median(inProcess), cluster = rows, seconds = clock.Elapsed.TotalSeconds,
            };
            string text = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = !json });
            if (outPath is not null) File.WriteAllText(outPath, text);
            Console.WriteLine(text);
            return 0;
        }
        finally
        {
            foreach (var p in processes) { try { if (!p.HasExited) p.Kill(true); p.WaitForExit(10_000); } catch (InvalidOperationException) { } p.Dispose(); }
            Npgsql.NpgsqlConnection.ClearAllPools();
            try { Exec(postgres, $"DROP SCHEMA {schema} CASCADE"); } catch (Npgsql.NpgsqlException) { }
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    private static void Exec(string connectionString, string sql)
    {
        using var connection = new Npgsql.NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new Npgsql.NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private static Process StartSilo(string dir, string postgres, string redis, string clusterId, List<double> starts)
    {
        int port = BenchServeCommand.FreePort(), siloPort = BenchServeCommand.FreePort(), gatewayPort = BenchServeCommand.FreePort();
        while (gatewayPort == siloPort) gatewayPort = BenchServeCommand.FreePort();
        var clock = Stopwatch.StartNew();
        var process = BenchServeCommand.StartServe(dir, port, "--postgres", postgres, "--cluster", redis, "--cluster-id", clusterId,
            "--silo-port", siloPort.ToString(CultureInfo.InvariantCulture), "--gateway-port", gatewayPort.ToString(CultureInfo.InvariantCulture));
        starts.Add(clock.Elapsed.TotalSeconds);
        File.WriteAllText(Path.Combine(dir, "bench.url"), $"https://127.0.0.1:{port}");
        return process;
    }
}
