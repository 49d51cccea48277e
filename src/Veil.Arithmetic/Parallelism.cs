namespace Veil.Arithmetic;

/// <summary>One iteration of a parallel loop, as a struct so that the single-threaded path allocates nothing.</summary>
public interface IParallelBody
{
    /// <summary>Runs iteration i.</summary>
    void Invoke(int i);
}

/// <summary>Runs independent iterations (RNS limbs, digits, keys) on up to a given number of threads.</summary>
public static class Parallelism
{
    /// <summary>body(i) for i in [0, count): inline when one thread is asked for or there is one iteration.</summary>
    public static void For(int count, int maxDegreeOfParallelism, Action<int> body)
    {
        if (maxDegreeOfParallelism <= 1 || count <= 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, body);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // Callers document the exceptions of the body, not Parallel's wrapper: rethrow the first one as it was.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    /// <summary>
    /// body.Invoke(i) for i in [0, count). On one thread (or one iteration) nothing is allocated: the hot paths of the
    /// evaluator use this form so that a single-threaded operation allocates only its result.
    /// </summary>
    public static void For<TBody>(int count, int maxDegreeOfParallelism, TBody body) where TBody : struct, IParallelBody
    {
        if (maxDegreeOfParallelism <= 1 || count <= 1)
        {
            for (int i = 0; i < count; i++) body.Invoke(i);
            return;
        }
        ForParallel(count, maxDegreeOfParallelism, body);
    }

    private static void ForParallel<TBody>(int count, int maxDegreeOfParallelism, TBody body) where TBody : struct, IParallelBody =>
        Worker<TBody>.Run(count, Math.Min(maxDegreeOfParallelism, count) - 1, body);

    /// <summary>
    /// A reusable loop shared by the calling thread and pool threads. The caller works too and then waits only for
    /// iterations already running, so a helper the pool starts late finds no work and costs nothing; one instance per
    /// body type and thread is reused, so a call allocates nothing once warm.
    /// </summary>
    private sealed class Worker<TBody> : IThreadPoolWorkItem where TBody : struct, IParallelBody
    {
        [ThreadStatic] private static Worker<TBody>? t_cached;
        private TBody _body;
        private int _count, _next, _inFlight;
        private Exception? _error;

        public static void Run(int count, int helpers, TBody body)
        {
            var w = t_cached ?? new Worker<TBody>();
            t_cached = null; // a nested call on this thread gets its own instance
            w._error = null;
            w._body = body;
            w._count = count;
            Interlocked.Exchange(ref w._next, 0); // published after body and count (full fence)
            for (int h = 0; h < helpers; h++) ThreadPool.UnsafeQueueUserWorkItem(w, preferLocal: false);
            w.Loop();
            var spin = new SpinWait();
            while (Volatile.Read(ref w._inFlight) != 0) spin.SpinOnce();
            var error = w._error;
            w._body = default;
            t_cached = w;
            if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }

        void IThreadPoolWorkItem.Execute() => Loop();

        private void Loop()
        {
            while (true)
            {
                Interlocked.Increment(ref _inFlight); // before claiming, so the caller cannot finish under a running iteration
                int i = Interlocked.Increment(ref _next) - 1;
                if (i >= Volatile.Read(ref _count)) { Interlocked.Decrement(ref _inFlight); return; }
                try
                {
                    _body.Invoke(i);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _error, e, null);
                    Interlocked.Exchange(ref _next, int.MaxValue / 2); // stop handing out iterations
                }
                finally
                {
                    Interlocked.Decrement(ref _inFlight);
                }
            }
        }
    }
}
