using System.Diagnostics;
using Google.Protobuf;
using Orleans.Placement;
using Veil.Federated;
using Veil.Federated.Protocol;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Cluster;

/// <summary>A shard's partial sum: the ciphertexts, whose they are, where and how fast it was made.</summary>
[GenerateSerializer, Alias("veil.cluster.PartialSum")]
public sealed record PartialSum(
    [property: Id(0)] byte[][]? Ciphertexts,
    [property: Id(1)] int[] Included,
    [property: Id(2)] string Silo,
    [property: Id(3)] double Seconds);

/// <summary>What a shard said to a contribution: why it refused it, or the digest it is kept under.</summary>
[GenerateSerializer, Alias("veil.cluster.ShardReceipt")]
public sealed record ShardReceipt([property: Id(0)] string? Error, [property: Id(1)] byte[]? Digest);

/// <summary>
/// A round's aggregation on one silo: the contributions that reached this silo's front end are checked and kept here,
/// under (participant, step, digest), at most <see cref="RoundShardGrain.PerParticipant"/> a participant (the oldest
/// goes), and the coordinator asks for the sum of exactly the ones it accepted, so that it receives one ciphertext set
/// per silo rather than one per participant. A participant that sends more than its accepted one (a replay, a second
/// version) only ever pushes its own out: the coordinator then leaves it out of the sum, as one that did not answer.
/// Keyed "federation/silo" and placed on the silo that calls it first.
/// </summary>
[Alias("veil.cluster.IRoundShardGrain")]
public interface IRoundShardGrain : IGrainWithStringKey
{
    /// <summary>Checks and keeps <paramref name="participant"/>'s contribution for <paramref name="step"/>.</summary>
    [Alias("add")]
    Task<ShardReceipt> AddAsync(int participant, ulong step, byte[][] ciphertexts);

    /// <summary>The sum of the contributions kept under these (participant, step, digest), of <paramref name="count"/> ciphertexts each, dropping them; the ones not held (or of another size) are left out.</summary>
    [Alias("sum")]
    Task<PartialSum> SumAsync(int[] participants, ulong[] steps, byte[][] digests, int count);
}

[PreferLocalPlacement]
internal sealed class RoundShardGrain(FederationHosting hosting, ILocalSiloDetails silo) : Grain, IRoundShardGrain
{
    internal const int PerParticipant = 4;
    private FederationPlan? _plan;
    private readonly Dictionary<int, List<(ulong Step, byte[] Digest, Ciphertext[] Contribution)>> _held = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        string federation = key[..key.IndexOf('/', StringComparison.Ordinal)];
        var hosted = hosting.Find(federation) ?? throw new InvalidOperationException($"This silo does not host federation {federation}.");
        _plan = new FederationPlan(hosted.Settings);
        return Task.CompletedTask;
    }

    /// <summary>SHA-256 over the ciphertexts, each with its length first.</summary>
    internal static byte[] Digest(IReadOnlyList<byte[]> ciphertexts)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        foreach (var c in ciphertexts)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(length, c.Length);
            sha.AppendData(length);
            sha.AppendData(c);
        }
        return sha.GetHashAndReset();
    }

    public Task<ShardReceipt> AddAsync(int participant, ulong step, byte[][] ciphertexts)
    {
        if (participant < 0 || participant >= _plan!.Settings.Participants) return Task.FromResult(new ShardReceipt($"No participant {participant}.", null));
        Ciphertext[] loaded;
        try { loaded = _plan.LoadCiphertexts(ciphertexts); }
        catch (Exception e) when (e is FederationProtocolException or Veil.Serialization.VeilFormatException or ArgumentException)
        {
            return Task.FromResult(new ShardReceipt($"Step {step}: {e.Message}", null));
        }
        var digest = Digest(ciphertexts);
        if (!_held.TryGetValue(participant, out var mine)) _held[participant] = mine = [];
        mine.RemoveAll(h => h.Step == step && h.Digest.AsSpan().SequenceEqual(digest));
        mine.Add((step, digest, loaded));
        if (mine.Count > PerParticipant) mine.RemoveAt(0);
        return Task.FromResult(new ShardReceipt(null, digest));
    }

    public Task<PartialSum> SumAsync(int[] participants, ulong[] steps, byte[][] digests, int count)
    {
        var clock = Stopwatch.StartNew();
        var found = new List<(int Participant, Ciphertext[] Contribution)>();
        for (int k = 0; k < participants.Length; k++)
        {
            if (!_held.TryGetValue(participants[k], out var mine)) continue;
            int at = mine.FindIndex(h => h.Step == steps[k] && h.Digest.AsSpan().SequenceEqual(digests[k]));
            if (at < 0 || mine[at].Contribution.Length != count) continue;
            found.Add((participants[k], mine[at].Contribution));
            mine.RemoveAt(at);
        }
        if (found.Count == 0) return Task.FromResult(new PartialSum(null, [], silo.SiloAddress.ToString(), 0));
        var sum = _plan!.Sum(found.Select(f => f.Contribution));
        return Task.FromResult(new PartialSum([.. sum.Select(c => RlweSerializer.Save(c))], [.. found.Select(f => f.Participant)], silo.SiloAddress.ToString(), clock.Elapsed.TotalSeconds));
    }
}

/// <summary>Where a contribution was left: the shard, the step, its digest, how many ciphertexts.</summary>
internal sealed record ShardReference(string Shard, ulong Step, byte[] Digest, int Count);

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
        if (submission.ContributionDigest.Length != 32) throw FederationProtocolException.Invalid("A contribution by reference carries its SHA-256.");
        return new ShardReference(submission.ContributionShard, submission.Step, submission.ContributionDigest.ToByteArray(), (int)submission.ContributionCount);
    }

    public async Task<ContributionSum> SumAsync(IReadOnlyDictionary<int, object> contributions, CancellationToken cancellation)
    {
        var direct = contributions.Where(c => c.Value is Ciphertext[]).ToList();
        var byShard = contributions.Where(c => c.Value is ShardReference).GroupBy(c => ((ShardReference)c.Value).Shard).ToList();
        var calls = byShard.Select(async g =>
        {
            var refs = g.Select(c => (c.Key, Ref: (ShardReference)c.Value)).ToArray();
            // A shard lost with its silo, or answering wrongly, costs its contributions, not the round.
            try { return await grains.GetGrain<IRoundShardGrain>(g.Key).SumAsync([.. refs.Select(r => r.Key)], [.. refs.Select(r => r.Ref.Step)], [.. refs.Select(r => r.Ref.Digest)], refs[0].Ref.Count).ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested) { return null; }
        }).ToList();
        var partials = await Task.WhenAll(calls).ConfigureAwait(false);
        var parts = new List<Ciphertext[]>(direct.Select(d => (Ciphertext[])d.Value));
        var included = new List<int>(direct.Select(d => d.Key));
        var origins = new List<(string, int, double)>();
        for (int k = 0; k < partials.Length; k++)
        {
            if (partials[k] is not { Ciphertexts: { } bytes } p) continue;
            var asked = byShard[k].Select(c => c.Key).ToHashSet();
            Ciphertext[] loaded;
            try { loaded = plan.LoadCiphertexts(bytes); }
            catch (Exception e) when (e is FederationProtocolException or Veil.Serialization.VeilFormatException or ArgumentException) { continue; }
            if (!p.Included.All(asked.Contains) || p.Included.Distinct().Count() != p.Included.Length || loaded.Length != ((ShardReference)byShard[k].First().Value).Count) continue;
            parts.Add(loaded);
            included.AddRange(p.Included);
            origins.Add((p.Silo, p.Included.Length, p.Seconds));
        }
        LastSum = origins;
        return new ContributionSum(parts.Count == 0 ? null : plan.Sum(parts), [.. included.Order()]);
    }
}
