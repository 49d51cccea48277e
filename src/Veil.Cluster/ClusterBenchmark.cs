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
