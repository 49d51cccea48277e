using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Veil.Protection.Tests;

/// <summary>Real TLS over loopback sockets: pinned server keys, mutual TLS with pinned client keys, and refusals.</summary>
public class TlsTests
{
    private static async Task<(bool ServerOk, bool ClientOk)> Handshake(System.Security.Cryptography.X509Certificates.X509Certificate2 serverCert,
        SslServerAuthenticationOptions serverOptions, SslClientAuthenticationOptions clientOptions)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serverTask = Task.Run(async () =>
        {
            using var socket = await listener.AcceptTcpClientAsync();
            using var ssl = new SslStream(socket.GetStream());
            try
            {
                await ssl.AuthenticateAsServerAsync(serverOptions);
                var buffer = new byte[5];
                await ssl.ReadExactlyAsync(buffer);
                await ssl.WriteAsync(buffer);
                return true;
            }
            catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException) { return false; }
        });
        bool clientOk;
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            using var ssl = new SslStream(client.GetStream());
            try
            {
                await ssl.AuthenticateAsClientAsync(clientOptions);
                await ssl.WriteAsync("hello"u8.ToArray());
                var echo = new byte[5];
                await ssl.ReadExactlyAsync(echo);
                clientOk = echo.SequenceEqual("hello"u8.ToArray()) && ssl.SslProtocol == System.Security.Authentication.SslProtocols.Tls13;
            }
            catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException) { clientOk = false; }
        }
        return (await serverTask, clientOk);
    }

    [Fact]
    public async Task PinnedServer_Connects_AnUnpinnedOneIsRefused()
    {
        using var server = Tls.CreateDevelopmentCertificate("veil-test-server");
        using var other = Tls.CreateDevelopmentCertificate("impostor");
        var ok = await Handshake(server, Tls.ServerOptions(server), Tls.ClientOptions("localhost", [Tls.Pin(server)]));
        Assert.True(ok.ClientOk && ok.ServerOk);
        var refused = await Handshake(other, Tls.ServerOptions(other), Tls.ClientOptions("localhost", [Tls.Pin(server)]));
        Assert.False(refused.ClientOk);
        // Without pins the system CAs decide, and a self-signed certificate is refused.
        var unpinned = await Handshake(server, Tls.ServerOptions(server), Tls.ClientOptions("localhost"));
        Assert.False(unpinned.ClientOk);
    }

    [Fact]
    public async Task MutualTls_AcceptsOnlyPinnedClients()
    {
        using var server = Tls.CreateDevelopmentCertificate("veil-test-server");
        using var client = Tls.CreateDevelopmentCertificate("hospital-a");
        using var stranger = Tls.CreateDevelopmentCertificate("hospital-x");
        var ok = await Handshake(server, Tls.ServerOptions(server, [Tls.Pin(client)]), Tls.ClientOptions("localhost", [Tls.Pin(server)], client));
        Assert.True(ok.ServerOk && ok.ClientOk);
        var refused = await Handshake(server, Tls.ServerOptions(server, [Tls.Pin(client)]), Tls.ClientOptions("localhost", [Tls.Pin(server)], stranger));
        Assert.False(refused.ServerOk);
        var none = await Handshake(server, Tls.ServerOptions(server, [Tls.Pin(client)]), Tls.ClientOptions("localhost", [Tls.Pin(server)]));
        Assert.False(none.ServerOk);
    }
}
