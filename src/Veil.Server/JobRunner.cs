using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Veil.Server.Storage;

namespace Veil.Server;

/// <summary>
/// Background workers for jobs. A worker runs a job only under its lease in the store (renewed while it runs), so
/// replicas sharing a store never run one job twice at once. Jobs queued or running with no live lease (the service
/// stopped or was killed, here or on another replica) are found by a scan at start and every half lease, and run again
/// from their stored input, their attempt count raised: resumed, never silently lost.
/// </summary>
internal sealed class JobRunner(VeilService service, ILogger<JobRunner> log) : BackgroundService
{
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>();
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();
    private readonly ConcurrentDictionary<string, byte> _queued = new();
    // From dequeue to the end of its run: the workers of one replica share its lease owner, so they must not share a job.
    private readonly ConcurrentDictionary<string, byte> _inProgress = new();
    private readonly ConcurrentDictionary<string, double> _progress = new();
    // Stable per data folder: a replica restarted after a crash takes its own leases back at once, others wait them out.
    private readonly string _owner = WorkerId(service.Options.DataDirectory);
    private int _depth;

    public void Enqueue(string jobId)
    {
        if (!_queued.TryAdd(jobId, 0)) return;
        service.Metrics.QueueDepth(Interlocked.Increment(ref _depth));
        _queue.Writer.TryWrite(jobId);
    }

    public void Cancel(string jobId)
    {
        if (_running.TryGetValue(jobId, out var cts)) cts.Cancel();
    }

    private static string WorkerId(string directory)
    {
        string path = Path.Combine(directory, "worker.id");
        try
        {
            if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: 32 } stored && stored.All(char.IsAsciiHexDigitLower)) return stored;
            string id = Guid.NewGuid().ToString("N");
            File.WriteAllText(path, id);
            return id;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Guid.NewGuid().ToString("N"); }
    }

    public double? Progress(string jobId) => _progress.TryGetValue(jobId, out var p) ? p : null;

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        var workers = Enumerable.Range(0, Math.Max(1, service.Options.Workers)).Select(_ => WorkAsync(stopping)).ToArray();
        var sweeper = SweepAsync(stopping);
        var scanner = ScanAsync(stopping);
        await Task.WhenAll([.. workers, sweeper, scanner]).ConfigureAwait(false);
    }

    // Unfinished jobs this replica does not hold are queued; the lease decides whether they run here.
    private async Task ScanAsync(CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    foreach (var job in await service.Store.ListJobsAsync(null, stopping).ConfigureAwait(false))
                        if (job.State is JobState.Queued or JobState.Running && !_inProgress.ContainsKey(job.Id)) Enqueue(job.Id);
                }
                catch (Exception e) when (e is not OperationCanceledException) { log.LogError(e, "Job scan failed"); }
                await Task.Delay(service.Options.JobLease / 2, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task SweepAsync(CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    int removed = await service.SweepAsync(stopping).ConfigureAwait(false);
                    if (removed > 0) log.LogInformation("Swept {Count} expired jobs and orphaned blobs", removed);
                }
                catch (Exception e) when (e is not OperationCanceledException) { log.LogError(e, "Sweep failed"); }
                await Task.Delay(TimeSpan.FromMinutes(5), stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task WorkAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var id in _queue.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                service.Metrics.QueueDepth(Interlocked.Decrement(ref _depth));
                if (!_inProgress.TryAdd(id, 0)) { _queued.TryRemove(id, out _); continue; }
                _queued.TryRemove(id, out _);
                // One job's trouble (even the store failing for a moment) never stops the worker.
                try { await RunAsync(id, stopping).ConfigureAwait(false); }
                catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested) { log.LogError(e, "Job {Job}: the worker could not run it", id); }
                finally { _inProgress.TryRemove(id, out _); }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>A job started this many times without ending is failed instead of resumed again.</summary>
    public const int MaxAttempts = 3;

    private async Task RunAsync(string id, CancellationToken stopping)
    {
        var job = await service.Store.GetJobAsync(id, stopping).ConfigureAwait(false);
        if (job is null || job.State is not (JobState.Queued or JobState.Running)) return;
        var lease = service.Options.JobLease;
        if (!await service.Store.LeaseJobAsync(id, _owner, DateTimeOffset.UtcNow + lease, stopping).ConfigureAwait(false)) return; // another worker holds it
        try { await RunLeasedAsync(id, stopping).ConfigureAwait(false); }
        finally
        {
            try { await service.Store.ReleaseJobAsync(id, _owner, CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) { log.LogWarning(e, "Job {Job}: the lease could not be released (it runs out by itself)", id); }
        }
    }

    private async Task RunLeasedAsync(string id, CancellationToken stopping)
    {
        // Read again under the lease: the state read before it may have moved on.
        var job = await service.Store.GetJobAsync(id, stopping).ConfigureAwait(false);
        if (job is null || job.State is not (JobState.Queued or JobState.Running)) return;
        if (job.State == JobState.Running) log.LogWarning("Job {Job} was running with no live lease (its worker stopped); resuming it", id);
        if (job.Attempts >= MaxAttempts)
        {
            await service.Store.TransitionJobAsync(job with { State = JobState.Failed, Error = $"Gave up after {job.Attempts} attempts that did not end (the service stopped during each).", Finished = DateTimeOffset.UtcNow },
                [JobState.Queued, JobState.Running], CancellationToken.None).ConfigureAwait(false);
            return;
        }
        var claimed = job with { State = JobState.Running, Attempts = job.Attempts + 1 };
        // The claim is a compare-and-set: a job cancelled or claimed meanwhile is left alone.
        if (!await service.Store.TransitionJobAsync(claimed, [job.State], stopping, expectedAttempts: job.Attempts).ConfigureAwait(false)) return;
        job = claimed;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _running[id] = cts;
        _progress[id] = 0;
        bool leaseLost = false;
        using var renewing = new CancellationTokenSource();
        var renewal = RenewAsync();
        try
        {
            var progress = new Progress<double>(p => _progress[id] = p);
            var result = await service.EvaluateJobAsync(job, progress, cts.Token).ConfigureAwait(false);
            job = job with { State = JobState.Succeeded, Progress = 1, ResultBytes = result.Length, Finished = DateTimeOffset.UtcNow };
            service.Metrics.Evaluations.Add(1, new KeyValuePair<string, object?>("mode", "job"));
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested || Volatile.Read(ref leaseLost))
        {
            // The service is stopping, or another worker took the job over: it stays running in the store for whoever holds it next.
            return;
        }
        catch (OperationCanceledException)
        {
            job = job with { State = JobState.Cancelled, Finished = DateTimeOffset.UtcNow };
        }
        catch (Exception e)
        {
            log.LogError(e, "Job {Job} failed", id);
            job = job with { State = JobState.Failed, Error = e is ServiceException or Veil.Ml.Serving.ServingRequestException ? e.Message : "The evaluation failed: " + e.GetType().Name, Finished = DateTimeOffset.UtcNow };
        }
        finally
        {
            renewing.Cancel();
            await renewal.ConfigureAwait(false);
            _running.TryRemove(id, out _);
            _progress.TryRemove(id, out _);
        }
        if (Volatile.Read(ref leaseLost)) return;
        // Only a job still running under this claim is finished here: one cancelled through the API meanwhile stays
        // cancelled, and one another worker took over (its attempts raised) is that worker's to finish.
        if (await service.Store.TransitionJobAsync(job with { Expires = DateTimeOffset.UtcNow + service.Options.ResultLifetime }, [JobState.Running], CancellationToken.None, expectedAttempts: job.Attempts).ConfigureAwait(false))
            service.Metrics.JobsFinished.Add(1, new KeyValuePair<string, object?>("state", job.State.ToString().ToLowerInvariant()));

        // Renews the lease at a third of its length; a lease found taken (this process stalled past it) stops the evaluation here.
        async Task RenewAsync()
        {
            var lease = service.Options.JobLease;
            var heldUntil = DateTimeOffset.UtcNow + lease / 2; // the lease was taken a moment before the run started
            try
            {
                while (true)
                {
                    await Task.Delay(lease / 3, renewing.Token).ConfigureAwait(false);
                    bool held;
                    var next = DateTimeOffset.UtcNow + lease;
                    try { held = await service.Store.LeaseJobAsync(id, _owner, next, renewing.Token).ConfigureAwait(false); }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        log.LogWarning(e, "Job {Job}: the lease could not be renewed; trying again", id);
                        if (DateTimeOffset.UtcNow < heldUntil) continue;
                        held = false; // past the lease without a renewal: another worker may hold it now
                    }
                    if (held) { heldUntil = next; continue; }
                    log.LogWarning("Job {Job}: its lease was taken by another worker; stopping this run", id);
                    Volatile.Write(ref leaseLost, true);
                    cts.Cancel();
                    return;
                }
            }
            catch (OperationCanceledException) { }
        }
    }
}
