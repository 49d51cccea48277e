namespace Veil.Mpc.Tests;

/// <summary>Runs the same program on n parties and a dealer, each on its own task, over in-process channels.</summary>
internal static class Harness
{
    public static async Task<T[]> Run<T>(int parties, Func<MpcSession, Task<T>> program, Func<int, IMpcChannel, IMpcChannel>? wrap = null, Func<int, ITripleSource>? triples = null)
    {
        var id = MpcSession.NewId();
        var mesh = InProcessNetwork.Create(parties);
        if (wrap is not null)
            for (int i = 0; i < parties; i++)
                for (int j = 0; j < parties; j++)
                    if (mesh[i][j] is { } c) mesh[i][j] = wrap(i, c);
        var toDealer = Enumerable.Range(0, parties).Select(_ => InProcessNetwork.Pair()).ToArray();
        var dealer = new TrustedDealer(id, toDealer.Select(p => p.A).ToArray());
        // A party or the dealer that stops, normally or not, closes its channels, as a process's sockets close when it exits.
        var dealing = Task.Run(async () =>
        {
            try { await dealer.RunAsync(); }
            finally { foreach (var (a, _) in toDealer) (a as IDisposable)?.Dispose(); }
        });
        var runs = Enumerable.Range(0, parties).Select(i => Task.Run(async () =>
        {
            try { return await program(new MpcSession(id, i, mesh[i], toDealer[i].B) { Triples = triples?.Invoke(i) ?? DealerTriples.Instance }); }
            finally
            {
                (toDealer[i].B as IDisposable)?.Dispose();
                foreach (var c in mesh[i]) (c as IDisposable)?.Dispose();
            }
        })).ToArray();
        try { return await Task.WhenAll(runs); }
        finally { try { await dealing; } catch (MpcProtocolException) { } }
    }

    public static ulong[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        var v = new ulong[count];
        for (int i = 0; i < count; i++) v[i] = (ulong)rng.NextInt64() ^ ((ulong)rng.Next(2) << 63);
        ulong[] edges = [0, 1, ulong.MaxValue, 1UL << 63, (1UL << 63) - 1, 2];
        for (int i = 0; i < Math.Min(edges.Length, count); i++) v[i] = edges[i];
        return v;
    }

    public static ulong[] Share(MpcSession s, ulong[][] shares) => shares[s.Party];
}
