using System.Net;
using Veil.Client;
using Veil.Ml.Serving;
using Veil.Server.Storage;

namespace Veil.Server.Tests;

public sealed class ServiceTests
{
    private static readonly byte[] Network = ServerFixture.SmallNetwork().Save();

    private static async Task<(ServerFixture Fixture, TenantCreated Tenant)> DeployedAsync(Func<ServerOptions, ServerOptions>? adjust = null)
    {
        var fixture = await ServerFixture.StartAsync(adjust: adjust);
        using var admin = fixture.Admin();
        await admin.DeployAsync("small", Network);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("hospital-a"));
        await admin.GrantAsync("small", tenant.TenantId);
        return (fixture, tenant);
    }

    [Fact]
    public async Task SingleBatchedAndJob_DecryptToThePlaintextOutputs()
    {
        var (fixture, tenant) = await DeployedAsync();
        await using var _ = fixture;
        var net = ServerFixture.SmallNetwork();
        using var client = fixture.Client(tenant.ApiKey);
        var manifest = await client.DescribeModelAsync("small");
        Assert.True(manifest.SingleInput);
        Assert.Equal(128, manifest.SecurityBits);
        using var session = await client.OpenSessionAsync("small");
        var inputs = ServerFixture.Inputs(5);

        foreach (var x in inputs.Take(2))
        {
            var y = await session.PredictAsync(x);
            var expected = net.Forward(x);
            Assert.Equal(expected.Length, y.Length);
            for (int i = 0; i < y.Length; i++) Assert.InRange(y[i] - expected[i], -1e-3, 1e-3);
        }

        var batch = await session.PredictBatchAsync(inputs);
        for (int b = 0; b < inputs.Length; b++)
        {
            var expected = net.Forward(inputs[b]);
            for (int i = 0; i < expected.Length; i++) Assert.InRange(batch[b][i] - expected[i], -1e-3, 1e-3);
        }

        var job = await session.SubmitBatchAsync(inputs);
        Assert.Equal("queued", job.State);
        var reports = new List<double>();
        var viaJob = await session.WaitForJobAsync(job.JobId, inputs.Length, new SyncProgress(reports.Add), TimeSpan.FromMilliseconds(20));
        for (int b = 0; b < inputs.Length; b++)
            for (int i = 0; i < 4; i++) Assert.InRange(viaJob[b][i] - batch[b][i], -1e-3, 1e-3);
        var done = await client.GetJobAsync(job.JobId);
        Assert.Equal("succeeded", done.State);
        Assert.Equal(1.0, done.Progress);
        Assert.Equal(1, done.Attempts);
    }

    [Fact]
    public async Task AnotherTenant_SeesNotFound_ForSessionsJobsAndUngrantedModels()
    {
        var (fixture, tenant) = await DeployedAsync();
        await using var _ = fixture;
        using var admin = fixture.Admin();
        var other = await admin.CreateTenantAsync(new CreateTenantRequest("hospital-b"));
        using var a = fixture.Client(tenant.ApiKey);
        using var b = fixture.Client(other.ApiKey);
        using var session = await a.OpenSessionAsync("small", batchedOnly: true);
        var job = await session.SubmitBatchAsync(ServerFixture.Inputs(2));

        // b is not granted the model: it reads as absent, and b cannot open a session on it.
        Assert.Empty(await b.ListModelsAsync());
        var e = await Assert.ThrowsAsync<VeilServiceException>(() => b.DescribeModelAsync("small"));
        Assert.Equal(HttpStatusCode.NotFound, e.Status);

        using var raw = fixture.RawClient(other.ApiKey);
        foreach (var path in new[] { $"v1/sessions/{session.Info.SessionId}", $"v1/jobs/{job.JobId}", $"v1/jobs/{job.JobId}/result" })
            Assert.Equal(HttpStatusCode.NotFound, (await raw.GetAsync(path)).StatusCode);
        using var body = new ByteArrayContent(session.Keys.EncryptBatch(ServerFixture.Inputs(1)));
        Assert.Equal(HttpStatusCode.NotFound, (await raw.PostAsync($"v1/sessions/{session.Info.SessionId}/predict-batch", body)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await raw.DeleteAsync($"v1/sessions/{session.Info.SessionId}")).StatusCode);
        Assert.Empty(await new VeilServiceClientLists(raw).SessionsAsync());

        // A tenant key cannot do admin work.
        var forbidden = await Assert.ThrowsAsync<VeilServiceException>(() => b.DeployAsync("mine", Network));
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.Status);
        // a's session still works.
        Assert.Equal(2, (await session.WaitForJobAsync(job.JobId, 2, poll: TimeSpan.FromMilliseconds(20))).Length);
    }

    [Fact]
    public async Task MissingWrongRevokedAndExpiredKeys_Get401()
    {
        var (fixture, tenant) = await DeployedAsync();
        await using var _ = fixture;
        using var admin = fixture.Admin();
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.RawClient(null).GetAsync("v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.RawClient("veil_" + new string('a', 24) + "_" + new string('b', 43)).GetAsync("v1/models")).StatusCode);
        // The right id with a wrong secret.
        string wrongSecret = tenant.ApiKey[..30] + (tenant.ApiKey[30] == 'A' ? 'B' : 'A') + tenant.ApiKey[31..];
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.RawClient(wrongSecret).GetAsync("v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.RawClient(tenant.ApiKey).GetAsync("v1/models")).StatusCode);

        await admin.RevokeKeyAsync(tenant.KeyId);
        var revoked = await fixture.RawClient(tenant.ApiKey).GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);
        Assert.Contains("revoked", await revoked.Content.ReadAsStringAsync());

        var shortLived = await admin.IssueKeyAsync(tenant.TenantId, expiresInHours: 0.5 / 3600);
        await Task.Delay(700);
        var expired = await fixture.RawClient(shortLived.ApiKey).GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Contains("expired", await expired.Content.ReadAsStringAsync());

        // Refusals of named keys reach the audit trail, at most one per client address every 10 s (a flood cannot fill it).
        for (int i = 0; i < 20; i++) await fixture.RawClient(wrongSecret).GetAsync("v1/models");
        var audit = Veil.Protection.AuditLog.Read(Veil.Protection.ProtectionHome.AuditPath(fixture.DataDirectory)).ToList();
        Assert.InRange(audit.Count(r => r.Action == "auth.refused"), 1, 2);
        Assert.Contains(audit, r => r.Action == "key.revoke");
    }

    [Fact]
    public async Task BadKeys_Get400NamingTheProblem_AndTheServiceKeepsServing()
    {
        var (fixture, tenant) = await DeployedAsync(o => o with { MaxKeyBytes = 64L << 20 });
        await using var _ = fixture;
        using var client = fixture.Client(tenant.ApiKey);
        using var good = await client.OpenSessionAsync("small");
        var manifest = good.Keys.Manifest;
        var publicContext = good.Keys.PublicContext();

        async Task<ErrorBody> Refused(byte[] body, HttpStatusCode status)
        {
            var e = await Assert.ThrowsAsync<VeilServiceException>(() => client.RegisterAsync("small", body));
            Assert.Equal(status, e.Status);
            Assert.NotNull(e.Body);
            return e.Body!;
        }

        Assert.Equal("keys", (await Refused([1, 2, 3, 4], HttpStatusCode.BadRequest)).Field);
        Assert.Equal("keys", (await Refused(publicContext[..(publicContext.Length / 2)], HttpStatusCode.BadRequest)).Field);
        var flipped = (byte[])publicContext.Clone();
        flipped[100] ^= 0x40;
        Assert.StartsWith("keys", (await Refused(flipped, HttpStatusCode.BadRequest)).Field);
        // Keys with some of the rotations the single-input packing needs, not all (none is a batched-only session).
        using (var partial = Veil.Ckks.CkksContext.Create(manifest.LoadParameters(), manifest.Rotations.Take(2)))
            Assert.Equal("keys.rotations", (await Refused(partial.SavePublic(), HttpStatusCode.BadRequest)).Field);
        // A private context (the secret key) is refused, never stored.
        Assert.Equal("keys.secret", (await Refused(good.Keys.Context.SavePrivateUnprotected(), HttpStatusCode.BadRequest)).Field);
        // Keys of other parameters.
        var otherParameters = Veil.Ckks.CkksParameters.Create(Veil.Ml.Encrypted.ParameterSelector.Select(2, 1));
        using (var other = Veil.Ckks.CkksContext.Create(otherParameters, []))
            Assert.Equal("keys.parameters", (await Refused(other.SavePublic(), HttpStatusCode.BadRequest)).Field);
        // Over the size cap.
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await Assert.ThrowsAsync<VeilServiceException>(() => client.RegisterAsync("small", new byte[(64 << 20) + 1]))).Status);

        // Only the good session was stored, and it still answers.
        var overview = await fixture.Admin().OverviewAsync();
        Assert.Equal(1, overview.Sessions);
        var x = ServerFixture.Inputs(1)[0];
        var y = await good.PredictAsync(x);
        Assert.InRange(y[0] - ServerFixture.SmallNetwork().Forward(x)[0], -1e-3, 1e-3);
    }

    [Fact]
    public async Task BadCiphertexts_Get400_IncludingOneUnderAnotherSessionsKey()
    {
        var (fixture, tenant) = await DeployedAsync();
        await using var _ = fixture;
        using var client = fixture.Client(tenant.ApiKey);
        using var mine = await client.OpenSessionAsync("small");
        using var theirs = new ModelClient(mine.Keys.Manifest);
        using var raw = fixture.RawClient(tenant.ApiKey);
        async Task<ErrorBody> Post(string path, byte[] body)
        {
            using var content = new ByteArrayContent(body);
            var response = await raw.PostAsync($"v1/sessions/{mine.Info.SessionId}/{path}", content);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            return (await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<ErrorBody>(response.Content))!;
        }
        var x = ServerFixture.Inputs(1)[0];
        Assert.Equal("ciphertext.key", (await Post("predict", theirs.EncryptSingle(x))).Field);
        Assert.Equal("ciphertext", (await Post("predict", [9, 9, 9])).Field);
        var ct = mine.Keys.EncryptSingle(x);
        Assert.Equal("ciphertext", (await Post("predict", ct[..^10])).Field);
        Assert.Equal("batch", (await Post("predict-batch", ct)).Field);
        // A batch of one input value per ciphertext, but too few ciphertexts for the network's 16 inputs.
        var parameters = mine.Keys.Context.Parameters.Ring;
        var tooFew = CiphertextBatch.Save(parameters, [mine.Keys.Context.Encrypt([1.0]), mine.Keys.Context.Encrypt([2.0])]);
        Assert.Equal("batch.count", (await Post("predict-batch", tooFew)).Field);
        Assert.Equal("batch", (await Post("jobs", [0, 1, 2])).Field);
        Assert.Empty(await fixture.Admin().OverviewAsync() is var o ? o.JobList : []);
        // Still serving.
        Assert.Equal(4, (await mine.PredictAsync(x)).Length);
        // A batched-only session refuses a single input with a clear reason.
        using var batchedOnly = await client.OpenSessionAsync("small", batchedOnly: true);
        using var single = new ByteArrayContent(mine.Keys.EncryptSingle(x));
        var refused = await raw.PostAsync($"v1/sessions/{batchedOnly.Info.SessionId}/predict", single);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("batched requests only", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AJobUnderAnotherWorkersLease_IsLeftToIt_UntilTheLeaseRunsOut_ThenRunsHereOnce()
    {
        static ServerOptions Short(ServerOptions o) => o with { JobLease = TimeSpan.FromSeconds(1) };
        var fixture = await ServerFixture.StartAsync(adjust: Short);
        string dir = fixture.DataDirectory, adminKey = fixture.AdminKey;
        TenantCreated tenant;
        JobInfo job;
        try
        {
            using var admin = fixture.Admin();
            await admin.DeployAsync("small", Network, grantAll: true);
            tenant = await admin.CreateTenantAsync(new CreateTenantRequest("hospital-a"));
            using var client = fixture.Client(tenant.ApiKey);
            var session = await client.OpenSessionAsync("small");
            job = await session.SubmitBatchAsync(ServerFixture.Inputs(2));
            await session.WaitForJobAsync(job.JobId, 2, poll: TimeSpan.FromMilliseconds(20));
        }
        finally { await fixture.StopAsync(); }

        // As another replica on the same store would leave it while running it: state running, its lease live for 8 s.
        var until = DateTimeOffset.UtcNow.AddSeconds(8);
        using (var store = new SqliteServiceStore(dir))
        {
            await store.InitializeAsync();
            var record = (await store.GetJobAsync(job.JobId))!;
            await store.UpdateJobAsync(record with { State = JobState.Running, Progress = 0, Finished = null });
            Assert.True(await store.LeaseJobAsync(job.JobId, "another-replica", until));
        }
        await using var again = await ServerFixture.StartAsync(dir, Short, adminKey: adminKey);
        using var tenantClient = again.Client(tenant.ApiKey);
        await Task.Delay(2000); // four scans of this replica
        Assert.True(DateTimeOffset.UtcNow < until.AddSeconds(-1), "The restart took too long for the check to mean anything.");
        var held = await tenantClient.GetJobAsync(job.JobId);
        Assert.Equal(("running", 1), (held.State, held.Attempts));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        JobInfo done;
        while ((done = await tenantClient.GetJobAsync(job.JobId)).State == "running" && clock.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(50);
        Assert.Equal(("succeeded", 2), (done.State, done.Attempts));
        Assert.True(DateTimeOffset.UtcNow >= until, "The job was taken before the other worker's lease ran out.");
    }

    [Fact]
    public async Task Restart_KeepsModelsSessionsAndResults_AndStoresThemSealed()
    {
        var fixture = await ServerFixture.StartAsync();
        string dir = fixture.DataDirectory, adminKey = fixture.AdminKey;
        var inputs = ServerFixture.Inputs(3);
        TenantCreated tenant;
        ModelClient keys;
        SessionInfo info;
        JobInfo job;
        try
        {
            using var admin = fixture.Admin();
            await admin.DeployAsync("small", Network, grantAll: true);
            tenant = await admin.CreateTenantAsync(new CreateTenantRequest("hospital-a"));
            using var client = fixture.Client(tenant.ApiKey);
            var session = await client.OpenSessionAsync("small");
            keys = session.Keys;
            info = session.Info;
            job = await session.SubmitBatchAsync(inputs);
            await session.WaitForJobAsync(job.JobId, inputs.Length, poll: TimeSpan.FromMilliseconds(20));
        }
        finally { await fixture.StopAsync(); }

        // At rest: no blob holds the uploaded keys or the network in the clear.
        var publicContext = keys.PublicContext();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(dir, "blobs"), "*", SearchOption.AllDirectories))
        {
            var bytes = File.ReadAllBytes(file);
            Assert.True(Veil.Protection.ProtectedStream.IsProtected(bytes), file);
            Assert.Equal(-1, bytes.AsSpan().IndexOf(publicContext.AsSpan(200, 64)));
        }

        await using var again = await ServerFixture.StartAsync(dir, adminKey: adminKey);
        try
        {
            Assert.Null(again.Server.NewAdminKey);
            using var client = again.Client(tenant.ApiKey);
            Assert.Equal("small", Assert.Single(await client.ListModelsAsync()).Name);
            var raw = again.RawClient(tenant.ApiKey);
            Assert.Equal(HttpStatusCode.OK, (await raw.GetAsync($"v1/sessions/{info.SessionId}")).StatusCode);
            // The keys registered before the restart serve a new request; the old result is still there.
            var result = await raw.GetByteArrayAsync($"v1/jobs/{job.JobId}/result");
            var outputs = keys.DecryptBatch(result, inputs.Length);
            var net = ServerFixture.SmallNetwork();
            for (int b = 0; b < inputs.Length; b++) Assert.InRange(outputs[b][0] - net.Forward(inputs[b])[0], -1e-3, 1e-3);
            using var content = new ByteArrayContent(keys.EncryptSingle(inputs[0]));
            var answer = await (await raw.PostAsync($"v1/sessions/{info.SessionId}/predict", content)).Content.ReadAsByteArrayAsync();
            Assert.InRange(keys.DecryptSingle(answer)[1] - net.Forward(inputs[0])[1], -1e-3, 1e-3);
        }
        finally { keys.Dispose(); }
    }

    [Fact]
    public async Task JobQuota_AndByteQuota_AreEnforced()
    {
        var (fixture, _) = await DeployedAsync();
        await using var __ = fixture;
        using var admin = fixture.Admin();
        var small = await admin.CreateTenantAsync(new CreateTenantRequest("tiny", MaxStoredBytes: 1 << 20, MaxConcurrentJobs: 0));
        await admin.GrantAsync("small", small.TenantId);
        using var client = fixture.Client(small.ApiKey);
        var e = await Assert.ThrowsAsync<VeilServiceException>(() => client.OpenSessionAsync("small", batchedOnly: true));
        Assert.Equal(HttpStatusCode.TooManyRequests, e.Status);
        Assert.Equal("quota", e.Body!.Code);
    }

    [Fact]
    public async Task AJobCanBeCancelled_ATenantsJobQuotaHolds_AndAKeysRateIsLimited()
    {
        var (fixture, _) = await DeployedAsync(o => o with { RequestsPerSecond = 100 });
        await using var __ = fixture;
        using var admin = fixture.Admin();
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("busy", MaxConcurrentJobs: 8));
        await admin.GrantAsync("small", tenant.TenantId);
        var idle = await admin.CreateTenantAsync(new CreateTenantRequest("no-jobs", MaxConcurrentJobs: 0));
        await admin.GrantAsync("small", idle.TenantId);
        using var client = fixture.Client(tenant.ApiKey);
        using var session = await client.OpenSessionAsync("small", batchedOnly: true);
        var inputs = ServerFixture.Inputs(16);
        // A tenant whose job quota is 0 is refused its first job.
        using (var idleClient = fixture.Client(idle.ApiKey))
        using (var idleSession = await idleClient.OpenSessionAsync("small", batchedOnly: true))
        {
            var over = await Assert.ThrowsAsync<VeilServiceException>(() => idleSession.SubmitBatchAsync(inputs[..1]));
            Assert.Equal(HttpStatusCode.TooManyRequests, over.Status);
            Assert.Equal("jobs", over.Body!.Field);
        }
        // One worker, busy for seconds with a wide network's job: a small job queued behind it is cancelled while queued,
        // then the wide one while it runs; the worker goes on to the next job.
        var rng = new Random(9);
        double[][] W(int o, int i) => [.. Enumerable.Range(0, o).Select(_ => Enumerable.Range(0, i).Select(_ => rng.NextDouble() * 0.1 - 0.05).ToArray())];
        var wide = new Veil.Ml.Networks.SequentialNetwork([new Veil.Ml.Networks.Dense(W(256, 256), new double[256]),
            new Veil.Ml.Networks.SquareActivation(Veil.Ml.Networks.TensorShape.Vector(256)), new Veil.Ml.Networks.Dense(W(10, 256), new double[10])]);
        await admin.DeployAsync("wide", wide.Save());
        await admin.GrantAsync("wide", tenant.TenantId);
        using var wideSession = await client.OpenSessionAsync("wide", batchedOnly: true);
        var slow = await wideSession.SubmitBatchAsync([new double[256]]);
        while ((await client.GetJobAsync(slow.JobId)).State != "running") await Task.Delay(25);
        var queued = await session.SubmitBatchAsync(inputs[..4]);
        await client.DeleteJobAsync(queued.JobId);
        Assert.Equal("cancelled", (await client.GetJobAsync(queued.JobId)).State);
        await client.DeleteJobAsync(slow.JobId);
        Assert.Equal("cancelled", (await client.GetJobAsync(slow.JobId)).State);
        var e = await Assert.ThrowsAsync<VeilServiceException>(() => session.WaitForJobAsync(queued.JobId, 1));
        Assert.Contains("cancelled", e.Message);
        var after = await session.SubmitBatchAsync(inputs[..4]);
        Assert.Equal(4, (await session.WaitForJobAsync(after.JobId, 4, poll: TimeSpan.FromMilliseconds(20))).Length);
        Assert.Equal("cancelled", (await client.GetJobAsync(slow.JobId)).State); // the worker's end did not overwrite the cancel
        // A cancelled job's record can then be deleted with its input.
        await client.DeleteJobAsync(queued.JobId);
        Assert.Equal(HttpStatusCode.NotFound, (await Assert.ThrowsAsync<VeilServiceException>(() => client.GetJobAsync(queued.JobId))).Status);

        // 100 requests a second per key (the polling above stays under it): a burst of 300 with another key meets 429s,
        // and that key works again a second later.
        var raw = fixture.RawClient(idle.ApiKey);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => raw.GetAsync("v1/models")));
        Assert.Contains(statuses, r => r.StatusCode == HttpStatusCode.TooManyRequests);
        await Task.Delay(1100);
        Assert.Equal(HttpStatusCode.OK, (await raw.GetAsync("v1/models")).StatusCode);
    }

    [Fact]
    public async Task HealthMetricsAndOpenApi_Answer()
    {
        var (fixture, tenant) = await DeployedAsync();
        await using var _ = fixture;
        using var client = fixture.Client(tenant.ApiKey);
        using var session = await client.OpenSessionAsync("small", batchedOnly: true);
        await session.PredictBatchAsync(ServerFixture.Inputs(2));
        var raw = fixture.RawClient(null);
        Assert.Equal(HttpStatusCode.OK, (await raw.GetAsync("healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await raw.GetAsync("readyz")).StatusCode);
        string metrics = await raw.GetStringAsync("metrics");
        Assert.Contains("veil_evaluations", metrics);
        Assert.Contains("veil_sessions_loaded", metrics);
        // The value is not asserted: meters are process-wide by name, and other tests' services run in this process.
        Assert.Contains("veil_sessions_stored", metrics);
        Assert.Contains("veil_jobs_queue_depth", metrics);
        string openapi = await raw.GetStringAsync("openapi/v1.json");
        Assert.Contains("/v1/sessions/{id}/predict", openapi);
        Assert.Contains("/v1/models/{name}/sessions", openapi);
        string dashboard = await raw.GetStringAsync("dashboard");
        Assert.Contains("<html", dashboard, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A stand-in verifier: evidence must be "ok:" and the hex SHA-256 of the uploaded keys; "throw" makes it fail.</summary>
    private sealed class DigestAttestation : IKeyUploadAttestation
    {
        public ValueTask<string?> VerifyAsync(string tenantId, string modelName, string? evidence, ReadOnlyMemory<byte> keysDigest, CancellationToken cancellation)
        {
            if (evidence == "throw") throw new InvalidOperationException("verifier down");
            return ValueTask.FromResult(evidence == "ok:" + Convert.ToHexStringLower(keysDigest.Span) ? null : "The evidence does not bind these keys.");
        }
    }

    [Fact]
    public async Task TheAttestationHook_BindsTheUploadedKeys_AndRefusesWithoutOrWithWrongEvidence()
    {
        var (fixture, tenant) = await DeployedAsync(o => o with { Attestation = new DigestAttestation() });
        await using var _ = fixture;
        using var client = fixture.Client(tenant.ApiKey);
        foreach (var evidence in new Func<byte[], string>?[] { null, _ => "ok:00", _ => "throw" })
        {
            var e = await Assert.ThrowsAsync<VeilServiceException>(() => client.OpenSessionAsync("small", batchedOnly: true, attestation: evidence));
            Assert.Equal(HttpStatusCode.Forbidden, e.Status);
            Assert.Equal("attestation", e.Body!.Code);
        }
        using var session = await client.OpenSessionAsync("small", batchedOnly: true, attestation: digest => "ok:" + Convert.ToHexStringLower(digest));
        Assert.Equal(1, (await fixture.Admin().OverviewAsync()).Sessions);
        var audit = Veil.Protection.AuditLog.Read(Veil.Protection.ProtectionHome.AuditPath(fixture.DataDirectory)).ToList();
        Assert.Equal(3, audit.Count(r => r.Action == "session.attestation_refused"));
    }

    private sealed class SyncProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }

    private sealed class VeilServiceClientLists(HttpClient raw)
    {
        public async Task<IReadOnlyList<SessionInfo>> SessionsAsync() =>
            (await System.Net.Http.Json.HttpClientJsonExtensions.GetFromJsonAsync<IReadOnlyList<SessionInfo>>(raw, "v1/sessions"))!;
    }

    /// <summary>A body that ends after <paramref name="cut"/> bytes with an I/O error, as a client that disconnects.</summary>
    private sealed class CutStream(byte[] data, int cut) : Stream
    {
        private int _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= cut) throw new IOException("The client went away.");
            int n = Math.Min(count, cut - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
