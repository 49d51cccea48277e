using System.Diagnostics.Metrics;

namespace Veil.Server;

/// <summary>The service's own instruments (meter "Veil.Server"), exported with ASP.NET Core's request metrics at /metrics.</summary>
public sealed class ServiceMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Veil.Server";

    private readonly Meter _meter = new(MeterName);
    private int _queueDepth;

    private long _sessionsStored, _sessionBytesStored;

    internal ServiceMetrics(Func<int> sessionsLoaded, Func<long> bytesLoaded)
    {
        _meter.CreateObservableGauge("veil.sessions.stored", () => Interlocked.Read(ref _sessionsStored), description: "Sessions (registered keys) in the store");
        _meter.CreateObservableGauge("veil.sessions.stored_bytes", () => Interlocked.Read(ref _sessionBytesStored), "By", "Bytes of registered keys in the store");
        Evaluations = _meter.CreateCounter<long>("veil.evaluations", description: "Encrypted evaluations completed");
        EvaluationSeconds = _meter.CreateHistogram<double>("veil.evaluation.duration", "s", "Time of one encrypted evaluation");
        KeyBytesUploaded = _meter.CreateCounter<long>("veil.keys.uploaded", "By", "Bytes of keys registered");
        AuthFailures = _meter.CreateCounter<long>("veil.auth.failures", description: "Requests refused for their API key");
        JobsFinished = _meter.CreateCounter<long>("veil.jobs.finished", description: "Jobs ended, by state");
        _meter.CreateObservableGauge("veil.jobs.queue_depth", () => Volatile.Read(ref _queueDepth), description: "Jobs waiting for a worker");
        _meter.CreateObservableGauge("veil.sessions.loaded", sessionsLoaded, description: "Sessions whose keys are in memory");
        _meter.CreateObservableGauge("veil.sessions.loaded_bytes", bytesLoaded, "By", "Bytes of keys in memory");
    }

    /// <summary>Evaluations, tagged with mode single/batch/job.</summary>
    public Counter<long> Evaluations { get; }
    /// <summary>Seconds per evaluation.</summary>
    public Histogram<double> EvaluationSeconds { get; }
    /// <summary>Key bytes registered.</summary>
    public Counter<long> KeyBytesUploaded { get; }
    /// <summary>Authentication failures.</summary>
    public Counter<long> AuthFailures { get; }
    /// <summary>Jobs ended, tagged with state.</summary>
    public Counter<long> JobsFinished { get; }

    internal void QueueDepth(int depth) => Volatile.Write(ref _queueDepth, depth);

    internal void SessionsStored(long count, long bytes)
    {
        Interlocked.Exchange(ref _sessionsStored, count);
        Interlocked.Exchange(ref _sessionBytesStored, bytes);
    }

    internal void SessionAdded(long bytes, int sign)
    {
        Interlocked.Add(ref _sessionsStored, sign);
        Interlocked.Add(ref _sessionBytesStored, sign * bytes);
    }

    /// <inheritdoc/>
    public void Dispose() => _meter.Dispose();
}
