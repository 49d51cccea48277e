namespace Veil.Mpc.Tests;

public class SecureArithmeticTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Sharing_Reconstructs_AndNoShareIsTheValue(int parties)
    {
        var x = Harness.Random(200, parties);
        var shares = Sharing.Split(x, parties);
        Assert.Equal(x, Sharing.Reconstruct(shares));
        // Each share alone is uniform: it matches the secret in at most a handful of the 200 places (by chance, 200/2^64).
        foreach (var s in shares) Assert.True(s.Zip(x).Count(p => p.First == p.Second) <= 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Sharing.Split(x, 1));
        Assert.Throws<ArgumentException>(() => Sharing.Reconstruct([new ulong[2], new ulong[3]]));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Products_AndLinearOperations_MatchPlaintextModulo2To64(int parties)
    {
        var x = Harness.Random(300, 1);
        var y = Harness.Random(300, 2);
        var xs = Sharing.Split(x, parties);
        var ys = Sharing.Split(y, parties);
        var c = Harness.Random(300, 3);
        var results = await Harness.Run(parties, async s =>
        {
            var xi = xs[s.Party];
            var yi = ys[s.Party];
            var product = await SecureArithmetic.MultiplyAsync(s, xi, yi);
            var affine = SecureArithmetic.AddPublic(s, SecureArithmetic.MultiplyPublic(SecureArithmetic.Subtract(xi, yi), 7), c);
            var opened = await s.OpenAsync(product);
            var openedAffine = await s.OpenAsync(affine);
            Assert.Equal(3u, s.Rounds); // one round for the product, one per opening
            return (opened, openedAffine);
        });
        for (int i = 0; i < x.Length; i++)
        {
            Assert.Equal(unchecked(x[i] * y[i]), results[0].opened[i]);
            Assert.Equal(unchecked((x[i] - y[i]) * 7 + c[i]), results[0].openedAffine[i]);
        }
        Assert.All(results, r => Assert.Equal(results[0].opened, r.opened));
    }

    [Theory]
    [InlineData(2, 3, 4, 2)]
    [InlineData(3, 5, 7, 3)]
    [InlineData(2, 1, 1, 1)]
    public async Task MatrixProducts_MatchPlaintext(int parties, int m, int k, int n)
    {
        var x = Harness.Random(m * k, 4);
        var y = Harness.Random(k * n, 5);
        var xs = Sharing.Split(x, parties);
        var ys = Sharing.Split(y, parties);
        var results = await Harness.Run(parties, async s => await s.OpenAsync(await SecureArithmetic.MatrixMultiplyAsync(s, xs[s.Party], ys[s.Party], m, k, n)));
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                ulong expected = 0;
                for (int t = 0; t < k; t++) expected += x[i * k + t] * y[t * n + j];
                Assert.Equal(expected, results[0][i * n + j]);
            }
        await Assert.ThrowsAsync<ArgumentException>(() => Harness.Run(parties, s => SecureArithmetic.MatrixMultiplyAsync(s, xs[s.Party], ys[s.Party], m + 1, k, n)));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task FixedPointProducts_AreWithinTwoUnitsOfTheLastPlace(int parties)
    {
        var format = FixedPointFormat.Default;
        var rng = new Random(parties);
        var a = Enumerable.Range(0, 500).Select(i => i switch { 0 => 0.0, 1 => -255.9, 2 => 255.9, 3 => -1e-5, _ => (rng.NextDouble() - 0.5) * 30 }).ToArray();
        var b = Enumerable.Range(0, 500).Select(i => i switch { 0 => 3.0, 1 => 0.99, 2 => -0.99, 3 => 2.0, _ => (rng.NextDouble() - 0.5) * 30 }).ToArray();
        var xs = Sharing.Split(format.Encode(a), parties);
        var ys = Sharing.Split(format.Encode(b), parties);
        var results = await Harness.Run(parties, async s => format.Decode(await s.OpenAsync(await SecureArithmetic.MultiplyFixedAsync(s, xs[s.Party], ys[s.Party], format))));
        double ulp = 1.0 / format.Scale;
        for (int i = 0; i < a.Length; i++)
        {
            // Encoding rounds each input by half an ulp; the truncation adds at most one.
            double bound = 0.5 * ulp * (Math.Abs(a[i]) + Math.Abs(b[i])) + 2 * ulp;
            Assert.True(Math.Abs(results[0][i] - a[i] * b[i]) <= bound, $"{a[i]}·{b[i]} = {a[i] * b[i]}, got {results[0][i]}");
        }
    }

    [Fact]
    public async Task DealerTruncation_MatchesFloorDivision_ForSignedValues_AndLocalTruncationNeedsTwoParties()
    {
        var values = Enumerable.Range(-1000, 2001).Select(v => unchecked((ulong)(long)(v * 977L))).ToArray();
        var shares = Sharing.Split(values, 3);
        var results = await Harness.Run(3, async s => await s.OpenAsync(await SecureArithmetic.TruncateAsync(s, shares[s.Party], 5, 30)));
        for (int i = 0; i < values.Length; i++)
        {
            long exact = (long)values[i] >> 5, got = (long)results[0][i];
            Assert.InRange(got - exact, 0, 1);
        }
        await Assert.ThrowsAsync<InvalidOperationException>(() => Harness.Run(3, s => Task.FromResult(SecureArithmetic.TruncateLocal(s, shares[s.Party], 5))));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Harness.Run(3, s => SecureArithmetic.TruncateAsync(s, shares[s.Party], 5, 4)));
    }

    [Fact]
    public void DealerTruncation_CorrectsTheWrap_WhenTheMaskIsNearTheTop()
    {
        // Masks chosen so that x + 2^k + r wraps past 2^64 (and some that do not), split into two parties' shares.
        const int f = 8, k = 20;
        var rng = new Random(5);
        foreach (long x in new long[] { 0, 1, -1, 123_456, -123_456, (1L << 20) - 1, -(1L << 20) + 1 })
            foreach (ulong r in new ulong[] { ulong.MaxValue, ulong.MaxValue - 5, (1UL << 63) + 7, 1UL << 63, 12345, 0 })
            {
                ulong c = unchecked((ulong)x + (1UL << k) + r);
                var dealt = new[] { r, r >> f, r >> 63 };
                var s0 = new ulong[3];
                for (int i = 0; i < 3; i++) s0[i] = (ulong)rng.NextInt64() * 2;
                var s1 = dealt.Select((v, i) => v - s0[i]).ToArray();
                var z = SecureArithmetic.TruncationShares(0, [c], s0, f, k)[0] + SecureArithmetic.TruncationShares(1, [c], s1, f, k)[0];
                Assert.InRange((long)z - (x >> f), 0, 1);
            }
    }

    [Fact]
    public async Task EmptyOperands_NeedNoCommunication()
    {
        var results = await Harness.Run(2, async s =>
        {
            var product = await SecureArithmetic.MultiplyAsync(s, [], []);
            var truncated = await SecureArithmetic.TruncateAsync(s, [], 8, 20);
            return (product.Length + truncated.Length, s.Rounds);
        });
        Assert.All(results, r => Assert.Equal((0, 0u), r));
    }

    [Fact]
    public async Task AProductPastOneDealerRequest_IsDealtInChunks()
    {
        var x = Harness.Random(1_000_000, 8); // 3M triple elements per party: above one frame, so dealt in chunks
        var y = Harness.Random(1_000_000, 9);
        var xs = Sharing.Split(x, 2);
        var ys = Sharing.Split(y, 2);
        var z = (await Harness.Run(2, async s => await s.OpenAsync(await SecureArithmetic.MultiplyAsync(s, xs[s.Party], ys[s.Party]))))[0];
        for (int i = 0; i < x.Length; i++) Assert.Equal(x[i] * y[i], z[i]);
    }

    [Fact]
    public async Task AMatrixTriplePastTheFrameLimit_IsRefusedBeforeAnythingIsSent()
    {
        var big = new ulong[1000 * 1000]; // A, B and C of 10^6 elements each: one matrix triple cannot be split
        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Harness.Run(2, s => SecureArithmetic.MatrixMultiplyAsync(s, big, big, 1000, 1000, 1000)));
        Assert.Contains("split", e.Message);
    }

    [Fact]
    public void FixedPoint_EncodesAndDecodes_AndRefusesOutOfRange()
    {
        var f = FixedPointFormat.Default;
        foreach (double x in new[] { 0.0, 1.0, -1.0, 255.99, -255.99, 1.0 / 65536, -3.14159 })
            Assert.Equal(x, f.Decode(f.Encode(x)), 1.0 / 65536);
        Assert.Throws<OverflowException>(() => f.Encode(256));
        Assert.Throws<OverflowException>(() => f.Encode(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FixedPointFormat(20, 11));
        Assert.Equal(48, f.ProductBits);
    }
}

public class PaillierTripleTests
{
    [Fact]
    public void SelfCheck_MultipliesWithDealerFreeTriples_WithinTheFixedPointError()
    {
        var report = MpcSelfCheck.Run(elements: 20);
        Assert.True(report.WorstError <= 20 * 0.5 / 65536 * 2 + 2.0 / 65536, $"worst error {report.WorstError}");
        Assert.Equal(4u, report.Rounds); // key exchange, the triples' two rounds, the product's opening
        Assert.True(report.PaillierTriplesPerSecond > 0 && report.DealerTriplesPerSecond > report.PaillierTriplesPerSecond);
    }

    // 2048-bit keys keep the tests fast (explicitly below 128-bit, as Veil.Paillier requires): 12 slots per answer.

    [Fact]
    public async Task TriplesWithoutADealer_AreValid_AndDriveProducts()
    {
        var sources = new[] { PaillierTriples.Generate(2048, allowBelow128Bits: true), PaillierTriples.Generate(2048, allowBelow128Bits: true) };
        const int count = 30; // three packed answers per direction, the last one partly filled
        var triples = await Harness.Run(2, s => sources[s.Party].TriplesAsync(s, count));
        var a = Sharing.Reconstruct([triples[0][..count], triples[1][..count]]);
        var b = Sharing.Reconstruct([triples[0][count..(2 * count)], triples[1][count..(2 * count)]]);
        var c = Sharing.Reconstruct([triples[0][(2 * count)..], triples[1][(2 * count)..]]);
        for (int j = 0; j < count; j++) Assert.Equal(unchecked(a[j] * b[j]), c[j]);
        Assert.Equal(12, PaillierTriples.SlotsPerCiphertext(2048));
        Assert.Equal(18, PaillierTriples.SlotsPerCiphertext(3072));
        // A product whose triple came from Paillier, not from the dealer.
        var x = Harness.Random(20, 8);
        var y = Harness.Random(20, 9);
        var xs = Sharing.Split(x, 2);
        var ys = Sharing.Split(y, 2);
        var z = await Harness.Run(2, async s => await s.OpenAsync(await SecureArithmetic.MultiplyAsync(s, xs[s.Party], ys[s.Party])), triples: i => sources[i]);
        for (int j = 0; j < x.Length; j++) Assert.Equal(unchecked(x[j] * y[j]), z[0][j]);
    }

    [Fact]
    public async Task KeysOfDifferentSizes_PackForTheReceiversKey()
    {
        // 12 slots under a 2048-bit key, 18 under 3072: each party packs its answers for the other's key.
        var sources = new[] { PaillierTriples.Generate(2048, allowBelow128Bits: true), new PaillierTriples(Strong.Value.PublicKey, Strong.Value.PrivateKey, acceptPeerBelow128Bits: true) };
        const int count = 40;
        var triples = await Harness.Run(2, s => sources[s.Party].TriplesAsync(s, count));
        var a = Sharing.Reconstruct([triples[0][..count], triples[1][..count]]);
        var b = Sharing.Reconstruct([triples[0][count..(2 * count)], triples[1][count..(2 * count)]]);
        var c = Sharing.Reconstruct([triples[0][(2 * count)..], triples[1][(2 * count)..]]);
        for (int j = 0; j < count; j++) Assert.Equal(unchecked(a[j] * b[j]), c[j]);
    }

    private static readonly Lazy<(Veil.Paillier.PaillierPublicKey PublicKey, Veil.Paillier.PaillierPrivateKey PrivateKey)> Strong = new(() => Veil.Paillier.PaillierScheme.GenerateKeys());

    [Fact]
    public async Task AKeyBelow128Bits_IsRefusedUnlessTheReceiverOptsOut()
    {
        var weak = PaillierTriples.Generate(2048, allowBelow128Bits: true);
        var strict = new PaillierTriples(Strong.Value.PublicKey, Strong.Value.PrivateKey); // 3072 bits, refuses the other's 2048-bit key
        var e = await Assert.ThrowsAsync<MpcProtocolException>(() => Harness.Run(2, s => (s.Party == 0 ? strict : weak).TriplesAsync(s, 1)));
        Assert.Equal("paillierKey", e.Field);
    }
}
