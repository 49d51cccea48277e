using System.Diagnostics;

namespace Veil.Mpc;

/// <summary>One measured MPC workload: median of the repetitions.</summary>
/// <param name="Name">What was run.</param>
/// <param name="Parties">Parties.</param>
/// <param name="Elements">Elements per run (triples, comparisons, products, or values of an argmax).</param>
/// <param name="MedianSeconds">Median wall time of a run (all parties together, in this process).</param>
/// <param name="PerSecond">Elements per second at the median.</param>
/// <param name="BytesPerParty">Bytes party 0 sent in a run.</param>
/// <param name="Rounds">Rounds party 0 went through in a run.</param>
public sealed record MpcBenchmarkResult(string Name, int Parties, int Elements, double MedianSeconds, double PerSecond, long BytesPerParty, uint Rounds);

/// <summary>
/// Triples, products and comparisons per second with every party in this process on its own task (no network: the
/// figures are compute and serialization; over TLS add the round trips).
/// </summary>
public static class MpcBenchmark
{
    /// <summary>Runs each workload <paramref name="reps"/> times.</summary>
    public static IReadOnlyList<MpcBenchmarkResult> Run(int reps = 3, int paillierBits = 3072)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);
        var results = new List<MpcBenchmarkResult>();
        var format = FixedPointFormat.Default;
        results.Add(Measure("dealer triples", 2, 200_000, reps, null, (s, n) => DealerTriples.Instance.TriplesAsync(s, n)));
        var sources = new[] { PaillierTriples.Generate(paillierBits, paillierBits < 3072), PaillierTriples.Generate(paillierBits, paillierBits < 3072) };
        results.Add(Measure($"Paillier triples ({paillierBits}-bit keys, no dealer)", 2, 180, reps, i => sources[i], (s, n) => sources[s.Party].TriplesAsync(s, n)));
        // A fresh source per run: the first call of a session also sends party 0's keys (counted here).
        results.Add(Measure("BFV triples (N = 2^13, 8 CRT primes, no dealer)", 2, 65_536, reps, null, (s, n) => new BfvTriples().TriplesAsync(s, n)));
        var bfvSources = new[] { new BfvTriples(), new BfvTriples() };
        var signs = Sharing.Split(Sharing.Random(2_000), 2);
        results.Add(Measure("comparisons (sign, BFV triples and masks, no dealer)", 2, 1_000, reps, i => bfvSources[i], (s, n) => SecureComparison.IsNegativeAsync(s, signs[s.Party][..n])));
        foreach (int parties in new[] { 2, 3 })
        {
            var x = Sharing.Split(Sharing.Random(100_000), parties);
            results.Add(Measure("fixed-point products (dealer)", parties, 100_000, reps, null,
                (s, n) => SecureArithmetic.MultiplyFixedAsync(s, Mask(x[s.Party], n), Mask(x[s.Party], n), format)));
            results.Add(Measure("comparisons (sign, dealer)", parties, 10_000, reps, null, (s, n) => SecureComparison.IsNegativeAsync(s, x[s.Party][..n])));
            results.Add(Measure("argmax of 64 values (dealer)", parties, 64, reps, null, async (s, n) => (await SecureComparison.ArgmaxAsync(s, x[s.Party][..n]).ConfigureAwait(false)).OneHot));
            var reals = Sharing.Split(format.Encode([.. Enumerable.Range(0, 2_000).Select(i => (i - 1000) / 50.0)]), parties);
            results.Add(Measure("sigmoids (dealer)", parties, 2_000, reps, null, (s, n) => SecureMath.SigmoidAsync(s, reals[s.Party][..n], format)));
        }
        return results;
    }

    // Small values keep the products inside the fixed-point range (the benchmark measures cost, not values).
    private static ulong[] Mask(ulong[] share, int n) => [.. share.AsSpan(0, n).ToArray().Select(v => v & 0xFFFF)];

    private static MpcBenchmarkResult Measure(string name, int parties, int elements, int reps, Func<int, ITripleSource>? triples, Func<MpcSession, int, Task<ulong[]>> work)
    {
        var times = new double[reps];
        (long Bytes, uint Rounds) last = default;
        for (int r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            var stats = InProcessRun.Parties(parties, triples ?? (_ => DealerTriples.Instance), async s =>
            {
                await work(s, elements).ConfigureAwait(false);
                return (s.BytesSent, s.Rounds);
            });
            times[r] = sw.Elapsed.TotalSeconds;
            last = stats[0];
        }
        Array.Sort(times);
        double median = reps % 2 == 1 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
        return new MpcBenchmarkResult(name, parties, elements, median, elements / median, last.Bytes, last.Rounds);
    }
}
