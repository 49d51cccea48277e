using Microsoft.AspNetCore.Builder;
using Veil.Federated.Protocol;
using Veil.Ml.Data;
using Veil.Protection;

namespace Veil.Federated.Tests;

/// <summary>A federation on loopback in one test process: the coordinator's gRPC server with mutual TLS, and one task per participant, each with its own keyring, certificate and state folder.</summary>
internal sealed class Testbed : IAsyncDisposable
{
    public const string Passphrase = "federation-test-passphrase";
    private readonly List<(FederationParticipant Participant, FederationGrpcChannel Channel, CancellationTokenSource Cancel, Keyring Keyring)> _running = [];

    public async Task<FederationCoordinator> RestartCoordinatorAsync(IFederationStore store, Func<double[], double[], double[], double>? score = null)
    {
        await App.StopAsync();
        await App.DisposeAsync();
        Coordinator = new FederationCoordinator(Settings, Id, new FileLogger(Path.Combine(Directory, "coordinator.log")), score, store);
        var cert = FederationSetup.LoadCertificate(Path.Combine(FederationSetup.CoordinatorDirectory(Directory), "tls.pfx"), Passphrase);
        (App, _) = await FederationServer.StartAsync(Coordinator, cert, Port);
        return Coordinator;
    }

    private Testbed(string directory, FederationSettings settings, byte[] id, FederationCoordinator coordinator, WebApplication app, int port, Dataset[] shares)
    {
        Directory = directory; Settings = settings; Id = id; Coordinator = coordinator; App = app; Port = port; Shares = shares;
    }

    public string Directory { get; }
    public FederationSettings Settings { get; }
    public byte[] Id { get; }
    public FederationCoordinator Coordinator { get; private set; }
    public WebApplication App { get; private set; }
    public int Port { get; }
    public Dataset[] Shares { get; }
    public Uri Address => new($"https://127.0.0.1:{Port}");
    public Task<ParticipantOutcome>[] Tasks { get; private set; } = [];

    public static async Task<Testbed> StartAsync(FederationSettings template, Dataset[] shares, Func<double[], double[], double[], double>? score = null, Func<string, IFederationStore>? store = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "veil-fed-" + Guid.NewGuid().ToString("N")[..12]);
        var (settings, id) = FederationSetup.Create(dir, template, shares.Length, Passphrase, Argon2Parameters.Minimum, allowWeakCost: true);
        var coordinator = new FederationCoordinator(settings, id, new FileLogger(Path.Combine(dir, "coordinator.log")), score: score, store: store?.Invoke(dir));
        var cert = FederationSetup.LoadCertificate(Path.Combine(FederationSetup.CoordinatorDirectory(dir), "tls.pfx"), Passphrase);
        var (app, port) = await FederationServer.StartAsync(coordinator, cert);
        var bed = new Testbed(dir, settings, id, coordinator, app, port, shares);
        bed.Tasks = new Task<ParticipantOutcome>[shares.Length];
        return bed;
    }

    public System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate(int i) =>
        FederationSetup.LoadCertificate(Path.Combine(FederationSetup.ParticipantDirectory(Directory, i), "tls.pfx"), FederationSetup.PassphraseOf(Passphrase, i));

    /// <summary>Starts participant i (again, after a stop: it rejoins from its state folder).</summary>
    public CancellationTokenSource StartParticipant(int i, Func<IFederationChannel, IFederationChannel>? wrap = null)
    {
        var keyring = FederationSetup.OpenKeyring(Directory, i, Passphrase, allowWeakCost: true);
        var channel = new FederationGrpcChannel(Address, Settings.CoordinatorPin, Certificate(i));
        var participant = new FederationParticipant(Settings, Id, i, Shares[i], Path.Combine(FederationSetup.ParticipantDirectory(Directory, i), "state"), keyring, new FileLogger(Path.Combine(Directory, "coordinator.log")));
        var cancel = new CancellationTokenSource();
        IFederationChannel ch = wrap?.Invoke(channel) ?? channel;
        Tasks[i] = Task.Run(() => participant.RunAsync(ch, cancel.Token));
        Tasks[i].ContinueWith(t => { if (t.IsFaulted) new FileLogger(Path.Combine(Directory, "coordinator.log")).Log(Microsoft.Extensions.Logging.LogLevel.Error, default, $"participant {i} ended: {t.Exception}", null, (m, _) => m); });
        lock (_running) _running.Add((participant, channel, cancel, keyring));
        return cancel;
    }

    public void StartAll() { for (int i = 0; i < Shares.Length; i++) StartParticipant(i); }

    public async ValueTask DisposeAsync()
    {
        foreach (var r in _running) r.Cancel.Cancel();
        try { await Task.WhenAll(Tasks.Where(t => t is not null)).WaitAsync(TimeSpan.FromSeconds(10)); } catch { }
        foreach (var r in _running) { r.Participant.Dispose(); r.Channel.Dispose(); r.Keyring.Dispose(); }
        await App.StopAsync();
        await App.DisposeAsync();
        var log = Path.Combine(Directory, "coordinator.log");
        if (File.Exists(log)) File.Copy(log, Path.Combine(Path.GetTempPath(), "veil-fed-last.log"), overwrite: true);
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Calls reports inline (Progress&lt;T&gt; would post them to the thread pool, out of order).</summary>
internal sealed class InlineProgress<T>(Action<T> action) : IProgress<T>
{
    public void Report(T value) => action(value);
}

/// <summary>A channel that lets a test see or alter a participant's traffic.</summary>
internal sealed class InterceptingChannel(IFederationChannel inner, Func<Submission, IFederationChannel, CancellationToken, Task>? beforeSubmit = null) : IFederationChannel
{
    public Task<Work> PollAsync(PollRequest request, CancellationToken cancellation) => inner.PollAsync(request, cancellation);

    public async Task<Receipt> SubmitAsync(Submission submission, CancellationToken cancellation)
    {
        if (beforeSubmit is not null) await beforeSubmit(submission, inner, cancellation);
        return await inner.SubmitAsync(submission, cancellation);
    }
}

/// <summary>Appends log lines to a file (kept for a failing test's diagnosis).</summary>
internal sealed class FileLogger(string path) : Microsoft.Extensions.Logging.ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (this) File.AppendAllText(path, $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {formatter(state, exception)}\n");
    }
}
