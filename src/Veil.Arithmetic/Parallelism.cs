namespace Veil.Arithmetic;

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
}
