using System.Collections.Concurrent;
using System.Diagnostics;
using Orleans.Runtime;
using Veil.Server;

namespace Veil.Cluster;

/// <summary>One shard's answer: the batch's outputs and where and how they were computed.</summary>
[GenerateSerializer, Alias("veil.cluster.ShardAnswer")]
public sealed record ShardAnswer(
    [property: Id(0)] int Index,
    [property: Id(1)] byte[] Output,
    [property: Id(2)] string Silo,
    [property: Id(3)] double Seconds,
    [property: Id(4)] long KeyBytesLoaded);

/// <summary>A request the service refused (bad key, bad ciphertext, not found): not retried; the status and code are the service's.</summary>
[GenerateSerializer, Alias("veil.cluster.ClusterRequestException")]
public sealed class ClusterRequestException : Exception
{
    /// <summary>For the serializer.</summary>
    public ClusterRequestException() { }
    /// <summary>A refusal with the service's HTTP status and error code.</summary>
    public ClusterRequestException(int status, string code, string message) : base(message) { Status = status; Code = code; }
    /// <summary>The HTTP status the service would answer.</summary>
    [Id(0)] public int Status { get; init; }
    /// <summary>The service's error code.</summary>
    [Id(1)] public string Code { get; init; } = "";
}

/// <summary>A sharded job's outputs, in the order of its batches, and what sharding cost.</summary>
[GenerateSerializer, Alias("veil.cluster.ShardedJobResult")]
public sealed record ShardedJobResult(
    [property: Id(0)] IReadOnlyList<ShardAnswer> Batches,
    [property: Id(1)] double Seconds,
    [property: Id(2)] int Shards)
{
    /// <summary>Batches asked again after their silo was lost.</summary>
    [Id(3)] public int Retries { get; init; }
}

/// <summary>
/// Evaluates batches for one session on the silo it is placed on; keyed "session/replica", so a session's keys are
/// loaded (from the shared store, unsealed, cached) only on the silos that hold its replicas, once each.
/// </summary>
[Alias("veil.cluster.IBatchShardGrain")]
public interface IBatchShardGrain : IGrainWithStringKey
{
    /// <summary>The outputs of one batch (the service's batched packing), as the service's own batch call gives them.</summary>
    /// <param name="authorization">The caller's "Bearer veil_…" key, checked against the store on this silo.</param>
    /// <param name="index">The batch's place in its job.</param>
    /// <param name="batch">The batch's ciphertexts (a Veil CiphertextBatch).</param>
    [Alias("evaluate")]
    Task<ShardAnswer> EvaluateAsync(string authorization, int index, byte[] batch);
}

/// <summary>Where a sharded job stands.</summary>
[GenerateSerializer, Alias("veil.cluster.JobPoll")]
public sealed record JobPoll(
    [property: Id(0)] JobPollState State,
    [property: Id(1)] int Answered,
    [property: Id(2)] ShardedJobResult? Result,
    [property: Id(3)] string? Error,
    [property: Id(4)] int? ErrorStatus,
    [property: Id(5)] string Silo,
    [property: Id(6)] string? ErrorCode = null);

/// <summary>The states of <see cref="JobPoll"/>.</summary>
public enum JobPollState
{
    /// <summary>This job grain holds no job (never started, or its silo was lost and it re-activated elsewhere).</summary>
    Unknown,
    /// <summary>Batches are being evaluated.</summary>
    Running,
    /// <summary>Every batch is answered.</summary>
    Succeeded,
    /// <summary>The service refused a batch, or a batch failed every try.</summary>
    Failed,
}

/// <summary>
/// A batched job split over a session's replicas on several silos and gathered in order. The client starts it and then
/// polls with a short timeout: an answer lost with a silo would otherwise be waited for until the response timeout,
/// since only the silo that sent a request learns that the one it went to died.
/// </summary>
[Alias("veil.cluster.IShardedJobGrain")]
public interface IShardedJobGrain : IGrainWithStringKey
{
    /// <summary>Starts the job (a second start of a job already held is ignored): every batch on one of <paramref name="shards"/> replicas of the session, round robin.</summary>
    [Alias("start")]
    Task StartAsync(string authorization, string sessionId, byte[][] batches, int shards);

    /// <summary>Where the job stands, for the key that started it (any other key reads it as unknown).</summary>
    [Alias("poll"), ResponseTimeout("00:00:05")]
    Task<JobPoll> PollAsync(string authorization);
}

/// <summary>Sessions whose keys this silo has loaded (what a replica's first call moves from the store).</summary>
public sealed class SiloSessions
{
    private readonly ConcurrentDictionary<string, byte> _loaded = new(StringComparer.Ordinal);

    /// <summary>True the first time a session is used on this silo.</summary>
    public bool FirstUse(string sessionId) => _loaded.TryAdd(sessionId, 0);
}

[SessionReplicaPlacement]
internal sealed class BatchShardGrain(VeilService service, SiloSessions sessions, ILocalSiloDetails silo) : Grain, IBatchShardGrain
{
    public async Task<ShardAnswer> EvaluateAsync(string authorization, int index, byte[] batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (sessionId, _) = ShardKeys.Parse(this.GetPrimaryKeyString());
        try
        {
            var caller = await service.AuthenticateAsync(authorization, "cluster", CancellationToken.None);
            var clock = Stopwatch.StartNew();
            long loaded = 0;
            if (sessions.FirstUse(sessionId)) loaded = (await service.GetSessionAsync(caller, sessionId, CancellationToken.None)).Bytes;
            using var body = new MemoryStream(batch, writable: false);
            var output = await service.PredictBatchAsync(caller, sessionId, body, batch.Length, CancellationToken.None);
            return new ShardAnswer(index, output, silo.SiloAddress.ToParsableString(), clock.Elapsed.TotalSeconds, loaded);
        }
        catch (ServiceException e) { throw new ClusterRequestException(e.Status, e.Code, e.Message); }
    }
}

internal sealed class ShardedJobGrain(IGrainFactory grains, ILocalSiloDetails silo) : Grain, IShardedJobGrain
{
    /// <summary>Tries of one batch before the job fails.</summary>
    public const int MaxAttempts = 6;

    private Task<ShardedJobResult>? _run;
    private byte[]? _owner;
    private int _answered, _retries;

    // Only the key that started a job may poll it or start it again: a job id is not a capability.
    private static byte[] Digest(string authorization) => System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(authorization ?? ""));

    private bool Owns(string authorization) => _owner is not null && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(_owner, Digest(authorization));

    public Task StartAsync(string authorization, string sessionId, byte[][] batches, int shards)
    {
        ArgumentNullException.ThrowIfNull(batches);
        if (batches.Length == 0) throw new ArgumentException("A job needs at least one batch.", nameof(batches));
        if (shards < 1 || shards > ShardKeys.MaxShards) throw new ArgumentOutOfRangeException(nameof(shards), $"1 … {ShardKeys.MaxShards} shards.");
        if (_run is not null)
        {
            if (!Owns(authorization)) throw new ClusterRequestException(409, "job_exists", "Another caller's job has this id.");
            return Task.CompletedTask;
        }
        _owner = Digest(authorization);
        // Runs in the grain's turns, between which polls are answered.
        _run = RunAsync(authorization, sessionId, batches, shards);
        return Task.CompletedTask;
    }

    public Task<JobPoll> PollAsync(string authorization)
    {
        string here = silo.SiloAddress.ToParsableString();
        if (_run is null || !Owns(authorization)) return Task.FromResult(new JobPoll(JobPollState.Unknown, 0, null, null, null, here));
        var refusal = (_run.Exception?.InnerException) as ClusterRequestException;
        var poll = _run switch
        {
            { IsCompletedSuccessfully: true } done => new JobPoll(JobPollState.Succeeded, _answered, done.Result, null, null, here),
            { IsFaulted: true } failed => new JobPoll(JobPollState.Failed, _answered, null, failed.Exception!.InnerException!.Message, refusal?.Status, here, refusal?.Code),
            { IsCanceled: true } => new JobPoll(JobPollState.Failed, _answered, null, "The job was cancelled.", null, here),
            _ => new JobPoll(JobPollState.Running, _answered, null, null, null, here),
        };
        // A job's answer is taken once it is final: the activation (and the output it holds) goes when idle.
        if (poll.State is JobPollState.Succeeded or JobPollState.Failed) DeactivateOnIdle();
        return Task.FromResult(poll);
    }

    private async Task<ShardedJobResult> RunAsync(string authorization, string sessionId, byte[][] batches, int shards)
    {
        var clock = Stopwatch.StartNew();
        async Task<ShardAnswer> One(byte[] batch, int i)
        {
            // A batch's evaluation has no side effect, so one lost with its silo is simply asked again: its replica
            // re-activates on a silo still in the membership once the lost one is declared dead.
            for (int attempt = 1; ; attempt++)
            {
                try
                {
                    var answer = await grains.GetGrain<IBatchShardGrain>(ShardKeys.Of(sessionId, i % shards)).EvaluateAsync(authorization, i, batch);
                    _answered++;
                    return answer;
                }
                // Lost silos and timeouts are asked again, and so are the service's "busy" answers (429, 503); its other refusals are final.
                catch (Exception e) when ((e is ClusterRequestException { Status: 429 or 503 } || e is not (ClusterRequestException or ArgumentException)) && attempt < MaxAttempts)
                {
                    _retries++;
                    await Task.Delay(TimeSpan.FromMilliseconds(250 << Math.Min(attempt, 5)));
                }
            }
        }
        var answers = await Task.WhenAll(batches.Select((b, i) => One(b, i)));
        return new ShardedJobResult(answers.OrderBy(a => a.Index).ToArray(), clock.Elapsed.TotalSeconds, Math.Min(shards, batches.Length)) { Retries = _retries };
    }
}

/// <summary>The keys of a session's replica grains.</summary>
public static class ShardKeys
{
    /// <summary>Most replicas one job may use.</summary>
    public const int MaxShards = 1024;

    /// <summary>Replica <paramref name="replica"/> of <paramref name="sessionId"/>.</summary>
    public static string Of(string sessionId, int replica) => $"{sessionId}/{replica}";

    /// <summary>The session and replica of a key.</summary>
    /// <exception cref="ArgumentException">Not a replica key.</exception>
    public static (string Session, int Replica) Parse(string key)
    {
        int slash = key.LastIndexOf('/');
        if (slash <= 0 || !int.TryParse(key.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int replica))
            throw new ArgumentException($"'{key}' is not a session replica key.", nameof(key));
        return (key[..slash], replica);
    }
}
