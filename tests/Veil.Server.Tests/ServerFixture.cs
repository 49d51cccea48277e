using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Veil.Client;
using Veil.Ml.Networks;
using Microsoft.Extensions.Logging;
using Veil.Protection;

namespace Veil.Server.Tests;

/// <summary>A service on a fresh data folder (test host by default, or real Kestrel), an admin client, and a small network.</summary>
internal sealed class ServerFixture : IAsyncDisposable
{
    public static readonly Argon2Parameters CheapKeyring = new(1024, 1, 1);

    public string DataDirectory { get; }
    public VeilServer Server { get; private set; } = null!;
    public string AdminKey { get; private set; } = null!;
    private readonly bool _ownsDirectory;

    private ServerFixture(string directory, bool owns)
    {
        DataDirectory = directory;
        _ownsDirectory = owns;
    }

    public static ServerOptions Options(string directory, Func<ServerOptions, ServerOptions>? adjust = null)
    {
        var options = new ServerOptions
        {
            DataDirectory = directory, KeyringPassphrase = "test passphrase", KeyringCost = CheapKeyring, AllowWeakKeyringCost = true,
            ThreadsPerEvaluation = 1,
        };
        return adjust is null ? options : adjust(options);
    }

    /// <summary>A service on the test host; <paramref name="directory"/> reuses a data folder (a restart).</summary>
    public static async Task<ServerFixture> StartAsync(string? directory = null, Func<ServerOptions, ServerOptions>? adjust = null, bool kestrel = false, string? adminKey = null)
    {
        var fixture = new ServerFixture(directory ?? Directory.CreateTempSubdirectory("veil-server-").FullName, directory is null);
        var options = Options(fixture.DataDirectory, o => (adjust?.Invoke(o) ?? o) with { Urls = kestrel ? ["https://127.0.0.1:0"] : o.Urls });
        fixture.Server = await VeilServer.CreateAsync(options, b =>
        {
            if (!kestrel) b.WebHost.UseTestServer();
            if (Environment.GetEnvironmentVariable("VEIL_TEST_LOG") != "1") b.Logging.ClearProviders();
        });
        await fixture.Server.StartAsync();
        fixture.AdminKey = fixture.Server.NewAdminKey ?? adminKey ?? File.ReadAllText(VeilServer.AdminKeyPath(fixture.DataDirectory)).Trim();
        return fixture;
    }

    public VeilServiceClient Client(string apiKey)
    {
        if (Server.App.Services.GetService(typeof(Microsoft.AspNetCore.Hosting.Server.IServer)) is TestServer test)
            return new VeilServiceClient(new Uri("http://localhost/"), apiKey, handler: test.CreateHandler());
        return new VeilServiceClient(new Uri(Server.Addresses[0]), apiKey, Server.CertificatePin);
    }

    public HttpClient RawClient(string? apiKey)
    {
        var test = (TestServer)Server.App.Services.GetService(typeof(Microsoft.AspNetCore.Hosting.Server.IServer))!;
        var http = test.CreateClient();
        if (apiKey is not null) http.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
        return http;
    }

    public VeilServiceClient Admin() => Client(AdminKey);

    /// <summary>Stops the service, keeping its data folder.</summary>
    public async Task StopAsync() => await Server.DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        if (_ownsDirectory) try { Directory.Delete(DataDirectory, true); } catch (IOException) { }
    }

    /// <summary>16 → 8 → square → 4, fixed random weights: depth 3, a small ring.</summary>
    public static SequentialNetwork SmallNetwork(int seed = 7)
    {
        var rng = new Random(seed);
        double[][] W(int o, int i) => [.. Enumerable.Range(0, o).Select(_ => Enumerable.Range(0, i).Select(_ => rng.NextDouble() - 0.5).ToArray())];
        double[] B(int o) => [.. Enumerable.Range(0, o).Select(_ => rng.NextDouble() * 0.2 - 0.1)];
        return new SequentialNetwork([new Dense(W(8, 16), B(8)), new SquareActivation(TensorShape.Vector(8)), new Dense(W(4, 8), B(4))]);
    }

    public static double[][] Inputs(int count, int seed = 3)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 16).Select(_ => rng.NextDouble() * 2 - 1).ToArray())];
    }
}

/// <summary>The PostgreSQL server the tests use: VEIL_POSTGRES (a connection string), set by .ci/run; null runs on SQLite.</summary>
internal static class PostgresSetup
{
    public static string? Configured => Environment.GetEnvironmentVariable("VEIL_POSTGRES") is { Length: > 0 } cs ? cs : null;
    public static bool Required => Environment.GetEnvironmentVariable("VEIL_REQUIRE_POSTGRES") == "1";
}
