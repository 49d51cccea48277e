using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Veil.Client;
using Veil.Ml.Serving;

namespace Veil.Server.Tests;

/// <summary>The real server: Kestrel on loopback, HTTPS with the service's own certificate pinned by the client.</summary>
public sealed class KestrelTests
{
    [Fact]
    public async Task OverHttps_WithThePinnedCertificate_PredictionsMatch_AndAWrongPinIsRefused()
    {
        await using var fixture = await ServerFixture.StartAsync(kestrel: true);
        Assert.StartsWith("https://127.0.0.1:", fixture.Server.Addresses[0]);
        using var admin = fixture.Admin();
        await admin.DeployAsync("small", ServerFixture.SmallNetwork().Save(), grantAll: true);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("clinic"));
        using var client = fixture.Client(tenant.ApiKey);
        using var session = await client.OpenSessionAsync("small");
        var x = ServerFixture.Inputs(1)[0];
        var y = await session.PredictAsync(x);
        var expected = ServerFixture.SmallNetwork().Forward(x);
        for (int i = 0; i < y.Length; i++) Assert.InRange(y[i] - expected[i], -1e-3, 1e-3);

        using var impostor = Veil.Protection.Tls.CreateDevelopmentCertificate("impostor");
        using var wrongPin = new VeilServiceClient(new Uri(fixture.Server.Addresses[0]), tenant.ApiKey, Veil.Protection.Tls.Pin(impostor));
        await Assert.ThrowsAsync<HttpRequestException>(() => wrongPin.ListModelsAsync());
    }

    [Fact]
    public async Task AClientThatDisconnectsMidUpload_LeavesNoHalfStoredKey_AndOthersAreServed()
    {
        await using var fixture = await ServerFixture.StartAsync(kestrel: true);
        using var admin = fixture.Admin();
        await admin.DeployAsync("small", ServerFixture.SmallNetwork().Save(), grantAll: true);
        var tenant = await admin.CreateTenantAsync(new CreateTenantRequest("clinic"));
        using var client = fixture.Client(tenant.ApiKey);
        using var keys = new ModelClient(await client.DescribeModelAsync("small"));
        var body = keys.PublicContext();

        var address = new Uri(fixture.Server.Addresses[0]);
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, address.Port);
            await using var tls = new SslStream(tcp.GetStream(), false, (_, cert, _, _) => Veil.Protection.Tls.MatchesPin(cert, [fixture.Server.CertificatePin]));
            await tls.AuthenticateAsClientAsync("localhost");
            var head = $"POST /v1/models/small/sessions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tenant.ApiKey}\r\n" +
                       $"Content-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n\r\n";
            await tls.WriteAsync(Encoding.ASCII.GetBytes(head));
            await tls.WriteAsync(body.AsMemory(0, body.Length / 2));
            await tls.FlushAsync();
            await Task.Delay(200);
        } // the connection drops with half the keys sent

        await Task.Delay(500);
        Assert.Empty((await admin.OverviewAsync()).SessionList);
        Assert.DoesNotContain(await fixture.Server.Service.Store.ListBlobsAsync(), k => k.StartsWith("sessions/", StringComparison.Ordinal));

        // The service goes on: the same keys, sent whole, register and answer.
        var info = await client.RegisterAsync("small", body);
        Assert.Single((await admin.OverviewAsync()).SessionList);
        Assert.Equal(info.Bytes, body.Length);
    }
}
