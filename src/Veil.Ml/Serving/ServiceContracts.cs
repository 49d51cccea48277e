namespace Veil.Ml.Serving;

// The JSON shapes of the encrypted-inference service's API, shared by the service and its client.

/// <summary>A new tenant and its first API key (shown once).</summary>
public sealed record TenantCreated(string TenantId, string Name, string KeyId, string ApiKey);

/// <summary>A request to create a tenant.</summary>
public sealed record CreateTenantRequest(string Name, long? MaxStoredBytes = null, int? MaxConcurrentJobs = null);

/// <summary>A new API key (shown once).</summary>
public sealed record KeyIssued(string KeyId, string ApiKey, DateTimeOffset? Expires);

/// <summary>A request for another key of a tenant.</summary>
public sealed record IssueKeyRequest(double? ExpiresInHours = null);

/// <summary>A deployed model, in a listing.</summary>
public sealed record ModelSummary(string Name, string Digest, int Inputs, int Outputs, int Depth, bool SingleInput, int LogN, DateTimeOffset Created, bool Retired);

/// <summary>A client's registered keys.</summary>
public sealed record SessionInfo(string SessionId, string Model, long Bytes, DateTimeOffset Created);

/// <summary>A background job.</summary>
public sealed record JobInfo(string JobId, string Model, string SessionId, string State, double Progress, string? Error,
    DateTimeOffset Created, DateTimeOffset? Finished, DateTimeOffset Expires, int Attempts);

/// <summary>What went wrong: the HTTP status, a short code, the part of the request at fault and a sentence.</summary>
public sealed record ErrorBody(int Status, string Code, string? Field, string Error);

/// <summary>The service at a glance (admin): counts and the jobs in flight; never key material.</summary>
public sealed record ServiceOverview(int Tenants, int Models, int Sessions, long StoredSessionBytes, int QueuedJobs, int RunningJobs,
    IReadOnlyList<ModelSummary> ModelList, IReadOnlyList<SessionInfo> SessionList, IReadOnlyList<JobInfo> JobList);
