namespace Veil.Arithmetic.Tests;

public class ParallelismTests
{
    private readonly struct Mark(int[] hits, int throwAt, ParallelismTests? nested) : IParallelBody
    {
        public void Invoke(int i)
        {
            if (i == throwAt) throw new InvalidOperationException($"iteration {i}");
            Interlocked.Increment(ref hits[i]);
            if (nested is not null) Parallelism.For(8, 2, new Mark(new int[8], -1, null));
            Thread.SpinWait(200); // long enough that helpers get a share
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 4)]
    [InlineData(37, 1)]
    [InlineData(37, 2)]
    [InlineData(1000, 4)]
    public void StructBody_RunsEveryIterationExactlyOnce_RepeatedCallsReuseTheWorker(int count, int threads)
    {
        for (int round = 0; round < 20; round++)
        {
            var hits = new int[count];
            Parallelism.For(count, threads, new Mark(hits, -1, round % 5 == 0 ? this : null));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void StructBody_RethrowsTheBodysException_AndTheNextCallStillWorks()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => Parallelism.For(100, 2, new Mark(new int[100], 50, null)));
        Assert.Equal("iteration 50", ex.Message);
        var hits = new int[100];
        Parallelism.For(100, 2, new Mark(hits, -1, null));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void StructBody_FromManyThreadsAtOnce()
    {
        Parallel.For(0, 8, _ =>
        {
            for (int round = 0; round < 10; round++)
            {
                var hits = new int[64];
                Parallelism.For(64, 2, new Mark(hits, -1, null));
                Assert.All(hits, h => Assert.Equal(1, h));
            }
        });
    }
}
