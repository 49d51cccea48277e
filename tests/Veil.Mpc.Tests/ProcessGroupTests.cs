using System.Text;

namespace Veil.Mpc.Tests;

public class ProcessGroupTests
{
    private static string ValidPlan(int port) =>
        "{\"session\":\"" + Convert.ToHexString(new byte[16]) + "\",\"peers\":{\"0\":{\"pin\":\"" + new string('A', 44) + "\",\"port\":" + port + "}}}";

    private static async Task<Exception?> RunWithPlan(string plan)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            // Party 1 of 2 without a dealer only connects (to party 0), so a bad plan fails fast instead of waiting to accept.
            await MpcNodeHost.RunPartyAsync(1, 2, dealer: false, new StringReader(plan + "\n"), TextWriter.Null, _ => Task.FromResult(0), cancellationToken: cancel.Token);
            return null;
        }
        catch (Exception e) { return e; }
    }

    [Fact]
    public async Task MutatedPlans_GiveTypedErrors_AndNeverRunTheProgram()
    {
        var rng = new Random(17);
        string valid = ValidPlan(1); // nothing listens on port 1
        var cases = new List<string> { "", "{}", "null", "[]", "{\"session\":\"00\",\"peers\":{}}", valid.Replace("\"0\"", "\"7\""), valid.Replace("00000000", "zz000000"),
            new string('{', 70_000), valid.Replace("\"port\":1", "\"port\":70000"), valid.Replace("\"port\":1", "\"port\":-1") };
        for (int i = 0; i < 120; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(valid);
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits; e++) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(32, 127);
            cases.Add(rng.Next(5) == 0 ? Encoding.UTF8.GetString(bytes)[..rng.Next(bytes.Length)] : Encoding.UTF8.GetString(bytes));
        }
        foreach (var plan in cases)
        {
            var error = await RunWithPlan(plan);
            Assert.True(error is MpcProtocolException or OperationCanceledException, $"plan {plan[..Math.Min(plan.Length, 120)]}: {error?.GetType().Name}: {error?.Message}");
        }
    }

    [Fact]
    public void Hellos_AreParsedOnlyWhenWhole_AndMutationsAreRefusedNotThrown()
    {
        using var node = MpcNode.Listen(0, 3, dealer: true);
        string valid = System.Text.Json.JsonSerializer.Serialize(node.Hello, MpcProcessGroup.Json);
        Assert.NotNull(MpcProcessGroup.ParseHello(valid, 0, 3));
        Assert.Null(MpcProcessGroup.ParseHello(valid, 1, 3)); // another role
        Assert.Null(MpcProcessGroup.ParseHello(null, 0, 3));
        Assert.Null(MpcProcessGroup.ParseHello(new string('[', 70_000), 0, 3));
        Assert.Null(MpcProcessGroup.ParseHello(valid.Replace("\"ports\":{", "\"ports\":{\"7\":9,"), 0, 3)); // a port for a party outside the group
        var rng = new Random(29);
        for (int i = 0; i < 500; i++)
        {
            var chars = valid.ToCharArray();
            for (int e = 1 + rng.Next(3); e > 0; e--) chars[rng.Next(chars.Length)] = (char)rng.Next(32, 127);
            string mutated = rng.Next(4) == 0 ? new string(chars)[..rng.Next(chars.Length)] : new string(chars);
            var hello = MpcProcessGroup.ParseHello(mutated, 0, 3); // never throws
            if (hello is not null) Assert.All(hello.Ports, p => Assert.InRange(p.Value, 1, 65535));
        }
    }

    [Fact]
    public void Payloads_UnpackWhole_OrRefuseByName()
    {
        var packed = MpcPayload.Pack([[1, 2, 3], [], [4]]);
        Assert.Equal([[1, 2, 3], [], [4]], MpcPayload.Unpack(packed, 3, "test"));
        var rng = new Random(31);
        for (int i = 0; i < 2_000; i++)
        {
            var bytes = (byte[])packed.Clone();
            if (rng.Next(3) == 0) bytes = bytes[..rng.Next(bytes.Length)];
            else bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            try { Assert.Equal(3, MpcPayload.Unpack(bytes, 3, "test").Length); }
            catch (MpcProtocolException e) { Assert.Equal("test", e.Field); }
        }
        Assert.Equal("test", Assert.Throws<MpcProtocolException>(() => MpcPayload.Unpack([1, 0, 0, 0, 255, 255, 255, 127], 1, "test")).Field);
    }

    [Fact]
    public async Task APlanWithNoOneListening_IsAConnectError()
    {
        var error = Assert.IsType<MpcProtocolException>(await RunWithPlan(ValidPlan(1)));
        Assert.Equal("connect", error.Field);
    }

    [Fact]
    public async Task TwoNodes_BuildTheirMesh_FromEachOthersHellos_AndRefuseAWrongPin()
    {
        using var zero = MpcNode.Listen(0, 2, dealer: false);
        using var one = MpcNode.Listen(1, 2, dealer: false);
        using var stranger = MpcNode.Listen(1, 2, dealer: false);
        string session = Convert.ToHexString(MpcSession.NewId());
        var planZero = new MpcPlan(session, new() { [1] = new MpcPeer(one.Hello.Pin, 0) });
        var planOne = new MpcPlan(session, new() { [0] = new MpcPeer(zero.Hello.Pin, zero.Hello.Ports[1]) });
        var connecting = new[] { zero.ConnectAsync(planZero), one.ConnectAsync(planOne) };
        var meshes = await Task.WhenAll(connecting);
        var (a, b) = (meshes[0], meshes[1]);
        var id = Convert.FromHexString(session);
        var x = Sharing.Split([5, 7], 2);
        var sessions = new[] { new MpcSession(id, 0, a.Peers, null), new MpcSession(id, 1, b.Peers, null) };
        var opened = await Task.WhenAll(sessions.Select(s => s.OpenAsync(x[s.Party])));
        Assert.Equal([5UL, 7], opened[0]);
        foreach (var c in a.Peers.Concat(b.Peers)) (c as IDisposable)?.Dispose();

        // A node whose key is not the pinned one is refused in the handshake.
        using var zero2 = MpcNode.Listen(0, 2, dealer: false);
        var accept = zero2.ConnectAsync(new MpcPlan(session, new() { [1] = new MpcPeer(one.Hello.Pin, 0) }));
        var intruder = stranger.ConnectAsync(new MpcPlan(session, new() { [0] = new MpcPeer(zero2.Hello.Pin, zero2.Hello.Ports[1]) }));
        var refused = await Assert.ThrowsAsync<MpcProtocolException>(() => accept);
        Assert.Equal("tls", refused.Field);
        // Under TLS 1.3 the client finishes its side before the server judges its certificate; its first read finds the connection closed.
        var (intruderPeers, _) = await intruder;
        Assert.Equal("closed", (await Assert.ThrowsAsync<MpcProtocolException>(async () => await intruderPeers[0]!.ReceiveAsync())).Field);
        (intruderPeers[0] as IDisposable)?.Dispose();
    }
}
