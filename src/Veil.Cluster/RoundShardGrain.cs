using System.Diagnostics;
using Google.Protobuf;
using Orleans.Placement;
using Veil.Federated;
using Veil.Federated.Protocol;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Cluster;

/// <summary>A shard's partial sum: the ciphertexts, where and how fast it was made.</summary>
[GenerateSerializer, Alias("veil.cluster.PartialSum")]
public sealed record PartialSum(
    [property: Id(0)] byte[][]? Ciphertexts,
    [property: Id(1)] int[] Missing,
    [property: Id(2)] string Silo,
    [property: Id(3)] double Seconds);

/// <summary>
/// A round's aggregation on one silo: the contributions that reached this silo's front end are checked and kept here
/// (one per participant, the latest step), and the coordinator asks for their sum, so that it receives one ciphertext
/// set per silo rather than one per participant. Keyed "federation/silo" and placed on the silo that calls it first.
/// </summary>
[Alias("veil.cluster.IRoundShardGrain")]
public interface IRoundShardGrain : IGrainWithStringKey
{
    /// <summary>Checks and keeps <paramref name="participant"/>'s contribution for <paramref name="step"/>; the error, or null when taken.</summary>
    [Alias("add")]
    Task<string?> AddAsync(int participant, ulong step, byte[][] ciphertexts);

    /// <summary>The sum of the contributions of these (participant, step) pairs, dropping them; those not held are listed in Missing (and no sum is made).</summary>
    [Alias("sum")]
    Task<PartialSum> SumAsync(int[] participants, ulong[] steps);
}

[PreferLocalPlacement]
internal sealed class RoundShardGrain(FederationHosting hosting, ILocalSiloDetails silo) : Grain, IRoundShardGrain
{
    private FederationPlan? _plan;
    private readonly Dictionary<int, (ulong Step, Ciphertext[] Contribution)> _held = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        string federation = key[..key.IndexOf('/', StringComparison.Ordinal)];
        var hosted = hosting.Find(federation) ?? throw new InvalidOperationException($"This silo does not host federation {federation}.");
        _plan = new FederationPlan(hosted.Settings);
        return Task.CompletedTask;
    }

    public Task<string?> AddAsync(int participant, ulong step, byte[][] ciphertexts)
    {
        if (participant < 0 || participant >= _plan!.Settings.Participants) return Task.FromResult<string?>($"No participant {participant}.");
        try { _held[participant] = (step, _plan.LoadCiphertexts(ciphertexts)); }
        catch (Exception e) when (e is FederationProtocolException or Veil.Serialization.VeilFormatException or ArgumentException)
        {
            return Task.FromResult<string?>($"Step {step}: {e.Message}");
        }
        return Task.FromResult<string?>(null);
    }

    public Task<PartialSum> SumAsync(int[] participants, ulong[] steps)
    {
        var clock = Stopwatch.StartNew();
        var missing = participants.Where((p, k) => !_held.TryGetValue(p, out var h) || h.Step != steps[k]).ToArray();
        if (missing.Length > 0) return Task.FromResult(new PartialSum(null, missing, silo.SiloAddress.ToString(), 0));
        var sum = _plan!.Sum(participants.Select(p => _held[p].Contribution));
        foreach (var p in participants) _held.Remove(p);
        return Task.FromResult(new PartialSum([.. sum.Select(c => RlweSerializer.Save(c))], [], silo.SiloAddress.ToString(), clock.Elapsed.TotalSeconds));
    }
}

/// <summary>Where a contribution was left: the shard, the step, how many ciphertexts.</summary>
internal sealed record ShardReference(string Shard, ulong Step, int Count);

/// <summary>The coordinator's side of sharded aggregation: references checked for size, partial sums gathered from their shards and added.</summary>
internal sealed class ShardedContributionAggregator(FederationPlan plan, IGrainFactory grains) : IContributionAggregator
{
    private readonly LocalContributionAggregator _local = new(plan);

    /// <summary>The silos and seconds of the last sum's partial sums.</summary>
    public IReadOnlyList<(string Silo, int Contributions, double Seconds)> LastSum { get; private set; } = [];

    public object Load(int participant, Submission submission, int length)
    {
        if (submission.ContributionShard.Length == 0) return _local.Load(participant, submission, length);
        if (submission.ContributionCount != plan.Chunks(length)) throw FederationProtocolException.Invalid($"expected {plan.Chunks(length)} ciphertexts, got {submission.ContributionCount}");
        return new ShardReference(submission.ContributionShard, submission.Step, (int)submission.ContributionCount);
    }

    public async Task<Ciphertext[]> SumAsync(IReadOnlyDictionary<int, object> contributions, CancellationToken cancellation)
    {
        var direct = contributions.Values.OfType<Ciphertext[]>().ToList();
        var byShard = contributions.Where(c => c.Value is ShardReference).GroupBy(c => ((ShardReference)c.Value).Shard).ToList();
        var calls = byShard.Select(g => grains.GetGrain<IRoundShardGrain>(g.Key).SumAsync([.. g.Select(c => c.Key)], [.. g.Select(c => ((ShardReference)c.Value).Step)])).ToList();
        PartialSum[] partials;
        try { partials = await Task.WhenAll(calls).ConfigureAwait(false); }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
        {
            throw new ContributionsLostException($"a shard did not answer ({e.GetType().Name}: {e.Message})");
        }
        var lost = partials.SelectMany(p => p.Missing).ToArray();
        if (lost.Length > 0) throw new ContributionsLostException($"the contributions of participants {string.Join(", ", lost)} were lost with their shard");
        LastSum = [.. partials.Select((p, k) => (p.Silo, byShard[k].Count(), p.Seconds))];
        foreach (var p in partials) direct.Add(plan.LoadCiphertexts(p.Ciphertexts!));
        return plan.Sum(direct);
    }
}
