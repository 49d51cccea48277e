namespace Veil.Cluster;

/// <summary>Where a silo or a client finds its cluster.</summary>
/// <param name="Redis">The Redis server of the membership table (StackExchange.Redis configuration, e.g. 127.0.0.1:6379), or "sqlite:FILE" for a membership file shared by processes on one machine (no server).</param>
/// <param name="ClusterId">The cluster: silos and clients with the same id (and <paramref name="ServiceId"/>) find each other.</param>
/// <param name="ServiceId">The service, stable across redeployments.</param>
/// <param name="SiloPort">This silo's port for silo-to-silo traffic (loopback).</param>
/// <param name="GatewayPort">This silo's port for clients (loopback).</param>
public sealed record ClusterSettings(string Redis, string ClusterId = "veil", string ServiceId = "veil", int SiloPort = 11111, int GatewayPort = 30000)
{
    /// <summary>Largest grain message: a shard carries a whole batch of ciphertexts (tens of MiB at N = 2^13).</summary>
    public int MaxMessageBytes { get; init; } = 1 << 30;

    /// <summary>How long a call to a grain may take before the caller gives up (a shard evaluates a whole batch).</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// This process's certificate (with its key) for mutual TLS on the silo and gateway ports: when set, every silo and
    /// client presents one and accepts only peers whose key is in <see cref="PeerPins"/> (SHA-256 SPKI pins), so a
    /// process on the machine without the key can neither join nor call a grain. Null: plain TCP (loopback only).
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }

    /// <summary>The pins of the keys a silo or client of this cluster may present (with <see cref="Certificate"/>).</summary>
    public IReadOnlyList<string> PeerPins { get; init; } = [];

    /// <summary>The SQLite membership file when <see cref="Redis"/> is "sqlite:FILE", else null.</summary>
    public string? SqliteMembership => Redis is not null && Redis.StartsWith("sqlite:", StringComparison.Ordinal) ? Redis["sqlite:".Length..] : null;

    /// <summary>Checks the fields; the message names the one at fault.</summary>
    /// <exception cref="ArgumentException">A field is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Redis)) throw new ArgumentException("The cluster needs a Redis address (--cluster HOST:PORT) or a membership file (--cluster sqlite:FILE).", nameof(Redis));
        if (SqliteMembership is { } file && string.IsNullOrWhiteSpace(file)) throw new ArgumentException("--cluster sqlite: needs a file name.", nameof(Redis));
        if (string.IsNullOrWhiteSpace(ClusterId) || string.IsNullOrWhiteSpace(ServiceId)) throw new ArgumentException("The cluster and service ids must not be empty.", nameof(ClusterId));
        if (SiloPort is < 1 or > 65535 || GatewayPort is < 1 or > 65535 || SiloPort == GatewayPort) throw new ArgumentException("The silo and gateway ports must be two different ports 1 … 65535.", nameof(SiloPort));
        if (Certificate is not null && (!Certificate.HasPrivateKey || PeerPins.Count == 0)) throw new ArgumentException("Cluster TLS needs a certificate with its private key and at least one peer pin.", nameof(Certificate));
        if (MaxMessageBytes < 1 << 20) throw new ArgumentException("Messages must be allowed at least 1 MiB.", nameof(MaxMessageBytes));
    }
}
