namespace Veil.Mpc.Tests;

public class FrameTests
{
    private static readonly byte[] Session = MpcSession.NewId();

    private static byte[] Frame() => MpcFrame.Write(FrameType.Open, Session, 7, new ulong[] { 1, 2, 3 }.AsSpan());

    [Theory]
    [InlineData(0, "magic")]
    [InlineData(4, "version")]
    [InlineData(5, "type")]
    [InlineData(6, "reserved")]
    [InlineData(10, "session")]
    [InlineData(24, "round")]
    [InlineData(28, "length")]
    public void EachHeaderField_IsChecked_AndNamed(int offset, string field)
    {
        var frame = Frame();
        frame[offset] ^= 0x40;
        var e = Assert.Throws<MpcProtocolException>(() => MpcFrame.ReadValues(frame, FrameType.Open, Session, 7, 3));
        Assert.Equal(field, e.Field);
        Assert.Equal([1UL, 2, 3], MpcFrame.ReadValues(Frame(), FrameType.Open, Session, 7, 3));
    }

    [Fact]
    public void TruncatedOversizedAndMiscountedFrames_AreRefused()
    {
        var frame = Frame();
        Assert.Equal("length", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame.AsSpan(0, 20), FrameType.Open, Session, 7)).Field);
        Assert.Equal("length", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame.AsSpan(0, frame.Length - 1), FrameType.Open, Session, 7)).Field);
        Assert.Equal("length", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame, FrameType.Open, Session, 7, maxPayload: 16)).Field);
        Assert.Equal("length", Assert.Throws<MpcProtocolException>(() => MpcFrame.ReadValues(frame, FrameType.Open, Session, 7, 4)).Field);
        Assert.Equal("round", Assert.Throws<MpcProtocolException>(() => MpcFrame.Read(frame, FrameType.Open, Session, 8)).Field); // replayed into a later round
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
            try { MpcFrame.ReadValues(frame, FrameType.Open, Session, 7, 3); }
            catch (MpcProtocolException) { refused++; }
        }
        Assert.True(refused > 2000, $"only {refused} of 3000 mutations refused"); // changes inside the payload are values, not errors
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
    public async Task PartiesOutOfStep_AreStoppedByTheDealer()
    {
        var shares = Sharing.Split(new ulong[] { 1, 2, 3 }, 2);
        await Assert.ThrowsAsync<MpcProtocolException>(() => Harness.Run(2, s =>
            SecureArithmetic.MultiplyAsync(s, shares[s.Party][..(s.Party + 2)], shares[s.Party][..(s.Party + 2)]).WaitAsync(TimeSpan.FromSeconds(5))));
    }

    private sealed class Corrupting(IMpcChannel inner) : IMpcChannel
    {
        public ValueTask SendAsync(byte[] frame, CancellationToken cancellationToken = default)
        {
            var copy = (byte[])frame.Clone();
            copy[0] ^= 1;
            return inner.SendAsync(copy, cancellationToken);
        }
        public ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken = default) => inner.ReceiveAsync(cancellationToken);
    }
}
