using System.Threading.Channels;

namespace Veil.Mpc;

/// <summary>A reliable, ordered channel of frames to one other party (a socket, a TLS stream, or in-process).</summary>
public interface IMpcChannel
{
    /// <summary>Sends one frame; once the returned task completes the channel holds no reference to it (the caller may wipe it).</summary>
    ValueTask SendAsync(byte[] frame, CancellationToken cancellationToken = default);
    /// <summary>Receives the next frame.</summary>
    /// <exception cref="MpcProtocolException">The other side closed the channel ("closed").</exception>
    ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken = default);
}

/// <summary>Channels between parties of one process, for tests and single-machine runs: frames are still serialized and checked.</summary>
public static class InProcessNetwork
{
    /// <summary>
    /// A full mesh of <paramref name="parties"/> parties: result[i][j] is party i's channel to party j (null on the diagonal).
    /// </summary>
    public static IMpcChannel?[][] Create(int parties)
    {
        if (parties < 2 || parties > MpcSession.MaxParties) throw new ArgumentOutOfRangeException(nameof(parties), parties, $"2 … {MpcSession.MaxParties} parties.");
        var mesh = new IMpcChannel?[parties][];
        for (int i = 0; i < parties; i++) mesh[i] = new IMpcChannel?[parties];
        for (int i = 0; i < parties; i++)
            for (int j = i + 1; j < parties; j++)
            {
                var (a, b) = Pair();
                mesh[i][j] = a;
                mesh[j][i] = b;
            }
        return mesh;
    }

    /// <summary>Two ends of one channel.</summary>
    public static (IMpcChannel A, IMpcChannel B) Pair()
    {
        var ab = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var ba = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        return (new End(ab.Writer, ba.Reader), new End(ba.Writer, ab.Reader));
    }

    private sealed class End(ChannelWriter<byte[]> writer, ChannelReader<byte[]> reader) : IMpcChannel, IDisposable
    {
        public ValueTask SendAsync(byte[] frame, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(frame);
            return writer.WriteAsync((byte[])frame.Clone(), cancellationToken); // the receiver gets its own bytes, as over a wire
        }

        public async ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken = default)
        {
            try { return await reader.ReadAsync(cancellationToken).ConfigureAwait(false); }
            catch (ChannelClosedException) { throw new MpcProtocolException("closed", "The other party closed the channel."); }
        }

        public void Dispose() => writer.TryComplete();
    }
}

/// <summary>How <see cref="FaultyChannel"/> misbehaves.</summary>
public enum ChannelFault
{
    /// <summary>Replaces a frame by bytes that are not a frame (random, same length).</summary>
    Garbage = 1,
    /// <summary>Closes the channel instead of sending.</summary>
    Disconnect = 2,
}

/// <summary>
/// A channel that behaves until it has sent <see cref="AfterFrames"/> frames and then misbehaves once as told: the
/// fault injection of the tests that check that the other parties stop with a clear error and release nothing.
/// </summary>
public sealed class FaultyChannel(IMpcChannel inner, ChannelFault fault, int afterFrames) : IMpcChannel, IDisposable
{
    private int _sent;

    /// <summary>Frames sent faithfully before the fault.</summary>
    public int AfterFrames { get; } = afterFrames;

    /// <inheritdoc/>
    public async ValueTask SendAsync(byte[] frame, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (_sent++ != AfterFrames) { await inner.SendAsync(frame, cancellationToken).ConfigureAwait(false); return; }
        if (fault == ChannelFault.Disconnect)
        {
            Dispose();
            throw new MpcProtocolException("closed", "This party closed its channel (injected fault).");
        }
        await inner.SendAsync(System.Security.Cryptography.RandomNumberGenerator.GetBytes(frame.Length), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken = default) => inner.ReceiveAsync(cancellationToken);

    /// <summary>Closes the inner channel.</summary>
    public void Dispose() => (inner as IDisposable)?.Dispose();
}
