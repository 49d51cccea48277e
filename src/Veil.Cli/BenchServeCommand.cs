using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Veil.Client;
using Veil.Ml.Serving;
using Veil.Server;

namespace Veil.Cli;

/// <summary>
/// veil bench serve: the digits network through the service on loopback HTTPS beside the same calls in process
/// (latency p50/p99, batched throughput), a load of many clients with their own keys (every answer checked against
/// the plaintext network), and, with --fault, the service killed with SIGKILL under load and restarted.
/// </summary>
internal static class BenchServeCommand
{
    private const double Tolerance = 0.01;

    public static int Run(int clients, int requests, int reps, bool fault, bool json, string? output)
    {
        var (net, test) = ServingExamples.DigitsMlp();
        var images = test.Features;
        var expected = images.Select(x => net.Forward(x)).ToArray();
        var networkBytes = net.Save();
        var report = new Dictionary<string, object>();
        string dir = Directory.CreateTempSubdirectory("veil-bench-serve-").FullName;
        try
        {
            var server = VeilServer.CreateAsync(new ServerOptions { DataDirectory = dir, Urls = ["https://127.0.0.1:0"], ConsoleLog = false }).GetAwaiter().GetResult();
            try
            {
                server.StartAsync().GetAwaiter().GetResult();
                var uri = new Uri(server.Addresses[0]);
                using var admin = new VeilServiceClient(uri, server.NewAdminKey!, server.CertificatePin);
                admin.DeployAsync("digits", networkBytes).GetAwaiter().GetResult();
                Status(json, $"service on {uri}: digits network deployed");
                report["latency"] = Latency(admin, uri, server.CertificatePin, networkBytes, images, expected, reps, json);
                report["batched"] = Batched(admin, uri, server.CertificatePin, networkBytes, images, expected, json);
                report["load"] = Load(admin, uri, server.CertificatePin, images, expected, clients, requests, json);
            }
            finally { server.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            if (fault) report["fault"] = Fault(networkBytes, images, expected, json);
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
        string text = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        if (output is not null) File.WriteAllText(output, text + "\n");
        if (json) Console.WriteLine(text);
        return 0;
    }

    private static void Status(bool json, string line)
    {
        if (!json) Console.WriteLine(line);
    }

    private static async Task<TenantCreated> TenantAsync(VeilServiceClient admin, string name, int? jobs = null)
    {
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest(name, MaxConcurrentJobs: jobs));
        await admin.GrantAsync("digits", tenant.TenantId);
        return tenant;
    }

    private static bool Matches(double[] actual, double[] reference) => actual.Length == reference.Length && actual.Zip(reference).All(p => Math.Abs(p.First - p.Second) <= Tolerance);

    private static object Latency(VeilServiceClient admin, Uri uri, string pin, byte[] networkBytes, double[][] images, double[][] expected, int reps, bool json)
    {
        var tenant = TenantAsync(admin, "latency").GetAwaiter().GetResult();
        using var client = new VeilServiceClient(uri, tenant.ApiKey, pin);
        using var session = client.OpenSessionAsync("digits").GetAwaiter().GetResult();
        // The same work in process: the same keys, the same serialized ciphertexts, ServedModel's own checks; no HTTP.
        var local = ServedModel.Load("digits", networkBytes);
        using var localServer = local.LoadSession(session.Keys.PublicContext());
        var viaService = new List<double>();
        var inProcess = new List<double>();
        int wrong = 0;
        for (int i = -3; i < reps; i++)
        {
            int k = (i + 3) % images.Length;
            var sw = Stopwatch.StartNew();
            var a = session.PredictAsync(images[k]).GetAwaiter().GetResult();
            double service = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            var b = session.Keys.DecryptSingle(local.PredictSingle(localServer, session.Keys.EncryptSingle(images[k])));
            double direct = sw.Elapsed.TotalMilliseconds;
            if (i < 0) continue; // warm-up
            viaService.Add(service);
            inProcess.Add(direct);
            if (!Matches(a, expected[k]) || !Matches(b, expected[k])) wrong++;
        }
        double ratio = Percentile(viaService, 0.5) / Percentile(inProcess, 0.5);
        Status(json, string.Create(CultureInfo.InvariantCulture, $"single image ({reps} each, interleaved): service p50 {Percentile(viaService, 0.5):F1} ms p99 {Percentile(viaService, 0.99):F1} ms; " +
            $"in process p50 {Percentile(inProcess, 0.5):F1} ms p99 {Percentile(inProcess, 0.99):F1} ms; ratio {ratio:F2}; wrong answers {wrong}"));
        return new { reps, service_p50_ms = Percentile(viaService, 0.5), service_p99_ms = Percentile(viaService, 0.99), in_process_p50_ms = Percentile(inProcess, 0.5),
            in_process_p99_ms = Percentile(inProcess, 0.99), ratio_p50 = ratio, key_bytes = session.Info.Bytes, wrong };
    }

    private static object Batched(VeilServiceClient admin, Uri uri, string pin, byte[] networkBytes, double[][] images, double[][] expected, bool json)
    {
        var tenant = TenantAsync(admin, "batched").GetAwaiter().GetResult();
        using var client = new VeilServiceClient(uri, tenant.ApiKey, pin);
        using var session = client.OpenSessionAsync("digits", batchedOnly: true).GetAwaiter().GetResult();
        int slots = session.Keys.Context.Parameters.Slots;
        var batch = Enumerable.Range(0, slots).Select(i => images[i % images.Length]).ToArray();
        var local = ServedModel.Load("digits", networkBytes);
        using var localServer = local.LoadSession(session.Keys.PublicContext());
        var service = new List<double>();
        var direct = new List<double>();
        int wrong = 0;
        for (int r = 0; r < 3; r++)
        {
            var sw = Stopwatch.StartNew();
            var a = session.PredictBatchAsync(batch).GetAwaiter().GetResult();
            service.Add(sw.Elapsed.TotalSeconds);
            sw.Restart();
            var b = session.Keys.DecryptBatch(local.PredictBatch(localServer, session.Keys.EncryptBatch(batch)), batch.Length);
            direct.Add(sw.Elapsed.TotalSeconds);
            for (int i = 0; i < batch.Length; i++) if (!Matches(a[i], expected[i % images.Length]) || !Matches(b[i], expected[i % images.Length])) wrong++;
        }
        double serviceRate = slots / Percentile(service, 0.5), directRate = slots / Percentile(direct, 0.5);
        Status(json, string.Create(CultureInfo.InvariantCulture, $"batched ({slots} images, median of 3): service {serviceRate:F0} images/s, in process {directRate:F0} images/s; ratio {serviceRate / directRate:F2}; wrong answers {wrong}"));
        return new { images = slots, service_images_per_second = serviceRate, in_process_images_per_second = directRate, ratio = serviceRate / directRate, wrong };
    }

    private static object Load(VeilServiceClient admin, Uri uri, string pin, double[][] images, double[][] expected, int clients, int requests, bool json)
    {
        const int batchSize = 8;
        var single = new System.Collections.Concurrent.ConcurrentBag<double>();
        var batched = new System.Collections.Concurrent.ConcurrentBag<double>();
        int errors = 0, wrong = 0, answered = 0;
        var sw = Stopwatch.StartNew();
        var tenants = Enumerable.Range(0, clients).Select(c => TenantAsync(admin, $"load-{c}").GetAwaiter().GetResult()).ToArray();
        double setupStart = sw.Elapsed.TotalSeconds;
        var tasks = tenants.Select((tenant, c) => Task.Run(async () =>
        {
            using var client = new VeilServiceClient(uri, tenant.ApiKey, pin);
            using var session = await client.OpenSessionAsync("digits");
            var rng = new Random(c);
            for (int r = 0; r < requests; r++)
            {
                try
                {
                    var t = Stopwatch.StartNew();
                    if (r % 4 == 3)
                    {
                        var picks = Enumerable.Range(0, batchSize).Select(_ => rng.Next(images.Length)).ToArray();
                        var outputs = await session.PredictBatchAsync([.. picks.Select(i => images[i])]);
                        batched.Add(t.Elapsed.TotalMilliseconds);
                        for (int i = 0; i < picks.Length; i++) if (!Matches(outputs[i], expected[picks[i]])) Interlocked.Increment(ref wrong);
                    }
                    else
                    {
                        int k = rng.Next(images.Length);
                        var y = await session.PredictAsync(images[k]);
                        single.Add(t.Elapsed.TotalMilliseconds);
                        if (!Matches(y, expected[k])) Interlocked.Increment(ref wrong);
                    }
                    Interlocked.Increment(ref answered);
                }
                catch (Exception e) when (e is VeilServiceException or HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        })).ToArray();
        Task.WaitAll(tasks);
        double seconds = sw.Elapsed.TotalSeconds - setupStart;
        var s = single.ToList();
        var b = batched.ToList();
        Status(json, string.Create(CultureInfo.InvariantCulture, $"load: {clients} clients × {requests} requests (1 in 4 a batch of {batchSize}), own keys each: {answered} answered, {errors} errors, " +
            $"{wrong} wrong; single p50 {Percentile(s, 0.5):F0} ms p99 {Percentile(s, 0.99):F0} ms; batch p50 {Percentile(b, 0.5):F0} ms p99 {Percentile(b, 0.99):F0} ms; {seconds:F1} s with key set-up"));
        return new { clients, requests_per_client = requests, batch_size = batchSize, answered, errors, wrong, single_p50_ms = Percentile(s, 0.5), single_p99_ms = Percentile(s, 0.99),
            batch_p50_ms = Percentile(b, 0.5), batch_p99_ms = Percentile(b, 0.99), seconds_with_key_setup = seconds };
    }

    // ------------------------------------------------------------------ SIGKILL under load

    private static object Fault(byte[] networkBytes, double[][] images, double[][] expected, bool json)
    {
        string dir = Directory.CreateTempSubdirectory("veil-bench-fault-").FullName;
        int port = FreePort();
        var uri = new Uri($"https://127.0.0.1:{port}");
        Process? serve = null;
        try
        {
            serve = StartServe(dir, port);
            string adminKey = File.ReadAllText(VeilServer.AdminKeyPath(dir)).Trim(), pin = File.ReadAllText(Path.Combine(dir, "server.pin")).Trim();
            using var admin = new VeilServiceClient(uri, adminKey, pin);
            admin.DeployAsync("digits", networkBytes).GetAwaiter().GetResult();
            var tenant = TenantAsync(admin, "fault", jobs: 16).GetAwaiter().GetResult();
            using var client = new VeilServiceClient(uri, tenant.ApiKey, pin);
            var sessions = Enumerable.Range(0, 3).Select(_ => client.OpenSessionAsync("digits").GetAwaiter().GetResult()).ToArray();
            // Full batches, one worker: when the kill comes some jobs are done, one is running, the rest wait.
            int slots = sessions[0].Keys.Context.Parameters.Slots;
            var batch = Enumerable.Range(0, slots).Select(i => images[i % images.Length]).ToArray();
            var jobs = Enumerable.Range(0, 10).Select(j => (Session: sessions[j % sessions.Length], Job: sessions[j % sessions.Length].SubmitBatchAsync(batch).GetAwaiter().GetResult())).ToArray();
            while (client.GetJobAsync(jobs[1].Job.JobId).GetAwaiter().GetResult().State != "succeeded") Thread.Sleep(50);
            int answeredBefore = 0, failedInFlight = 0;
            using var stop = new CancellationTokenSource();
            var load = sessions.Select((session, c) => Task.Run(async () =>
            {
                int k = c;
                while (!stop.IsCancellationRequested)
                {
                    try { await session.PredictAsync(images[k++ % images.Length]); Interlocked.Increment(ref answeredBefore); }
                    catch (Exception e) when (e is HttpRequestException or VeilServiceException or TaskCanceledException or IOException) { Interlocked.Increment(ref failedInFlight); break; }
                }
            })).ToArray();
            Thread.Sleep(300);
            var states = jobs.Select(j => client.GetJobAsync(j.Job.JobId).GetAwaiter().GetResult().State).ToArray();
            serve.Kill(entireProcessTree: true); // SIGKILL: no shutdown hook runs
            serve.WaitForExit();
            stop.Cancel();
            Task.WaitAll(load);
            Status(json, $"fault: SIGKILL with jobs {string.Join(", ", states)} and {sessions.Length} clients sending single images ({answeredBefore} answered, {failedInFlight} cut off)");

            var restart = Stopwatch.StartNew();
            serve = StartServe(dir, port);
            double restartSeconds = restart.Elapsed.TotalSeconds;
            bool modelThere = admin.ListModelsAsync().GetAwaiter().GetResult().Any(m => m.Name == "digits");
            int sessionsThere = sessions.Count(s => SessionExists(client, s));
            int succeeded = 0, resumed = 0, failed = 0, missing = 0, wrong = 0;
            foreach (var (session, job) in jobs)
            {
                JobInfo info;
                try
                {
                    do { info = client.GetJobAsync(job.JobId).GetAwaiter().GetResult(); Thread.Sleep(50); } while (info.State is "queued" or "running");
                }
                catch (VeilServiceException) { missing++; continue; }
                if (info.State == "succeeded")
                {
                    succeeded++;
                    if (info.Attempts > 1) resumed++;
                    var outputs = session.WaitForJobAsync(job.JobId, batch.Length).GetAwaiter().GetResult();
                    for (int i = 0; i < batch.Length; i++) if (!Matches(outputs[i], expected[i % images.Length])) wrong++;
                }
                else failed++;
            }
            // The keys registered before the kill serve new requests (loaded from the store).
            int after = 0;
            foreach (var s in sessions) if (Matches(s.PredictAsync(images[0]).GetAwaiter().GetResult(), expected[0])) after++;
            Status(json, string.Create(CultureInfo.InvariantCulture, $"fault: restart {restartSeconds:F1} s; model {(modelThere ? "there" : "MISSING")}; sessions {sessionsThere}/{sessions.Length}; " +
                $"jobs {succeeded} succeeded ({resumed} resumed after the kill), {failed} failed, {missing} missing, {wrong} wrong outputs; {after}/{sessions.Length} sessions answer correctly"));
            foreach (var s in sessions) s.Dispose();
            return new { jobs = jobs.Length, states_at_kill = states, answered_before_kill = answeredBefore, cut_off_requests = failedInFlight, restart_seconds = restartSeconds,
                model_present = modelThere, sessions_present = sessionsThere, jobs_succeeded = succeeded, jobs_resumed = resumed, jobs_failed = failed, jobs_missing = missing,
                wrong_outputs = wrong, sessions_answering_after_restart = after };
        }
        finally
        {
            if (serve is { HasExited: false }) { serve.Kill(true); serve.WaitForExit(); }
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    private static bool SessionExists(VeilServiceClient client, ModelSession session)
    {
        try { return client.ListSessionsAsync().GetAwaiter().GetResult().Any(s => s.SessionId == session.Info.SessionId); }
        catch (VeilServiceException) { return false; }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>veil serve as a child process (with <paramref name="extra"/> arguments); returns once it prints that it listens.</summary>
    internal static Process StartServe(string dir, int port, params string[] extra)
    {
        string self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(BenchServeCommand).Assembly.Location);
        foreach (var a in new[] { "serve", "--data-dir", dir, "--urls", $"https://127.0.0.1:{port}" }.Concat(extra)) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        var ready = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) => { if (e.Data?.Contains("veil serve: admin key", StringComparison.Ordinal) == true || e.Data?.Contains("veil serve: store", StringComparison.Ordinal) == true) ready.TrySetResult(); };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!ready.Task.Wait(TimeSpan.FromSeconds(90)) || process.HasExited)
        {
            if (!process.HasExited) process.Kill(true);
            throw new InvalidOperationException("veil serve did not start within 90 s.");
        }
        return process;
    }

    /// <summary>The q-quantile (nearest rank) of the values; NaN for none.</summary>
    internal static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
