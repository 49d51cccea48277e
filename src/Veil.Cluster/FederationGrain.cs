using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Veil.Federated;
using Veil.Federated.Protocol;

namespace Veil.Cluster;

/// <summary>A front end's call as the federation grain answers it: the protobuf reply, or the status of a refusal.</summary>
[GenerateSerializer, Alias("veil.cluster.FederationAnswer")]
public sealed record FederationAnswer(
    [property: Id(0)] byte[]? Reply,
    [property: Id(1)] int Status,
    [property: Id(2)] string? Message);

/// <summary>Where a federation hosted on the cluster stands.</summary>
/// <param name="Running">Whether its coordinator is running (false before the first call and after it ended).</param>
/// <param name="Finished">Whether training ended (the stop reason in <paramref name="Stop"/>).</param>
/// <param name="Stop">Why it ended, or why it failed.</param>
/// <param name="Failed">Whether it failed (key generation missed a participant, the store is unreadable…).</param>
/// <param name="ProcessId">The process of the silo that hosts the coordinator now.</param>
/// <param name="Silo">That silo's address.</param>
[GenerateSerializer, Alias("veil.cluster.FederationStatus")]
public sealed record FederationStatus(
    [property: Id(0)] bool Running,
    [property: Id(1)] bool Finished,
    [property: Id(2)] string? Stop,
    [property: Id(3)] bool Failed,
    [property: Id(4)] int ProcessId,
    [property: Id(5)] string Silo)
{
    /// <summary>The partial sums of the coordinator's last threshold sum: one per silo that took contributions (empty when they all came to it directly).</summary>
    [Id(6)] public IReadOnlyList<PartialSumOrigin> LastSum { get; init; } = [];
}

/// <summary>One partial sum of a round: the silo that made it, the contributions in it, the seconds it took there.</summary>
[GenerateSerializer, Alias("veil.cluster.PartialSumOrigin")]
public sealed record PartialSumOrigin([property: Id(0)] string Silo, [property: Id(1)] int Contributions, [property: Id(2)] double Seconds);

/// <summary>
/// A federation's coordinator, as one grain keyed by the federation id (hex): it activates on one silo, runs the
/// federation there from the shared checkpoint store, and every silo's gRPC front end passes its participants' calls
/// to it. When that silo is lost the next call re-activates it on another, which resumes after the last completed
/// round; the participants see their calls fail for a few seconds and go on.
/// </summary>
[Alias("veil.cluster.IFederationGrain")]
public interface IFederationGrain : IGrainWithStringKey
{
    /// <summary>A participant's poll (a PollRequest), answered with its Work.</summary>
    [Alias("poll")]
    Task<FederationAnswer> PollAsync(int participant, byte[] request);

    /// <summary>A participant's Submission, answered with a Receipt.</summary>
    [Alias("submit")]
    Task<FederationAnswer> SubmitAsync(int participant, byte[] submission);

    /// <summary>Where it stands (the call also starts it).</summary>
    [Alias("status")]
    Task<FederationStatus> StatusAsync();
}

/// <summary>A federation a silo can host: its settings and id, and the store every silo shares.</summary>
/// <param name="Settings">The federation file's settings.</param>
/// <param name="Id">Its id (SHA-256 of the file).</param>
/// <param name="Store">The shared checkpoint store (PostgreSQL on a cluster).</param>
public sealed record HostedFederation(FederationSettings Settings, byte[] Id, IFederationStore Store)
{
    /// <summary>The grain key: the id in lower-case hex.</summary>
    public string Key => Convert.ToHexStringLower(Id);
}

/// <summary>The federations this silo can host, by grain key.</summary>
public sealed class FederationHosting
{
    private readonly ConcurrentDictionary<string, HostedFederation> _federations = new(StringComparer.Ordinal);

    /// <summary>Adds one.</summary>
    public void Add(HostedFederation federation)
    {
        ArgumentNullException.ThrowIfNull(federation);
        _federations[federation.Key] = federation;
    }

    /// <summary>The one with <paramref name="key"/>, or null.</summary>
    public HostedFederation? Find(string key) => _federations.GetValueOrDefault(key);
}

// Reentrant: polls wait up to a few seconds each and must not hold up the other participants' calls; the coordinator locks its own state.
[Reentrant]
internal sealed class FederationGrain(FederationHosting hosting, ILocalSiloDetails silo, ILogger<FederationGrain> log) : Grain, IFederationGrain
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(5);
    private FederationCoordinator? _coordinator;
    private ShardedContributionAggregator? _aggregator;
    private Task<FederationOutcome>? _run;
    private readonly CancellationTokenSource _stop = new();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        var federation = hosting.Find(key) ?? throw new InvalidOperationException($"This silo does not host federation {key}.");
        _aggregator = new ShardedContributionAggregator(new FederationPlan(federation.Settings), GrainFactory);
        _coordinator = new FederationCoordinator(federation.Settings, federation.Id, log, store: federation.Store, aggregator: _aggregator);
        log.LogInformation("Federation {Federation} coordinated on silo {Silo}", key[..12], silo.SiloAddress);
        // Off the grain's scheduler: the run awaits the participants' calls, which come in through this grain.
        var coordinator = _coordinator;
        _run = Task.Run(() => coordinator.RunAsync(cancellation: _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _stop.Cancel();
        // Wait for the run to stop, so that no late checkpoint of this activation follows the next one's.
        if (_run is { } run)
            try { await run.WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None); }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or FederationFailedException or InvalidDataException) { }
            catch (Exception e) { log.LogWarning(e, "The federation's run ended with an error on deactivation"); }
    }

    public async Task<FederationAnswer> PollAsync(int participant, byte[] request)
    {
        try
        {
            var poll = PollRequest.Parser.ParseFrom(request);
            var wait = TimeSpan.FromMilliseconds(Math.Min(poll.WaitMs, MaxWait.TotalMilliseconds));
            var work = await _coordinator!.PollAsync(participant, poll.Federation.Memory, wait, _stop.Token);
            return new FederationAnswer(work.ToByteArray(), 0, null);
        }
        catch (FederationProtocolException e) { return new FederationAnswer(null, (int)e.Status, e.Message); }
        catch (InvalidProtocolBufferException e) { return new FederationAnswer(null, (int)StatusCode.InvalidArgument, $"The poll is not a PollRequest: {e.Message}"); }
    }

    public async Task<FederationAnswer> SubmitAsync(int participant, byte[] submission)
    {
        try
        {
            var receipt = await _coordinator!.SubmitAsync(participant, Submission.Parser.ParseFrom(submission), _stop.Token);
            return new FederationAnswer(receipt.ToByteArray(), 0, null);
        }
        catch (FederationProtocolException e) { return new FederationAnswer(null, (int)e.Status, e.Message); }
        catch (InvalidProtocolBufferException e) { return new FederationAnswer(null, (int)StatusCode.InvalidArgument, $"The submission is not a Submission: {e.Message}"); }
    }

    public Task<FederationStatus> StatusAsync()
    {
        var run = _run!;
        string? stop = null;
        bool failed = false;
        if (run.IsCompletedSuccessfully) stop = run.Result.StopReason;
        else if (run.IsFaulted && run.Exception!.GetBaseException() is FederationFailedException or InvalidDataException) { failed = true; stop = run.Exception.GetBaseException().Message; }
        else if (run.IsFaulted)
        {
            // Anything else (the store unreachable for a moment) is not the federation's end: the next call starts it again from its checkpoint.
            log.LogWarning(run.Exception!.GetBaseException(), "The federation's run stopped; it resumes from its checkpoint on the next call");
            DeactivateOnIdle();
        }
        else if (run.IsCanceled) { failed = true; stop = "cancelled"; }
        return Task.FromResult(new FederationStatus(!run.IsCompleted, run.IsCompletedSuccessfully, stop, failed, Environment.ProcessId, silo.SiloAddress.ToString())
        {
            LastSum = [.. _aggregator!.LastSum.Select(p => new PartialSumOrigin(p.Silo, p.Contributions, p.Seconds))],
        });
    }
}

/// <summary>
/// A silo's gRPC front end for a federation hosted on the cluster: it names the caller by its certificate and passes
/// the call to the federation's grain, wherever it is. With <paramref name="localSilo"/> (threshold mode), a
/// contribution's ciphertexts are checked and left with this silo's round shard, and the coordinator is sent only a
/// reference: it then receives one partial sum per silo.
/// </summary>
public sealed class ClusterFederationFrontEnd(FederationPlan plan, byte[] federationId, IGrainFactory grains, string? localSilo = null) : IFederationFrontEnd
{
    private readonly IFederationGrain _grain = grains.GetGrain<IFederationGrain>(Convert.ToHexStringLower(federationId));
    private readonly string? _shard = localSilo is null ? null : $"{Convert.ToHexStringLower(federationId)}/{localSilo}";

    /// <inheritdoc/>
    public FederationPlan Plan { get; } = plan;

    /// <inheritdoc/>
    public int? ParticipantOf(string? pin) => FederationCoordinator.MemberOf(Plan.Settings, pin);

    /// <inheritdoc/>
    public async Task<Work> PollAsync(int participant, ReadOnlyMemory<byte> federation, TimeSpan wait, CancellationToken cancellation)
    {
        var request = new PollRequest { Federation = ByteString.CopyFrom(federation.Span), WaitMs = (uint)Math.Clamp(wait.TotalMilliseconds, 0, uint.MaxValue) };
        var answer = await Call(() => _grain.PollAsync(participant, request.ToByteArray())).ConfigureAwait(false);
        return Work.Parser.ParseFrom(answer);
    }

    /// <inheritdoc/>
    public async Task<Receipt> SubmitAsync(int participant, Submission submission, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(submission);
        if (submission.ContributionShard.Length > 0 || submission.ContributionDigest.Length > 0 || submission.ContributionCount > 0)
            throw FederationProtocolException.Invalid("A participant sends its ciphertexts, not a reference to a shard.");
        if (_shard is not null && submission.Kind == WorkKind.Aggregate && Plan.Settings.Aggregation == AggregationMode.Threshold && submission.Ciphertexts.Count > 0)
        {
            int count = submission.Ciphertexts.Count;
            if (count > Plan.Chunks(Math.Max(Plan.UpdateLength, Math.Max(Plan.StatisticsLength, Plan.LeastSquaresLength)))) throw FederationProtocolException.Invalid($"{count} ciphertexts is more than any sum of this federation takes.");
            ShardReceipt receipt;
            try { receipt = await grains.GetGrain<IRoundShardGrain>(_shard).AddAsync(participant, submission.Step, [.. submission.Ciphertexts.Select(c => c.ToByteArray())]).ConfigureAwait(false); }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                throw new FederationProtocolException(StatusCode.Unavailable, $"This silo's aggregation shard did not answer ({e.GetType().Name}); try again.");
            }
            if (receipt.Error is not null || receipt.Digest is null) throw FederationProtocolException.Invalid(receipt.Error ?? "The shard kept no digest.");
            submission = submission.Clone();
            submission.Ciphertexts.Clear();
            submission.ContributionShard = _shard;
            submission.ContributionCount = (uint)count;
            submission.ContributionDigest = ByteString.CopyFrom(receipt.Digest);
        }
        var answer = await Call(() => _grain.SubmitAsync(participant, submission.ToByteArray())).ConfigureAwait(false);
        return Receipt.Parser.ParseFrom(answer);
    }

    // A lost or moving coordinator reads as Unavailable, which participants retry (and move to another front end on).
    private static async Task<byte[]> Call(Func<Task<FederationAnswer>> call)
    {
        FederationAnswer answer;
        try { answer = await call().ConfigureAwait(false); }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
        {
            throw new FederationProtocolException(StatusCode.Unavailable, $"The coordinator is moving to another silo ({e.GetType().Name}); try again.");
        }
        if (answer.Reply is null) throw new FederationProtocolException((StatusCode)answer.Status, answer.Message ?? "Refused.");
        return answer.Reply;
    }
}

/// <summary>How a silo process (or any client of the cluster) follows a federation hosted on it.</summary>
public static class FederationClusterRun
{
    /// <summary>
    /// Starts the federation's grain (wherever the cluster places it) and waits until its training ended or failed,
    /// reporting each silo it is coordinated on; calls that fail while its silo is being declared dead are retried for
    /// up to <paramref name="patience"/> (default 2 minutes) in a row.
    /// </summary>
    public static async Task<FederationStatus> WaitAsync(IGrainFactory grains, string key, IProgress<FederationStatus>? moved = null, TimeSpan? patience = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(grains);
        var grain = grains.GetGrain<IFederationGrain>(key);
        var limit = patience ?? TimeSpan.FromMinutes(2);
        var failingSince = (DateTime?)null;
        string? silo = null;
        while (true)
        {
            FederationStatus status;
            try { status = await grain.StatusAsync().ConfigureAwait(false); failingSince = null; }
            catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
            {
                failingSince ??= DateTime.UtcNow;
                if (DateTime.UtcNow - failingSince > limit) throw new TimeoutException($"The federation's grain did not answer for {limit.TotalSeconds:F0} s: {e.Message}", e);
                await Task.Delay(250, cancellation).ConfigureAwait(false);
                continue;
            }
            if (status.Silo != silo) { silo = status.Silo; moved?.Report(status); }
            if (status.Finished || status.Failed) return status;
            await Task.Delay(500, cancellation).ConfigureAwait(false);
        }
    }
}
