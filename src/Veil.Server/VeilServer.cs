using System.Security.Cryptography.X509Certificates;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Veil.Protection;
using Veil.Server.Api;
using Veil.Server.Storage;

namespace Veil.Server;

/// <summary>
/// One service instance: its keyring and audit log, store, TLS certificate and the ASP.NET Core application
/// (REST API, OpenAPI document, health, metrics, dashboard). <see cref="CreateAsync"/> prepares it; <see cref="StartAsync"/> listens.
/// </summary>
public sealed class VeilServer : IAsyncDisposable
{
    private readonly ProtectionHome _home;
    private readonly IServiceStore _store;

    /// <summary>The application.</summary>
    public WebApplication App { get; }
    /// <summary>The service behind it.</summary>
    public VeilService Service { get; }
    /// <summary>The admin key, when this start created it (also written to admin.key in the data folder), else null.</summary>
    public string? NewAdminKey { get; }
    /// <summary>The pin (SHA-256 of the public key, base64) of the TLS certificate clients should expect.</summary>
    public string CertificatePin { get; }
    /// <summary>The TLS certificate (public part).</summary>
    public X509Certificate2 Certificate { get; }

    private VeilServer(WebApplication app, VeilService service, ProtectionHome home, IServiceStore store, string? adminKey, X509Certificate2 certificate)
    {
        App = app;
        Service = service;
        _home = home;
        _store = store;
        NewAdminKey = adminKey;
        Certificate = certificate;
        CertificatePin = Tls.Pin(certificate);
    }

    /// <summary>The object type of the sealed TLS certificate and key (PKCS#12) in the data folder.</summary>
    public static Veil.Serialization.ObjectType TlsCertificateType { get; } = Veil.Serialization.ObjectTypes.Register(Veil.Serialization.Schemes.Service, 1, "ServiceTlsCertificate");

    /// <summary>The file the first admin key is written to.</summary>
    public static string AdminKeyPath(string dataDirectory) => Path.Combine(dataDirectory, "admin.key");
    /// <summary>The PEM file of the service's certificate (what clients pin or trust).</summary>
    public static string CertificatePath(string dataDirectory) => Path.Combine(dataDirectory, "server.crt");

    /// <summary>
    /// Opens (or creates) the data folder's keyring, store and certificate and builds the application;
    /// <paramref name="configure"/> may adjust the builder (a test host, logging).
    /// </summary>
    public static async Task<VeilServer> CreateAsync(ServerOptions options, Action<WebApplicationBuilder>? configure = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(options.DataDirectory);
        var home = OpenHome(options);
        IServiceStore store = options.PostgresConnectionString is { } pg ? new PostgresServiceStore(pg) : new SqliteServiceStore(options.DataDirectory);
        try
        {
            await store.InitializeAsync(cancellation).ConfigureAwait(false);
            var certificate = LoadOrCreateCertificate(options.DataDirectory, home.Keyring);

            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            if (options.ConsoleLog) builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.AddServerHeader = false;
                // Small by default (JSON bodies are read before authentication); binary endpoints raise it once the caller is known.
                k.Limits.MaxRequestBodySize = 1 << 20;
                k.Limits.MinRequestBodyDataRate = new MinDataRate(1024, TimeSpan.FromSeconds(10));
                k.ConfigureHttpsDefaults(h => h.ServerCertificate = certificate);
            });
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.UseUrls([.. options.Urls]);
            builder.Services.AddSingleton(options);
            builder.Services.AddSingleton(sp => new VeilService(store, home.Keyring, home.Audit, options, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Veil.Server")));
            builder.Services.AddSingleton<JobRunner>();
            builder.Services.AddHostedService(sp =>
            {
                var runner = sp.GetRequiredService<JobRunner>();
                sp.GetRequiredService<VeilService>().Jobs = runner;
                return runner;
            });
            builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.TypeInfoResolverChain.Insert(0, new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver()));
            builder.Services.AddOpenApi();
            builder.Services.AddGrpc(g =>
            {
                g.MaxReceiveMessageSize = (int)Math.Min(options.MaxRequestBytes + (1 << 16), int.MaxValue);
                g.MaxSendMessageSize = (int)Math.Min(options.MaxRequestBytes + (1 << 16), int.MaxValue);
            });
            builder.Services.AddHealthChecks().AddAsyncCheck("store", async ct => await store.PingAsync(ct).ConfigureAwait(false)
                ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("The store does not answer."), ["ready"]);
            builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(ServiceMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel").AddPrometheusExporter());
            builder.Services.AddRateLimiter(r =>
            {
                r.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
                // Before authentication, one token bucket per client address (a flood of made-up keys stays one client's problem);
                // the per-key budget is applied after the key is verified (VeilService.AuthenticateAsync).
                r.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(c =>
                    RateLimitPartition.GetTokenBucketLimiter(c.Connection.RemoteIpAddress?.ToString() ?? "-", _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = options.RequestsPerAddressPerSecond, TokensPerPeriod = options.RequestsPerAddressPerSecond, ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0, AutoReplenishment = true,
                    }));
            });
            configure?.Invoke(builder);
            var app = builder.Build();
            var service = app.Services.GetRequiredService<VeilService>();
            var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Veil.Server.Http");
            app.Use((context, next) => RestApi.HandleErrorsAsync(context, next, log));
            app.UseRateLimiter();
            app.Use((context, next) => GrpcApi.AuthenticateFirstAsync(context, next, service));
            app.MapOpenApi("/openapi/{documentName}.json");
            app.MapHealthChecks("/healthz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = _ => false }).DisableRateLimiting();
            app.MapHealthChecks("/readyz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") }).DisableRateLimiting();
            app.MapPrometheusScrapingEndpoint("/metrics");
            app.MapGet("/", () => Results.Redirect("/dashboard"));
            app.MapGet("/dashboard", () => Results.Content(Dashboard.Html, "text/html; charset=utf-8"));
            RestApi.Map(app);
            app.MapGrpcService<GrpcApi>();

            string? adminKey = await service.BootstrapAdminAsync(cancellation).ConfigureAwait(false);
            if (adminKey is not null)
            {
                File.Delete(AdminKeyPath(options.DataDirectory));
                WritePrivate(AdminKeyPath(options.DataDirectory), adminKey + "\n");
            }
            int swept = await service.SweepAsync(cancellation).ConfigureAwait(false);
            if (swept > 0) log.LogInformation("Removed {Count} blobs left by an interrupted write", swept);
            return new VeilServer(app, service, home, store, adminKey, certificate);
        }
        catch
        {
            store.Dispose();
            home.Dispose();
            throw;
        }
    }

    /// <summary>Starts listening.</summary>
    public Task StartAsync(CancellationToken cancellation = default) => App.StartAsync(cancellation);

    /// <summary>The addresses bound (with the real ports when a URL asked for port 0).</summary>
    public IReadOnlyList<string> Addresses => [.. App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []];

    /// <summary>Runs until the host is stopped (Ctrl+C, SIGTERM).</summary>
    public async Task RunAsync(CancellationToken cancellation = default)
    {
        await App.StartAsync(cancellation).ConfigureAwait(false);
        await Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.WaitForShutdownAsync(App, cancellation).ConfigureAwait(false);
    }

    private static ProtectionHome OpenHome(ServerOptions options)
    {
        string dir = options.DataDirectory;
        string? passphrase = options.KeyringPassphrase ?? Environment.GetEnvironmentVariable("VEIL_SERVER_PASSPHRASE");
        string generated = Path.Combine(dir, "keyring.passphrase");
        if (passphrase is null)
        {
            // Embedded default: a generated passphrase beside the data protects copies of the blobs, not a stolen disk.
            if (!File.Exists(generated)) WritePrivate(generated, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
            passphrase = File.ReadAllText(generated).Trim();
        }
        return File.Exists(ProtectionHome.KeyringPath(dir))
            ? ProtectionHome.Open(dir, () => passphrase, options.AllowWeakKeyringCost)
            : ProtectionHome.InitWithPassphrase(dir, passphrase, options.KeyringCost, options.AllowWeakKeyringCost);
    }

    private static X509Certificate2 LoadOrCreateCertificate(string dir, Keyring keyring)
    {
        string sealedPath = Path.Combine(dir, "server-tls.vprot");
        var type = TlsCertificateType;
        if (File.Exists(sealedPath))
        {
            var pfx = ProtectedStream.Unprotect(File.ReadAllBytes(sealedPath), keyring.Identities, type);
            try
            {
                var loaded = X509CertificateLoader.LoadPkcs12(pfx, null);
                if (loaded.NotAfter > DateTime.Now.AddDays(1)) return loaded;
                loaded.Dispose();
            }
            finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(pfx); }
        }
        var certificate = Tls.CreateDevelopmentCertificate("veil-server", ["localhost"], TimeSpan.FromDays(365));
        var export = certificate.Export(X509ContentType.Pkcs12);
        try { File.WriteAllBytes(sealedPath, ProtectedStream.Protect(export, [keyring], new ProtectionOptions { ContentType = type })); }
        finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(export); }
        File.WriteAllText(CertificatePath(dir), certificate.ExportCertificatePem() + "\n");
        File.WriteAllText(Path.Combine(dir, "server.pin"), Tls.Pin(certificate) + "\n");
        return certificate;
    }

    private static void WritePrivate(string path, string text)
    {
        // Created owner-only (never readable by others, not even for a moment), and never over an existing file.
        var mode = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) mode.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var f = new FileStream(path, mode);
        f.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        try { await App.StopAsync().ConfigureAwait(false); } catch (InvalidOperationException) { }
        await App.DisposeAsync().ConfigureAwait(false);
        Service.Dispose();
        _store.Dispose();
        _home.Dispose();
        Certificate.Dispose();
    }
}
