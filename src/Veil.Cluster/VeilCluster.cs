using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Messaging;

namespace Veil.Cluster;

/// <summary>Silos co-hosted with the service, and clients that reach them.</summary>
public static class VeilCluster
{
    /// <summary>Makes the service's host a silo of the cluster (pass as <see cref="Veil.Server.VeilServer.CreateAsync"/>'s configure): its grains use this instance's <see cref="Veil.Server.VeilService"/>.</summary>
    public static void AddSilo(WebApplicationBuilder builder, ClusterSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        builder.Services.AddSingleton<SiloSessions>();
        builder.Services.AddPlacementDirector<SessionReplicaPlacement, SessionReplicaPlacementDirector>();
        UseSilo(builder, settings);
    }

    /// <summary>
    /// Makes a federation coordinator's gRPC host (pass as <see cref="Veil.Federated.FederationServer.StartAsync(Veil.Federated.FederationPlan, Func{IServiceProvider, Veil.Federated.IFederationFrontEnd}, System.Security.Cryptography.X509Certificates.X509Certificate2, int, ILoggerProvider?, Action{WebApplicationBuilder}?, CancellationToken)"/>'s
    /// configure) a silo that can host <paramref name="federation"/>'s coordinator grain.
    /// </summary>
    public static void AddFederationSilo(WebApplicationBuilder builder, ClusterSettings settings, HostedFederation federation)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(federation);
        settings.Validate();
        var hosting = new FederationHosting();
        hosting.Add(federation);
        builder.Services.AddSingleton(hosting);
        // The coordinator's dropouts and refusals are the log worth reading; ASP.NET Core's per-request lines are not.
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        UseSilo(builder, settings);
    }

    // Mutual TLS 1.3/1.2 both ways, the peer's key pinned (the certificates are self-signed, so the chain is not what is trusted).
    private static void Pinned(Orleans.Connections.Security.TlsOptions o, ClusterSettings settings)
    {
        var pins = settings.PeerPins.ToArray();
        o.RemoteCertificateMode = Orleans.Connections.Security.RemoteCertificateMode.RequireCertificate;
        o.ClientCertificateMode = Orleans.Connections.Security.RemoteCertificateMode.RequireCertificate;
        o.SslProtocols = System.Security.Authentication.SslProtocols.Tls13 | System.Security.Authentication.SslProtocols.Tls12;
        o.CheckCertificateRevocation = false;
        o.RemoteCertificateValidation = (certificate, _, _) => Veil.Protection.Tls.MatchesPin(certificate, pins);
    }

    private static void UseSilo(WebApplicationBuilder builder, ClusterSettings settings)
    {
        // Orleans's start-up report is long, and its placement logs every retry pipeline; their warnings and errors stay.
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            if (settings.SqliteMembership is { } file)
            {
                silo.Services.Configure<SqliteMembershipOptions>(o => o.Path = file);
                silo.Services.AddSingleton<IMembershipTable, SqliteMembershipTable>();
            }
            else silo.UseRedisClustering(settings.Redis);
            silo.Configure<ClusterOptions>(o => { o.ClusterId = settings.ClusterId; o.ServiceId = settings.ServiceId; });
            silo.ConfigureEndpoints(IPAddress.Loopback, settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: false);
            if (settings.Certificate is { } certificate) silo.UseTls(certificate, o => Pinned(o, settings));
            // A lost silo is declared dead after about 3 s (three missed 1-s probes), so its grains re-activate soon.
            silo.Configure<ClusterMembershipOptions>(o => { o.ProbeTimeout = TimeSpan.FromSeconds(1); o.NumMissedProbesLimit = 3; });
            silo.Configure<SiloMessagingOptions>(o => { o.MaxMessageBodySize = settings.MaxMessageBytes; o.ResponseTimeout = settings.ResponseTimeout; });
        });
    }

    /// <summary>A started client of the cluster (dispose it to leave).</summary>
    public static async Task<IHost> ConnectAsync(ClusterSettings settings, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            if (settings.SqliteMembership is { } file)
            {
                client.Services.Configure<SqliteMembershipOptions>(o => o.Path = file);
                client.Services.AddSingleton<IGatewayListProvider, SqliteGatewayListProvider>();
            }
            else client.UseRedisClustering(settings.Redis);
            client.Configure<ClusterOptions>(o => { o.ClusterId = settings.ClusterId; o.ServiceId = settings.ServiceId; });
            if (settings.Certificate is { } certificate) client.UseTls(certificate, o => Pinned(o, settings));
            client.Configure<ClientMessagingOptions>(o => { o.MaxMessageBodySize = settings.MaxMessageBytes; o.ResponseTimeout = settings.ResponseTimeout; });
        });
        var host = builder.Build();
        await host.StartAsync(cancellation).ConfigureAwait(false);
        return host;
    }
}

/// <summary>Sharded jobs as a client runs them.</summary>
public static class ClusterJobs
{
    /// <summary>
    /// Starts a sharded job and polls it until it ends. When the silo that coordinates it is lost, its grain re-activates
    /// elsewhere holding no job, and the job is started once more under the same id (evaluation is pure, so a re-run
    /// answers the same): a client sees at most that one retry.
    /// </summary>
    /// <returns>The job's result and the starts it took (1, or 2 after its coordinating silo was lost).</returns>
    /// <exception cref="ClusterRequestException">The service refused the job (its status and code), or a batch failed every try.</exception>
    public static async Task<(ShardedJobResult Result, int Attempts)> RunAsync(IGrainFactory grains, string jobId, string authorization, string sessionId, byte[][] batches, int shards,
        TimeSpan? poll = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(grains);
        var job = grains.GetGrain<IShardedJobGrain>(jobId);
        int attempts = 1, failures = 0;
        await job.StartAsync(authorization, sessionId, batches, shards).ConfigureAwait(false);
        while (true)
        {
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(200), cancellation).ConfigureAwait(false);
            JobPoll state;
            try { state = await job.PollAsync(authorization).ConfigureAwait(false); failures = 0; }
            catch (Exception e) when (e is TimeoutException or OrleansException && ++failures < 30) { continue; }  // its silo is being declared dead
            switch (state.State)
            {
                case JobPollState.Succeeded: return (state.Result!, attempts);
                case JobPollState.Failed: throw new ClusterRequestException(state.ErrorStatus ?? 500, state.ErrorCode ?? "job_failed", state.Error ?? "The job failed.");
                case JobPollState.Unknown:
                    if (attempts == 2) throw new ClusterRequestException(503, "job_lost", $"Job {jobId} was lost twice with its silo.");
                    attempts++;
                    await job.StartAsync(authorization, sessionId, batches, shards).ConfigureAwait(false);
                    break;
            }
        }
    }
}
