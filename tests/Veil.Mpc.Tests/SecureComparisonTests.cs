namespace Veil.Mpc.Tests;

public class SecureComparisonTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Sign_AndRelu_MatchPlaintext_OnEdgeAndRandomValues(int parties)
    {
        var x = Harness.Random(120, 31 + parties);
        ulong[] edges = [0, 1, ulong.MaxValue, 1UL << 63, (1UL << 63) - 1, (1UL << 62), unchecked((ulong)-(1L << 62)), 2, ulong.MaxValue - 1];
        edges.CopyTo(x, 0);
        var shares = Sharing.Split(x, parties);
        var results = await Harness.Run(parties, async s =>
        {
            var sign = await s.OpenAsync(await SecureComparison.IsNegativeAsync(s, shares[s.Party]));
            var relu = await s.OpenAsync(await SecureComparison.ReluAsync(s, shares[s.Party]));
            return (sign, relu);
        });
        for (int i = 0; i < x.Length; i++)
        {
            long v = (long)x[i];
            Assert.Equal(v < 0 ? 1UL : 0UL, results[0].sign[i]);
            Assert.Equal(v < 0 ? 0UL : x[i], results[0].relu[i]);
        }
    }

    [Fact]
    public async Task FixedPointComparisons_AndReluOfReals_AreExact()
    {
        var f = FixedPointFormat.Default;
        double[] a = [-3.5, -1e-4, 0, 1e-4, 2.25, 200, -200];
        double[] b = [-3.4, 0, 0, 0, 2.25, 199.99, -200.01];
        var xs = Sharing.Split(f.Encode(a), 2);
        var ys = Sharing.Split(f.Encode(b), 2);
        var results = await Harness.Run(2, async s =>
        {
            var lt = await s.OpenAsync(await SecureComparison.LessThanAsync(s, xs[s.Party], ys[s.Party]));
            var relu = f.Decode(await s.OpenAsync(await SecureComparison.ReluAsync(s, xs[s.Party])));
            return (lt, relu, s.Rounds);
        });
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal(f.Encode(a[i]) != f.Encode(b[i]) && (long)f.Encode(a[i]) < (long)f.Encode(b[i]) ? 1UL : 0UL, results[0].lt[i]);
            Assert.Equal(Math.Max(f.Decode(f.Encode(a[i])), 0), results[0].relu[i]);
        }
        Assert.Equal(2 * 9 + 1 + 2u, results[0].Rounds); // two signs of 9 rounds, the ReLU's product, two openings
    }
}

public class ArgmaxTests
{
    [Theory]
    [InlineData(2, 1)]
    [InlineData(2, 7)]
    [InlineData(3, 10)]
    [InlineData(2, 16)]
    public async Task Argmax_FindsTheFirstLargest_OfSignedValues(int parties, int n)
    {
        var rng = new Random(n * 10 + parties);
        var x = Enumerable.Range(0, n).Select(_ => unchecked((ulong)(long)rng.Next(-50, 50))).ToArray();
        if (n > 3) x[n - 1] = x[1] = unchecked((ulong)60L); // a tie: the first one wins
        var shares = Sharing.Split(x, parties);
        var results = await Harness.Run(parties, async s =>
        {
            var (max, oneHot) = await SecureComparison.ArgmaxAsync(s, shares[s.Party]);
            return (await s.OpenAsync(max), await s.OpenAsync(oneHot));
        });
        long best = x.Max(v => (long)v);
        int first = Array.FindIndex(x, v => (long)v == best);
        Assert.Equal(best, (long)results[0].Item1[0]);
        for (int i = 0; i < n; i++) Assert.Equal(i == first ? 1UL : 0UL, results[0].Item2[i]);
    }
}

public class TopKTests
{
    [Theory]
    [InlineData(2, 9, 3)]
    [InlineData(3, 6, 6)]
    [InlineData(2, 5, 1)]
    public async Task TopK_ReturnsTheKLargest_InOrder_WithTheirPositions(int parties, int n, int k)
    {
        var rng = new Random(n + k);
        var x = Enumerable.Range(0, n).Select(_ => unchecked((ulong)(long)rng.Next(-1000, 1000))).ToArray();
        x[n / 2] = x[0]; // a tie
        var shares = Sharing.Split(x, parties);
        var results = await Harness.Run(parties, async s =>
        {
            var (top, oneHot) = await SecureComparison.TopKAsync(s, shares[s.Party], k);
            var positions = new List<ulong[]>();
            foreach (var h in oneHot) positions.Add(await s.OpenAsync(h));
            return (await s.OpenAsync(top), positions);
        });
        // Plaintext twin: stable sort by value descending (the first on ties).
        var expected = x.Select((v, i) => (Value: (long)v, Index: i)).OrderByDescending(p => p.Value).ThenBy(p => p.Index).Take(k).ToArray();
        for (int t = 0; t < k; t++)
        {
            Assert.Equal(expected[t].Value, (long)results[0].Item1[t]);
            for (int i = 0; i < n; i++) Assert.Equal(i == expected[t].Index ? 1UL : 0UL, results[0].positions[t][i]);
        }
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Harness.Run(parties, s => SecureComparison.TopKAsync(s, shares[s.Party], n + 1)));
    }
}

public class LargeRequestTests
{
    [Fact]
    public async Task AComparisonPastOneDealerRequest_IsDealtInChunks_AndStaysExact()
    {
        // 45,000 signs: their bit masks (65 each) and their first doubling round's triples (62 each) both pass one request's limit.
        int count = 45_000;
        Assert.True(65L * count > DealRequest.MaxElements && 3L * 62 * count > DealRequest.MaxElements);
        var x = Harness.Random(count, 5);
        var shares = Sharing.Split(x, 2);
        var sign = (await Harness.Run(2, async s => await s.OpenAsync(await SecureComparison.IsNegativeAsync(s, shares[s.Party]))))[0];
        for (int i = 0; i < count; i++) Assert.Equal((long)x[i] < 0 ? 1UL : 0UL, sign[i]);
    }
}

public class TopKRowsTests
{
    [Theory]
    [InlineData(2, 5, 13, 4)]
    [InlineData(3, 3, 8, 8)]
    public async Task EveryRow_GetsItsOwnTopK_InOneBatch(int parties, int rows, int n, int k)
    {
        var rng = new Random(rows * n + k);
        var x = Enumerable.Range(0, rows * n).Select(_ => unchecked((ulong)(long)rng.Next(-40, 40))).ToArray(); // many ties
        var shares = Sharing.Split(x, parties);
        var results = await Harness.Run(parties, async s =>
        {
            var (top, oneHot) = await SecureComparison.TopKRowsAsync(s, shares[s.Party], rows, n, k);
            var positions = new List<ulong[]>();
            foreach (var h in oneHot) positions.Add(await s.OpenAsync(h));
            return (await s.OpenAsync(top), positions, s.Rounds);
        });
        int levels = (int)Math.Ceiling(Math.Log2(n));
        Assert.Equal((uint)(k * (10 * levels + 1) - 1 + 1 + k), results[0].Rounds); // the top-k, then k + 1 openings
        for (int r = 0; r < rows; r++)
        {
            var expected = Enumerable.Range(0, n).Select(i => (Value: (long)x[r * n + i], Index: i)).OrderByDescending(p => p.Value).ThenBy(p => p.Index).Take(k).ToArray();
            for (int t = 0; t < k; t++)
            {
                Assert.Equal(expected[t].Value, (long)results[0].Item1[t * rows + r]);
                for (int i = 0; i < n; i++) Assert.Equal(i == expected[t].Index ? 1UL : 0UL, results[0].positions[t][r * n + i]);
            }
        }
    }

    [Fact]
    public async Task AShapeThatDoesNotMatchTheValues_IsRefused()
    {
        var shares = Sharing.Split(new ulong[10], 2);
        await Assert.ThrowsAsync<ArgumentException>(() => Harness.Run(2, s => SecureComparison.ArgmaxRowsAsync(s, shares[s.Party], 3, 3)));
    }
}

public class MpcBenchmarkTests
{
    [Fact]
    public void Benchmark_ReportsEveryWorkload_WithItsRoundCount()
    {
        var results = MpcBenchmark.Run(reps: 1, paillierBits: 2048);
        Assert.Equal(12, results.Count);
        Assert.Equal(29u, results.First(r => r.Name.StartsWith("sigmoids", StringComparison.Ordinal) && r.Parties == 2).Rounds);
        Assert.All(results, r => Assert.True(r.PerSecond > 0 && r.MedianSeconds > 0, r.Name));
        Assert.Equal(9u, results.First(r => r.Name.StartsWith("comparisons (sign, dealer)", StringComparison.Ordinal)).Rounds);
        // Without a dealer (1,000 signs: every product round's triples in one exchange): the keys, two rounds of mask bits, then the 9 rounds whose 8 product rounds each take two more for their triples.
        Assert.Equal(1u + 2 + 9 + 8 * 2, results.First(r => r.Name.StartsWith("comparisons (sign, BFV", StringComparison.Ordinal)).Rounds);
        Assert.Equal(60u, results.First(r => r.Name.StartsWith("argmax", StringComparison.Ordinal)).Rounds); // 6 levels of 10
        Assert.Equal(1u, results.First(r => r.Name.StartsWith("fixed-point", StringComparison.Ordinal) && r.Parties == 2).Rounds); // local truncation
        Assert.Equal(2u, results.First(r => r.Name.StartsWith("fixed-point", StringComparison.Ordinal) && r.Parties == 3).Rounds); // + the dealer's truncation
        Assert.Equal(6_072L * 10_000 + 32 * 9, results.First(r => r.Name.StartsWith("comparisons (sign, dealer)", StringComparison.Ordinal) && r.Parties == 2).BytesPerParty); // 8·(1 + 2·379) a value, 32 bytes a frame, 9 frames
    }
}
