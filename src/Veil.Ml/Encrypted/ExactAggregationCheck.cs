using System.Diagnostics;
using Veil.ElGamal;
using Veil.Ml.Data;
using Veil.Paillier;

namespace Veil.Ml.Encrypted;

/// <summary>What <see cref="ExactAggregationCheck.Run"/> measured: each exact scheme on shipped data, against the plaintext answer.</summary>
/// <param name="Rows">Rows of the data set, split between the parties.</param>
/// <param name="Parties">Parties that encrypted their own rows.</param>
/// <param name="Cells">Cells of the BFV count-by-group (diagnosis × radius bucket).</param>
/// <param name="CellsExact">Cells whose encrypted count and sum equal the plaintext ones.</param>
/// <param name="BfvSeconds">Encryption, aggregation and decryption of the group-by.</param>
/// <param name="LookupsExact">Private lookups that returned the right value and presence (of <paramref name="Lookups"/>).</param>
/// <param name="Lookups">Private lookups made (one key absent from the table).</param>
/// <param name="PaillierSumError">Largest absolute error of the Paillier column sums (fixed point, 2^-32 resolution).</param>
/// <param name="PaillierColumns">Columns summed by Paillier.</param>
/// <param name="PaillierSeconds">Paillier key generation (2048-bit, by opt-out, to keep the demo short), encryption, sums, decryption.</param>
/// <param name="TallyExact">Whether the EC-ElGamal tally of one diagnosis equals the plaintext count.</param>
/// <param name="TallyClass">The diagnosis tallied (class 1 of the data set).</param>
/// <param name="Tally">The decrypted tally.</param>
/// <param name="ElGamalSeconds">EC-ElGamal encryption of every row's vote, the tally and its decryption.</param>
public sealed record ExactAggregationReport(int Rows, int Parties, int Cells, int CellsExact, double BfvSeconds, int LookupsExact, int Lookups,
    double PaillierSumError, int PaillierColumns, double PaillierSeconds, bool TallyExact, string TallyClass, long Tally, double ElGamalSeconds);

/// <summary>
/// Exact and additive encryption on the breast-cancer data, split between two hospitals: a BFV count and sum by group
/// with private lookups, Paillier sums of real columns, and an EC-ElGamal tally. Each result is compared with the
/// plaintext computation.
/// </summary>
public static class ExactAggregationCheck
{
    /// <summary>Runs the three schemes.</summary>
    public static ExactAggregationReport Run(int seed = 1, CancellationToken cancellation = default)
    {
        var data = BuiltinDatasets.BreastCancer();
        int rows = data.Rows, half = rows / 2;
        const int buckets = 8;
        // Cell = diagnosis × bucket of mean radius (feature 0); value = mean area (feature 3) rounded.
        double lo = data.Features.Min(f => f[0]), hi = data.Features.Max(f => f[0]);
        int Cell(int i) => (int)data.Targets[i] * buckets + Math.Min(buckets - 1, (int)((data.Features[i][0] - lo) / (hi - lo) * buckets));
        long Value(int i) => (long)Math.Round(data.Features[i][3]);
        int cells = 2 * buckets;

        var clock = Stopwatch.StartNew();
        using var analyst = EncryptedGroupBy.CreateContext();
        var publicContext = analyst.ToPublic();
        var parties = new[] { (0, half), (half, rows) }
            .Select(r => EncryptedGroupBy.Encrypt(publicContext, Enumerable.Range(r.Item1, r.Item2 - r.Item1).Select(Cell).ToArray(), cells,
                Enumerable.Range(r.Item1, r.Item2 - r.Item1).Select(Value).ToArray(), cancellation))
            .ToArray();
        var totals = EncryptedGroupBy.Aggregate(publicContext, parties, sums: true, cancellation);
        var (counts, sums) = EncryptedGroupBy.Decrypt(analyst, totals);
        int exact = 0;
        for (int g = 0; g < cells; g++)
        {
            var members = Enumerable.Range(0, rows).Where(i => Cell(i) == g).ToArray();
            if (counts[g] == members.Length && sums![g] == members.Sum(Value)) exact++;
        }
        // Lookups: a table of row id → rounded area held by the second hospital; one query for an id it lacks.
        var table = Enumerable.Range(half, rows - half).ToDictionary(i => i, Value);
        int lookupsExact = 0;
        int[] queries = [half, half + 7, rows - 1, 3];
        foreach (int key in queries)
        {
            var answer = PrivateLookup.Read(analyst, PrivateLookup.Answer(publicContext, PrivateLookup.Query(publicContext, key), table));
            bool expectedFound = table.TryGetValue(key, out long expected);
            if (answer.Found == expectedFound && (!expectedFound || answer.Value == expected)) lookupsExact++;
        }
        double bfvSeconds = clock.Elapsed.TotalSeconds;

        // Paillier: each hospital encrypts its column sums of the first features; the aggregator adds them.
        clock.Restart();
        const int columns = 10;
        var (pk, sk) = PaillierScheme.GenerateKeys(2048, allowBelow128Bits: true);
        var perParty = new[] { (0, half), (half, rows) }
            .Select(r => PaillierFixedPoint.EncryptVector(pk, Enumerable.Range(0, columns).Select(c => Enumerable.Range(r.Item1, r.Item2 - r.Item1).Sum(i => data.Features[i][c])).ToArray(), cancellation: cancellation))
            .ToArray();
        var decrypted = PaillierFixedPoint.DecryptVector(sk, PaillierFixedPoint.AddVectors(perParty[0], perParty[1]));
        double worst = Enumerable.Range(0, columns).Max(c => Math.Abs(decrypted[c] - Enumerable.Range(0, rows).Sum(i => data.Features[i][c])));
        double paillierSeconds = clock.Elapsed.TotalSeconds;

        // EC-ElGamal: every row votes 1 when in class 1; the tally is decrypted over [0, rows].
        clock.Restart();
        var (epk, esk) = ElGamalScheme.GenerateKeys();
        using (esk)
        {
            var votes = ElGamalScheme.EncryptVector(epk, data.Targets.Select(t => (long)t).ToArray(), cancellation);
            var tally = votes.Aggregate(ElGamalScheme.Add);
            long decryptedTally = esk.Decrypt(tally, new ElGamalRange(0, rows));
            long expectedTally = data.Targets.Count(t => t == 1);
            return new ExactAggregationReport(rows, 2, cells, exact, bfvSeconds, lookupsExact, queries.Length, worst, columns, paillierSeconds,
                decryptedTally == expectedTally, data.ClassNames?[1] ?? "class 1", decryptedTally, clock.Elapsed.TotalSeconds);
        }
    }
}
