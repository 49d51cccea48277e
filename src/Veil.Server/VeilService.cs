using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Veil.Ckks;
using Veil.Ml.Networks;
using Veil.Ml.Serving;
using Veil.Protection;
using Veil.Serialization;
using Veil.Server.Storage;

namespace Veil.Server;

/// <summary>A refusal with its HTTP status (400 bad input, 401, 403, 404, 409, 413, 429).</summary>
public sealed class ServiceException(int status, string code, string message, string? field = null) : Exception(message)
{
    /// <summary>HTTP status.</summary>
    public int Status { get; } = status;
    /// <summary>Short machine-readable code.</summary>
    public string Code { get; } = code;
    /// <summary>The part of the request at fault.</summary>
    public string? Field { get; } = field;
}

/// <summary>Who is calling: the tenant an API key acts for.</summary>
public sealed record Caller(string TenantId, string KeyId, bool IsAdmin);

/// <summary>
/// The service's operations, for every front end (REST, gRPC, the dashboard): tenants and keys, models, sessions,
/// inference and jobs. It authenticates, checks ownership and quotas, seals what it stores under the keyring, audits
/// security events and calls the library (<see cref="ServedModel"/>) for everything encrypted.
/// </summary>
public sealed class VeilService : IDisposable
{
    /// <summary>The tenant that owns admin keys.</summary>
    public const string AdminTenant = "admin";

    private readonly IServiceStore _store;
    private readonly Keyring _keyring;
    private readonly AuditLog _audit;
    private readonly ServerOptions _options;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, Lazy<Task<ServedModel>>> _models = new();
    private readonly ConcurrentDictionary<string, CachedSession> _sessions = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _tenantGates = new();
    private readonly SemaphoreSlim _deployGate = new(1, 1);
    private readonly SemaphoreSlim _evaluationGate;
    private readonly ConcurrentDictionary<string, System.Threading.RateLimiting.TokenBucketRateLimiter> _keyBuckets = new();
    private readonly ConcurrentDictionary<string, long> _lastAuthAudit = new();
    private readonly ConcurrentDictionary<string, Lazy<Task<CkksContext>>> _loading = new();
    private readonly ConcurrentDictionary<string, int> _tenantInFlight = new();
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _tenantRunning = new();
    private long _bufferedBytes;
    private long _cachedBytes;

    private sealed class CachedSession(CkksContext context, long bytes)
    {
        public CkksContext Context { get; } = context;
        public long Bytes { get; } = bytes;
        public long LastUse = Stopwatch.GetTimestamp();
    }

    /// <summary>The service's metrics.</summary>
    public ServiceMetrics Metrics { get; }
    /// <summary>The store.</summary>
    public IServiceStore Store => _store;
    /// <summary>The options.</summary>
    public ServerOptions Options => _options;

    /// <summary>A service on a store, sealing under <paramref name="keyring"/> and auditing into <paramref name="audit"/>.</summary>
    public VeilService(IServiceStore store, Keyring keyring, AuditLog audit, ServerOptions options, ILogger log)
    {
        _store = store;
        _keyring = keyring;
        _audit = audit;
        _options = options;
        _log = log;
        Metrics = new ServiceMetrics(() => _sessions.Count, () => Interlocked.Read(ref _cachedBytes));
        _evaluationGate = new SemaphoreSlim(Math.Max(1, options.MaxConcurrentEvaluations));
    }

    // ------------------------------------------------------------------ authentication

    /// <summary>The caller an Authorization header ("Bearer veil_…") names.</summary>
    /// <exception cref="ServiceException">401: missing, malformed, unknown, wrong, expired or revoked key.</exception>
    public async Task<Caller> AuthenticateAsync(string? authorization, string remote, CancellationToken cancellation)
    {
        string? token = authorization is not null && authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization[7..].Trim() : null;
        var parsed = ApiKeys.Parse(token);
        if (parsed is null) throw Unauthorized(remote, null, "No API key: send 'Authorization: Bearer veil_…'.");
        var (id, secret) = parsed.Value;
        var record = await _store.GetApiKeyAsync(id, cancellation).ConfigureAwait(false);
        if (record is null || !ApiKeys.Matches(record, secret)) throw Unauthorized(remote, id, "Unknown API key.");
        if (record.Revoked) throw Unauthorized(remote, id, "This API key was revoked.");
        if (record.Expires is { } e && e <= DateTimeOffset.UtcNow) throw Unauthorized(remote, id, "This API key has expired.");
        // The per-key budget is spent only by requests that proved the key: guessing at a key id cannot drain its owner's.
        var bucket = _keyBuckets.GetOrAdd(record.Id, _ => new System.Threading.RateLimiting.TokenBucketRateLimiter(new()
        {
            TokenLimit = _options.RequestsPerSecond, TokensPerPeriod = _options.RequestsPerSecond, ReplenishmentPeriod = TimeSpan.FromSeconds(1), QueueLimit = 0, AutoReplenishment = true,
        }));
        using var lease = bucket.AttemptAcquire();
        if (!lease.IsAcquired) throw new ServiceException(429, "rate_limited", $"More than {_options.RequestsPerSecond} requests a second with this key.", "authorization");
        return new Caller(record.TenantId, record.Id, record.IsAdmin);
    }

    private ServiceException Unauthorized(string remote, string? keyId, string message)
    {
        Metrics.AuthFailures.Add(1);
        // Requests without a key are only counted; refusals of a named key are audited, at most one per client address every 10 s.
        long now = Environment.TickCount64;
        if (keyId is not null && (!_lastAuthAudit.TryGetValue(remote, out long last) || now - last > 10_000))
        {
            _lastAuthAudit[remote] = now;
            if (_lastAuthAudit.Count > 100_000) _lastAuthAudit.Clear();
            Audit("auth.refused", $"key:{keyId}", null, new() { ["remote"] = remote, ["reason"] = message });
        }
        return new ServiceException(401, "unauthorized", message, "authorization");
    }

    /// <summary>Refuses a tenant key with 403 (audited).</summary>
    public void RequireAdmin(Caller caller)
    {
        if (caller.IsAdmin) return;
        Audit("access.denied", "admin", caller, null);
        throw new ServiceException(403, "forbidden", "This operation needs an admin key.");
    }

    /// <summary>Creates the first admin key when none exists, and returns its token (null when one exists already).</summary>
    public async Task<string?> BootstrapAdminAsync(CancellationToken cancellation)
    {
        var stored = await _store.ListSessionsAsync(null, cancellation).ConfigureAwait(false);
        Metrics.SessionsStored(stored.Count, stored.Sum(s => s.Bytes));
        if (await _store.HasAdminKeyAsync(cancellation).ConfigureAwait(false)) return null;
        var (token, record) = ApiKeys.Issue(AdminTenant, admin: true, expires: null);
        await _store.AddApiKeyAsync(record, cancellation).ConfigureAwait(false);
        Audit("key.issue", $"key:{record.Id}", null, new() { ["admin"] = "true" });
        return token;
    }

    // ------------------------------------------------------------------ tenants and keys (admin)

    /// <summary>A new tenant with its first key.</summary>
    public async Task<TenantCreated> CreateTenantAsync(Caller caller, CreateTenantRequest request, CancellationToken cancellation)
    {
        RequireAdmin(caller);
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 128 || request.Name == AdminTenant || request.Name == "*")
            throw new ServiceException(400, "bad_request", "A tenant name is 1 … 128 characters, not 'admin' or '*'.", "name");
        if (request.MaxStoredBytes is < 0 || request.MaxConcurrentJobs is < 0)
            throw new ServiceException(400, "bad_request", "Quotas cannot be negative.", "quota");
        var tenant = new TenantRecord(NewId(), request.Name, DateTimeOffset.UtcNow, request.MaxStoredBytes ?? _options.DefaultTenantBytes,
            request.MaxConcurrentJobs ?? _options.DefaultTenantJobs);
        try { await _store.AddTenantAsync(tenant, cancellation).ConfigureAwait(false); }
        catch (StoreConflictException e) { throw new ServiceException(409, "conflict", e.Message, "name"); }
        var (token, key) = ApiKeys.Issue(tenant.Id, admin: false, expires: null);
        await _store.AddApiKeyAsync(key, cancellation).ConfigureAwait(false);
        Audit("tenant.create", $"tenant:{tenant.Id}", caller, new() { ["name"] = tenant.Name });
        Audit("key.issue", $"key:{key.Id}", caller, new() { ["tenant"] = tenant.Id });
        return new TenantCreated(tenant.Id, tenant.Name, key.Id, token);
    }

    /// <summary>Another key for a tenant.</summary>
    public async Task<KeyIssued> IssueKeyAsync(Caller caller, string tenantId, IssueKeyRequest request, CancellationToken cancellation)
    {
        RequireAdmin(caller);
        if (tenantId != AdminTenant && await _store.GetTenantAsync(tenantId, cancellation).ConfigureAwait(false) is null)
            throw new ServiceException(404, "not_found", $"No tenant {tenantId}.", "tenant");
        if (request.ExpiresInHours is { } h && !(h > 0 && h <= 24 * 3660)) throw new ServiceException(400, "bad_request", "Expiry is 0 … 10 years, in hours.", "expiresInHours");
        DateTimeOffset? expires = request.ExpiresInHours is { } hours ? DateTimeOffset.UtcNow.AddHours(hours) : null;
        var (token, key) = ApiKeys.Issue(tenantId, admin: tenantId == AdminTenant, expires);
        await _store.AddApiKeyAsync(key, cancellation).ConfigureAwait(false);
        Audit("key.issue", $"key:{key.Id}", caller, new() { ["tenant"] = tenantId });
        return new KeyIssued(key.Id, token, expires);
    }

    /// <summary>Revokes a key at once.</summary>
    public async Task RevokeKeyAsync(Caller caller, string keyId, CancellationToken cancellation)
    {
        RequireAdmin(caller);
        if (!await _store.RevokeApiKeyAsync(keyId, cancellation).ConfigureAwait(false)) throw new ServiceException(404, "not_found", $"No API key {keyId}.", "key");
        Audit("key.revoke", $"key:{keyId}", caller, null);
    }

    // ------------------------------------------------------------------ models

    /// <summary>
    /// Deploys a saved network (a <see cref="SequentialNetwork"/> object) under a name, granted to every tenant when
    /// <paramref name="grantAll"/>; <paramref name="outputLabels"/> label the outputs of KNN references (<see cref="KnnReferences"/>).
    /// </summary>
    public async Task<InferenceManifest> DeployModelAsync(Caller caller, string name, byte[] network, bool grantAll, CancellationToken cancellation,
        IReadOnlyList<double>? outputLabels = null)
    {
        RequireAdmin(caller);
        ServedModel model;
        try { model = ServedModel.Load(name, network, outputLabels: outputLabels); }
        catch (VeilFormatException e) { throw new ServiceException(400, "bad_model", $"The network could not be loaded: {e.Message}", "network"); }
        catch (ArgumentException e) { throw new ServiceException(400, "bad_model", e.Message, e.ParamName); }
        var blob = ModelBlob(name);
        await _deployGate.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            if (await _store.GetModelAsync(name, cancellation).ConfigureAwait(false) is not null)
                throw new ServiceException(409, "conflict", $"A model named '{name}' exists (retired names stay taken).", "name");
            // A blob without a record is what a crash between the two writes leaves: replace it.
            await _store.DeleteBlobAsync(blob, cancellation).ConfigureAwait(false);
            await _store.PutBlobAsync(blob, Seal(network, SequentialNetwork.Type), cancellation).ConfigureAwait(false);
            try { await _store.AddModelAsync(new ModelRecord(name, model.Manifest.Digest, network.Length, DateTimeOffset.UtcNow, false, LabelsText(outputLabels)), CancellationToken.None).ConfigureAwait(false); }
            catch (StoreConflictException e) { throw new ServiceException(409, "conflict", e.Message, "name"); }
        }
        finally { _deployGate.Release(); }
        if (grantAll) await _store.GrantAsync("*", name, cancellation).ConfigureAwait(false);
        _models[name] = new Lazy<Task<ServedModel>>(Task.FromResult(model));
        Audit("model.deploy", $"model:{name}", caller, new() { ["digest"] = model.Manifest.Digest, ["grantAll"] = grantAll ? "true" : "false" });
        return model.Manifest;
    }

    /// <summary>Retires a model: its sessions stop working; the name stays taken.</summary>
    public async Task RetireModelAsync(Caller caller, string name, CancellationToken cancellation)
    {
        RequireAdmin(caller);
        if (!await _store.RetireModelAsync(name, cancellation).ConfigureAwait(false)) throw new ServiceException(404, "not_found", $"No model '{name}'.", "model");
        _models.TryRemove(name, out _);
        Audit("model.retire", $"model:{name}", caller, null);
    }

    /// <summary>Lets a tenant use a model.</summary>
    public async Task GrantAsync(Caller caller, string tenantId, string modelName, CancellationToken cancellation)
    {
        RequireAdmin(caller);
        if (await _store.GetModelAsync(modelName, cancellation).ConfigureAwait(false) is null) throw new ServiceException(404, "not_found", $"No model '{modelName}'.", "model");
        if (tenantId != "*" && await _store.GetTenantAsync(tenantId, cancellation).ConfigureAwait(false) is null) throw new ServiceException(404, "not_found", $"No tenant {tenantId}.", "tenant");
        await _store.GrantAsync(tenantId, modelName, cancellation).ConfigureAwait(false);
        Audit("model.grant", $"model:{modelName}", caller, new() { ["tenant"] = tenantId });
    }

    /// <summary>The models the caller may use (every model for an admin).</summary>
    public async Task<IReadOnlyList<ModelSummary>> ListModelsAsync(Caller caller, CancellationToken cancellation)
    {
        var result = new List<ModelSummary>();
        foreach (var record in await _store.ListModelsAsync(cancellation).ConfigureAwait(false))
        {
            if (!caller.IsAdmin && (record.Retired || !await _store.IsGrantedAsync(caller.TenantId, record.Name, cancellation).ConfigureAwait(false))) continue;
            if (record.Retired) { result.Add(new ModelSummary(record.Name, record.Digest, 0, 0, 0, false, 0, record.Created, true)); continue; }
            var m = (await ModelAsync(record.Name, cancellation).ConfigureAwait(false)).Manifest;
            result.Add(new ModelSummary(m.Name, m.Digest, m.Inputs, m.Outputs, m.Depth, m.SingleInput, m.LogN, record.Created, false));
        }
        return result;
    }

    /// <summary>What a client must send to use a model.</summary>
    public async Task<InferenceManifest> DescribeModelAsync(Caller caller, string name, CancellationToken cancellation) =>
        (await UsableModelAsync(caller, name, cancellation).ConfigureAwait(false)).Manifest;

    private async Task<ServedModel> UsableModelAsync(Caller caller, string name, CancellationToken cancellation)
    {
        var record = await _store.GetModelAsync(name, cancellation).ConfigureAwait(false);
        // Models not granted read as absent, so that a tenant cannot probe which models exist.
        if (record is null || record.Retired || (!caller.IsAdmin && !await _store.IsGrantedAsync(caller.TenantId, name, cancellation).ConfigureAwait(false)))
            throw new ServiceException(404, "not_found", $"No model '{name}' for this tenant.", "model");
        return await ModelAsync(name, cancellation).ConfigureAwait(false);
    }

    private async Task<ServedModel> ModelAsync(string name, CancellationToken cancellation)
    {
        var lazy = _models.GetOrAdd(name, n => new Lazy<Task<ServedModel>>(async () =>
        {
            var record = await _store.GetModelAsync(n, CancellationToken.None).ConfigureAwait(false)
                ?? throw new ServiceException(404, "not_found", $"No model '{n}'.", "model");
            var sealedBytes = await _store.GetBlobAsync(ModelBlob(n), CancellationToken.None).ConfigureAwait(false)
                ?? throw new ServiceException(500, "storage", $"Model '{n}' has a record but no stored network.");
            var model = ServedModel.Load(n, Open(sealedBytes, SequentialNetwork.Type), outputLabels: ParseLabels(record.OutputLabels));
            if (model.Manifest.Digest != record.Digest) throw new ServiceException(500, "storage", $"Model '{n}' does not match the digest it was deployed with.");
            return model;
        }));
        try { return await lazy.Value.WaitAsync(cancellation).ConfigureAwait(false); }
        catch when (lazy.Value.IsFaulted)
        {
            // A failed load is not kept: the next request tries again.
            _models.TryRemove(new KeyValuePair<string, Lazy<Task<ServedModel>>>(name, lazy));
            throw;
        }
    }

    private static string? LabelsText(IReadOnlyList<double>? labels) => labels is null ? null : string.Join(',', labels.Select(l => l.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Labels from "1,0,2.5" (the X-Veil-Output-Labels header or the stored record).</summary>
    /// <exception cref="ServiceException">400: not a comma-separated list of numbers.</exception>
    public static IReadOnlyList<double>? ParseLabels(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Split(',');
        var labels = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out labels[i]) || !double.IsFinite(labels[i]))
                throw new ServiceException(400, "bad_labels", $"Output label {i} ('{parts[i]}') is not a number.", "outputLabels");
        return labels;
    }

    private static string ModelBlob(string name) => "models/" + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name)))[..32];

    // ------------------------------------------------------------------ sessions

    /// <summary>
    /// Registers a client's public context for a model: read from <paramref name="body"/> up to the size cap, checked by the
    /// hardened loader against the model (parameters, relinearization and rotation keys, no secret key), sealed under
    /// the keyring and stored. A body cut short stores nothing.
    /// </summary>
    public async Task<SessionInfo> RegisterSessionAsync(Caller caller, string modelName, Stream body, long? declaredLength, string? attestation, CancellationToken cancellation)
    {
        var model = await UsableModelAsync(caller, modelName, cancellation).ConfigureAwait(false);
        return await RegisterAsync(caller, modelName, bytes => model.LoadSession(bytes, KeyLimits, Execution(cancellation)), body, declaredLength, attestation, cancellation).ConfigureAwait(false);
    }

    /// <summary>The model name of training sessions (deployed names cannot start with '@').</summary>
    public const string TrainingModel = "@training";

    /// <summary>Registers a public context for encrypted training (any 128-bit parameters the client chose for its data).</summary>
    public Task<SessionInfo> RegisterTrainingSessionAsync(Caller caller, Stream body, long? declaredLength, string? attestation, CancellationToken cancellation) =>
        RegisterAsync(caller, TrainingModel, bytes => TrainingService.LoadSession(bytes, KeyLimits, Execution(cancellation)), body, declaredLength, attestation, cancellation);

    private async Task<SessionInfo> RegisterAsync(Caller caller, string modelName, Func<byte[], CkksContext> load, Stream body, long? declaredLength, string? attestation, CancellationToken cancellation)
    {
        await CheckQuotaAsync(caller, declaredLength ?? 0, cancellation).ConfigureAwait(false);
        var bytes = await ReadBodyAsync(body, declaredLength, _options.MaxKeyBytes, "keys", cancellation).ConfigureAwait(false);
        if (_options.Attestation is { } verifier)
        {
            string? refusal;
            try { refusal = await verifier.VerifyAsync(caller.TenantId, modelName, attestation, SHA256.HashData(bytes), cancellation).ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested) { refusal = "The attestation verifier failed: " + e.GetType().Name; }
            if (refusal is not null)
            {
                Audit("session.attestation_refused", $"model:{modelName}", caller, new() { ["reason"] = refusal });
                throw new ServiceException(403, "attestation", refusal, "attestation");
            }
        }
        CkksContext context;
        try { context = load(bytes); }
        catch (ServingRequestException e)
        {
            Audit("session.refused", $"model:{modelName}", caller, new() { ["field"] = e.Field });
            throw new ServiceException(400, "bad_keys", e.Message, e.Field);
        }
        var session = new SessionRecord(NewId(), caller.TenantId, modelName, bytes.Length, DateTimeOffset.UtcNow);
        var gate = _tenantGates.GetOrAdd(caller.TenantId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            // Checked again under the tenant's gate, with the real size: concurrent uploads cannot pass the quota together.
            await CheckQuotaAsync(caller, bytes.Length, cancellation).ConfigureAwait(false);
            // The blob first, then the record: a crash between them leaves an unreferenced blob (swept later), never a record without keys.
            await _store.PutBlobAsync(SessionBlob(session.Id), Seal(bytes, CkksContext.PublicType), cancellation).ConfigureAwait(false);
            await _store.AddSessionAsync(session, CancellationToken.None).ConfigureAwait(false);
        }
        finally { gate.Release(); }
        Cache(session.Id, context.WithOptions(Execution(CancellationToken.None)), bytes.Length);
        Metrics.KeyBytesUploaded.Add(bytes.Length);
        Metrics.SessionAdded(bytes.Length, +1);
        Audit("session.register", $"session:{session.Id}", caller, new() { ["model"] = modelName, ["bytes"] = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        _log.LogInformation("Session {Session} registered for tenant {Tenant}, model {Model}, {Bytes} bytes", session.Id, caller.TenantId, modelName, bytes.Length);
        return Info(session);
    }

    /// <summary>A session of the caller's.</summary>
    public async Task<SessionInfo> GetSessionAsync(Caller caller, string sessionId, CancellationToken cancellation) =>
        Info(await OwnSessionAsync(caller, sessionId, cancellation).ConfigureAwait(false));

    /// <summary>The caller's sessions (every session for an admin).</summary>
    public async Task<IReadOnlyList<SessionInfo>> ListSessionsAsync(Caller caller, CancellationToken cancellation) =>
        [.. (await _store.ListSessionsAsync(caller.IsAdmin ? null : caller.TenantId, cancellation).ConfigureAwait(false)).Select(Info)];

    /// <summary>Deletes a session and its stored keys.</summary>
    public async Task DeleteSessionAsync(Caller caller, string sessionId, CancellationToken cancellation)
    {
        var session = await OwnSessionAsync(caller, sessionId, cancellation).ConfigureAwait(false);
        await _store.DeleteSessionAsync(session.Id, cancellation).ConfigureAwait(false);
        await _store.DeleteBlobAsync(SessionBlob(session.Id), CancellationToken.None).ConfigureAwait(false);
        Uncache(session.Id);
        Metrics.SessionAdded(session.Bytes, -1);
        Audit("session.delete", $"session:{session.Id}", caller, null);
    }

    private async Task<SessionRecord> OwnSessionAsync(Caller caller, string sessionId, CancellationToken cancellation)
    {
        var session = IsId(sessionId) ? await _store.GetSessionAsync(sessionId, cancellation).ConfigureAwait(false) : null;
        if (session is null || (session.TenantId != caller.TenantId && !caller.IsAdmin))
        {
            if (session is not null) Audit("access.denied", $"session:{sessionId}", caller, null);
            // Another tenant's session reads as absent: ids are not an oracle.
            throw new ServiceException(404, "not_found", $"No session {sessionId} for this tenant.", "session");
        }
        return session;
    }

    private async Task<(ServedModel Model, CkksContext Context)> SessionContextAsync(Caller caller, string sessionId, CancellationToken cancellation)
    {
        var (model, context) = await AnySessionContextAsync(caller, sessionId, cancellation).ConfigureAwait(false);
        return (model ?? throw new ServiceException(400, "training_session", $"Session {sessionId} is a training session: send it training jobs, not inputs.", "session"), context);
    }

    /// <summary>A session's keys, loaded once; the model is null for a training session.</summary>
    private async Task<(ServedModel? Model, CkksContext Context)> AnySessionContextAsync(Caller caller, string sessionId, CancellationToken cancellation)
    {
        var session = await OwnSessionAsync(caller, sessionId, cancellation).ConfigureAwait(false);
        var model = session.ModelName == TrainingModel ? null : await UsableModelAsync(caller, session.ModelName, cancellation).ConfigureAwait(false);
        if (_sessions.TryGetValue(session.Id, out var cached))
        {
            cached.LastUse = Stopwatch.GetTimestamp();
            return (model, cached.Context);
        }
        // One load per session however many requests ask for it at once.
        var loading = _loading.GetOrAdd(session.Id, id => new Lazy<Task<CkksContext>>(async () =>
        {
            var sealedBytes = await _store.GetBlobAsync(SessionBlob(id), CancellationToken.None).ConfigureAwait(false)
                ?? throw new ServiceException(500, "storage", $"Session {id} has a record but no stored keys.");
            var bytes = Open(sealedBytes, CkksContext.PublicType);
            var loaded = model is null ? TrainingService.LoadSession(bytes, KeyLimits, Execution(CancellationToken.None)) : model.LoadSession(bytes, KeyLimits, Execution(CancellationToken.None));
            Cache(id, loaded, bytes.Length);
            return loaded;
        }));
        try { return (model, await loading.Value.WaitAsync(cancellation).ConfigureAwait(false)); }
        finally { if (loading.Value.IsCompleted) _loading.TryRemove(new KeyValuePair<string, Lazy<Task<CkksContext>>>(session.Id, loading)); }
    }

    private void Cache(string id, CkksContext context, long bytes)
    {
        if (_sessions.TryAdd(id, new CachedSession(context, bytes))) Interlocked.Add(ref _cachedBytes, bytes);
        // Least recently used first, until the loaded keys fit the budget again (a dropped session reloads from the store).
        while (Interlocked.Read(ref _cachedBytes) > _options.MaxCachedSessionBytes && _sessions.Count > 1)
        {
            var oldest = _sessions.Where(kv => kv.Key != id).MinBy(kv => kv.Value.LastUse);
            if (oldest.Key is null) break;
            Uncache(oldest.Key);
        }
    }

    private void Uncache(string id)
    {
        if (_sessions.TryRemove(id, out var removed)) Interlocked.Add(ref _cachedBytes, -removed.Bytes);
    }

    private static SessionInfo Info(SessionRecord s) => new(s.Id, s.ModelName, s.Bytes, s.Created);
    private static string SessionBlob(string id) => "sessions/" + id;

    // ------------------------------------------------------------------ inference

    /// <summary>One ciphertext in, the model's outputs as one ciphertext out.</summary>
    public async Task<byte[]> PredictAsync(Caller caller, string sessionId, Stream body, long? declaredLength, CancellationToken cancellation)
    {
        using var slot = InFlight(caller);
        var (model, context) = await SessionContextAsync(caller, sessionId, cancellation).ConfigureAwait(false);
        var bytes = await ReadBodyAsync(body, declaredLength, _options.MaxRequestBytes, "ciphertext", cancellation).ConfigureAwait(false);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await EvaluateAsync(caller, () => model.PredictSingle(context.WithOptions(Execution(cancellation)), bytes, RequestLimits), cancellation).ConfigureAwait(false);
            Metrics.Evaluations.Add(1, new KeyValuePair<string, object?>("mode", "single"));
            Metrics.EvaluationSeconds.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("mode", "single"));
            return result;
        }
        catch (ServingRequestException e) { throw new ServiceException(400, "bad_ciphertext", e.Message, e.Field); }
    }

    /// <summary>A batch in (one ciphertext per input value), a batch out (one per output value), while the caller waits.</summary>
    public async Task<byte[]> PredictBatchAsync(Caller caller, string sessionId, Stream body, long? declaredLength, CancellationToken cancellation)
    {
        using var slot = InFlight(caller);
        var (model, context) = await SessionContextAsync(caller, sessionId, cancellation).ConfigureAwait(false);
        var bytes = await ReadBodyAsync(body, declaredLength, _options.MaxRequestBytes, "batch", cancellation).ConfigureAwait(false);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await EvaluateAsync(caller, () => model.PredictBatch(context.WithOptions(Execution(cancellation)), bytes, null, RequestLimits), cancellation).ConfigureAwait(false);
            Metrics.Evaluations.Add(1, new KeyValuePair<string, object?>("mode", "batch"));
            Metrics.EvaluationSeconds.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("mode", "batch"));
            return result;
        }
        catch (ServingRequestException e) { throw new ServiceException(400, "bad_batch", e.Message, e.Field); }
    }

    /// <summary>
    /// Runs an evaluation on the pool, at most <see cref="ServerOptions.MaxConcurrentEvaluations"/> at once (the others
    /// wait their turn) and at most <see cref="ServerOptions.MaxRequestsInFlightPerTenant"/> per tenant (beyond: 429).
    /// </summary>
    private async Task<byte[]> EvaluateAsync(Caller caller, Func<byte[]> evaluate, CancellationToken cancellation)
    {
        // A tenant runs on at most half the evaluation slots (at least one), so one tenant cannot take them all; a wait
        // longer than a minute is a 503 rather than a request that hangs.
        var share = _tenantRunning.GetOrAdd(caller.TenantId, _ => new SemaphoreSlim(Math.Max(1, _options.MaxConcurrentEvaluations / 2)));
        if (!await share.WaitAsync(GateWait, cancellation).ConfigureAwait(false))
            throw new ServiceException(503, "busy", "This tenant's evaluations are queued for over a minute; try again later.", "requests");
        try
        {
            if (!await _evaluationGate.WaitAsync(GateWait, cancellation).ConfigureAwait(false))
                throw new ServiceException(503, "busy", "Every evaluation slot has been busy for over a minute; try again later.", "requests");
            try { return await Task.Run(evaluate, cancellation).ConfigureAwait(false); }
            finally { _evaluationGate.Release(); }
        }
        finally { share.Release(); }
    }

    private static readonly TimeSpan GateWait = TimeSpan.FromMinutes(1);

    /// <summary>Counts a synchronous request of the tenant from before its body is read until it is answered (beyond the cap: 429).</summary>
    private InFlightSlot InFlight(Caller caller)
    {
        int inFlight = _tenantInFlight.AddOrUpdate(caller.TenantId, 1, (_, n) => n + 1);
        var slot = new InFlightSlot(this, caller.TenantId);
        if (inFlight > _options.MaxRequestsInFlightPerTenant)
        {
            slot.Dispose();
            throw new ServiceException(429, "busy", $"This tenant has {inFlight - 1} requests in flight; at most {_options.MaxRequestsInFlightPerTenant} are served at once.", "requests");
        }
        return slot;
    }

    private sealed class InFlightSlot(VeilService service, string tenant) : IDisposable
    {
        private int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) service._tenantInFlight.AddOrUpdate(tenant, 0, (_, n) => n - 1);
        }
    }

    // ------------------------------------------------------------------ jobs

    /// <summary>The job queue (set by the host).</summary>
    internal JobRunner? Jobs { get; set; }

    /// <summary>
    /// Queues a job: a batch for a model's session, or a training job (a <see cref="Veil.Ml.Encrypted.TrainingJob"/>) for a
    /// training session. Its input is stored sealed so that a restart resumes it.
    /// </summary>
    public async Task<JobInfo> SubmitJobAsync(Caller caller, string sessionId, Stream body, long? declaredLength, CancellationToken cancellation)
    {
        var session = await OwnSessionAsync(caller, sessionId, cancellation).ConfigureAwait(false);
        var tenant = await TenantAsync(caller, cancellation).ConfigureAwait(false);
        var bytes = await ReadBodyAsync(body, declaredLength, _options.MaxRequestBytes, "batch", cancellation).ConfigureAwait(false);
        var (model, context) = await AnySessionContextAsync(caller, sessionId, cancellation).ConfigureAwait(false);
        // Every check the evaluation makes, now, so that a bad input is a 400 and not a failed job later.
        try
        {
            if (model is null) TrainingService.CheckJob(context, bytes, RequestLimits);
            else model.CheckBatch(context, bytes, RequestLimits);
        }
        catch (ServingRequestException e) { throw new ServiceException(400, model is null ? "bad_training_job" : "bad_batch", e.Message, e.Field); }
        var gate = _tenantGates.GetOrAdd(caller.TenantId, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellation).ConfigureAwait(false);
        JobRecord job;
        try
        {
            await CheckQuotaAsync(caller, bytes.Length, cancellation).ConfigureAwait(false);
            int active = (await _store.ListJobsAsync(caller.TenantId, cancellation).ConfigureAwait(false)).Count(j => j.State is JobState.Queued or JobState.Running);
            if (tenant is not null && active >= tenant.MaxConcurrentJobs)
                throw new ServiceException(429, "quota", $"This tenant has {active} jobs queued or running; its quota is {tenant.MaxConcurrentJobs}.", "jobs");
            var now = DateTimeOffset.UtcNow;
            job = new JobRecord(NewId(), caller.TenantId, session.Id, session.ModelName, JobState.Queued, 0, null, bytes.Length, 0, now, null, now + _options.ResultLifetime, 0);
            await _store.PutBlobAsync(JobInputBlob(job.Id), Seal(bytes, InputType(job)), cancellation).ConfigureAwait(false);
            await _store.AddJobAsync(job, CancellationToken.None).ConfigureAwait(false);
        }
        finally { gate.Release(); }
        Audit("job.submit", $"job:{job.Id}", caller, new() { ["session"] = session.Id });
        Jobs?.Enqueue(job.Id);
        return JobInfoOf(job);
    }

    /// <summary>A job of the caller's, with its live progress.</summary>
    public async Task<JobInfo> GetJobAsync(Caller caller, string jobId, CancellationToken cancellation) =>
        JobInfoOf(await OwnJobAsync(caller, jobId, cancellation).ConfigureAwait(false));

    /// <summary>The caller's jobs (every job for an admin).</summary>
    public async Task<IReadOnlyList<JobInfo>> ListJobsAsync(Caller caller, CancellationToken cancellation) =>
        [.. (await _store.ListJobsAsync(caller.IsAdmin ? null : caller.TenantId, cancellation).ConfigureAwait(false)).Select(JobInfoOf)];

    /// <summary>A finished job's result (a ciphertext batch).</summary>
    /// <exception cref="ServiceException">404 unknown, 409 not finished (or failed/cancelled).</exception>
    public async Task<byte[]> GetJobResultAsync(Caller caller, string jobId, CancellationToken cancellation)
    {
        var job = await OwnJobAsync(caller, jobId, cancellation).ConfigureAwait(false);
        if (job.State != JobState.Succeeded) throw new ServiceException(409, "not_ready", $"Job {jobId} is {job.State.ToString().ToLowerInvariant()}{(job.Error is null ? "" : ": " + job.Error)}.", "job");
        var sealedBytes = await _store.GetBlobAsync(JobResultBlob(job.Id), cancellation).ConfigureAwait(false)
            ?? throw new ServiceException(500, "storage", $"Job {jobId} succeeded but its result is missing.");
        return Open(sealedBytes, ResultType(job));
    }

    private static ObjectType InputType(JobRecord job) => job.ModelName == TrainingModel ? Veil.Ml.Encrypted.TrainingJob.Type : CiphertextBatch.Type;
    private static ObjectType ResultType(JobRecord job) => job.ModelName == TrainingModel ? Veil.Ml.Encrypted.EncryptedModelWeights.Type : CiphertextBatch.Type;

    /// <summary>Cancels a queued or running job, or deletes an ended one with its result.</summary>
    public async Task DeleteJobAsync(Caller caller, string jobId, CancellationToken cancellation)
    {
        var job = await OwnJobAsync(caller, jobId, cancellation).ConfigureAwait(false);
        if (job.State is JobState.Queued or JobState.Running
            && await _store.TransitionJobAsync(job with { State = JobState.Cancelled, Finished = DateTimeOffset.UtcNow }, [JobState.Queued, JobState.Running], cancellation).ConfigureAwait(false))
        {
            Jobs?.Cancel(job.Id);
            Audit("job.cancel", $"job:{job.Id}", caller, null);
            return;
        }
        job = await OwnJobAsync(caller, jobId, cancellation).ConfigureAwait(false);
        if (job.State is JobState.Queued or JobState.Running) throw new ServiceException(409, "conflict", $"Job {jobId} changed state; try again.", "job");
        await RemoveJobAsync(job, CancellationToken.None).ConfigureAwait(false);
        Audit("job.delete", $"job:{job.Id}", caller, null);
    }

    internal async Task RemoveJobAsync(JobRecord job, CancellationToken cancellation)
    {
        await _store.DeleteJobAsync(job.Id, cancellation).ConfigureAwait(false);
        await _store.DeleteBlobAsync(JobInputBlob(job.Id), cancellation).ConfigureAwait(false);
        await _store.DeleteBlobAsync(JobResultBlob(job.Id), cancellation).ConfigureAwait(false);
    }

    private async Task<JobRecord> OwnJobAsync(Caller caller, string jobId, CancellationToken cancellation)
    {
        var job = IsId(jobId) ? await _store.GetJobAsync(jobId, cancellation).ConfigureAwait(false) : null;
        if (job is null || (job.TenantId != caller.TenantId && !caller.IsAdmin))
        {
            if (job is not null) Audit("access.denied", $"job:{jobId}", caller, null);
            throw new ServiceException(404, "not_found", $"No job {jobId} for this tenant.", "job");
        }
        return job;
    }

    private JobInfo JobInfoOf(JobRecord j) => new(j.Id, j.ModelName, j.SessionId, j.State.ToString().ToLowerInvariant(),
        j.State == JobState.Running && Jobs?.Progress(j.Id) is { } live ? live : j.Progress, j.Error, j.Created, j.Finished, j.Expires, j.Attempts);

    internal static string JobInputBlob(string id) => "jobs/" + id + "/input";
    internal static string JobResultBlob(string id) => "jobs/" + id + "/result";

    /// <summary>Runs one job (the worker's call): loads its input and keys, evaluates, stores the result sealed.</summary>
    internal async Task<byte[]> EvaluateJobAsync(JobRecord job, IProgress<double> progress, CancellationToken cancellation)
    {
        var caller = new Caller(job.TenantId, "job", IsAdmin: job.TenantId == AdminTenant);
        var (model, context) = await AnySessionContextAsync(caller, job.SessionId, cancellation).ConfigureAwait(false);
        var sealedInput = await _store.GetBlobAsync(JobInputBlob(job.Id), cancellation).ConfigureAwait(false)
            ?? throw new ServiceException(500, "storage", "The job's input is missing.");
        var input = Open(sealedInput, InputType(job));
        var run = context.WithOptions(Execution(cancellation));
        var result = await EvaluateAsync(caller with { TenantId = "jobs:" + job.TenantId },
            () => model is null ? TrainingService.Train(run, input, RequestLimits) : model.PredictBatch(run, input, progress, RequestLimits), cancellation).ConfigureAwait(false);
        // A retry after a crash between this write and the record's update finds the old result: replace it.
        await _store.DeleteBlobAsync(JobResultBlob(job.Id), CancellationToken.None).ConfigureAwait(false);
        await _store.PutBlobAsync(JobResultBlob(job.Id), Seal(result, ResultType(job)), CancellationToken.None).ConfigureAwait(false);
        return result;
    }

    // ------------------------------------------------------------------ overview, maintenance

    /// <summary>Counts and listings for the dashboard (admin); ids, sizes and states only.</summary>
    public async Task<ServiceOverview> OverviewAsync(Caller caller, CancellationToken cancellation)
    {
        RequireAdmin(caller);
        var sessions = await _store.ListSessionsAsync(null, cancellation).ConfigureAwait(false);
        var jobs = await _store.ListJobsAsync(null, cancellation).ConfigureAwait(false);
        var models = await ListModelsAsync(caller, cancellation).ConfigureAwait(false);
        return new ServiceOverview((await _store.ListTenantsAsync(cancellation).ConfigureAwait(false)).Count, models.Count, sessions.Count, sessions.Sum(s => s.Bytes),
            jobs.Count(j => j.State == JobState.Queued), jobs.Count(j => j.State == JobState.Running), models, [.. sessions.Select(Info)], [.. jobs.Select(JobInfoOf)]);
    }

    /// <summary>How old an unreferenced blob must be before the sweep deletes it.</summary>
    public static TimeSpan OrphanGrace { get; } = TimeSpan.FromHours(1);

    /// <summary>Deletes expired jobs and blobs no record refers to (a crash between a blob and its record).</summary>
    public async Task<int> SweepAsync(CancellationToken cancellation)
    {
        int removed = 0;
        var now = DateTimeOffset.UtcNow;
        var jobs = await _store.ListJobsAsync(null, cancellation).ConfigureAwait(false);
        foreach (var job in jobs.Where(j => j.Expires <= now && j.State is not (JobState.Queued or JobState.Running)))
        {
            await RemoveJobAsync(job, cancellation).ConfigureAwait(false);
            removed++;
        }
        // Blobs first, and only those older than the grace period: a blob whose record is being written right now is spared.
        var candidates = await _store.ListBlobsWrittenBeforeAsync(now - OrphanGrace, cancellation).ConfigureAwait(false);
        var sessions = (await _store.ListSessionsAsync(null, cancellation).ConfigureAwait(false)).Select(s => SessionBlob(s.Id)).ToHashSet();
        var jobBlobs = (await _store.ListJobsAsync(null, cancellation).ConfigureAwait(false)).SelectMany(j => new[] { JobInputBlob(j.Id), JobResultBlob(j.Id) }).ToHashSet();
        foreach (var key in candidates)
        {
            bool orphan = (key.StartsWith("sessions/", StringComparison.Ordinal) && !sessions.Contains(key))
                          || (key.StartsWith("jobs/", StringComparison.Ordinal) && !jobBlobs.Contains(key));
            if (!orphan) continue;
            await _store.DeleteBlobAsync(key, cancellation).ConfigureAwait(false);
            removed++;
        }
        return removed;
    }

    // ------------------------------------------------------------------ helpers

    private async Task<TenantRecord?> TenantAsync(Caller caller, CancellationToken cancellation) =>
        caller.TenantId == AdminTenant ? null : await _store.GetTenantAsync(caller.TenantId, cancellation).ConfigureAwait(false);

    private async Task CheckQuotaAsync(Caller caller, long adding, CancellationToken cancellation)
    {
        var tenant = await TenantAsync(caller, cancellation).ConfigureAwait(false);
        if (tenant is null) return;
        long stored = (await _store.ListSessionsAsync(tenant.Id, cancellation).ConfigureAwait(false)).Sum(s => s.Bytes)
                      + (await _store.ListJobsAsync(tenant.Id, cancellation).ConfigureAwait(false)).Sum(j => j.InputBytes + j.ResultBytes);
        if (stored + adding > tenant.MaxStoredBytes)
        {
            Audit("quota.refused", $"tenant:{tenant.Id}", caller, new() { ["stored"] = stored.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            throw new ServiceException(429, "quota", $"This tenant stores {stored} bytes; {adding} more would pass its quota of {tenant.MaxStoredBytes}.", "quota");
        }
    }

    /// <summary>Reads a request body up to <paramref name="cap"/> bytes: a larger declared or actual body is refused with 413 before it is all read.</summary>
    private async Task<byte[]> ReadBodyAsync(Stream body, long? declared, long cap, string what, CancellationToken cancellation)
    {
        if (declared > cap) throw new ServiceException(413, "too_large", $"The {what} is {declared} bytes; at most {cap} are accepted.", what);
        if (declared == 0) throw new ServiceException(400, "empty", $"No {what} in the request body.", what);
        if (declared is { } exact) return await ReadExactAsync(body, exact, what, cancellation).ConfigureAwait(false);
        // No declared length: grown as bytes arrive, counted against one budget for all request bodies being read.
        using var buffer = new MemoryStream(1 << 16);
        var chunk = new byte[1 << 16];
        long reserved = 0;
        try
        {
            while (true)
            {
                int read = await body.ReadAsync(chunk, cancellation).ConfigureAwait(false);
                if (read == 0) break;
                if (buffer.Length + read > cap) throw new ServiceException(413, "too_large", $"The {what} passes {cap} bytes, the most accepted.", what);
                Reserve(read, what);
                reserved += read;
                buffer.Write(chunk, 0, read);
            }
        }
        finally { Interlocked.Add(ref _bufferedBytes, -reserved); }
        if (buffer.Length == 0) throw new ServiceException(400, "empty", $"No {what} in the request body.", what);
        return buffer.ToArray();
    }

    /// <summary>
    /// A body of a declared length (already checked against the cap, from an authenticated caller) read straight into
    /// one array: its length is reserved from the global budget first, so slow senders cannot pin more than the budget.
    /// </summary>
    private async Task<byte[]> ReadExactAsync(Stream body, long length, string what, CancellationToken cancellation)
    {
        // Reserved and grown as bytes arrive (doubling, capped at the declared length, so the last growth lands on it
        // exactly): a caller that declares much and sends little holds little.
        long reserved = 0;
        try
        {
            var result = GC.AllocateUninitializedArray<byte>((int)Math.Min(length, 1 << 20));
            int filled = 0;
            while (filled < length)
            {
                if (filled == result.Length)
                {
                    var grown = GC.AllocateUninitializedArray<byte>((int)Math.Min(length, 2L * result.Length));
                    result.AsSpan(0, filled).CopyTo(grown);
                    result = grown;
                }
                int read = await body.ReadAsync(result.AsMemory(filled), cancellation).ConfigureAwait(false);
                if (read == 0) throw new ServiceException(400, "truncated", $"The {what} ended after {filled} of {length} bytes.", what);
                Reserve(read, what);
                reserved += read;
                filled += read;
            }
            var extra = new byte[1];
            if (await body.ReadAsync(extra, cancellation).ConfigureAwait(false) != 0) throw new ServiceException(400, "too_long", $"The {what} is longer than its declared {length} bytes.", what);
            return result;
        }
        finally { Interlocked.Add(ref _bufferedBytes, -reserved); }
    }

    private void Reserve(long bytes, string what)
    {
        if (Interlocked.Add(ref _bufferedBytes, bytes) <= _options.MaxBufferedBytes) return;
        Interlocked.Add(ref _bufferedBytes, -bytes);
        throw new ServiceException(503, "busy", "The service is reading too many request bodies at once; try again shortly.", what);
    }

    private SerializationLimits KeyLimits => SerializationLimits.Default with { MaxObjectBytes = Math.Min(_options.MaxKeyBytes, Array.MaxLength) };
    private SerializationLimits RequestLimits => SerializationLimits.Default with { MaxObjectBytes = Math.Min(_options.MaxRequestBytes, Array.MaxLength) };
    private ExecutionOptions Execution(CancellationToken cancellation) => new() { MaxDegreeOfParallelism = _options.ThreadsPerEvaluation, Cancellation = cancellation };

    private byte[] Seal(byte[] plain, ObjectType type) => ProtectedStream.Protect(plain, [_keyring], new ProtectionOptions { ContentType = type });
    private byte[] Open(byte[] sealedBytes, ObjectType type) => ProtectedStream.Unprotect(sealedBytes, _keyring.Identities, type);

    private static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    private static bool IsId(string id) => id.Length == 32 && id.All(char.IsAsciiHexDigitLower);

    private void Audit(string action, string subject, Caller? caller, Dictionary<string, string>? details)
    {
        details ??= [];
        if (caller is not null) { details["tenant"] = caller.TenantId; details["key"] = caller.KeyId; }
        _audit.Record(action, subject, details);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var s in _sessions.Values) s.Context.Dispose();
        _sessions.Clear();
        Metrics.Dispose();
    }
}
