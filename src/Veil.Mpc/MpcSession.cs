using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Veil.Mpc;

/// <summary>
/// One party of an additive-sharing computation: its number, its channels to the other parties (and to a dealer, when
/// one serves correlated randomness), and the session and round every frame is checked against. Operations that
/// communicate advance the round; all parties must call the same operations in the same order.
/// </summary>
/// <remarks>
/// Semi-honest: a party that follows the protocol learns only what is opened. A party that sends a malformed,
/// foreign or replayed frame, or closes its channel, makes the others stop with <see cref="MpcProtocolException"/>:
/// nothing after the failed round is computed, so no partial result is released. A malicious party can still add an
/// error to what it sends (detecting that needs MAC-checked shares, not implemented).
/// </remarks>
public sealed class MpcSession
{
    /// <summary>Size of a session id.</summary>
    public const int IdSize = 16;
    /// <summary>The most parties a session takes.</summary>
    public const int MaxParties = 16;

    private readonly byte[] _id;
    private readonly IMpcChannel?[] _peers;
    private readonly IMpcChannel? _dealer;
    private uint _round, _dealerRound;

    /// <summary>A party of a session.</summary>
    /// <param name="id">The session id (16 bytes), the same for every party (and the dealer).</param>
    /// <param name="party">This party's number, 0 … n − 1.</param>
    /// <param name="peers">Channel j to party j (null at this party's own place); n = its length.</param>
    /// <param name="dealer">The channel to a dealer of triples and truncation pairs, if one is used.</param>
    /// <exception cref="ArgumentException">A wrong id size, party number, or a missing channel.</exception>
    public MpcSession(ReadOnlySpan<byte> id, int party, IReadOnlyList<IMpcChannel?> peers, IMpcChannel? dealer = null)
    {
        ArgumentNullException.ThrowIfNull(peers);
        if (id.Length != IdSize) throw new ArgumentException($"A session id is {IdSize} bytes; got {id.Length}.", nameof(id));
        if (peers.Count < 2 || peers.Count > MaxParties) throw new ArgumentException($"2 … {MaxParties} parties; got {peers.Count}.", nameof(peers));
        if (party < 0 || party >= peers.Count) throw new ArgumentOutOfRangeException(nameof(party), party, $"A party number is 0 … {peers.Count - 1}.");
        for (int j = 0; j < peers.Count; j++)
            if (j != party && peers[j] is null) throw new ArgumentException($"No channel to party {j}.", nameof(peers));
        _id = id.ToArray();
        Party = party;
        _peers = [.. peers];
        _dealer = dealer;
    }

    /// <summary>A fresh random session id.</summary>
    public static byte[] NewId() => RandomNumberGenerator.GetBytes(IdSize);

    /// <summary>This party's number.</summary>
    public int Party { get; }
    /// <summary>The number of parties.</summary>
    public int Parties => _peers.Length;
    /// <summary>The session id.</summary>
    public ReadOnlySpan<byte> Id => _id;
    /// <summary>Rounds of communication so far (openings).</summary>
    public uint Rounds => _round;
    /// <summary>Bytes this party has sent to other parties (frames included).</summary>
    public long BytesSent { get; private set; }

    /// <summary>
    /// Opens shared values: sends this party's share to every other party and sums all shares (one round, (n − 1)·8·len
    /// bytes sent per party).
    /// </summary>
    /// <exception cref="MpcProtocolException">A party sent a bad frame or closed its channel.</exception>
    /// <exception cref="InvalidOperationException">An earlier operation of this session failed.</exception>
    public Task<ulong[]> OpenAsync(ulong[] share, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(share);
        return Guarded(async () =>
        {
            uint round = _round++;
            var frames = await RoundAsync(j => MpcFrame.Write(FrameType.Open, _id, round, Party, j, share.AsSpan()), _ => true, cancellationToken).ConfigureAwait(false);
            var sum = (ulong[])share.Clone();
            for (int j = 0; j < Parties; j++)
            {
                if (j == Party) continue;
                var values = MpcFrame.ReadValues(frames[j], FrameType.Open, _id, round, j, Party, share.Length);
                for (int i = 0; i < sum.Length; i++) sum[i] += values[i];
            }
            return sum;
        });
    }

    /// <summary>
    /// Opens shared values to <paramref name="receiver"/> only: the others send it their shares (one round) and get null;
    /// the receiver gets the values. Bytes sent by each other party: 8·len.
    /// </summary>
    /// <exception cref="MpcProtocolException">A party sent a bad frame or closed its channel.</exception>
    public Task<ulong[]?> RevealToAsync(int receiver, ulong[] share, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(share);
        if (receiver < 0 || receiver >= Parties) throw new ArgumentOutOfRangeException(nameof(receiver), receiver, $"A party number is 0 … {Parties - 1}.");
        return Guarded<ulong[]?>(async () =>
        {
            uint round = _round++;
            bool receiving = Party == receiver;
            var frames = await RoundAsync(j => !receiving && j == receiver ? MpcFrame.Write(FrameType.Open, _id, round, Party, receiver, share.AsSpan()) : null,
                _ => receiving, cancellationToken).ConfigureAwait(false);
            if (!receiving) return null;
            var sum = (ulong[])share.Clone();
            for (int j = 0; j < Parties; j++)
            {
                if (j == Party) continue;
                var values = MpcFrame.ReadValues(frames[j], FrameType.Open, _id, round, j, Party, share.Length);
                for (int i = 0; i < sum.Length; i++) sum[i] += values[i];
            }
            return sum;
        });
    }

    /// <summary>
    /// Secret-shares every party's private input in one round: this party splits <paramref name="own"/> and sends each
    /// other party one share; result[p] is this party's share of party p's input, of <paramref name="lengths"/>[p]
    /// elements (public: every party passes the same lengths). Bytes sent per party: (n − 1)·8·|own|.
    /// </summary>
    /// <exception cref="ArgumentException">The lengths are not one per party, or <paramref name="own"/> does not have this party's length.</exception>
    /// <exception cref="MpcProtocolException">A party sent a bad frame or closed its channel.</exception>
    public Task<ulong[][]> ShareInputsAsync(ulong[] own, IReadOnlyList<int> lengths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(lengths);
        if (lengths.Count != Parties || lengths.Any(l => l < 0)) throw new ArgumentException($"One non-negative input length per party ({Parties}).", nameof(lengths));
        if (own.Length != lengths[Party]) throw new ArgumentException($"This party's input has {own.Length} elements; the lengths say {lengths[Party]}.", nameof(own));
        return Guarded(async () =>
        {
            uint round = _round++;
            var split = Sharing.Split(own, Parties);
            var frames = await RoundAsync(j =>
            {
                var frame = MpcFrame.Write(FrameType.Input, _id, round, Party, j, split[j].AsSpan());
                Array.Clear(split[j]);
                return frame;
            }, _ => true, cancellationToken).ConfigureAwait(false);
            var result = new ulong[Parties][];
            result[Party] = split[Party];
            for (int j = 0; j < Parties; j++)
                if (j != Party) result[j] = MpcFrame.ReadValues(frames[j], FrameType.Input, _id, round, j, Party, lengths[j]);
            return result;
        });
    }

    /// <summary>Where <see cref="SecureArithmetic.MultiplyAsync"/> takes its Beaver triples: the dealer by default.</summary>
    public ITripleSource Triples { get; init; } = DealerTriples.Instance;

    /// <summary>
    /// Sends <paramref name="payload"/> to the one other party of a two-party session and returns what it sent in the
    /// same round (one round), refusing a payload over <paramref name="maxPayload"/> bytes.
    /// </summary>
    /// <exception cref="InvalidOperationException">More than two parties, or an earlier operation failed.</exception>
    /// <exception cref="MpcProtocolException">The other party sent a bad frame or closed its channel.</exception>
    public Task<byte[]> ExchangeAsync(byte[] payload, int maxPayload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPayload);
        if (Parties != 2) throw new InvalidOperationException("An exchange is between the two parties of a two-party session.");
        return Guarded(async () =>
        {
            int other = 1 - Party;
            uint round = _round++;
            var frames = await RoundAsync(j => MpcFrame.Write(FrameType.Exchange, _id, round, Party, j, payload), _ => true, cancellationToken).ConfigureAwait(false);
            return MpcFrame.Read(frames[other], FrameType.Exchange, _id, round, other, Party, maxPayload).ToArray();
        });
    }

    /// <summary>
    /// One round in which this party sends <paramref name="payloads"/>[j] to every other party j (empty for none) and
    /// returns what each sent it (result[own] is empty), refusing a payload over <paramref name="maxPayload"/> bytes:
    /// the pairwise subprotocols of any number of parties (keys and ciphertexts of the BFV triples).
    /// </summary>
    /// <exception cref="ArgumentException">Not one payload per party.</exception>
    /// <exception cref="MpcProtocolException">A party sent a bad frame or closed its channel.</exception>
    public Task<byte[][]> ExchangeAllAsync(IReadOnlyList<byte[]> payloads, int maxPayload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPayload);
        if (payloads.Count != Parties || payloads.Any(p => p is null)) throw new ArgumentException($"One payload per party ({Parties}); an empty one for none.", nameof(payloads));
        return Guarded(async () =>
        {
            uint round = _round++;
            var frames = await RoundAsync(j => MpcFrame.Write(FrameType.Exchange, _id, round, Party, j, payloads[j]), _ => true, cancellationToken).ConfigureAwait(false);
            var result = new byte[Parties][];
            result[Party] = [];
            for (int j = 0; j < Parties; j++)
                if (j != Party) result[j] = MpcFrame.Read(frames[j], FrameType.Exchange, _id, round, j, Party, maxPayload).ToArray();
            return result;
        });
    }

    /// <summary>
    /// One round with every other party j: <paramref name="frameFor"/>(j) is sent to it (null: nothing), and its frame is
    /// received where <paramref name="receiveFrom"/>(j) (result[j]; null elsewhere). Receives are posted before sends.
    /// </summary>
    private async Task<byte[]?[]> RoundAsync(Func<int, byte[]?> frameFor, Func<int, bool> receiveFrom, CancellationToken cancellationToken)
    {
        var receives = new Task<byte[]>?[Parties];
        var sends = new List<Task>();
        for (int j = 0; j < Parties; j++)
        {
            if (j == Party) continue;
            if (receiveFrom(j)) receives[j] = _peers[j]!.ReceiveAsync(cancellationToken).AsTask();
            if (frameFor(j) is not { } frame) continue;
            sends.Add(_peers[j]!.SendAsync(frame, cancellationToken).AsTask());
            BytesSent += frame.Length;
        }
        await Task.WhenAll(sends).ConfigureAwait(false);
        var frames = new byte[]?[Parties];
        for (int j = 0; j < Parties; j++)
            if (receives[j] is { } receive) frames[j] = await receive.ConfigureAwait(false);
        return frames;
    }

    /// <summary>Masks with shared bits (r ‖ bits of element 0 ‖ …): from the triple source when it makes them itself, else from the dealer.</summary>
    internal Task<ulong[]> BitMasksAsync(int count, CancellationToken cancellationToken) =>
        Triples is IBitMaskSource own ? own.BitMasksAsync(this, count, cancellationToken) : DealAsync(DealKind.BitMasks, count, 0, 0, 65 * count, cancellationToken);

    /// <summary>Truncation triples (r ‖ r ≫ f ‖ msb r): read off masks' bits when the triple source makes masks (all linear in the bits), else from the dealer.</summary>
    internal async Task<ulong[]> TruncationPairsAsync(int count, int fractionalBits, CancellationToken cancellationToken)
    {
        if (Triples is not IBitMaskSource own) return await DealAsync(DealKind.TruncationPairs, count, fractionalBits, 0, 3 * count, cancellationToken).ConfigureAwait(false);
        var masks = await own.BitMasksAsync(this, count, cancellationToken).ConfigureAwait(false);
        var r = new ulong[3 * count];
        for (int e = 0; e < count; e++)
        {
            r[e] = masks[e];
            ulong shifted = 0;
            for (int j = fractionalBits; j < 64; j++) shifted += masks[count + 64 * e + j] << (j - fractionalBits);
            r[count + e] = shifted;
            r[2 * count + e] = masks[count + 64 * e + 63];
        }
        Array.Clear(masks);
        return r;
    }

    /// <summary>Whether matrix triples come whole from the dealer (otherwise a matrix product is made of elementwise triples).</summary>
    internal bool DealsMatrixTriples => Triples is DealerTriples;

    /// <summary>Asks the dealer for correlated randomness and returns this party's shares of it (count elements).</summary>
    /// <remarks>Elementwise kinds (triples, truncation pairs, bit masks) past one request's limit are asked for in chunks and reassembled in the dealt layout.</remarks>
    internal async Task<ulong[]> DealAsync(DealKind kind, int m, int k, int n, int count, CancellationToken cancellationToken)
    {
        var request = new DealRequest(kind, m, k, n);
        if (request.Elements <= DealRequest.MaxElements || kind == DealKind.MatrixTriple)
            return await DealOnceAsync(request, count, cancellationToken).ConfigureAwait(false);
        int head = kind == DealKind.BitMasks ? 1 : 3, tail = kind == DealKind.BitMasks ? 64 : 0; // per element: head parts of one value, then a block of tail values
        int chunk = (int)(DealRequest.MaxElements / (head + tail));
        var result = new ulong[count];
        for (int from = 0; from < m; from += chunk)
        {
            int size = Math.Min(chunk, m - from);
            var part = await DealOnceAsync(new DealRequest(kind, size, k, n), (head + tail) * size, cancellationToken).ConfigureAwait(false);
            for (int h = 0; h < head; h++) Array.Copy(part, h * size, result, h * m + from, size);
            if (tail > 0) Array.Copy(part, head * size, result, head * m + (long)tail * from, (long)tail * size);
            Array.Clear(part);
        }
        return result;
    }

    private Task<ulong[]> DealOnceAsync(DealRequest request, int count, CancellationToken cancellationToken)
    {
        var dealer = _dealer ?? throw new InvalidOperationException("This session has no dealer: pass its channel, or use another source of triples.");
        if (request.Elements > DealRequest.MaxElements)
            throw new ArgumentOutOfRangeException(nameof(request), $"{request.Elements} elements of correlated randomness in one request; at most {DealRequest.MaxElements}: split the operation.");
        return Guarded(async () =>
        {
            uint round = _dealerRound++;
            var bytes = new byte[DealRequest.Size];
            request.Write(bytes);
            await dealer.SendAsync(MpcFrame.Write(FrameType.Request, _id, round, Party, MpcFrame.Dealer, bytes), cancellationToken).ConfigureAwait(false);
            return MpcFrame.ReadValues(await dealer.ReceiveAsync(cancellationToken).ConfigureAwait(false), FrameType.Dealt, _id, round, MpcFrame.Dealer, Party, count);
        });
    }

    // Operations of a session run one at a time, and a failed one ends it: reads it started may still be pending on
    // the channels, so a later round could consume the wrong frames.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _failure;

    private async Task<T> Guarded<T>(Func<Task<T>> operation)
    {
        if (!await _gate.WaitAsync(0).ConfigureAwait(false))
            throw new InvalidOperationException("Another operation of this session is running: every party must run its operations in the same order, one at a time.");
        try
        {
            if (_failure is not null) throw new InvalidOperationException($"This session stopped after an error ({_failure}); start a new one.");
            try { return await operation().ConfigureAwait(false); }
            catch (Exception e) // cancellation too: its reads may still be pending
            {
                _failure = e.Message;
                throw;
            }
        }
        finally { _gate.Release(); }
    }
}

/// <summary>What a dealer is asked for.</summary>
public enum DealKind : byte
{
    /// <summary>m elementwise triples (a, b, a·b).</summary>
    Triples = 1,
    /// <summary>One matrix triple: A (m×k), B (k×n), C = A·B.</summary>
    MatrixTriple = 2,
    /// <summary>m truncation triples (r, r &gt;&gt; f, msb(r)) for f = k.</summary>
    TruncationPairs = 3,
    /// <summary>m masks r with shares of their 64 bits (r ‖ bits of element 0 ‖ bits of element 1 …).</summary>
    BitMasks = 4,
}

/// <summary>A request to the dealer: kind u8 ‖ m u32 ‖ k u32 ‖ n u32.</summary>
internal readonly record struct DealRequest(DealKind Kind, int M, int K, int N)
{
    public const int Size = 13;
    /// <summary>The most elements one request may ask for (each party's answer stays below the frame limit).</summary>
    public const long MaxElements = MpcFrame.DefaultMaxPayload / sizeof(ulong) / 3;

    public void Write(Span<byte> destination)
    {
        destination[0] = (byte)Kind;
        BinaryPrimitives.WriteInt32LittleEndian(destination[1..], M);
        BinaryPrimitives.WriteInt32LittleEndian(destination[5..], K);
        BinaryPrimitives.WriteInt32LittleEndian(destination[9..], N);
    }

    /// <exception cref="MpcProtocolException">Not a request of a known kind and a bounded shape.</exception>
    public static DealRequest Read(ReadOnlySpan<byte> payload)
    {
        if (payload.Length != Size) throw new MpcProtocolException("length", $"A dealer request is {Size} bytes; got {payload.Length}.");
        var kind = (DealKind)payload[0];
        int m = BinaryPrimitives.ReadInt32LittleEndian(payload[1..]), k = BinaryPrimitives.ReadInt32LittleEndian(payload[5..]), n = BinaryPrimitives.ReadInt32LittleEndian(payload[9..]);
        var request = new DealRequest(kind, m, k, n);
        if (!Enum.IsDefined(kind)) throw new MpcProtocolException("kind", $"Unknown request kind {payload[0]}.");
        if (m < 1 || k < 0 || n < 0 || (kind == DealKind.MatrixTriple && (k < 1 || n < 1)) || (kind == DealKind.TruncationPairs && (k < 1 || k > 62))
            || (kind is DealKind.Triples or DealKind.BitMasks && (k != 0 || n != 0)))
            throw new MpcProtocolException("shape", $"A {kind} request of shape ({m}, {k}, {n}) is not valid.");
        if (request.Elements > MaxElements) throw new MpcProtocolException("shape", $"The request asks for {request.Elements} elements; at most {MaxElements}.");
        return request;
    }

    /// <summary>Elements of a party's answer.</summary>
    public long Elements => Kind switch
    {
        DealKind.Triples => 3L * M,
        DealKind.MatrixTriple => (long)M * K + (long)K * N + (long)M * N,
        DealKind.BitMasks => 65L * M,
        _ => 3L * M,
    };
}
