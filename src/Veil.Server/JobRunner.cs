using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Veil.Server.Storage;

namespace Veil.Server;

/// <summary>
/// Background workers for jobs. Jobs queued or running when the service stopped (or was killed) are queued again at
/// start and run from their stored input, their attempt count raised: resumed, never silently lost.
/// </summary>
internal sealed class JobRunner(VeilService service, ILogger<JobRunner> log) : BackgroundService
{
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>();
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();
    private readonly ConcurrentDictionary<string, double> _progress = new();
    private int _depth;

    public void Enqueue(string jobId)
    {
        service.Metrics.QueueDepth(Interlocked.Increment(ref _depth));
        _queue.Writer.TryWrite(jobId);
    }

    public void Cancel(string jobId)
    {
        if (_running.TryGetValue(jobId, out var cts)) cts.Cancel();
    }

    public double? Progress(string jobId) => _progress.TryGetValue(jobId, out var p) ? p : null;

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        foreach (var job in await service.Store.ListJobsAsync(null, stopping).ConfigureAwait(false))
        {
            if (job.State is not (JobState.Queued or JobState.Running)) continue;
            log.LogWarning("Job {Job} was {State} when the service stopped; resuming it", job.Id, job.State);
            Enqueue(job.Id);
        }
        var workers = Enumerable.Range(0, Math.Max(1, service.Options.Workers)).Select(_ => WorkAsync(stopping)).ToArray();
        var sweeper = SweepAsync(stopping);
        await Task.WhenAll([.. workers, sweeper]).ConfigureAwait(false);
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
                // One job's trouble (even the store failing for a moment) never stops the worker.
                try { await RunAsync(id, stopping).ConfigureAwait(false); }
                catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested) { log.LogError(e, "Job {Job}: the worker could not run it", id); }
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
        if (job.Attempts >= MaxAttempts)
        {
            await service.Store.TransitionJobAsync(job with { State = JobState.Failed, Error = $"Gave up after {job.Attempts} attempts that did not end (the service stopped during each).", Finished = DateTimeOffset.UtcNow },
                [JobState.Queued, JobState.Running], CancellationToken.None).ConfigureAwait(false);
            return;
        }
        var claimed = job with { State = JobState.Running, Attempts = job.Attempts + 1 };
        // The claim is a compare-and-set: a job cancelled or claimed meanwhile is left alone.
        if (!await service.Store.TransitionJobAsync(claimed, [job.State], stopping).ConfigureAwait(false)) return;
        job = claimed;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _running[id] = cts;
        _progress[id] = 0;
        try
        {
            var progress = new Progress<double>(p => _progress[id] = p);
            var result = await service.EvaluateJobAsync(job, progress, cts.Token).ConfigureAwait(false);
            job = job with { State = JobState.Succeeded, Progress = 1, ResultBytes = result.Length, Finished = DateTimeOffset.UtcNow };
            service.Metrics.Evaluations.Add(1, new KeyValuePair<string, object?>("mode", "job"));
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The service is stopping: the job stays running in the store and resumes at the next start.
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
            _running.TryRemove(id, out _);
            _progress.TryRemove(id, out _);
        }
        // Only a job still running is finished here: one cancelled through the API meanwhile stays cancelled.
        if (await service.Store.TransitionJobAsync(job with { Expires = DateTimeOffset.UtcNow + service.Options.ResultLifetime }, [JobState.Running], CancellationToken.None).ConfigureAwait(false))
            service.Metrics.JobsFinished.Add(1, new KeyValuePair<string, object?>("state", job.State.ToString().ToLowerInvariant()));
    }
}
