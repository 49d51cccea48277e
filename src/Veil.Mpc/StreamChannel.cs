using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Veil.Protection;

namespace Veil.Mpc;

/// <summary>
/// Frames over a byte stream (a TCP socket, usually inside TLS): each frame preceded by its length (u32,
/// little-endian), the length checked against the limit before anything is allocated for it.
/// </summary>
public sealed class StreamMpcChannel : IMpcChannel, IDisposable, IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly int _maxFrame;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    /// <summary>A channel over <paramref name="stream"/>, which it owns; frames above <paramref name="maxFrame"/> bytes are refused.</summary>
    public StreamMpcChannel(Stream stream, int maxFrame = MpcFrame.HeaderSize + MpcFrame.DefaultMaxPayload)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrame, MpcFrame.HeaderSize);
        _stream = stream;
        _maxFrame = maxFrame;
    }

    /// <inheritdoc/>
    public async ValueTask SendAsync(byte[] frame, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (frame.Length > _maxFrame) throw new ArgumentException($"The frame has {frame.Length} bytes; this channel carries at most {_maxFrame}.", nameof(frame));
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, (uint)frame.Length);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(prefix, cancellationToken).ConfigureAwait(false);
            await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) { throw new MpcProtocolException("closed", $"The other party's connection failed: {e.Message}"); }
        finally { _sendLock.Release(); }
    }

    /// <inheritdoc/>
    /// <exception cref="MpcProtocolException">The connection ended ("closed", also mid-frame) or announced a frame over the limit ("length").</exception>
    public async ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        var prefix = new byte[4];
        await ReadExactly(prefix, cancellationToken).ConfigureAwait(false);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (length < MpcFrame.HeaderSize || length > (uint)_maxFrame)
            throw new MpcProtocolException("length", $"The other party announced a frame of {length} bytes; frames are {MpcFrame.HeaderSize} … {_maxFrame} bytes.");
        var frame = new byte[length];
        await ReadExactly(frame, cancellationToken).ConfigureAwait(false);
        return frame;
    }

    private async Task ReadExactly(byte[] buffer, CancellationToken cancellationToken)
    {
        try { await _stream.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false); }
        catch (EndOfStreamException) { throw new MpcProtocolException("closed", "The other party closed the connection."); }
        catch (IOException e) { throw new MpcProtocolException("closed", $"The other party's connection failed: {e.Message}"); }
    }

    /// <summary>Closes the stream.</summary>
    public void Dispose() => _stream.Dispose();

    /// <summary>Closes the stream.</summary>
    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}

/// <summary>
/// Mutually authenticated TLS channels between parties (Veil.Protection's TLS 1.3/1.2 options): each side presents its
/// certificate and accepts only the other's pinned key, so a party of another federation, or a stranger, is refused
/// in the handshake.
/// </summary>
public static class MpcTls
{
    /// <summary>Accepts one connection on <paramref name="listener"/> and completes the handshake.</summary>
    /// <exception cref="MpcProtocolException">The handshake failed ("tls"): the other side's key is not pinned, or it does not speak TLS.</exception>
    public static async Task<StreamMpcChannel> AcceptAsync(TcpListener listener, X509Certificate2 certificate, IReadOnlyCollection<string> peerPins, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(listener);
        var client = await listener.AcceptTcpClientAsync(cancellationToken).ConfigureAwait(false);
        client.NoDelay = true;
        var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        try { await tls.AuthenticateAsServerAsync(Tls.ServerOptions(certificate, peerPins), cancellationToken).ConfigureAwait(false); }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new MpcProtocolException("tls", $"The TLS handshake with the connecting party failed: {e.Message}");
        }
        return new StreamMpcChannel(tls);
    }

    /// <summary>Connects to a party at <paramref name="endpoint"/> and completes the handshake.</summary>
    /// <exception cref="MpcProtocolException">Nothing listens there ("connect") or the handshake failed ("tls").</exception>
    public static async Task<StreamMpcChannel> ConnectAsync(IPEndPoint endpoint, X509Certificate2 certificate, IReadOnlyCollection<string> peerPins, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var client = new TcpClient(endpoint.AddressFamily) { NoDelay = true };
        try { await client.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false); }
        catch (SocketException e)
        {
            client.Dispose();
            throw new MpcProtocolException("connect", $"No party answers at {endpoint}: {e.Message}");
        }
        var tls = new SslStream(client.GetStream(), leaveInnerStreamOpen: false);
        try { await tls.AuthenticateAsClientAsync(Tls.ClientOptions(endpoint.Address.ToString(), peerPins, certificate), cancellationToken).ConfigureAwait(false); }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new MpcProtocolException("tls", $"The TLS handshake with {endpoint} failed: {e.Message}");
        }
        return new StreamMpcChannel(tls);
    }
}
