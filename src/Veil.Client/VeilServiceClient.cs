using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Veil.Ml.Serving;
using Veil.Protection;

namespace Veil.Client;

/// <summary>A refusal from the service: its status and error body.</summary>
public sealed class VeilServiceException(HttpStatusCode status, ErrorBody? body, string message) : Exception(message)
{
    /// <summary>The HTTP status.</summary>
    public HttpStatusCode Status { get; } = status;
    /// <summary>The service's error body, when it sent one.</summary>
    public ErrorBody? Body { get; } = body;
}

/// <summary>
/// The REST API of a Veil service, for tenants and admins. HTTPS; the server's key can be pinned (the pin the
/// service prints and writes to server.pin) instead of trusting a CA.
/// </summary>
/// <example><code>
/// using var client = new VeilServiceClient(new Uri("https://127.0.0.1:5443"), apiKey, serverPin);
/// using var session = await client.OpenSessionAsync("digits");
/// double[] scores = await session.PredictAsync(pixels);
/// </code></example>
public sealed class VeilServiceClient : IDisposable
{
    private static readonly MediaTypeHeaderValue Binary = new("application/octet-stream");
    private readonly HttpClient _http;

    /// <summary>A client of the service at <paramref name="baseAddress"/> acting with <paramref name="apiKey"/>.</summary>
    /// <param name="baseAddress">The service's address.</param>
    /// <param name="apiKey">A tenant's or an admin's key ("veil_…").</param>
    /// <param name="serverPin">The pin of the service's key; null trusts the system's CAs.</param>
    /// <param name="handler">A handler to use instead (a test server's); the pin is then not applied.</param>
    public VeilServiceClient(Uri baseAddress, string apiKey, string? serverPin = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        handler ??= new SocketsHttpHandler
        {
            SslOptions = serverPin is null ? new() : new() { RemoteCertificateValidationCallback = (_, cert, _, _) => Tls.MatchesPin(cert, [serverPin]) },
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        // Answers are bounded too: a service cannot make the client buffer more than 1 GiB.
        _http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(30), MaxResponseContentBufferSize = 1L << 30 };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    // ------------------------------------------------------------------ tenant operations

    /// <summary>Models this tenant may use.</summary>
    public Task<IReadOnlyList<ModelSummary>> ListModelsAsync(CancellationToken cancellation = default) =>
        GetJsonAsync<IReadOnlyList<ModelSummary>>("v1/models", cancellation);

    /// <summary>What a client must send to a model.</summary>
    public Task<InferenceManifest> DescribeModelAsync(string model, CancellationToken cancellation = default) =>
        GetJsonAsync<InferenceManifest>($"v1/models/{Uri.EscapeDataString(model)}", cancellation);

    /// <summary>
    /// Makes keys for a model from its manifest and registers their public part: the session is ready for
    /// predictions. <paramref name="batchedOnly"/> skips the rotation keys (a much smaller upload, batched requests only).
    /// </summary>
    /// <param name="model">The deployed model.</param>
    /// <param name="batchedOnly">Keys without rotations (batched requests only).</param>
    /// <param name="attestation">Evidence for a service that checks attestations, made from the SHA-256 of the keys (see docs/tee.md).</param>
    /// <param name="cancellation">Cancels the upload.</param>
    public async Task<ModelSession> OpenSessionAsync(string model, bool batchedOnly = false, Func<byte[], string>? attestation = null, CancellationToken cancellation = default)
    {
        var manifest = await DescribeModelAsync(model, cancellation).ConfigureAwait(false);
        var keys = new ModelClient(manifest, batchedOnly);
        try
        {
            var publicContext = keys.PublicContext();
            var info = await RegisterAsync(model, publicContext, attestation?.Invoke(System.Security.Cryptography.SHA256.HashData(publicContext)), cancellation).ConfigureAwait(false);
            return new ModelSession(this, keys, info);
        }
        catch
        {
            keys.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Encrypted training by the service: keys for the data's size made here, the rows preprocessed and encrypted here,
    /// gradient descent there on ciphertexts, the weights decrypted here (only here). The training session is deleted after.
    /// </summary>
    /// <param name="x">Feature rows.</param>
    /// <param name="y">Targets (0/1 for logistic regression).</param>
    /// <param name="kind">Linear or logistic regression.</param>
    /// <param name="options">Gradient descent (iterations bounded by the parameters' levels).</param>
    /// <param name="progress">The job's progress.</param>
    /// <param name="cancellation">Cancels waiting (and the job).</param>
    public async Task<Veil.Ml.Encrypted.EncryptedGradientModel> TrainAsync(double[][] x, double[] y, Veil.Ml.Encrypted.GradientModelKind kind,
        Veil.Ml.Encrypted.GradientDescentOptions options, IProgress<double>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(options);
        if (x.Length == 0) throw new ArgumentException("No rows.", nameof(x));
        var parameters = Veil.Ckks.CkksParameters.Create(Veil.Ml.Encrypted.TwoPartyTraining.ParametersFor(x.Length, x[0].Length, kind, options));
        using var owner = Veil.Ckks.CkksContext.Create(parameters, Veil.Ml.Encrypted.TwoPartyTraining.RequiredRotations(x[0].Length, parameters.Slots));
        var (job, state) = Veil.Ml.Encrypted.TwoPartyTraining.Prepare(owner, x, y, kind, options);
        SessionInfo session;
        using (var content = new ByteArrayContent(owner.SavePublic()))
        {
            content.Headers.ContentType = Binary;
            using var response = await _http.PostAsync("v1/training/sessions", content, cancellation).ConfigureAwait(false);
            session = await ReadJsonAsync<SessionInfo>(response, cancellation).ConfigureAwait(false);
        }
        try
        {
            var submitted = await PostBytesForJsonAsync<JobInfo>($"v1/sessions/{session.SessionId}/jobs", job.Save(), cancellation).ConfigureAwait(false);
            while (true)
            {
                var info = await GetJobAsync(submitted.JobId, cancellation).ConfigureAwait(false);
                progress?.Report(info.Progress);
                if (info.State == "succeeded") break;
                if (info.State is "failed" or "cancelled") throw new VeilServiceException(HttpStatusCode.Conflict, null, $"Training job {submitted.JobId} {info.State}: {info.Error}");
                await Task.Delay(200, cancellation).ConfigureAwait(false);
            }
            var weights = Veil.Ml.Encrypted.EncryptedModelWeights.Load(owner, await GetBytesAsync($"v1/jobs/{submitted.JobId}/result", cancellation).ConfigureAwait(false));
            return Veil.Ml.Encrypted.TwoPartyTraining.Finish(owner, state, weights);
        }
        finally
        {
            // Best effort: a failed clean-up must not hide why training failed.
            try { await DeleteAsync($"v1/sessions/{session.SessionId}", CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) when (e is VeilServiceException or HttpRequestException) { }
        }
    }

    /// <summary>Registers a saved public context for a model (what <see cref="OpenSessionAsync"/> does with its own keys).</summary>
    public async Task<SessionInfo> RegisterAsync(string model, byte[] publicContext, string? attestation = null, CancellationToken cancellation = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/models/{Uri.EscapeDataString(model)}/sessions") { Content = new ByteArrayContent(publicContext) };
        request.Content.Headers.ContentType = Binary;
        if (attestation is not null) request.Headers.Add("X-Veil-Attestation", attestation);
        using var response = await _http.SendAsync(request, cancellation).ConfigureAwait(false);
        return await ReadJsonAsync<SessionInfo>(response, cancellation).ConfigureAwait(false);
    }

    /// <summary>Posts bytes and returns the bytes of the answer.</summary>
    internal async Task<byte[]> PostBytesAsync(string path, byte[] body, CancellationToken cancellation)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = Binary;
        using var response = await _http.PostAsync(path, content, cancellation).ConfigureAwait(false);
        await EnsureAsync(response, cancellation).ConfigureAwait(false);
        return await response.Content.ReadAsByteArrayAsync(cancellation).ConfigureAwait(false);
    }

    internal async Task<T> PostBytesForJsonAsync<T>(string path, byte[] body, CancellationToken cancellation)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = Binary;
        using var response = await _http.PostAsync(path, content, cancellation).ConfigureAwait(false);
        return await ReadJsonAsync<T>(response, cancellation).ConfigureAwait(false);
    }

    internal async Task<byte[]> GetBytesAsync(string path, CancellationToken cancellation)
    {
        using var response = await _http.GetAsync(path, cancellation).ConfigureAwait(false);
        await EnsureAsync(response, cancellation).ConfigureAwait(false);
        return await response.Content.ReadAsByteArrayAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>One ciphertext (bytes) to a session's single-input endpoint; the answer's bytes.</summary>
    public Task<byte[]> PredictRawAsync(string sessionId, byte[] ciphertext, CancellationToken cancellation = default) =>
        PostBytesAsync($"v1/sessions/{sessionId}/predict", ciphertext, cancellation);

    /// <summary>This tenant's sessions.</summary>
    public Task<IReadOnlyList<SessionInfo>> ListSessionsAsync(CancellationToken cancellation = default) => GetJsonAsync<IReadOnlyList<SessionInfo>>("v1/sessions", cancellation);

    /// <summary>A job's state.</summary>
    public Task<JobInfo> GetJobAsync(string jobId, CancellationToken cancellation = default) => GetJsonAsync<JobInfo>($"v1/jobs/{jobId}", cancellation);

    /// <summary>Deletes a session (or cancels/deletes a job) by its path under v1/.</summary>
    internal async Task DeleteAsync(string path, CancellationToken cancellation)
    {
        using var response = await _http.DeleteAsync(path, cancellation).ConfigureAwait(false);
        await EnsureAsync(response, cancellation).ConfigureAwait(false);
    }

    /// <summary>Cancels a queued or running job, or deletes an ended one.</summary>
    public Task DeleteJobAsync(string jobId, CancellationToken cancellation = default) => DeleteAsync($"v1/jobs/{jobId}", cancellation);

    // ------------------------------------------------------------------ admin operations

    /// <summary>Deploys a saved network under a name (admin).</summary>
    /// <param name="name">The model's name.</param>
    /// <param name="network">A saved network.</param>
    /// <param name="grantAll">Let every tenant use it.</param>
    /// <param name="outputLabels">A class label per output, for KNN references (<see cref="KnnReferences"/>).</param>
    /// <param name="cancellation">Cancels the upload.</param>
    public async Task<InferenceManifest> DeployAsync(string name, byte[] network, bool grantAll = false, IReadOnlyList<double>? outputLabels = null, CancellationToken cancellation = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"v1/admin/models/{Uri.EscapeDataString(name)}?grantAll={(grantAll ? "true" : "false")}") { Content = new ByteArrayContent(network) };
        request.Content.Headers.ContentType = Binary;
        if (outputLabels is not null) request.Headers.Add("X-Veil-Output-Labels", string.Join(',', outputLabels.Select(l => l.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
        using var response = await _http.SendAsync(request, cancellation).ConfigureAwait(false);
        return await ReadJsonAsync<InferenceManifest>(response, cancellation).ConfigureAwait(false);
    }

    /// <summary>Creates a tenant and its first key (admin).</summary>
    public async Task<TenantCreated> CreateTenantAsync(CreateTenantRequest request, CancellationToken cancellation = default)
    {
        using var response = await _http.PostAsJsonAsync("v1/admin/tenants", request, cancellation).ConfigureAwait(false);
        return await ReadJsonAsync<TenantCreated>(response, cancellation).ConfigureAwait(false);
    }

    /// <summary>Issues another key for a tenant (admin).</summary>
    public async Task<KeyIssued> IssueKeyAsync(string tenantId, double? expiresInHours = null, CancellationToken cancellation = default)
    {
        using var response = await _http.PostAsJsonAsync($"v1/admin/tenants/{tenantId}/keys", new IssueKeyRequest(expiresInHours), cancellation).ConfigureAwait(false);
        return await ReadJsonAsync<KeyIssued>(response, cancellation).ConfigureAwait(false);
    }

    /// <summary>Revokes a key (admin).</summary>
    public Task RevokeKeyAsync(string keyId, CancellationToken cancellation = default) => DeleteAsync($"v1/admin/keys/{keyId}", cancellation);

    /// <summary>Grants a model to a tenant ("*": all) (admin).</summary>
    public async Task GrantAsync(string model, string tenantId, CancellationToken cancellation = default)
    {
        using var response = await _http.PostAsync($"v1/admin/models/{Uri.EscapeDataString(model)}/grants/{Uri.EscapeDataString(tenantId)}", null, cancellation).ConfigureAwait(false);
        await EnsureAsync(response, cancellation).ConfigureAwait(false);
    }

    /// <summary>Retires a model (admin).</summary>
    public Task RetireAsync(string model, CancellationToken cancellation = default) => DeleteAsync($"v1/admin/models/{Uri.EscapeDataString(model)}", cancellation);

    /// <summary>The service at a glance (admin).</summary>
    public Task<ServiceOverview> OverviewAsync(CancellationToken cancellation = default) => GetJsonAsync<ServiceOverview>("v1/admin/overview", cancellation);

    // ------------------------------------------------------------------ plumbing

    private async Task<T> GetJsonAsync<T>(string path, CancellationToken cancellation)
    {
        using var response = await _http.GetAsync(path, cancellation).ConfigureAwait(false);
        return await ReadJsonAsync<T>(response, cancellation).ConfigureAwait(false);
    }

    private static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, CancellationToken cancellation)
    {
        await EnsureAsync(response, cancellation).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(cancellation).ConfigureAwait(false)
            ?? throw new VeilServiceException(response.StatusCode, null, "The service answered an empty body.");
    }

    private static async Task EnsureAsync(HttpResponseMessage response, CancellationToken cancellation)
    {
        if (response.IsSuccessStatusCode) return;
        ErrorBody? body = null;
        try { body = await response.Content.ReadFromJsonAsync<ErrorBody>(cancellation).ConfigureAwait(false); }
        catch (System.Text.Json.JsonException) { }
        catch (NotSupportedException) { }
        throw new VeilServiceException(response.StatusCode, body, $"{(int)response.StatusCode} {response.ReasonPhrase}: {body?.Error ?? "no details"}");
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();
}

/// <summary>A registered session: the client's keys (the secret stays here) and the service's session id.</summary>
public sealed class ModelSession : IDisposable
{
    private readonly VeilServiceClient _client;

    internal ModelSession(VeilServiceClient client, ModelClient keys, SessionInfo info)
    {
        _client = client;
        Keys = keys;
        Info = info;
    }

    /// <summary>The keys and the model's packing.</summary>
    public ModelClient Keys { get; }
    /// <summary>The session as the service knows it.</summary>
    public SessionInfo Info { get; }

    /// <summary>One input, encrypted, evaluated by the service and decrypted here: the model's outputs.</summary>
    public async Task<double[]> PredictAsync(double[] input, CancellationToken cancellation = default) =>
        Keys.DecryptSingle(await _client.PostBytesAsync($"v1/sessions/{Info.SessionId}/predict", Keys.EncryptSingle(input), cancellation).ConfigureAwait(false));

    /// <summary>KNN references: the majority label of the <paramref name="k"/> nearest, from the distances decrypted here.</summary>
    /// <exception cref="InvalidOperationException">The model publishes no output labels.</exception>
    public async Task<double> PredictNearestAsync(double[] input, int k, CancellationToken cancellation = default)
    {
        var labels = Keys.Manifest.OutputLabels ?? throw new InvalidOperationException($"Model '{Keys.Manifest.Name}' has no output labels: it is not a KNN model.");
        return KnnReferences.Vote(await PredictAsync(input, cancellation).ConfigureAwait(false), labels, k);
    }

    /// <summary>A batch evaluated while the caller waits: the outputs of each input.</summary>
    public async Task<double[][]> PredictBatchAsync(double[][] inputs, CancellationToken cancellation = default) =>
        Keys.DecryptBatch(await _client.PostBytesAsync($"v1/sessions/{Info.SessionId}/predict-batch", Keys.EncryptBatch(inputs), cancellation).ConfigureAwait(false), inputs.Length);

    /// <summary>A batch as a background job.</summary>
    public Task<JobInfo> SubmitBatchAsync(double[][] inputs, CancellationToken cancellation = default) =>
        _client.PostBytesForJsonAsync<JobInfo>($"v1/sessions/{Info.SessionId}/jobs", Keys.EncryptBatch(inputs), cancellation);

    /// <summary>Waits for a job (polling), reporting its progress, and decrypts the outputs of its <paramref name="count"/> inputs.</summary>
    /// <exception cref="VeilServiceException">The job failed or was cancelled.</exception>
    public async Task<double[][]> WaitForJobAsync(string jobId, int count, IProgress<double>? progress = null, TimeSpan? poll = null, CancellationToken cancellation = default)
    {
        while (true)
        {
            var job = await _client.GetJobAsync(jobId, cancellation).ConfigureAwait(false);
            progress?.Report(job.Progress);
            if (job.State == "succeeded") break;
            if (job.State is "failed" or "cancelled") throw new VeilServiceException(HttpStatusCode.Conflict, null, $"Job {jobId} {job.State}: {job.Error}");
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(200), cancellation).ConfigureAwait(false);
        }
        return Keys.DecryptBatch(await _client.GetBytesAsync($"v1/jobs/{jobId}/result", cancellation).ConfigureAwait(false), count);
    }

    /// <summary>Deletes the session and its stored keys at the service.</summary>
    public Task DeleteAsync(CancellationToken cancellation = default) => _client.DeleteAsync($"v1/sessions/{Info.SessionId}", cancellation);

    /// <inheritdoc/>
    public void Dispose() => Keys.Dispose();
}
