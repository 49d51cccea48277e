using Veil.Bfv;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// The rows one party encrypted for <see cref="EncryptedGroupBy"/>: for each group, a 0/1 indicator per row packed in
/// BFV slots, and the rows' integer values (a party's rows are split over as many ciphertexts as the slots require).
/// </summary>
public sealed class EncryptedGroupRows
{
    internal EncryptedGroupRows(int groups, Ciphertext[][] indicators, Ciphertext[]? values, int rows, long maxAbsValue)
    {
        Groups = groups;
        Indicators = indicators;
        Values = values;
        Rows = rows;
        MaxAbsValue = maxAbsValue;
    }

    /// <summary>A public bound on |value| (0 without values): with the row counts it bounds every total, so a sum that could wrap modulo t is refused.</summary>
    public long MaxAbsValue { get; }

    /// <summary>The number of groups.</summary>
    public int Groups { get; }
    /// <summary>The number of rows encrypted.</summary>
    public int Rows { get; }
    /// <summary>[chunk][group]: slot i holds 1 when row i of the chunk is in the group.</summary>
    public IReadOnlyList<Ciphertext[]> Indicators { get; }
    /// <summary>[chunk]: slot i holds row i's value, or null when only counts were asked for.</summary>
    public IReadOnlyList<Ciphertext>? Values { get; }
}

/// <summary>The encrypted totals: slot g holds group g's count (and sum); every other slot is zero.</summary>
/// <param name="Counts">The counts by group.</param>
/// <param name="Sums">The sums of values by group, or null.</param>
/// <param name="Groups">The number of groups.</param>
public sealed record EncryptedGroupTotals(Ciphertext Counts, Ciphertext? Sums, int Groups);

/// <summary>
/// Exact count-by-group and sum-by-group on BFV (a histogram is a count by bucket): every party encrypts its own rows
/// under the analyst's public key, an aggregator holding only public keys adds them, multiplies indicators by values
/// (one ciphertext product), sums across slots and packs the totals into one ciphertext; the analyst decrypts the
/// totals. Integers are exact modulo t: a total that could reach t/2 is refused (OverflowException) from the public row
/// counts and value bounds. The totals' noise is not flooded, so the analyst may learn slightly more than the totals
/// about the parties' rows (BFV circuit privacy).
/// </summary>
public static class EncryptedGroupBy
{
    /// <summary>The row rotations (powers of two) the aggregator's keys must cover; the keys need the row swap too (<c>rowSwap: true</c>).</summary>
    public static IReadOnlyList<int> RequiredRotations(BfvParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var steps = new List<int>();
        for (int k = 1; k < parameters.N / 2; k <<= 1) steps.Add(k);
        return steps;
    }

    /// <summary>A context for the analyst: 128-bit BFV at N = 8192 with a 30-bit batching prime, rotation keys for the slot sums.</summary>
    public static BfvContext CreateContext(int n = 8192, int plainBits = 30)
    {
        var parameters = BfvParameters.Default(n, plainBits);
        return BfvContext.Create(parameters, RequiredRotations(parameters), rowSwap: true);
    }

    /// <summary>One party's rows: group ids in [0, groups) and, optionally, integer values.</summary>
    /// <exception cref="ArgumentException">A group id out of range, or values of another length.</exception>
    public static EncryptedGroupRows Encrypt(BfvContext context, ReadOnlySpan<int> groupOfRow, int groups, ReadOnlySpan<long> values = default, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        int slots = context.Parameters.N;
        if (groups < 1 || groups > slots) throw new ArgumentOutOfRangeException(nameof(groups), groups, $"1 … {slots} groups.");
        if (groupOfRow.IsEmpty) throw new ArgumentException("A party encrypts at least one row.", nameof(groupOfRow));
        if (!values.IsEmpty && values.Length != groupOfRow.Length) throw new ArgumentException($"{values.Length} values for {groupOfRow.Length} rows.", nameof(values));
        long half = (long)(context.Parameters.PlainModulus / 2);
        long maxAbs = 0;
        foreach (long v in values)
        {
            if (v <= -half || v >= half) throw new ArgumentOutOfRangeException(nameof(values), v, $"Values are integers in (−t/2, t/2) = (−{half}, {half}).");
            maxAbs = Math.Max(maxAbs, Math.Abs(v));
        }
        for (int i = 0; i < groupOfRow.Length; i++)
            if ((uint)groupOfRow[i] >= (uint)groups) throw new ArgumentException($"Row {i} is in group {groupOfRow[i]}, outside [0, {groups}).", nameof(groupOfRow));
        int chunks = (groupOfRow.Length + slots - 1) / slots;
        var indicators = new Ciphertext[chunks][];
        var valueCts = values.IsEmpty ? null : new Ciphertext[chunks];
        var slot = new long[slots];
        for (int c = 0; c < chunks; c++)
        {
            int start = c * slots, count = Math.Min(slots, groupOfRow.Length - start);
            indicators[c] = new Ciphertext[groups];
            for (int g = 0; g < groups; g++)
            {
                cancellation.ThrowIfCancellationRequested();
                Array.Clear(slot);
                for (int i = 0; i < count; i++) slot[i] = groupOfRow[start + i] == g ? 1 : 0;
                indicators[c][g] = context.Encrypt(slot);
            }
            if (valueCts is not null)
            {
                Array.Clear(slot);
                values.Slice(start, count).CopyTo(slot);
                valueCts[c] = context.Encrypt(slot);
            }
        }
        return new EncryptedGroupRows(groups, indicators, valueCts, groupOfRow.Length, maxAbs);
    }

    /// <summary>The aggregator's work, on public keys only: every party's counts (and sums) by group, in one ciphertext each.</summary>
    /// <exception cref="ArgumentException">No parties, or parties with different group counts, or sums asked of parties without values.</exception>
    public static EncryptedGroupTotals Aggregate(BfvContext publicContext, IReadOnlyList<EncryptedGroupRows> parties, bool sums, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(publicContext);
        ArgumentNullException.ThrowIfNull(parties);
        if (parties.Count == 0) throw new ArgumentException("No parties.", nameof(parties));
        int groups = parties[0].Groups;
        if (parties.Any(p => p.Groups != groups)) throw new ArgumentException("The parties encrypted different numbers of groups.", nameof(parties));
        if (sums && parties.Any(p => p.Values is null)) throw new ArgumentException("Sums need every party's values.", nameof(parties));
        // Every total is exact only below t/2: counts are at most the rows, sums at most rows × the largest |value|.
        double half = publicContext.Parameters.PlainModulus / 2.0;
        double rows = parties.Sum(p => (double)p.Rows);
        double sumBound = parties.Sum(p => (double)p.Rows * p.MaxAbsValue);
        if (rows >= half || (sums && sumBound >= half))
            throw new OverflowException($"A total could reach {(sums ? Math.Max(rows, sumBound) : rows):E2}, past t/2 = {half:E2}: it would wrap modulo t. Use a larger plaintext modulus or fewer rows.");
        var ev = publicContext.Evaluator;
        // Per group: the sum over chunks and parties of the indicators (and of indicator ⊙ value), before the slot sums.
        var countAcc = new Ciphertext?[groups];
        var sumAcc = new Ciphertext?[groups];
        foreach (var party in parties)
        {
            for (int c = 0; c < party.Indicators.Count; c++)
            {
                for (int g = 0; g < groups; g++)
                {
                    cancellation.ThrowIfCancellationRequested();
                    var ind = party.Indicators[c][g];
                    countAcc[g] = countAcc[g] is null ? ind.Clone() : ev.Add(countAcc[g]!, ind);
                    if (sums)
                    {
                        var product = ev.MultiplyRelinearize(ind, party.Values![c]);
                        sumAcc[g] = sumAcc[g] is null ? product : ev.Add(sumAcc[g]!, product);
                    }
                }
            }
        }
        return new EncryptedGroupTotals(Pack(publicContext, countAcc!, cancellation), sums ? Pack(publicContext, sumAcc!, cancellation) : null, groups);
    }

    /// <summary>The analyst's decryption: counts (and sums) by group.</summary>
    public static (long[] Counts, long[]? Sums) Decrypt(BfvContext context, EncryptedGroupTotals totals)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(totals);
        var counts = context.Decrypt(totals.Counts)[..totals.Groups];
        var sums = totals.Sums is null ? null : context.Decrypt(totals.Sums)[..totals.Groups];
        return (counts, sums);
    }

    // Slot sums (log2(N/2) row rotations and the row swap) put each group's total in every slot; a unit vector keeps slot g.
    private static Ciphertext Pack(BfvContext context, Ciphertext[] perGroup, CancellationToken cancellation)
    {
        var ev = context.Evaluator;
        int slots = context.Parameters.N;
        Ciphertext? packed = null;
        var unit = new long[slots];
        for (int g = 0; g < perGroup.Length; g++)
        {
            cancellation.ThrowIfCancellationRequested();
            var total = SumAllSlots(context, perGroup[g]);
            Array.Clear(unit);
            unit[g] = 1;
            var placed = ev.MultiplyPlain(total, context.Encoder.EncodeBatch(unit), context.Encoder);
            packed = packed is null ? placed : ev.Add(packed, placed);
        }
        return packed!;
    }

    /// <summary>Every slot receives the sum of all N slots.</summary>
    internal static Ciphertext SumAllSlots(BfvContext context, Ciphertext x)
    {
        var ev = context.Evaluator;
        var acc = x.Clone();
        for (int k = 1; k < context.Parameters.N / 2; k <<= 1) acc = ev.Add(acc, ev.RotateRows(acc, k));
        return ev.Add(acc, ev.RotateColumns(acc));
    }
}

/// <summary>The server's answer to a private lookup: every slot of <see cref="Value"/> holds the value at the key, every slot of <see cref="Present"/> 1 when the key exists.</summary>
/// <param name="Value">The value ciphertext.</param>
/// <param name="Present">The presence ciphertext.</param>
public sealed record LookupAnswer(Ciphertext Value, Ciphertext Present);

/// <summary>
/// A private lookup on BFV: the client encrypts a one-hot selector of the key it wants; the server, holding a table
/// keyed by integers in [0, N), multiplies it by its values and presence flags and sums the slots; the client decrypts
/// the value and whether the key exists. The server learns nothing about the key (it sees only ciphertexts).
/// </summary>
/// <remarks>The server cannot see whether the query is one-hot, so it makes any other query useless: it adds
/// Σ r_i·q_i·(q_i − 1) + r'·(Σ q_i − 1) with fresh uniform r_i, r' mod t, which is 0 for a one-hot q and uniformly random
/// otherwise (t is prime). The answer's noise is not flooded, so the key holder may still learn a little about the table
/// from it (BFV circuit privacy).</remarks>
public static class PrivateLookup
{
    /// <summary>The client's query for <paramref name="key"/> ∈ [0, N).</summary>
    public static Ciphertext Query(BfvContext context, int key)
    {
        ArgumentNullException.ThrowIfNull(context);
        if ((uint)key >= (uint)context.Parameters.N) throw new ArgumentOutOfRangeException(nameof(key), key, $"Keys are in [0, {context.Parameters.N}).");
        var selector = new long[context.Parameters.N];
        selector[key] = 1;
        return context.Encrypt(selector);
    }

    /// <summary>The server's answer (one ciphertext product, two plaintext products and slot sums per part).</summary>
    /// <exception cref="ArgumentException">A table past N entries, or a context that cannot batch.</exception>
    public static LookupAnswer Answer(BfvContext publicContext, Ciphertext query, IReadOnlyDictionary<int, long> table)
    {
        ArgumentNullException.ThrowIfNull(publicContext);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(table);
        if (!publicContext.Parameters.SupportsBatching) throw new ArgumentException("A private lookup needs a batching plaintext modulus.", nameof(publicContext));
        int n = publicContext.Parameters.N;
        var values = new long[n];
        var present = new long[n];
        foreach (var (key, v) in table)
        {
            if ((uint)key >= (uint)n) throw new ArgumentException($"Key {key} is outside [0, {n}).", nameof(table));
            values[key] = v;
            present[key] = 1;
        }
        var ev = publicContext.Evaluator;
        var enc = publicContext.Encoder;
        var minusOne = enc.EncodeBatch(Enumerable.Repeat(-1L, n).ToArray());
        // q_i·(q_i − 1) in every slot (0 for a 0/1 selector) and Σ q_i − 1 (0 for a single 1).
        var notBinary = ev.MultiplyRelinearize(query, ev.AddPlain(query, minusOne, enc));
        var notSingle = ev.AddPlain(EncryptedGroupBy.SumAllSlots(publicContext, query), minusOne, enc);
        Ciphertext Part(long[] column)
        {
            var sum = EncryptedGroupBy.SumAllSlots(publicContext, ev.MultiplyPlain(query, enc.EncodeBatch(column), enc));
            var guard = EncryptedGroupBy.SumAllSlots(publicContext, ev.MultiplyPlain(notBinary, enc.EncodeBatch(RandomSlots(publicContext.Parameters.PlainModulus, n)), enc));
            var single = ev.MultiplyScalar(notSingle, RandomSlots(publicContext.Parameters.PlainModulus, 1)[0]);
            return ev.Add(ev.Add(sum, guard), single);
        }
        return new LookupAnswer(Part(values), Part(present));
    }

    /// <summary>The client's reading of the answer.</summary>
    public static (bool Found, long Value) Read(BfvContext context, LookupAnswer answer)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(answer);
        return (context.Decrypt(answer.Present)[0] == 1, context.Decrypt(answer.Value)[0]);
    }

    // Uniform residues mod t (as signed values in (−t/2, t/2]) from the operating system's generator.
    private static long[] RandomSlots(ulong t, int count)
    {
        var result = new long[count];
        Span<byte> bytes = stackalloc byte[8];
        ulong limit = ulong.MaxValue - ulong.MaxValue % t;
        for (int i = 0; i < count; i++)
        {
            ulong x;
            do { System.Security.Cryptography.RandomNumberGenerator.Fill(bytes); x = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes); } while (x >= limit);
            ulong r = x % t;
            result[i] = r > t / 2 ? (long)r - (long)t : (long)r;
        }
        return result;
    }
}
