namespace Veil.Mpc;

/// <summary>
/// A trusted third party that deals correlated randomness (CrypTen's TTP model): Beaver triples, matrix triples and
/// truncation pairs, each split into fresh additive shares. It sees no input and no opened value, but it knows every
/// triple, so a dealer colluding with a party breaks privacy: use it for tests and where a neutral party is accepted.
/// </summary>
public sealed class TrustedDealer
{
    private readonly byte[] _id;
    private readonly IMpcChannel[] _parties;

    /// <summary>A dealer for the parties of session <paramref name="id"/>, channel i to party i.</summary>
    public TrustedDealer(ReadOnlySpan<byte> id, IReadOnlyList<IMpcChannel> parties)
    {
        ArgumentNullException.ThrowIfNull(parties);
        if (id.Length != MpcSession.IdSize) throw new ArgumentException($"A session id is {MpcSession.IdSize} bytes.", nameof(id));
        if (parties.Count < 2 || parties.Count > MpcSession.MaxParties) throw new ArgumentException($"2 … {MpcSession.MaxParties} parties.", nameof(parties));
        _id = id.ToArray();
        _parties = [.. parties];
    }

    /// <summary>Elements dealt so far (to all parties together).</summary>
    public long ElementsDealt { get; private set; }

    /// <summary>
    /// Serves requests until party 0 closes its channel (returns normally) or a party sends a bad request, or requests
    /// differ between parties (throws <see cref="MpcProtocolException"/>, dealing nothing for that round). Either way it
    /// then closes every channel that can be closed, so that no party waits for it.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        try { await ServeAsync(cancellationToken).ConfigureAwait(false); }
        finally
        {
            foreach (var c in _parties) (c as IDisposable)?.Dispose(); // on every exit: no party is left waiting
        }
    }

    private async Task ServeAsync(CancellationToken cancellationToken)
    {
        for (uint round = 0; ; round++)
        {
            var requests = new DealRequest[_parties.Length];
            for (int i = 0; i < _parties.Length; i++)
            {
                byte[] frame;
                try { frame = await _parties[i].ReceiveAsync(cancellationToken).ConfigureAwait(false); }
                catch (MpcProtocolException e) when (e.Field == "closed" && i == 0) { return; } // the computation is over
                requests[i] = DealRequest.Read(MpcFrame.Read(frame, FrameType.Request, _id, round, i, MpcFrame.Dealer, DealRequest.Size));
                if (requests[i] != requests[0])
                    throw new MpcProtocolException("request", $"Party {i} asked for {requests[i]} in round {round}, party 0 for {requests[0]}: the parties are out of step.");
            }
            var values = Deal(requests[0]);
            var shares = Sharing.Split(values, _parties.Length);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            for (int i = 0; i < _parties.Length; i++)
            {
                var frame = MpcFrame.Write(FrameType.Dealt, _id, round, MpcFrame.Dealer, i, shares[i].AsSpan());
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(shares[i].AsSpan()));
                try { await _parties[i].SendAsync(frame, cancellationToken).ConfigureAwait(false); }
                finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(frame); } // a channel sends (or copies) before returning
            }
            ElementsDealt += shares[0].Length * (long)_parties.Length;
        }
    }

    /// <summary>The plain correlated values of a request, laid out as each party's share will be.</summary>
    internal static ulong[] Deal(DealRequest request)
    {
        int m = request.M, k = request.K, n = request.N;
        switch (request.Kind)
        {
            case DealKind.Triples:
            {
                var v = Sharing.Random(3 * m);
                for (int i = 0; i < m; i++) v[2 * m + i] = v[i] * v[m + i];
                return v;
            }
            case DealKind.MatrixTriple:
            {
                var v = Sharing.Random(m * k + k * n + m * n);
                var a = v.AsSpan(0, m * k);
                var b = v.AsSpan(m * k, k * n);
                var c = v.AsSpan(m * k + k * n, m * n);
                MatrixOps.Multiply(a, b, c, m, k, n);
                return v;
            }
            case DealKind.BitMasks:
            {
                var v = new ulong[65 * m];
                Sharing.Random(m).CopyTo(v, 0);
                for (int e = 0; e < m; e++)
                    for (int i = 0; i < 64; i++) v[m + 64 * e + i] = (v[e] >> i) & 1;
                return v;
            }
            default:
            {
                // r, r >> f, and the top bit of r (which, with the opened value's, tells whether x + 2^k + r wrapped).
                var v = Sharing.Random(3 * m);
                for (int i = 0; i < m; i++)
                {
                    v[m + i] = v[i] >> k;
                    v[2 * m + i] = v[i] >> 63;
                }
                return v;
            }
        }
    }
}

/// <summary>Matrix products over Z_2^64 (row-major).</summary>
internal static class MatrixOps
{
    /// <summary>c = a (m×k) · b (k×n), overwriting c.</summary>
    public static void Multiply(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> c, int m, int k, int n)
    {
        c[..(m * n)].Clear();
        MultiplyAdd(a, b, c, m, k, n);
    }

    /// <summary>c += a (m×k) · b (k×n).</summary>
    public static void MultiplyAdd(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> c, int m, int k, int n)
    {
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * n, n);
            for (int t = 0; t < k; t++)
            {
                ulong x = a[i * k + t];
                var brow = b.Slice(t * n, n);
                for (int j = 0; j < n; j++) row[j] += x * brow[j];
            }
        }
    }
}
