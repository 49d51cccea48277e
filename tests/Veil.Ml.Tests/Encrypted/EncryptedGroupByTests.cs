using Veil.Ml.Encrypted;

namespace Veil.Ml.Tests.Encrypted;

/// <summary>BFV count-by-group and private lookup: exact against the plaintext computation, across parties and chunks.</summary>
public class EncryptedGroupByTests
{
    private static readonly Lazy<Veil.Bfv.BfvContext> Analyst = new(() => EncryptedGroupBy.CreateContext());

    [Fact]
    public void CountsAndSums_ByGroup_AreExact_AcrossPartiesAndChunks()
    {
        var analyst = Analyst.Value;
        var pub = analyst.ToPublic();
        var rng = new Random(5);
        const int groups = 5;
        int[] sizes = [9000, 300, 1]; // the first party fills more than one ciphertext of 8192 slots
        var partyGroups = sizes.Select(s => Enumerable.Range(0, s).Select(_ => rng.Next(groups)).ToArray()).ToArray();
        var partyValues = sizes.Select(s => Enumerable.Range(0, s).Select(_ => (long)rng.Next(-1000, 50_000)).ToArray()).ToArray();
        var encrypted = partyGroups.Select((g, p) => EncryptedGroupBy.Encrypt(pub, g, groups, partyValues[p])).ToArray();
        Assert.Equal(2, encrypted[0].Indicators.Count);
        var (counts, sums) = EncryptedGroupBy.Decrypt(analyst, EncryptedGroupBy.Aggregate(pub, encrypted, sums: true));
        for (int g = 0; g < groups; g++)
        {
            long count = 0, sum = 0;
            for (int p = 0; p < sizes.Length; p++)
                for (int i = 0; i < sizes[p]; i++)
                    if (partyGroups[p][i] == g) { count++; sum += partyValues[p][i]; }
            Assert.Equal(count, counts[g]);
            Assert.Equal(sum, sums![g]);
        }
        // Only the totals come back: the packed ciphertext is zero past the groups.
        Assert.All(analyst.Decrypt(EncryptedGroupBy.Aggregate(pub, encrypted, sums: false).Counts)[groups..], v => Assert.Equal(0, v));
        Assert.Throws<ArgumentException>(() => EncryptedGroupBy.Encrypt(pub, [0, 5], groups));
        Assert.Throws<ArgumentException>(() => EncryptedGroupBy.Encrypt(pub, [], groups));
        long half = (long)(pub.Parameters.PlainModulus / 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => EncryptedGroupBy.Encrypt(pub, [0], groups, [half]));
        // Two rows of values near t/3 could sum past t/2: refused before anything is computed, not returned wrapped.
        var big = EncryptedGroupBy.Encrypt(pub, [0, 0], groups, [half * 2 / 3, half * 2 / 3]);
        Assert.Throws<OverflowException>(() => EncryptedGroupBy.Aggregate(pub, [big], sums: true));
        Assert.Throws<ArgumentException>(() => EncryptedGroupBy.Aggregate(pub, [EncryptedGroupBy.Encrypt(pub, [0], groups)], sums: true));
    }

    [Fact]
    public void PrivateLookup_ReturnsTheValueAndPresence_ForAnyKey()
    {
        var analyst = Analyst.Value;
        var pub = analyst.ToPublic();
        var table = new Dictionary<int, long> { [0] = 17, [1] = -5, [4095] = 123_456, [4096] = 1, [8191] = -99 };
        foreach (int key in new[] { 0, 1, 2, 4095, 4096, 8191, 5000 })
        {
            var (found, value) = PrivateLookup.Read(analyst, PrivateLookup.Answer(pub, PrivateLookup.Query(pub, key), table));
            Assert.Equal(table.ContainsKey(key), found);
            Assert.Equal(table.GetValueOrDefault(key), value);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => PrivateLookup.Query(pub, 8192));
        // A query that is not one-hot (two keys at once, or a key times 2) gets random answers, not a sum of the table.
        var two = new long[8192]; two[0] = 1; two[1] = 1;
        var doubled = new long[8192]; doubled[4095] = 2;
        foreach (var crafted in new[] { two, doubled })
        {
            var (found, value) = PrivateLookup.Read(analyst, PrivateLookup.Answer(pub, pub.Encrypt(crafted), table));
            long honest = crafted.Select((q, i) => q * table.GetValueOrDefault(i)).Sum();
            Assert.NotEqual(honest, value);
            _ = found;
        }
        Assert.Throws<ArgumentException>(() => PrivateLookup.Answer(pub, PrivateLookup.Query(pub, 0), new Dictionary<int, long> { [9000] = 1 }));
    }

    [Fact]
    public void ExactAggregationCheck_OnBreastCancer_MatchesThePlaintextEverywhere()
    {
        var report = ExactAggregationCheck.Run();
        Assert.Equal(report.Cells, report.CellsExact);
        Assert.Equal(report.Lookups, report.LookupsExact);
        Assert.True(report.TallyExact);
        Assert.InRange(report.PaillierSumError, 0, 1e-6);
    }
}
