using System.Net;
using System.Net.Sockets;
using Veil.Protection;

namespace Veil.Mpc.Tests;

public class TlsChannelTests
{
    private static async Task<(StreamMpcChannel Server, StreamMpcChannel Client)> ConnectPair(
        System.Security.Cryptography.X509Certificates.X509Certificate2 serverCert, System.Security.Cryptography.X509Certificates.X509Certificate2 clientCert,
        IReadOnlyCollection<string>? serverAccepts = null, IReadOnlyCollection<string>? clientAccepts = null)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var endpoint = (IPEndPoint)listener.LocalEndpoint;
            var accept = MpcTls.AcceptAsync(listener, serverCert, serverAccepts ?? [Tls.Pin(clientCert)]);
            var connect = MpcTls.ConnectAsync(endpoint, clientCert, clientAccepts ?? [Tls.Pin(serverCert)]);
            await Task.WhenAll(accept, connect);
            return (accept.Result, connect.Result);
        }
        finally { listener.Stop(); }
    }

    [Fact]
    public async Task TwoPartiesOverMutualTls_MultiplyWithTriplesTheyMakeThemselves()
    {
        using var certA = Tls.CreateDevelopmentCertificate("party-0");
        using var certB = Tls.CreateDevelopmentCertificate("party-1");
        var (server, client) = await ConnectPair(certA, certB);
        await using var _ = server;
        await using var __ = client;
        var id = MpcSession.NewId();
        var x = Harness.Random(25, 21);
        var y = Harness.Random(25, 22);
        var xs = Sharing.Split(x, 2);
        var ys = Sharing.Split(y, 2);
        var sources = new[] { PaillierTriples.Generate(2048, allowBelow128Bits: true), PaillierTriples.Generate(2048, allowBelow128Bits: true) };
        var sessions = new[] { new MpcSession(id, 0, [null, server]) { Triples = sources[0] }, new MpcSession(id, 1, [client, null]) { Triples = sources[1] } };
        var results = await Task.WhenAll(sessions.Select(s => Task.Run(async () => await s.OpenAsync(await SecureArithmetic.MultiplyAsync(s, xs[s.Party], ys[s.Party])))));
        for (int j = 0; j < x.Length; j++) Assert.Equal(unchecked(x[j] * y[j]), results[0][j]);
        Assert.Equal(results[0], results[1]);
        Assert.True(sessions[0].BytesSent > 25 * (64 + 2048 / 4), "the Paillier ciphertexts (64 + 512 bytes each at 2048 bits) crossed the socket");
    }

    [Fact]
    public async Task AStrangerWhoseKeyIsNotPinned_IsRefusedInTheHandshake()
    {
        using var certA = Tls.CreateDevelopmentCertificate("party-0");
        using var certB = Tls.CreateDevelopmentCertificate("party-1");
        using var stranger = Tls.CreateDevelopmentCertificate("stranger");
        var e = await Assert.ThrowsAsync<MpcProtocolException>(() => ConnectPair(certA, stranger, serverAccepts: [Tls.Pin(certB)], clientAccepts: [Tls.Pin(certA)]));
        Assert.Equal("tls", e.Field);
    }

    [Fact]
    public async Task AnOversizedLengthOrAConnectionCutMidFrame_GiveTypedErrors()
    {
        using var oversized = new MemoryStream([0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3]);
        var channel = new StreamMpcChannel(oversized);
        Assert.Equal("length", (await Assert.ThrowsAsync<MpcProtocolException>(async () => await channel.ReceiveAsync())).Field);
        var frame = MpcFrame.Write(FrameType.Open, MpcSession.NewId(), 0, 0, 1, new ulong[] { 1, 2 }.AsSpan());
        var cut = new byte[4 + frame.Length - 5];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(cut, (uint)frame.Length);
        frame.AsSpan(0, frame.Length - 5).CopyTo(cut.AsSpan(4));
        var truncated = new StreamMpcChannel(new MemoryStream(cut));
        Assert.Equal("closed", (await Assert.ThrowsAsync<MpcProtocolException>(async () => await truncated.ReceiveAsync())).Field);
        var empty = new StreamMpcChannel(new MemoryStream());
        Assert.Equal("closed", (await Assert.ThrowsAsync<MpcProtocolException>(async () => await empty.ReceiveAsync())).Field);
    }
}
