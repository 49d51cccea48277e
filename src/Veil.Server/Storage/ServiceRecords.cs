namespace Veil.Server.Storage;

/// <summary>A tenant: an organisation whose sessions, results and grants are its own.</summary>
/// <param name="Id">Opaque id.</param>
/// <param name="Name">Display name (unique).</param>
/// <param name="Created">Creation time.</param>
/// <param name="MaxStoredBytes">Quota on the bytes of its stored keys and results.</param>
/// <param name="MaxConcurrentJobs">Quota on its queued and running jobs.</param>
public sealed record TenantRecord(string Id, string Name, DateTimeOffset Created, long MaxStoredBytes, int MaxConcurrentJobs);

/// <summary>An API key: only the SHA-256 of its secret is stored.</summary>
/// <param name="Id">The public part of the key (it names the key in logs and in revocation).</param>
/// <param name="TenantId">The tenant it acts for (the admin tenant for admin keys).</param>
/// <param name="SecretHash">SHA-256 of the secret part, lower-case hex.</param>
/// <param name="IsAdmin">Whether it may deploy models, create tenants and issue or revoke keys.</param>
/// <param name="Created">Creation time.</param>
/// <param name="Expires">Expiry, if any.</param>
/// <param name="Revoked">Whether it was revoked.</param>
public sealed record ApiKeyRecord(string Id, string TenantId, string SecretHash, bool IsAdmin, DateTimeOffset Created, DateTimeOffset? Expires, bool Revoked);

/// <summary>A deployed model.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Digest">SHA-256 of the saved network (hex).</param>
/// <param name="Bytes">Size of the saved network.</param>
/// <param name="Created">Deployment time.</param>
/// <param name="Retired">Whether it was retired (its sessions stop working; the name stays taken).</param>
/// <param name="OutputLabels">A class label per output (KNN references), comma-separated; null for other models.</param>
public sealed record ModelRecord(string Name, string Digest, long Bytes, DateTimeOffset Created, bool Retired, string? OutputLabels = null);

/// <summary>A client's registered keys for one model.</summary>
/// <param name="Id">Opaque id.</param>
/// <param name="TenantId">Owner.</param>
/// <param name="ModelName">The model the keys were made for.</param>
/// <param name="Bytes">Size of the public context as uploaded.</param>
/// <param name="Created">Registration time.</param>
public sealed record SessionRecord(string Id, string TenantId, string ModelName, long Bytes, DateTimeOffset Created);

/// <summary>The states of a background job.</summary>
public enum JobState
{
    /// <summary>Waiting for a worker.</summary>
    Queued,
    /// <summary>Being evaluated.</summary>
    Running,
    /// <summary>Done; the result can be fetched until it expires.</summary>
    Succeeded,
    /// <summary>Ended with an error (named in the record).</summary>
    Failed,
    /// <summary>Cancelled by its tenant.</summary>
    Cancelled,
}

/// <summary>A background job (a batched inference).</summary>
/// <param name="Id">Opaque id.</param>
/// <param name="TenantId">Owner.</param>
/// <param name="SessionId">The keys it runs under.</param>
/// <param name="ModelName">The model.</param>
/// <param name="State">Where it is.</param>
/// <param name="Progress">Fraction done, 0 … 1.</param>
/// <param name="Error">Why it failed, if it did.</param>
/// <param name="InputBytes">Size of its input.</param>
/// <param name="ResultBytes">Size of its result, once done.</param>
/// <param name="Created">Submission time.</param>
/// <param name="Finished">End time, once ended.</param>
/// <param name="Expires">When it and its result are deleted.</param>
/// <param name="Attempts">How many times a worker started it (above 1 after a restart resumed it).</param>
public sealed record JobRecord(string Id, string TenantId, string SessionId, string ModelName, JobState State, double Progress, string? Error,
    long InputBytes, long ResultBytes, DateTimeOffset Created, DateTimeOffset? Finished, DateTimeOffset Expires, int Attempts);
