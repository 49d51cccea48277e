namespace Veil.Mpc.Tests;

public class BfvTriplesTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Triples_AndMasks_MadeWithoutADealer_AreCorrect(int parties)
    {
        var sources = Enumerable.Range(0, parties).Select(_ => new BfvTriples()).ToArray();
        var results = await Harness.Run(parties, async s =>
        {
            var triples = await sources[s.Party].TriplesAsync(s, 10_000);
            var masks = await sources[s.Party].BitMasksAsync(s, 300);
            return (triples, masks, s.Rounds);
        }, triples: i => sources[i]);
        var t = Sharing.Reconstruct([.. results.Select(r => r.triples)]);
        for (int j = 0; j < 10_000; j++) Assert.Equal(t[j] * t[10_000 + j], t[20_000 + j]);
        var m = Sharing.Reconstruct([.. results.Select(r => r.masks)]);
        for (int e = 0; e < 300; e++)
        {
            ulong r = 0;
            for (int j = 0; j < 64; j++)
            {
                Assert.True(m[300 + 64 * e + j] <= 1, "a shared bit is 0 or 1");
                r |= m[300 + 64 * e + j] << j;
            }
            Assert.Equal(m[e], r);
        }
        Assert.Equal(1u + 2 + 2 * (uint)(parties - 1), results[0].Rounds); // the keys once, two rounds for the triples, two per party after the first for the masks
        Assert.NotEqual(results[0].triples[..10_000], results[1].triples[..10_000]); // the parties' own random shares
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Comparisons_Products_MatrixProducts_AndTruncation_RunWithNoDealerAtAll(int parties)
    {
        var sources = Enumerable.Range(0, parties).Select(_ => new BfvTriples()).ToArray();
        var x = Harness.Random(200, 41);
        var y = Harness.Random(200, 42);
        var xs = Sharing.Split(x, parties);
        var ys = Sharing.Split(y, parties);
        var f = FixedPointFormat.Default;
        double[] reals = [-3.75, 2.5, 100.125, -0.0625];
        var products = Sharing.Split([.. reals.Select(v => f.Encode(v) * f.Encode(1.5))], parties); // 2f fractional bits, to truncate
        var id = MpcSession.NewId();
        var mesh = InProcessNetwork.Create(parties);
        // No dealer channel: anything that asked the dealer would fail.
        var runs = Enumerable.Range(0, parties).Select(i => Task.Run(async () =>
        {
            var s = new MpcSession(id, i, mesh[i], null) { Triples = sources[i] };
            var sign = await s.OpenAsync(await SecureComparison.IsNegativeAsync(s, xs[i]));
            var product = await s.OpenAsync(await SecureArithmetic.MultiplyAsync(s, xs[i], ys[i]));
            var matrix = await s.OpenAsync(await SecureArithmetic.MatrixMultiplyAsync(s, xs[i][..60], ys[i][..40], 6, 10, 4));
            var truncated = await s.OpenAsync(await SecureArithmetic.TruncateAsync(s, products[i], f.FractionalBits, f.ProductBits));
            return (sign, product, matrix, truncated);
        })).ToArray();
        var r = (await Task.WhenAll(runs))[0];
        for (int j = 0; j < reals.Length; j++) Assert.Equal(reals[j] * 1.5, f.Decode(r.truncated[j]), 1.0 / 32768);
        for (int j = 0; j < 200; j++)
        {
            Assert.Equal((long)x[j] < 0 ? 1UL : 0UL, r.sign[j]);
            Assert.Equal(x[j] * y[j], r.product[j]);
        }
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 4; j++)
            {
                ulong expected = 0;
                for (int l = 0; l < 10; l++) expected += x[i * 10 + l] * y[l * 4 + j];
                Assert.Equal(expected, r.matrix[i * 4 + j]);
            }
    }

    [Fact]
    public async Task AMangledPublicKey_IsRefusedByName()
    {
        var source = new BfvTriples();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => Harness.Run(2, async s =>
        {
            if (s.Party == 0) return await source.TriplesAsync(s, 10);
            // Party 1 announces eight "keys" of garbage instead of its public keys.
            await s.ExchangeAllAsync([MpcPayload.Pack([.. Enumerable.Range(0, 8).Select(k => new byte[] { 86, 69, 73, 76, (byte)k })]), []], 0);
            return [];
        }, triples: _ => source));
        var all = (e as AggregateException)?.Flatten().InnerExceptions ?? [e];
        Assert.Contains(all, x => x is MpcProtocolException { Field: "bfvKey" });
    }

    [Fact]
    public async Task AMangledAnswer_IsRefusedByName()
    {
        var source = new BfvTriples();
        var results = await Assert.ThrowsAnyAsync<Exception>(() => Harness.Run(2, async s =>
        {
            if (s.Party == 0) return await source.TriplesAsync(s, 10);
            // Party 1 takes the keys and the request, then answers with garbage.
            await s.ExchangeAsync([], 16 << 20);
            await s.ExchangeAsync([], 64 << 20);
            await s.ExchangeAsync([2, 0, 0, 0, 9, 9], 0);
            return [];
        }, triples: _ => source));
        var all = (results as AggregateException)?.Flatten().InnerExceptions ?? [results];
        Assert.Contains(all, e => e is MpcProtocolException { Field: "length" });
    }
}
