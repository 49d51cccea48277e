using Veil.Federated;

namespace Veil.Cluster;

/// <summary>What one sharded job cost, from its answers.</summary>
/// <param name="Shards">Replicas used.</param>
/// <param name="Seconds">The job, from start to the last answer polled.</param>
/// <param name="BusiestSeconds">The evaluation time of the busiest silo (its batches run one after another).</param>
/// <param name="OverheadSeconds">Seconds minus the busiest silo's: dispatch, transfer, gathering and polling.</param>
/// <param name="Silos">Distinct silos that answered.</param>
/// <param name="KeyBytesLoaded">Bytes of session keys loaded from the store during the job.</param>
/// <param name="Identical">Whether every output equals the reference bytes.</param>
public sealed record ShardedJobCost(int Shards, double Seconds, double BusiestSeconds, double OverheadSeconds, int Silos, long KeyBytesLoaded, bool Identical);

/// <summary>Measures sharded jobs against reference outputs (`veil bench cluster`).</summary>
public static class ClusterBenchmark
{
    /// <summary>Runs one job on <paramref name="shards"/> replicas and sums up what it cost.</summary>
    public static async Task<ShardedJobCost> MeasureAsync(IGrainFactory grains, string authorization, string sessionId, byte[][] batches, int shards, IReadOnlyList<byte[]> reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (result, _) = await ClusterJobs.RunAsync(grains, Guid.NewGuid().ToString("N"), authorization, sessionId, batches, shards, TimeSpan.FromMilliseconds(20)).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        double busiest = result.Batches.GroupBy(a => a.Silo).Max(g => g.Sum(a => a.Seconds));
        bool identical = result.Batches.Count == reference.Count && result.Batches.All(a => a.Output.AsSpan().SequenceEqual(reference[a.Index]));
        return new ShardedJobCost(shards, seconds, busiest, seconds - busiest, result.Batches.Select(a => a.Silo).Distinct().Count(), result.Batches.Sum(a => a.KeyBytesLoaded), identical);
    }
}

/// <summary>One way of adding up a round's contributions, timed.</summary>
/// <param name="Shards">Silos the contributions arrived at (1: all at the coordinator).</param>
/// <param name="CoordinatorSeconds">Median seconds the coordinator spends checking what it receives and adding it.</param>
/// <param name="BusiestShardSeconds">Median seconds of the busiest shard (checking and adding its participants', writing its partial sum); 0 for 1.</param>
/// <param name="CoordinatorBytes">Ciphertext bytes the coordinator receives per round.</param>
public sealed record AggregationCost(int Shards, double CoordinatorSeconds, double BusiestShardSeconds, long CoordinatorBytes);

/// <summary>
/// What a federation round's threshold aggregation costs in one process: every contribution checked and added by the
/// coordinator, beside k round shards each doing that for n/k of them and the coordinator adding k partial sums (the
/// work of `veil federate coordinator --cluster`, without the network), for the scaling model.
/// </summary>
public static class FederationAggregationBenchmark
{
    /// <summary>Measures <paramref name="participants"/> contributions of <paramref name="features"/>+1 logistic parameters for each shard count, medians over <paramref name="reps"/>.</summary>
    public static IReadOnlyList<AggregationCost> Measure(int participants, int features, IReadOnlyList<int> shards, int reps, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(participants, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(reps, 1);
        ArgumentNullException.ThrowIfNull(shards);
        var members = Enumerable.Range(0, participants).Select(i => new FederationMember($"p{i}", Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i))), "benchmark")).ToList();
        var plan = new FederationPlan(new FederationSettings
        {
            Members = members, Threshold = 2, Features = features,
            CoordinatorPin = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData([0xC0])),
        });
        var keys = new Veil.Rlwe.KeyGenerator(plan.Parameters.Ring);
        var pk = keys.CreatePublicKey();
        var rng = new Random(1);
        var contributions = Enumerable.Range(0, participants)
            .Select(_ => plan.Encrypt([.. Enumerable.Range(0, plan.UpdateLength).Select(_ => rng.NextDouble())], pk)).ToArray();
        long perContribution = contributions[0].Sum(c => (long)c.Length);
        var results = new List<AggregationCost>();
        foreach (int k in shards)
        {
            if (k < 1 || k > participants) throw new ArgumentOutOfRangeException(nameof(shards), $"Shard counts are 1 … {participants}.");
            var coordinator = new List<double>();
            var busiest = new List<double>();
            for (int r = 0; r < reps; r++)
            {
                cancellation.ThrowIfCancellationRequested();
                if (k == 1)
                {
                    coordinator.Add(Time(() => plan.Sum(contributions.Select(c => plan.LoadCiphertexts(c)).ToList())));
                    busiest.Add(0);
                    continue;
                }
                var partials = new byte[k][][];
                double slowest = 0;
                for (int s = 0; s < k; s++)
                {
                    int shard = s;
                    slowest = Math.Max(slowest, Time(() =>
                    {
                        var sum = plan.Sum(contributions.Where((_, i) => i % k == shard).Select(c => plan.LoadCiphertexts(c)).ToList());
                        partials[shard] = [.. sum.Select(c => Veil.Rlwe.Serialization.RlweSerializer.Save(c))];
                    }));
                }
                busiest.Add(slowest);
                coordinator.Add(Time(() => plan.Sum(partials.Select(p => plan.LoadCiphertexts(p)).ToList())));
            }
            results.Add(new AggregationCost(k, Median(coordinator), Median(busiest), perContribution * (k == 1 ? participants : k)));
        }
        return results;
    }

    private static double Time(Action action)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int n = values.Count;
        return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    }
}
