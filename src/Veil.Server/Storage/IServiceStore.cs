namespace Veil.Server.Storage;

/// <summary>
/// Where the service keeps its metadata and its (already encrypted) blobs. Two back ends: SQLite with blobs on disk
/// (the embedded default) and PostgreSQL (production; several replicas can share it).
/// </summary>
/// <remarks>Blobs reach the store sealed by the service's keyring; a store never sees a key or a model in the clear.</remarks>
public interface IServiceStore : IDisposable
{
    /// <summary>Creates the tables when missing.</summary>
    Task InitializeAsync(CancellationToken cancellation = default);
    /// <summary>Whether the store answers (for /readyz).</summary>
    Task<bool> PingAsync(CancellationToken cancellation = default);

    /// <summary>Adds a tenant.</summary>
    /// <exception cref="StoreConflictException">The name is taken.</exception>
    Task AddTenantAsync(TenantRecord tenant, CancellationToken cancellation = default);
    /// <summary>A tenant, or null.</summary>
    Task<TenantRecord?> GetTenantAsync(string id, CancellationToken cancellation = default);
    /// <summary>Every tenant.</summary>
    Task<IReadOnlyList<TenantRecord>> ListTenantsAsync(CancellationToken cancellation = default);

    /// <summary>Adds an API key.</summary>
    Task AddApiKeyAsync(ApiKeyRecord key, CancellationToken cancellation = default);
    /// <summary>An API key by its id, or null.</summary>
    Task<ApiKeyRecord?> GetApiKeyAsync(string id, CancellationToken cancellation = default);
    /// <summary>Marks a key revoked; false when there is no such key.</summary>
    Task<bool> RevokeApiKeyAsync(string id, CancellationToken cancellation = default);
    /// <summary>Whether any admin key that is not revoked exists.</summary>
    Task<bool> HasAdminKeyAsync(CancellationToken cancellation = default);

    /// <summary>Adds a model.</summary>
    /// <exception cref="StoreConflictException">The name is taken (retired names stay taken).</exception>
    Task AddModelAsync(ModelRecord model, CancellationToken cancellation = default);
    /// <summary>A model, or null.</summary>
    Task<ModelRecord?> GetModelAsync(string name, CancellationToken cancellation = default);
    /// <summary>Every model.</summary>
    Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken cancellation = default);
    /// <summary>Marks a model retired; false when there is no such model.</summary>
    Task<bool> RetireModelAsync(string name, CancellationToken cancellation = default);
    /// <summary>Lets a tenant ("*": every tenant) use a model.</summary>
    Task GrantAsync(string tenantId, string modelName, CancellationToken cancellation = default);
    /// <summary>Whether the tenant may use the model (granted to it or to every tenant).</summary>
    Task<bool> IsGrantedAsync(string tenantId, string modelName, CancellationToken cancellation = default);

    /// <summary>Adds a session.</summary>
    Task AddSessionAsync(SessionRecord session, CancellationToken cancellation = default);
    /// <summary>A session, or null.</summary>
    Task<SessionRecord?> GetSessionAsync(string id, CancellationToken cancellation = default);
    /// <summary>Sessions of a tenant, or of all tenants when null.</summary>
    Task<IReadOnlyList<SessionRecord>> ListSessionsAsync(string? tenantId, CancellationToken cancellation = default);
    /// <summary>Deletes a session's record; false when there is none.</summary>
    Task<bool> DeleteSessionAsync(string id, CancellationToken cancellation = default);

    /// <summary>Adds a job.</summary>
    Task AddJobAsync(JobRecord job, CancellationToken cancellation = default);
    /// <summary>Replaces a job's record.</summary>
    Task UpdateJobAsync(JobRecord job, CancellationToken cancellation = default);
    /// <summary>
    /// Replaces a job's record only while its stored state is one of <paramref name="from"/> (a compare-and-set, so that a
    /// cancel, a worker's claim and a worker's result never overwrite one another); false when the state had moved on.
    /// </summary>
    /// <param name="job">The record to store.</param>
    /// <param name="from">The states it may replace.</param>
    /// <param name="cancellation">Cancels the write.</param>
    /// <param name="expectedAttempts">Also only while the stored attempt count is this (a worker's result after another worker took the job over is dropped).</param>
    Task<bool> TransitionJobAsync(JobRecord job, JobState[] from, CancellationToken cancellation = default, int? expectedAttempts = null);
    /// <summary>A job, or null.</summary>
    Task<JobRecord?> GetJobAsync(string id, CancellationToken cancellation = default);
    /// <summary>Jobs of a tenant, or of all tenants when null.</summary>
    Task<IReadOnlyList<JobRecord>> ListJobsAsync(string? tenantId, CancellationToken cancellation = default);
    /// <summary>
    /// Takes or renews the lease of <paramref name="owner"/> (one worker of one replica) on a job until
    /// <paramref name="until"/>; false while another owner's lease has not expired. Replicas sharing a store run a job
    /// only under its lease, so a job is never run twice at once, and one whose replica died is taken over when its lease runs out.
    /// </summary>
    Task<bool> LeaseJobAsync(string jobId, string owner, DateTimeOffset until, CancellationToken cancellation = default);
    /// <summary>Gives up <paramref name="owner"/>'s lease on a job (nothing when another holds it).</summary>
    Task ReleaseJobAsync(string jobId, string owner, CancellationToken cancellation = default);
    /// <summary>Deletes a job's record; false when there is none.</summary>
    Task<bool> DeleteJobAsync(string id, CancellationToken cancellation = default);

    /// <summary>Stores a blob under a new key, atomically: after a crash it is either whole or absent.</summary>
    Task PutBlobAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellation = default);
    /// <summary>A blob, or null.</summary>
    Task<byte[]?> GetBlobAsync(string key, CancellationToken cancellation = default);
    /// <summary>Deletes a blob (no error when absent).</summary>
    Task DeleteBlobAsync(string key, CancellationToken cancellation = default);
    /// <summary>Keys of every blob.</summary>
    Task<IReadOnlyList<string>> ListBlobsAsync(CancellationToken cancellation = default);
    /// <summary>Keys of the blobs written before <paramref name="before"/> (the sweep spares younger ones: their record may be on its way).</summary>
    Task<IReadOnlyList<string>> ListBlobsWrittenBeforeAsync(DateTimeOffset before, CancellationToken cancellation = default);
}

/// <summary>A name or id already taken.</summary>
public sealed class StoreConflictException(string message) : Exception(message);
