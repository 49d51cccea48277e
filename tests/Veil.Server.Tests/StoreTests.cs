using Npgsql;
using Veil.Ml.Serving;
using Veil.Server.Storage;

namespace Veil.Server.Tests;

/// <summary>Both back ends through one contract: SQLite with files (always), PostgreSQL (when VEIL_POSTGRES names a server; CI starts one).</summary>
public sealed class StoreTests
{
    public static TheoryData<string> Kinds => ["sqlite", "postgres"];

    /// <summary>A fresh store; for PostgreSQL, in a schema of its own (dropped by the caller through the returned action).</summary>
    internal static async Task<(IServiceStore Store, Func<Task> Drop, string? ConnectionString)> CreateAsync(string kind)
    {
        if (kind == "sqlite")
        {
            var dir = Directory.CreateTempSubdirectory("veil-store-").FullName;
            return (new SqliteServiceStore(dir), () => { try { Directory.Delete(dir, true); } catch (IOException) { } return Task.CompletedTask; }, null);
        }
        var cs = ConnectionStringWithSchema(out var drop);
        return (new PostgresServiceStore(cs), drop, cs);
    }

    internal static string ConnectionStringWithSchema(out Func<Task> drop)
    {
        var configured = PostgresSetup.Configured;
        if (configured is null)
        {
            Assert.False(PostgresSetup.Required, "VEIL_REQUIRE_POSTGRES=1 but VEIL_POSTGRES names no server.");
            Skip.If(true, "No PostgreSQL server (set VEIL_POSTGRES to a connection string; .ci/run starts one).");
        }
        string schema = "veil_t_" + Guid.NewGuid().ToString("N")[..12];
        using (var connection = new NpgsqlConnection(configured))
        {
            connection.Open();
            using var command = new NpgsqlCommand($"CREATE SCHEMA {schema}", connection);
            command.ExecuteNonQuery();
        }
        drop = async () =>
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(configured);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP SCHEMA {schema} CASCADE", connection);
            await command.ExecuteNonQueryAsync();
        };
        return new NpgsqlConnectionStringBuilder(configured) { SearchPath = schema }.ToString();
    }

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public async Task Records_RoundTrip_Conflicts_AreTyped_AndBlobsAreWholeOrAbsent(string kind)
    {
        var (store, drop, _) = await CreateAsync(kind);
        try
        {
            await store.InitializeAsync();
            await store.InitializeAsync(); // idempotent
            Assert.True(await store.PingAsync());
            var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            var tenant = new TenantRecord("t1", "Hospital A", now, 1 << 30, 3);
            await store.AddTenantAsync(tenant);
            Assert.Equal(tenant, await store.GetTenantAsync("t1"));
            await Assert.ThrowsAsync<StoreConflictException>(() => store.AddTenantAsync(tenant with { Id = "t2" }));
            Assert.Null(await store.GetTenantAsync("nope"));

            var key = new ApiKeyRecord("k1", "t1", "ab", false, now, now.AddHours(1), false);
            await store.AddApiKeyAsync(key);
            Assert.Equal(key, await store.GetApiKeyAsync("k1"));
            Assert.False(await store.HasAdminKeyAsync());
            Assert.True(await store.RevokeApiKeyAsync("k1"));
            Assert.True((await store.GetApiKeyAsync("k1"))!.Revoked);
            Assert.False(await store.RevokeApiKeyAsync("k9"));

            var model = new ModelRecord("m", "digest", 10, now, false);
            await store.AddModelAsync(model);
            await Assert.ThrowsAsync<StoreConflictException>(() => store.AddModelAsync(model));
            Assert.False(await store.IsGrantedAsync("t1", "m"));
            await store.GrantAsync("t1", "m");
            await store.GrantAsync("t1", "m"); // twice is fine
            Assert.True(await store.IsGrantedAsync("t1", "m"));
            Assert.False(await store.IsGrantedAsync("t2", "m"));
            await store.GrantAsync("*", "m");
            Assert.True(await store.IsGrantedAsync("t2", "m"));
            Assert.True(await store.RetireModelAsync("m"));
            Assert.True((await store.GetModelAsync("m"))!.Retired);

            var session = new SessionRecord("s1", "t1", "m", 1234, now);
            await store.AddSessionAsync(session);
            Assert.Equal(session, Assert.Single(await store.ListSessionsAsync("t1")));
            Assert.Empty(await store.ListSessionsAsync("t2"));

            var job = new JobRecord("j1", "t1", "s1", "m", JobState.Queued, 0, null, 5, 0, now, null, now.AddDays(1), 0);
            await store.AddJobAsync(job);
            var done = job with { State = JobState.Failed, Progress = 0.5, Error = "why", Finished = now, Attempts = 2, ResultBytes = 7 };
            await store.UpdateJobAsync(done);
            Assert.Equal(done, await store.GetJobAsync("j1"));
            Assert.True(await store.DeleteJobAsync("j1"));
            Assert.Null(await store.GetJobAsync("j1"));
            Assert.True(await store.DeleteSessionAsync("s1"));

            var blob = new byte[300_000];
            Random.Shared.NextBytes(blob);
            await store.PutBlobAsync("sessions/abc", blob);
            Assert.Equal(blob, await store.GetBlobAsync("sessions/abc"));
            await Assert.ThrowsAsync<StoreConflictException>(() => store.PutBlobAsync("sessions/abc", blob));
            Assert.Contains("sessions/abc", await store.ListBlobsAsync());
            await store.DeleteBlobAsync("sessions/abc");
            await store.DeleteBlobAsync("sessions/abc");
            Assert.Null(await store.GetBlobAsync("sessions/abc"));
        }
        finally
        {
            store.Dispose();
            await drop();
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Kinds))]
    public async Task JobLeases_AreHeldByOneOwnerUntilReleasedOrRunOut(string kind)
    {
        var (store, drop, _) = await CreateAsync(kind);
        try
        {
            await store.InitializeAsync();
            var soon = DateTimeOffset.UtcNow.AddSeconds(30);
            Assert.True(await store.LeaseJobAsync("j", "a", soon));
            Assert.False(await store.LeaseJobAsync("j", "b", soon));          // a replica racing for a held job loses
            Assert.True(await store.LeaseJobAsync("j", "a", soon.AddSeconds(5))); // the holder renews
            Assert.True(await store.LeaseJobAsync("other", "b", soon));       // leases are per job
            await store.ReleaseJobAsync("j", "b");                            // not b's: nothing happens
            Assert.False(await store.LeaseJobAsync("j", "b", soon));
            await store.ReleaseJobAsync("j", "a");
            Assert.True(await store.LeaseJobAsync("j", "b", DateTimeOffset.UtcNow.AddMilliseconds(-1))); // free: b takes it (already run out)
            Assert.True(await store.LeaseJobAsync("j", "c", soon));           // run out: c takes it over
            Assert.False(await store.LeaseJobAsync("j", "b", soon));

            // A worker's result is fenced by the attempt it claimed: after a takeover (attempts raised) it is dropped.
            var created = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            var running = new JobRecord("fenced", "t1", "s1", "m", JobState.Running, 0.5, null, 5, 0, created, null, created.AddDays(1), 2);
            await store.AddJobAsync(running);
            Assert.False(await store.TransitionJobAsync(running with { State = JobState.Succeeded, Attempts = 1 }, [JobState.Running], expectedAttempts: 1));
            Assert.Equal(JobState.Running, (await store.GetJobAsync("fenced"))!.State);
            Assert.True(await store.TransitionJobAsync(running with { State = JobState.Succeeded }, [JobState.Running], expectedAttempts: 2));

            // Ten racers for one free job: exactly one wins.
            var wins = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => store.LeaseJobAsync("race", "r" + i, soon)));
            Assert.Equal(1, wins.Count(w => w));
        }
        finally
        {
            store.Dispose();
            await drop();
        }
    }

    [SkippableFact]
    public async Task TheServiceOnPostgres_ServesAndSurvivesARestart()
    {
        var cs = ConnectionStringWithSchema(out var drop);
        try
        {
            var dir = Directory.CreateTempSubdirectory("veil-server-pg-").FullName;
            var fixture = await ServerFixture.StartAsync(dir, o => o with { PostgresConnectionString = cs });
            TenantCreated tenant;
            ModelClient keys;
            string sessionId;
            var x = ServerFixture.Inputs(1)[0];
            try
            {
                using var admin = fixture.Admin();
                await admin.DeployAsync("small", ServerFixture.SmallNetwork().Save(), grantAll: true);
                tenant = await admin.CreateTenantAsync(new CreateTenantRequest("pg-tenant"));
                using var client = fixture.Client(tenant.ApiKey);
                var session = await client.OpenSessionAsync("small");
                keys = session.Keys;
                sessionId = session.Info.SessionId;
                Assert.Equal(4, (await session.PredictAsync(x)).Length);
            }
            finally { await fixture.StopAsync(); }
            // Blobs live in the database, not in the folder.
            Assert.False(Directory.Exists(Path.Combine(dir, "blobs")) && Directory.EnumerateFiles(Path.Combine(dir, "blobs"), "*", SearchOption.AllDirectories).Any());

            await using var again = await ServerFixture.StartAsync(dir, o => o with { PostgresConnectionString = cs }, adminKey: fixture.AdminKey);
            using var raw = again.RawClient(tenant.ApiKey);
            using var content = new ByteArrayContent(keys.EncryptSingle(x));
            var answer = await raw.PostAsync($"v1/sessions/{sessionId}/predict", content);
            answer.EnsureSuccessStatusCode();
            var y = keys.DecryptSingle(await answer.Content.ReadAsByteArrayAsync());
            Assert.InRange(y[0] - ServerFixture.SmallNetwork().Forward(x)[0], -1e-3, 1e-3);
            keys.Dispose();
        }
        finally { await drop(); }
    }
}
