namespace Veil.Mpc.Tests;

public class FrameTests
{
    private static readonly byte[] Session = MpcSession.NewId();

    private static byte[] Frame() => MpcFrame.Write(FrameType.Open, Session, 7, 1, 0, new ulong[] { 1, 2, 3 }.AsSpan());

    [Theory]
    [InlineData(0, "magic")]
    [InlineData(4, "version")]
    [InlineData(5, "type")]
    [InlineData(6, "sender")]
    [InlineData(7, "receiver")]
    [InlineData(10, "session")]
    [InlineData(24, "round")]
    [InlineData(28, "length")]
    public void EachHeaderField_IsChecked_AndNamed(int offset, string field)
    {
        var frame = Frame();
        frame[offset] ^= 0x40;
        var e = Assert.Throws<MpcProtocolException>(() => MpcFrame.ReadValues(frame, FrameType.Open, Session, 7, 1, 0, 3));
        Assert.Equal(field, e.Field);
        Assert.Equal([1UL, 2, 3], MpcFrame.ReadValues(Frame(), FrameType.Open, Session, 7, 1, 0, 3));
    }

    [Fact]
    public void TruncatedOversizedAndMiscountedFrames_AreRefused()
    {
        var frame = Frame();
        Assert.Equal("length", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame.AsSpan(0, 20), FrameType.Open, Session, 7, 1, 0)).Field);
        Assert.Equal("length", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame.AsSpan(0, frame.Length - 1), FrameType.Open, Session, 7, 1, 0)).Field);
        Assert.Equal("length", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame, FrameType.Open, Session, 7, 1, 0, maxPayload: 16)).Field);
        Assert.Equal("length", Assert.Throws<MpcProtocolException>(() => MpcFrame.ReadValues(frame, FrameType.Open, Session, 7, 1, 0, 4)).Field);
        Assert.Equal("round", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame, FrameType.Open, Session, 8, 1, 0)).Field); // replayed into a later round
        Assert.Equal("sender", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame, FrameType.Open, Session, 7, 0, 1)).Field); // reflected back to its sender
        Assert.Equal("receiver", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame, FrameType.Open, Session, 7, 1, 2)).Field); // misrouted to another party
    }

    [Fact]
    public void ThousandsOfMutatedFrames_GiveOnlyTypedErrors()
    {
        var rng = new Random(11);
        var original = Frame();
        int refused = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            var frame = (byte[])original.Clone();
            if (trial % 3 == 0) frame = frame.AsSpan(0, rng.Next(frame.Length)).ToArray();
            else for (int k = rng.Next(1, 4); k > 0; k--) frame[rng.Next(frame.Length)] = (byte)rng.Next(256);
            try { MpcFrame.ReadValues(frame, FrameType.Open, Session, 7, 1, 0, 3); }
            catch (MpcProtocolException) { refused++; }
        }
        Assert.True(refused > 2000, $"only {refused} of 3000 mutations refused"); // changes inside the payload are values, not errors
    }

    [Fact]
    public void MutatedDealerRequests_GiveOnlyTypedErrors()
    {
        var rng = new Random(12);
        var valid = new byte[DealRequest.Size];
        new DealRequest(DealKind.MatrixTriple, 3, 4, 5).Write(valid);
        int refused = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            var bytes = trial % 2 == 0 ? (byte[])valid.Clone() : new byte[rng.Next(0, 20)];
            if (trial % 2 == 0) for (int k = rng.Next(1, 4); k > 0; k--) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            else rng.NextBytes(bytes);
            try
            {
                var r = DealRequest.Read(bytes);
                Assert.InRange(r.Elements, 1, DealRequest.MaxElements); // whatever is accepted is bounded
            }
            catch (MpcProtocolException) { refused++; }
        }
        Assert.True(refused > 1500, $"only {refused} of 3000 refused");
    }

    [Fact]
    public async Task RandomByteStreams_GiveFramesOrTypedErrors_NeverLargeAllocations()
    {
        var rng = new Random(13);
        for (int trial = 0; trial < 1000; trial++)
        {
            var bytes = new byte[rng.Next(0, 200)];
            rng.NextBytes(bytes);
            if (trial % 3 == 0 && bytes.Length >= 4) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)rng.Next(0, 300));
            var channel = new StreamMpcChannel(new MemoryStream(bytes), maxFrame: 1024);
            try
            {
                var frame = await channel.ReceiveAsync();
                Assert.InRange(frame.Length, MpcFrame.HeaderSize, 1024);
                try { MpcFrame.Read(frame, FrameType.Open, Session, 7, 1, 0); } catch (MpcProtocolException) { }
            }
            catch (MpcProtocolException e) { Assert.Contains(e.Field, new[] { "closed", "length" }); }
        }
    }

    [Fact]
    public async Task APartySendingGarbage_StopsTheOthersWithATypedError()
    {
        var shares = Sharing.Split(new ulong[] { 5, 6 }, 3);
        var e = await Assert.ThrowsAsync<MpcProtocolException>(() => Harness.Run(3, s => s.OpenAsync(shares[s.Party]),
            wrap: (from, channel) => from == 2 ? new Corrupting(channel) : channel));
        Assert.Equal("magic", e.Field);
    }

    [Fact]
    public async Task APartyThatLeaves_StopsTheOthers()
    {
        var shares = Sharing.Split(new ulong[] { 5, 6 }, 3);
        var e = await Assert.ThrowsAsync<MpcProtocolException>(() => Harness.Run(3, async s =>
        {
            if (s.Party == 1) throw new MpcProtocolException("closed", "party 1 left"); // leaves before sending anything
            return await s.OpenAsync(shares[s.Party]).WaitAsync(TimeSpan.FromSeconds(5));
        }));
        Assert.Equal("closed", e.Field);
    }

    [Fact]
    public async Task PartiesOutOfStep_AreStoppedByTheDealer_AndNoneWaits()
    {
        var id = MpcSession.NewId();
        var mesh = InProcessNetwork.Create(2);
        var toDealer = new[] { InProcessNetwork.Pair(), InProcessNetwork.Pair() };
        var dealer = new TrustedDealer(id, [toDealer[0].A, toDealer[1].A]);
        var dealing = dealer.RunAsync();
        var parties = Enumerable.Range(0, 2).Select(i => Task.Run(() =>
            SecureArithmetic.MultiplyAsync(new MpcSession(id, i, mesh[i], toDealer[i].B), new ulong[i + 2], new ulong[i + 2]))).ToArray();
        var e = await Assert.ThrowsAsync<MpcProtocolException>(() => dealing);
        Assert.Equal("request", e.Field);
        foreach (var p in parties) // the dealer closed its channels: both parties stop instead of waiting
            Assert.Equal("closed", (await Assert.ThrowsAsync<MpcProtocolException>(() => p.WaitAsync(TimeSpan.FromSeconds(10)))).Field);
    }

    [Fact]
    public async Task ASessionThatFailed_RefusesFurtherOperations()
    {
        var shares = Sharing.Split(new ulong[] { 5, 6 }, 2);
        var results = await Harness.Run(2, async s =>
        {
            if (s.Party == 0)
            {
                var first = await Assert.ThrowsAsync<MpcProtocolException>(() => s.OpenAsync(shares[0]));
                await Assert.ThrowsAsync<InvalidOperationException>(() => s.OpenAsync(shares[0]));
                return first.Field;
            }
            await s.OpenAsync(shares[1]); // its frame arrives corrupted; party 0's arrives intact
            return "sent";
        }, wrap: (from, channel) => from == 1 ? new Corrupting(channel) : channel);
        Assert.Equal("magic", results[0]);
    }

    private sealed class Corrupting(IMpcChannel inner) : IMpcChannel, IDisposable
    {
        public void Dispose() => (inner as IDisposable)?.Dispose();
        public ValueTask SendAsync(byte[] frame, CancellationToken cancellationToken = default)
        {
            var copy = (byte[])frame.Clone();
            copy[0] ^= 1;
            return inner.SendAsync(copy, cancellationToken);
        }
        public ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken = default) => inner.ReceiveAsync(cancellationToken);
    }
}
