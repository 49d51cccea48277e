using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Veil.Federated.Protocol;
using Veil.Protection;

namespace Veil.Federated;

/// <summary>The gRPC face of a <see cref="FederationCoordinator"/>: the caller is the member whose TLS client certificate it presented.</summary>
public sealed class FederationService(FederationCoordinator coordinator) : Protocol.Federation.FederationBase
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(5);

    /// <inheritdoc/>
    public override async Task<Work> Poll(PollRequest request, ServerCallContext context)
    {
        int participant = Caller(context);
        try { return await coordinator.PollAsync(participant, request.Federation.Memory, TimeSpan.FromMilliseconds(Math.Min(request.WaitMs, MaxWait.TotalMilliseconds)), context.CancellationToken).ConfigureAwait(false); }
        catch (FederationProtocolException e) { throw new RpcException(new Status(e.Status, e.Message)); }
    }

    /// <inheritdoc/>
    public override Task<Receipt> Submit(Submission request, ServerCallContext context)
    {
        int participant = Caller(context);
        try { return Task.FromResult(coordinator.Submit(participant, request)); }
        catch (FederationProtocolException e) { throw new RpcException(new Status(e.Status, e.Message)); }
    }

    private int Caller(ServerCallContext context)
    {
        var certificate = context.GetHttpContext().Connection.ClientCertificate;
        return (certificate is null ? null : coordinator.ParticipantOf(Tls.Pin(certificate)))
            ?? throw new RpcException(new Status(StatusCode.PermissionDenied, "The client certificate is not a member of this federation."));
    }
}

/// <summary>Starts a coordinator's gRPC server on loopback: HTTP/2 over TLS 1.3/1.2, client certificates required and pinned to the members'.</summary>
public static class FederationServer
{
    /// <summary>Largest message taken (a submission of ciphertexts for a large model).</summary>
    public const int MaxMessageBytes = 64 << 20;

    /// <summary>The running server and the port it listens on (<paramref name="port"/> 0 picks a free one).</summary>
    public static async Task<(WebApplication App, int Port)> StartAsync(FederationCoordinator coordinator, X509Certificate2 certificate, int port = 0, ILoggerProvider? log = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        ArgumentNullException.ThrowIfNull(certificate);
        var pins = coordinator.Plan.Settings.Members.Select(m => m.CertificatePin).ToArray();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (log is not null) builder.Logging.AddProvider(log);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = MaxMessageBytes;
            // Each member polls and submits on one connection; these bound what a member (or a stranger before the handshake) can hold open.
            k.Limits.MaxConcurrentConnections = 4L * pins.Length + 16;
            k.Limits.Http2.MaxStreamsPerConnection = 16;
            k.Listen(IPAddress.Loopback, port, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificate,
                    SslProtocols = System.Security.Authentication.SslProtocols.Tls13 | System.Security.Authentication.SslProtocols.Tls12,
                    ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                    CheckCertificateRevocation = false,
                    ClientCertificateValidation = (cert, _, _) => Tls.MatchesPin(cert, pins),
                });
            });
        });
        builder.Services.AddGrpc(g => { g.MaxReceiveMessageSize = MaxMessageBytes; g.MaxSendMessageSize = MaxMessageBytes; g.EnableDetailedErrors = false; });
        builder.Services.AddSingleton(coordinator);
        var app = builder.Build();
        app.MapGrpcService<FederationService>();
        await app.StartAsync(cancellation).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address).Port);
    }
}

/// <summary>A participant's gRPC channel to its coordinator: mutual TLS with its own certificate, the coordinator's key pinned.</summary>
public sealed class FederationGrpcChannel : IFederationChannel, IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Protocol.Federation.FederationClient _client;

    /// <summary>A channel to the coordinator at <paramref name="address"/> (https://127.0.0.1:port on loopback).</summary>
    public FederationGrpcChannel(Uri address, string coordinatorPin, X509Certificate2 clientCertificate)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentException.ThrowIfNullOrWhiteSpace(coordinatorPin);
        ArgumentNullException.ThrowIfNull(clientCertificate);
        var handler = new SocketsHttpHandler
        {
            SslOptions = Tls.ClientOptions(address.Host == "127.0.0.1" ? "localhost" : address.Host, [coordinatorPin], clientCertificate),
            EnableMultipleHttp2Connections = true,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        _channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, MaxReceiveMessageSize = FederationServer.MaxMessageBytes, MaxSendMessageSize = FederationServer.MaxMessageBytes, DisposeHttpClient = true });
        _client = new Protocol.Federation.FederationClient(_channel);
    }

    /// <inheritdoc/>
    public async Task<Work> PollAsync(PollRequest request, CancellationToken cancellation) =>
        await _client.PollAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: cancellation).ConfigureAwait(false);

    /// <inheritdoc/>
    public async Task<Receipt> SubmitAsync(Submission submission, CancellationToken cancellation) =>
        await _client.SubmitAsync(submission, deadline: DateTime.UtcNow.AddMinutes(5), cancellationToken: cancellation).ConfigureAwait(false);

    /// <inheritdoc/>
    public void Dispose() => _channel.Dispose();
}
