using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using Veil.Client;
using Veil.Ml.Serving;

namespace Veil.Cli.Tests;

/// <summary>veil serve as its own process: deploy and predict from the CLI, then SIGKILL under load and a restart.</summary>
public sealed class ServeProcessTests
{
    private static readonly string CliPath = Path.GetFullPath(typeof(ServeProcessTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "VeilCli").Value!);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Process Serve(string home, string dir, int port)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["VEIL_HOME"] = home;
        foreach (var a in new[] { CliPath, "serve", "--data-dir", dir, "--urls", $"https://127.0.0.1:{port}" }) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        var ready = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) => { if (e.Data?.Contains("veil serve: store", StringComparison.Ordinal) == true) ready.TrySetResult(); };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!ready.Task.Wait(TimeSpan.FromSeconds(60)))
        {
            process.Kill(true);
            Assert.Fail("veil serve did not start in 60 s");
        }
        return process;
    }

    [Fact]
    public void BenchServe_Runs_AndEveryAnswerIsRight()
    {
        using var scratch = new ScratchDirectory();
        var json = System.Text.Json.JsonDocument.Parse(VeilProcess.Ok(scratch.Path, "bench", "serve", "--clients", "2", "--requests", "4", "--reps", "3", "--json")).RootElement;
        Assert.Equal(0, json.GetProperty("latency").GetProperty("wrong").GetInt32());
        Assert.Equal(0, json.GetProperty("batched").GetProperty("wrong").GetInt32());
        var load = json.GetProperty("load");
        Assert.Equal(8, load.GetProperty("answered").GetInt32());
        Assert.Equal(0, load.GetProperty("errors").GetInt32() + load.GetProperty("wrong").GetInt32());
        Assert.True(json.GetProperty("latency").GetProperty("ratio_p50").GetDouble() > 0);
    }

    [Fact]
    public async Task DeployAndPredictFromTheCli_ThenSigkillUnderLoad_LosesNothing()
    {
        using var scratch = new ScratchDirectory();
        string dir = scratch.File("service"), csv = scratch.File("digits-test.csv");
        int port = FreePort();
        string url = $"https://127.0.0.1:{port}";
        var serve = Serve(scratch.Path, dir, port);
        try
        {
            string[] auth = ["--server", url, "--api-key-file", Path.Combine(dir, "admin.key"), "--pin-file", Path.Combine(dir, "server.pin")];
            VeilProcess.Ok(scratch.Path, ["deploy", "--builtin", "digits", "--grant-all", "--write-test", csv, .. auth]);
            var predicted = JsonDocument.Parse(VeilProcess.Ok(scratch.Path, ["predict", csv, "--model", "digits", "--limit", "6", "--json", .. auth])).RootElement;
            Assert.Equal(6, predicted.GetProperty("rows").GetInt32());
            Assert.True(predicted.GetProperty("accuracy").GetDouble() >= 4.0 / 6);
            // A wrong pin is refused before any key is sent.
            var refused = VeilProcess.Run(scratch.Path, ["predict", csv, "--model", "digits", "--limit", "1", "--server", url, "--api-key-file", Path.Combine(dir, "admin.key"), "--pin", "AAAA"]);
            Assert.Equal(1, refused.ExitCode);

            string adminKey = File.ReadAllText(Path.Combine(dir, "admin.key")).Trim(), pin = File.ReadAllText(Path.Combine(dir, "server.pin")).Trim();
            using var admin = new VeilServiceClient(new Uri(url), adminKey, pin);
            var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("hospital"));
            using var client = new VeilServiceClient(new Uri(url), tenant.ApiKey, pin);
            using var session = await client.OpenSessionAsync("digits", batchedOnly: true);
            var lines = File.ReadAllLines(csv).Skip(1).Take(200).Select(l => l.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToArray();
            var images = lines.Select(r => r[..^1]).ToArray();
            var labels = lines.Select(r => r[^1]).ToArray();
            var jobs = new List<JobInfo>();
            for (int j = 0; j < 5; j++) jobs.Add(await session.SubmitBatchAsync(images));
            while ((await client.GetJobAsync(jobs[0].JobId)).State != "succeeded") await Task.Delay(20);
            var atKill = await Task.WhenAll(jobs.Select(j => client.GetJobAsync(j.JobId)));
            serve.Kill(entireProcessTree: true); // SIGKILL
            serve.WaitForExit();

            serve = Serve(scratch.Path, dir, port);
            Assert.Contains(await client.ListModelsAsync(), m => m.Name == "digits");
            Assert.Contains(await client.ListSessionsAsync(), s => s.SessionId == session.Info.SessionId);
            var reference = (await session.PredictBatchAsync(images)).Select(o => Veil.Ml.Models.SquareMlp.ArgMax(o)).ToArray();
            Assert.True(reference.Zip(labels).Count(p => p.First == p.Second) >= 180);
            foreach (var job in jobs)
            {
                JobInfo info;
                while ((info = await client.GetJobAsync(job.JobId)).State is "queued" or "running") await Task.Delay(50);
                // Interrupted jobs are resumed (or failed with a reason), never silently lost; results decrypt to the same predictions.
                Assert.True(info.State == "succeeded", $"job {job.JobId} ended {info.State}: {info.Error} (at the kill: {string.Join(", ", atKill.Select(a => a.State))})");
                var outputs = await session.WaitForJobAsync(job.JobId, images.Length);
                Assert.Equal(reference, outputs.Select(o => Veil.Ml.Models.SquareMlp.ArgMax(o)).ToArray());
            }
            var notDoneAtKill = atKill.Where(a => a.State != "succeeded").Select(a => a.JobId).ToHashSet();
            foreach (var id in notDoneAtKill) Assert.True((await client.GetJobAsync(id)).Attempts >= 1);
        }
        finally
        {
            if (!serve.HasExited) { serve.Kill(true); serve.WaitForExit(); }
        }
    }
}
