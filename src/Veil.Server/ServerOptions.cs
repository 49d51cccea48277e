using Veil.Protection;

namespace Veil.Server;

/// <summary>How a service instance runs: where it keeps its data, what it listens on, and the limits it enforces.</summary>
public sealed record ServerOptions
{
    /// <summary>The folder of the keyring, the audit log, the TLS certificate and (SQLite back end) the database and blobs.</summary>
    public required string DataDirectory { get; init; }
    /// <summary>Addresses to listen on (HTTPS unless a URL says http://, which is meant for tests behind a TLS proxy).</summary>
    public IReadOnlyList<string> Urls { get; init; } = ["https://127.0.0.1:5443"];
    /// <summary>PostgreSQL connection string; null uses the embedded SQLite store in <see cref="DataDirectory"/>.</summary>
    public string? PostgresConnectionString { get; init; }
    /// <summary>The keyring's passphrase; null reads VEIL_SERVER_PASSPHRASE, else keeps a generated one in the data folder (with a warning).</summary>
    public string? KeyringPassphrase { get; init; }
    /// <summary>Argon2id cost of a new keyring (null: the default).</summary>
    public Argon2Parameters? KeyringCost { get; init; }
    /// <summary>Accept a keyring cost below OWASP's minimum (tests only).</summary>
    public bool AllowWeakKeyringCost { get; init; }
    /// <summary>Largest key upload (a public context with its evaluation keys).</summary>
    public long MaxKeyBytes { get; init; } = 512L << 20;
    /// <summary>Largest inference request (one ciphertext or a batch).</summary>
    public long MaxRequestBytes { get; init; } = 512L << 20;
    /// <summary>Bytes of keys and results a new tenant may store.</summary>
    public long DefaultTenantBytes { get; init; } = 8L << 30;
    /// <summary>Queued and running jobs a new tenant may have.</summary>
    public int DefaultTenantJobs { get; init; } = 4;
    /// <summary>Background workers (each evaluates one job at a time).</summary>
    public int Workers { get; init; } = 1;
    /// <summary>Threads inside one evaluation.</summary>
    public int ThreadsPerEvaluation { get; init; } = Environment.ProcessorCount;
    /// <summary>How long a worker's claim on a job lasts unless renewed (it renews at a third of this); replicas take over a job whose claim ran out.</summary>
    public TimeSpan JobLease { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long a finished job and its result are kept.</summary>
    public TimeSpan ResultLifetime { get; init; } = TimeSpan.FromHours(24);
    /// <summary>Requests per second per verified API key (a token bucket of this size, refilled every second).</summary>
    public int RequestsPerSecond { get; init; } = 500;
    /// <summary>Requests per second per client address, before authentication.</summary>
    public int RequestsPerAddressPerSecond { get; init; } = 2000;
    /// <summary>Request bytes being read at once, over all requests (beyond: 503 until some finish).</summary>
    public long MaxBufferedBytes { get; init; } = 4L << 30;
    /// <summary>Evaluations running at once (the others wait their turn).</summary>
    public int MaxConcurrentEvaluations { get; init; } = Math.Max(2, Environment.ProcessorCount);
    /// <summary>Synchronous requests of one tenant served at once (beyond: 429).</summary>
    public int MaxRequestsInFlightPerTenant { get; init; } = 16;
    /// <summary>Bytes of loaded session keys kept in memory (least recently used ones are dropped and reloaded on demand).</summary>
    public long MaxCachedSessionBytes { get; init; } = 8L << 30;
    /// <summary>Log to the console (structured single lines); off for a service embedded in a benchmark or a demo.</summary>
    public bool ConsoleLog { get; init; } = true;
    /// <summary>Checks an attestation (a TEE's report) before keys are accepted; null accepts every upload (see docs/tee.md).</summary>
    public IKeyUploadAttestation? Attestation { get; init; }
}

/// <summary>
/// A hook in the key-upload path: a deployment in a confidential VM plugs in a verifier of the client's or the
/// platform's attestation evidence, sent in the X-Veil-Attestation header (docs/tee.md).
/// </summary>
public interface IKeyUploadAttestation
{
    /// <summary>
    /// Null when the evidence is accepted; otherwise why not (the upload is refused with 403 and audited). Called after
    /// the body is read and before the keys are parsed, with the SHA-256 of the uploaded bytes, so that evidence can
    /// bind exactly these keys. An exception is a refusal too.
    /// </summary>
    ValueTask<string?> VerifyAsync(string tenantId, string modelName, string? evidence, ReadOnlyMemory<byte> keysDigest, CancellationToken cancellation);
}
