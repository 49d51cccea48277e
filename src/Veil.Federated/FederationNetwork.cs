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

/// <summary>What a gRPC front end passes the participants' calls to: the coordinator itself, or (on a cluster) the grain that hosts it.</summary>
public interface IFederationFrontEnd
{
    /// <summary>The federation's plan (its members' pins).</summary>
    FederationPlan Plan { get; }
    /// <summary>The participant whose TLS key has <paramref name="pin"/>, or null.</summary>
    int? ParticipantOf(string? pin);
    /// <summary>The participant's current work, waiting up to <paramref name="wait"/> for some.</summary>
    /// <exception cref="FederationProtocolException">Refused, with the status to answer.</exception>
    Task<Work> PollAsync(int participant, ReadOnlyMemory<byte> federation, TimeSpan wait, CancellationToken cancellation);
    /// <summary>Takes a participant's result for its current step.</summary>
    /// <exception cref="FederationProtocolException">Refused, with the status to answer.</exception>
    Task<Receipt> SubmitAsync(int participant, Submission submission, CancellationToken cancellation);
}

/// <summary>The gRPC face of a <see cref="FederationCoordinator"/>: the caller is the member whose TLS client certificate it presented.</summary>
public sealed class FederationService(IFederationFrontEnd coordinator) : Protocol.Federation.FederationBase
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
    public override async Task<Receipt> Submit(Submission request, ServerCallContext context)
    {
        int participant = Caller(context);
        try { return await coordinator.SubmitAsync(participant, request, context.CancellationToken).ConfigureAwait(false); }
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
    public static Task<(WebApplication App, int Port)> StartAsync(FederationCoordinator coordinator, X509Certificate2 certificate, int port = 0, ILoggerProvider? log = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(coordinator);
        return StartAsync(coordinator.Plan, _ => coordinator, certificate, port, log, null, cancellation);
    }

    /// <summary>
    /// A server whose calls go to the front end <paramref name="frontEnd"/> makes from the built host's services;
    /// <paramref name="configure"/> adds to the host before it is built (a cluster makes it a silo).
    /// </summary>
    public static async Task<(WebApplication App, int Port)> StartAsync(FederationPlan plan, Func<IServiceProvider, IFederationFrontEnd> frontEnd, X509Certificate2 certificate, int port,
        ILoggerProvider? log, Action<WebApplicationBuilder>? configure, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(frontEnd);
        ArgumentNullException.ThrowIfNull(certificate);
        var pins = plan.Settings.Members.Select(m => m.CertificatePin).ToArray();
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
        builder.Services.AddSingleton<IFederationFrontEnd>(frontEnd);
        configure?.Invoke(builder);
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

/// <summary>
/// A participant's channels to several front ends of one coordinator (a cluster's silos, each serving the same
/// federation): a call that finds its front end gone or the coordinator moving fails as before, and the next call goes
/// to the next front end.
/// </summary>
public sealed class FailoverFederationChannel : IFederationChannel, IDisposable
{
    private readonly IFederationChannel[] _channels;
    private int _current;

    /// <summary>Over <paramref name="channels"/>, starting at <paramref name="first"/> (mod their count).</summary>
    public FailoverFederationChannel(IReadOnlyList<IFederationChannel> channels, int first = 0)
    {
        ArgumentNullException.ThrowIfNull(channels);
        if (channels.Count == 0) throw new ArgumentException("At least one channel is needed.", nameof(channels));
        _channels = [.. channels];
        _current = (first % _channels.Length + _channels.Length) % _channels.Length;
    }

    /// <summary>The front end the next call goes to.</summary>
    public int Current => Volatile.Read(ref _current);

    /// <summary>Times a call moved to the next front end.</summary>
    public int Moves { get; private set; }

    /// <inheritdoc/>
    public async Task<Work> PollAsync(PollRequest request, CancellationToken cancellation)
    {
        int at = Current;
        try { return await _channels[at].PollAsync(request, cancellation).ConfigureAwait(false); }
        catch (RpcException e) when (Lost(e.StatusCode)) { Advance(at); throw; }
    }

    /// <inheritdoc/>
    public async Task<Receipt> SubmitAsync(Submission submission, CancellationToken cancellation)
    {
        int at = Current;
        try { return await _channels[at].SubmitAsync(submission, cancellation).ConfigureAwait(false); }
        catch (RpcException e) when (Lost(e.StatusCode)) { Advance(at); throw; }
    }

    // What a dead process or a moving coordinator looks like; refusals (a replayed step, a bad payload) do not move.
    private static bool Lost(StatusCode status) => status is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown;

    private void Advance(int from)
    {
        if (Interlocked.CompareExchange(ref _current, (from + 1) % _channels.Length, from) == from) Moves++;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var c in _channels) (c as IDisposable)?.Dispose();
    }
}
