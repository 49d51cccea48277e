using System.Diagnostics;

namespace Veil.Mpc;

/// <summary>What <see cref="MpcSelfCheck.Run"/> measured.</summary>
/// <param name="Elements">Fixed-point products computed.</param>
/// <param name="WorstError">Largest |secure product − plaintext product|.</param>
/// <param name="PaillierTriplesPerSecond">Dealer-free triples made per second (two parties, 3072-bit keys).</param>
/// <param name="DealerTriplesPerSecond">Triples dealt per second by the trusted dealer.</param>
/// <param name="Rounds">Rounds of the dealer-free product (key exchange, two for the triples, one for the product).</param>
/// <param name="BytesPerParty">Bytes party 0 sent for it.</param>
/// <param name="Seconds">Wall time of the whole check.</param>
public sealed record MpcSelfCheckReport(int Elements, double WorstError, double PaillierTriplesPerSecond, double DealerTriplesPerSecond, uint Rounds, long BytesPerParty, double Seconds);

/// <summary>
/// Two parties in one process: fixed-point products of secret-shared values with triples the parties make between
/// them by Paillier (no dealer), checked against plaintext, and the trusted dealer's rate for comparison.
/// </summary>
public static class MpcSelfCheck
{
    /// <summary>Runs the check on <paramref name="elements"/> random pairs in (−10, 10).</summary>
    public static MpcSelfCheckReport Run(int elements = 64, int seed = 1)
    {
        if (elements < 1 || elements > 100_000) throw new ArgumentOutOfRangeException(nameof(elements), elements, "1 … 100,000 elements.");
        var total = Stopwatch.StartNew();
        var format = FixedPointFormat.Default;
        var rng = new Random(seed);
        var x = Enumerable.Range(0, elements).Select(_ => (rng.NextDouble() - 0.5) * 20).ToArray();
        var y = Enumerable.Range(0, elements).Select(_ => (rng.NextDouble() - 0.5) * 20).ToArray();
        var xs = Sharing.Split(format.Encode(x), 2);
        var ys = Sharing.Split(format.Encode(y), 2);
        var sources = new[] { PaillierTriples.Generate(), PaillierTriples.Generate() };
        var sw = Stopwatch.StartNew();
        var results = InProcessRun.Parties(2, triples: i => sources[i], async s =>
        {
            var product = await SecureArithmetic.MultiplyFixedAsync(s, xs[s.Party], ys[s.Party], format).ConfigureAwait(false);
            uint rounds = s.Rounds; // the product's; opening the result for the check is not part of it
            long bytes = s.BytesSent;
            var opened = await s.OpenAsync(product).ConfigureAwait(false);
            return (Values: format.Decode(opened), Rounds: rounds, BytesSent: bytes);
        });
        double paillierRate = elements / sw.Elapsed.TotalSeconds;
        double worst = 0;
        for (int i = 0; i < elements; i++) worst = Math.Max(worst, Math.Abs(results[0].Values[i] - x[i] * y[i]));
        const int dealt = 200_000;
        sw.Restart();
        InProcessRun.Parties(2, triples: _ => DealerTriples.Instance, s => DealerTriples.Instance.TriplesAsync(s, dealt));
        double dealerRate = dealt / sw.Elapsed.TotalSeconds;
        return new MpcSelfCheckReport(elements, worst, paillierRate, dealerRate, results[0].Rounds, results[0].BytesSent, total.Elapsed.TotalSeconds);
    }
}

/// <summary>Runs one program on n parties and a dealer in this process, each on its own task (self-checks, benchmarks, single-machine runs).</summary>
public static class InProcessRun
{
    /// <summary>Runs <paramref name="program"/> as every party (triples from <paramref name="triples"/>, a dealer serving them) and returns each party's result.</summary>
    /// <exception cref="AggregateException">A party failed (the others stop when its channels close).</exception>
    public static T[] Parties<T>(int parties, Func<int, ITripleSource> triples, Func<MpcSession, Task<T>> program)
    {
        var id = MpcSession.NewId();
        var mesh = InProcessNetwork.Create(parties);
        var toDealer = Enumerable.Range(0, parties).Select(_ => InProcessNetwork.Pair()).ToArray();
        var dealer = new TrustedDealer(id, [.. toDealer.Select(p => p.A)]);
        var dealing = Task.Run(() => dealer.RunAsync());
        var runs = Enumerable.Range(0, parties).Select(i => Task.Run(async () =>
        {
            try { return await program(new MpcSession(id, i, mesh[i], toDealer[i].B) { Triples = triples(i) }).ConfigureAwait(false); }
            finally
            {
                (toDealer[i].B as IDisposable)?.Dispose();
                foreach (var c in mesh[i]) (c as IDisposable)?.Dispose();
            }
        })).ToArray();
        var results = Task.WhenAll(runs).GetAwaiter().GetResult();
        dealing.GetAwaiter().GetResult();
        return results;
    }
}
