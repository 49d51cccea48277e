using System.Data.Common;

namespace Veil.Server.Storage;

/// <summary>The metadata tables on ADO.NET, written once for both back ends (they differ in connections, the blob column type and how they report a duplicate key).</summary>
public abstract class SqlServiceStore : IServiceStore
{
    /// <summary>A new open connection.</summary>
    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellation);
    /// <summary>The column type of binary data.</summary>
    protected abstract string BinaryType { get; }
    /// <summary>Whether the exception reports a duplicate primary or unique key.</summary>
    protected abstract bool IsUniqueViolation(DbException exception);

    /// <inheritdoc/>
    public virtual async Task InitializeAsync(CancellationToken cancellation = default)
    {
        string[] ddl =
        [
            "CREATE TABLE IF NOT EXISTS veil_tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created BIGINT NOT NULL, max_bytes BIGINT NOT NULL, max_jobs INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS veil_api_keys (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, secret_hash TEXT NOT NULL, admin INTEGER NOT NULL, created BIGINT NOT NULL, expires BIGINT NULL, revoked INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS veil_models (name TEXT PRIMARY KEY, digest TEXT NOT NULL, bytes BIGINT NOT NULL, created BIGINT NOT NULL, retired INTEGER NOT NULL, output_labels TEXT NULL)",
            "CREATE TABLE IF NOT EXISTS veil_grants (tenant_id TEXT NOT NULL, model_name TEXT NOT NULL, PRIMARY KEY (tenant_id, model_name))",
            "CREATE TABLE IF NOT EXISTS veil_sessions (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, model_name TEXT NOT NULL, bytes BIGINT NOT NULL, created BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS veil_jobs (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, model_name TEXT NOT NULL, state INTEGER NOT NULL, progress DOUBLE PRECISION NOT NULL, error TEXT NULL, input_bytes BIGINT NOT NULL, result_bytes BIGINT NOT NULL, created BIGINT NOT NULL, finished BIGINT NULL, expires BIGINT NOT NULL, attempts INTEGER NOT NULL)",
            $"CREATE TABLE IF NOT EXISTS veil_blobs (key TEXT PRIMARY KEY, data {BinaryType} NOT NULL, created BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS veil_job_leases (job_id TEXT PRIMARY KEY, owner TEXT NOT NULL, until BIGINT NOT NULL)",
        ];
        await using var connection = await OpenAsync(cancellation).ConfigureAwait(false);
        foreach (var statement in ddl) await ExecuteAsync(connection, statement, [], cancellation).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<bool> PingAsync(CancellationToken cancellation = default)
    {
        try
        {
            await using var connection = await OpenAsync(cancellation).ConfigureAwait(false);
            await using var command = Command(connection, "SELECT 1", []);
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellation).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) == 1;
        }
        catch (DbException) { return false; }
    }

    // ------------------------------------------------------------------ tenants and keys

    /// <inheritdoc/>
    public Task AddTenantAsync(TenantRecord t, CancellationToken cancellation = default) =>
        InsertAsync("INSERT INTO veil_tenants (id, name, created, max_bytes, max_jobs) VALUES (@id, @name, @created, @max_bytes, @max_jobs)",
            [("id", t.Id), ("name", t.Name), ("created", Ms(t.Created)), ("max_bytes", t.MaxStoredBytes), ("max_jobs", t.MaxConcurrentJobs)],
            $"A tenant named '{t.Name}' exists.", cancellation);

    /// <inheritdoc/>
    public async Task<TenantRecord?> GetTenantAsync(string id, CancellationToken cancellation = default) =>
        (await QueryAsync("SELECT id, name, created, max_bytes, max_jobs FROM veil_tenants WHERE id = @id", [("id", id)], ReadTenant, cancellation).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc/>
    public Task<IReadOnlyList<TenantRecord>> ListTenantsAsync(CancellationToken cancellation = default) =>
        QueryAsync("SELECT id, name, created, max_bytes, max_jobs FROM veil_tenants ORDER BY created", [], ReadTenant, cancellation);

    private static TenantRecord ReadTenant(DbDataReader r) => new(r.GetString(0), r.GetString(1), Time(r.GetInt64(2)), r.GetInt64(3), r.GetInt32(4));

    /// <inheritdoc/>
    public Task AddApiKeyAsync(ApiKeyRecord k, CancellationToken cancellation = default) =>
        InsertAsync("INSERT INTO veil_api_keys (id, tenant_id, secret_hash, admin, created, expires, revoked) VALUES (@id, @tenant, @hash, @admin, @created, @expires, @revoked)",
            [("id", k.Id), ("tenant", k.TenantId), ("hash", k.SecretHash), ("admin", k.IsAdmin ? 1 : 0), ("created", Ms(k.Created)),
             ("expires", k.Expires is { } e ? Ms(e) : null), ("revoked", k.Revoked ? 1 : 0)], $"An API key with id {k.Id} exists.", cancellation);

    /// <inheritdoc/>
    public async Task<ApiKeyRecord?> GetApiKeyAsync(string id, CancellationToken cancellation = default) =>
        (await QueryAsync("SELECT id, tenant_id, secret_hash, admin, created, expires, revoked FROM veil_api_keys WHERE id = @id", [("id", id)],
            r => new ApiKeyRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt32(3) != 0, Time(r.GetInt64(4)),
                r.IsDBNull(5) ? null : Time(r.GetInt64(5)), r.GetInt32(6) != 0), cancellation).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc/>
    public async Task<bool> RevokeApiKeyAsync(string id, CancellationToken cancellation = default) =>
        await ExecuteAsync("UPDATE veil_api_keys SET revoked = 1 WHERE id = @id", [("id", id)], cancellation).ConfigureAwait(false) > 0;

    /// <inheritdoc/>
    public async Task<bool> HasAdminKeyAsync(CancellationToken cancellation = default) =>
        (await QueryAsync("SELECT COUNT(*) FROM veil_api_keys WHERE admin = 1 AND revoked = 0", [], r => r.GetInt64(0), cancellation).ConfigureAwait(false))[0] > 0;

    // ------------------------------------------------------------------ models

    /// <inheritdoc/>
    public Task AddModelAsync(ModelRecord m, CancellationToken cancellation = default) =>
        InsertAsync("INSERT INTO veil_models (name, digest, bytes, created, retired, output_labels) VALUES (@name, @digest, @bytes, @created, @retired, @labels)",
            [("name", m.Name), ("digest", m.Digest), ("bytes", m.Bytes), ("created", Ms(m.Created)), ("retired", m.Retired ? 1 : 0), ("labels", m.OutputLabels)],
            $"A model named '{m.Name}' exists (retired names stay taken).", cancellation);

    /// <inheritdoc/>
    public async Task<ModelRecord?> GetModelAsync(string name, CancellationToken cancellation = default) =>
        (await QueryAsync("SELECT name, digest, bytes, created, retired, output_labels FROM veil_models WHERE name = @name", [("name", name)], ReadModel, cancellation).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc/>
    public Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken cancellation = default) =>
        QueryAsync("SELECT name, digest, bytes, created, retired, output_labels FROM veil_models ORDER BY name", [], ReadModel, cancellation);

    private static ModelRecord ReadModel(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetInt64(2), Time(r.GetInt64(3)), r.GetInt32(4) != 0, r.IsDBNull(5) ? null : r.GetString(5));

    /// <inheritdoc/>
    public async Task<bool> RetireModelAsync(string name, CancellationToken cancellation = default) =>
        await ExecuteAsync("UPDATE veil_models SET retired = 1 WHERE name = @name", [("name", name)], cancellation).ConfigureAwait(false) > 0;

    /// <inheritdoc/>
    public async Task GrantAsync(string tenantId, string modelName, CancellationToken cancellation = default)
    {
        try { await ExecuteAsync("INSERT INTO veil_grants (tenant_id, model_name) VALUES (@tenant, @model)", [("tenant", tenantId), ("model", modelName)], cancellation).ConfigureAwait(false); }
        catch (DbException e) when (IsUniqueViolation(e)) { } // granted already
    }

    /// <inheritdoc/>
    public async Task<bool> IsGrantedAsync(string tenantId, string modelName, CancellationToken cancellation = default) =>
        (await QueryAsync("SELECT COUNT(*) FROM veil_grants WHERE model_name = @model AND (tenant_id = @tenant OR tenant_id = '*')",
            [("tenant", tenantId), ("model", modelName)], r => r.GetInt64(0), cancellation).ConfigureAwait(false))[0] > 0;

    // ------------------------------------------------------------------ sessions

    /// <inheritdoc/>
    public Task AddSessionAsync(SessionRecord s, CancellationToken cancellation = default) =>
        InsertAsync("INSERT INTO veil_sessions (id, tenant_id, model_name, bytes, created) VALUES (@id, @tenant, @model, @bytes, @created)",
            [("id", s.Id), ("tenant", s.TenantId), ("model", s.ModelName), ("bytes", s.Bytes), ("created", Ms(s.Created))], $"A session {s.Id} exists.", cancellation);

    /// <inheritdoc/>
    public async Task<SessionRecord?> GetSessionAsync(string id, CancellationToken cancellation = default) =>
        (await QueryAsync("SELECT id, tenant_id, model_name, bytes, created FROM veil_sessions WHERE id = @id", [("id", id)], ReadSession, cancellation).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc/>
    public Task<IReadOnlyList<SessionRecord>> ListSessionsAsync(string? tenantId, CancellationToken cancellation = default) => tenantId is null
        ? QueryAsync("SELECT id, tenant_id, model_name, bytes, created FROM veil_sessions ORDER BY created", [], ReadSession, cancellation)
        : QueryAsync("SELECT id, tenant_id, model_name, bytes, created FROM veil_sessions WHERE tenant_id = @tenant ORDER BY created", [("tenant", tenantId)], ReadSession, cancellation);

    private static SessionRecord ReadSession(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), Time(r.GetInt64(4)));

    /// <inheritdoc/>
    public async Task<bool> DeleteSessionAsync(string id, CancellationToken cancellation = default) =>
        await ExecuteAsync("DELETE FROM veil_sessions WHERE id = @id", [("id", id)], cancellation).ConfigureAwait(false) > 0;

    // ------------------------------------------------------------------ jobs

    private const string JobColumns = "id, tenant_id, session_id, model_name, state, progress, error, input_bytes, result_bytes, created, finished, expires, attempts";

    private static (string, object?)[] JobParameters(JobRecord j) =>
    [
        ("id", j.Id), ("tenant", j.TenantId), ("session", j.SessionId), ("model", j.ModelName), ("state", (int)j.State), ("progress", j.Progress),
        ("error", j.Error), ("input_bytes", j.InputBytes), ("result_bytes", j.ResultBytes), ("created", Ms(j.Created)),
        ("finished", j.Finished is { } f ? Ms(f) : null), ("expires", Ms(j.Expires)), ("attempts", j.Attempts),
    ];

    /// <inheritdoc/>
    public Task AddJobAsync(JobRecord j, CancellationToken cancellation = default) =>
        InsertAsync($"INSERT INTO veil_jobs ({JobColumns}) VALUES (@id, @tenant, @session, @model, @state, @progress, @error, @input_bytes, @result_bytes, @created, @finished, @expires, @attempts)",
            JobParameters(j), $"A job {j.Id} exists.", cancellation);

    /// <inheritdoc/>
    public Task UpdateJobAsync(JobRecord j, CancellationToken cancellation = default) =>
        ExecuteAsync("UPDATE veil_jobs SET state = @state, progress = @progress, error = @error, result_bytes = @result_bytes, finished = @finished, expires = @expires, attempts = @attempts WHERE id = @id",
            JobParameters(j), cancellation);

    /// <inheritdoc/>
    public async Task<bool> TransitionJobAsync(JobRecord j, JobState[] from, CancellationToken cancellation = default, int? expectedAttempts = null)
    {
        ArgumentNullException.ThrowIfNull(from);
        if (from.Length == 0) return false;
        string states = string.Join(", ", from.Select(f => ((int)f).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        string fence = expectedAttempts is null ? "" : " AND attempts = @expected_attempts";
        (string, object?)[] parameters = expectedAttempts is { } e ? [.. JobParameters(j), ("expected_attempts", e)] : JobParameters(j);
        return await ExecuteAsync($"UPDATE veil_jobs SET state = @state, progress = @progress, error = @error, result_bytes = @result_bytes, finished = @finished, expires = @expires, attempts = @attempts WHERE id = @id AND state IN ({states}){fence}",
            parameters, cancellation).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async Task<JobRecord?> GetJobAsync(string id, CancellationToken cancellation = default) =>
        (await QueryAsync($"SELECT {JobColumns} FROM veil_jobs WHERE id = @id", [("id", id)], ReadJob, cancellation).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc/>
    public Task<IReadOnlyList<JobRecord>> ListJobsAsync(string? tenantId, CancellationToken cancellation = default) => tenantId is null
        ? QueryAsync($"SELECT {JobColumns} FROM veil_jobs ORDER BY created", [], ReadJob, cancellation)
        : QueryAsync($"SELECT {JobColumns} FROM veil_jobs WHERE tenant_id = @tenant ORDER BY created", [("tenant", tenantId)], ReadJob, cancellation);

    private static JobRecord ReadJob(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), (JobState)r.GetInt32(4),
        r.GetDouble(5), r.IsDBNull(6) ? null : r.GetString(6), r.GetInt64(7), r.GetInt64(8), Time(r.GetInt64(9)),
        r.IsDBNull(10) ? null : Time(r.GetInt64(10)), Time(r.GetInt64(11)), r.GetInt32(12));

    /// <inheritdoc/>
    public async Task<bool> LeaseJobAsync(string jobId, string owner, DateTimeOffset until, CancellationToken cancellation = default) =>
        // One statement, so two replicas racing for a job cannot both win: a row is taken when absent, held by the same owner, or expired.
        await ExecuteAsync("INSERT INTO veil_job_leases (job_id, owner, until) VALUES (@id, @owner, @until) ON CONFLICT (job_id) DO UPDATE SET owner = excluded.owner, until = excluded.until "
            + "WHERE veil_job_leases.owner = excluded.owner OR veil_job_leases.until < @now",
            [("id", jobId), ("owner", owner), ("until", Ms(until)), ("now", Ms(DateTimeOffset.UtcNow))], cancellation).ConfigureAwait(false) == 1;

    /// <inheritdoc/>
    public async Task ReleaseJobAsync(string jobId, string owner, CancellationToken cancellation = default) =>
        await ExecuteAsync("DELETE FROM veil_job_leases WHERE job_id = @id AND owner = @owner", [("id", jobId), ("owner", owner)], cancellation).ConfigureAwait(false);

    /// <inheritdoc/>
    public async Task<bool> DeleteJobAsync(string id, CancellationToken cancellation = default) =>
        await ExecuteAsync("DELETE FROM veil_jobs WHERE id = @id", [("id", id)], cancellation).ConfigureAwait(false) > 0;

    // ------------------------------------------------------------------ blobs (in the database; the SQLite store overrides them with files)

    /// <inheritdoc/>
    public virtual Task PutBlobAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellation = default) =>
        InsertAsync("INSERT INTO veil_blobs (key, data, created) VALUES (@key, @data, @created)", [("key", key), ("data", content.ToArray()), ("created", Ms(DateTimeOffset.UtcNow))], $"A blob {key} exists.", cancellation);

    /// <inheritdoc/>
    public virtual async Task<byte[]?> GetBlobAsync(string key, CancellationToken cancellation = default) =>
        (await QueryAsync("SELECT data FROM veil_blobs WHERE key = @key", [("key", key)], r => (byte[])r.GetValue(0), cancellation).ConfigureAwait(false)).FirstOrDefault();

    /// <inheritdoc/>
    public virtual Task DeleteBlobAsync(string key, CancellationToken cancellation = default) =>
        ExecuteAsync("DELETE FROM veil_blobs WHERE key = @key", [("key", key)], cancellation);

    /// <inheritdoc/>
    public virtual Task<IReadOnlyList<string>> ListBlobsAsync(CancellationToken cancellation = default) =>
        QueryAsync("SELECT key FROM veil_blobs", [], r => r.GetString(0), cancellation);

    /// <inheritdoc/>
    public virtual Task<IReadOnlyList<string>> ListBlobsWrittenBeforeAsync(DateTimeOffset before, CancellationToken cancellation = default) =>
        QueryAsync("SELECT key FROM veil_blobs WHERE created < @before", [("before", Ms(before))], r => r.GetString(0), cancellation);

    // ------------------------------------------------------------------ helpers

    private static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();
    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            command.Parameters.Add(p);
        }
        return command;
    }

    private static async Task<int> ExecuteAsync(DbConnection connection, string sql, (string, object?)[] parameters, CancellationToken cancellation)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
    }

    private async Task<int> ExecuteAsync(string sql, (string, object?)[] parameters, CancellationToken cancellation)
    {
        await using var connection = await OpenAsync(cancellation).ConfigureAwait(false);
        return await ExecuteAsync(connection, sql, parameters, cancellation).ConfigureAwait(false);
    }

    private async Task InsertAsync(string sql, (string, object?)[] parameters, string conflict, CancellationToken cancellation)
    {
        try { await ExecuteAsync(sql, parameters, cancellation).ConfigureAwait(false); }
        catch (DbException e) when (IsUniqueViolation(e)) { throw new StoreConflictException(conflict); }
    }

    private async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, (string, object?)[] parameters, Func<DbDataReader, T> read, CancellationToken cancellation)
    {
        await using var connection = await OpenAsync(cancellation).ConfigureAwait(false);
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
        var result = new List<T>();
        while (await reader.ReadAsync(cancellation).ConfigureAwait(false)) result.Add(read(reader));
        return result;
    }

    /// <inheritdoc/>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}
