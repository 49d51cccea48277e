using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Bfv;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Mpc;

/// <summary>Correlated randomness a source can make itself: shared random bits (the comparisons' masks) as well as triples.</summary>
public interface IBitMaskSource
{
    /// <summary>This party's shares of <paramref name="count"/> masks r with shares of their 64 bits, laid out as the dealer's (r ‖ bits of element 0 ‖ …).</summary>
    Task<ulong[]> BitMasksAsync(MpcSession session, int count, CancellationToken cancellationToken = default);
}

/// <summary>
/// Beaver triples, comparison masks and truncation pairs made by the parties themselves with BFV, no dealer (the SIMD
/// form of the homomorphic preprocessing: MP-SPDZ's semi-honest LowGear idea, over Z_2^64 by CRT), for 2 … 16
/// parties. The building block is a pairwise product: party i encrypts its vector x slot-wise under its own keys modulo
/// eight 25-bit batching primes; party j multiplies by its y, adds a mask ρ uniform in [0, 2^198), re-randomizes (a fresh
/// encryption of zero and 126 bits of flooding, above the product's noise N·(|e| + 1)·t/2 ≈ 2^41.5 by 2^40·N·2^30 —
/// BFV's rounded scaling keeps that noise free of the (Q mod t) term that would otherwise carry y) and returns it; i
/// decrypts, recombines x·y + ρ over the integers by CRT (the primes' product, 2^199.9, exceeds it) and keeps it mod
/// 2^64; j keeps −ρ. Every ordered pair runs at once.
/// </summary>
/// <remarks>
/// <para>Triples: c = Σ_i a_i·b_i + Σ_(i≠j) a_i·b_j, every cross term one pairwise product (2 rounds for all). Masks:
/// each party's random bits u_p; the shared bit u_0 ⊕ … ⊕ u_(n−1) is built party by party, b ← b + u_p − 2·b·u_p, the
/// product of the shared b with p's own u_p being pairwise products (2·(n − 1) rounds). Truncation pairs (r, r ≫ f,
/// msb r) are linear in a mask's bits. The first call of a session also sends every party's public keys (one round).
/// Parameters: N = 2^13, Q of 60 + 60 + 55 bits, P of 40 (128-bit), Δ = 2^150 above the 2^126 of flooding.</para>
/// <para>Security (semi-honest, any number of corrupted parties short of all): a multiplier sees only ciphertexts under
/// the encryptor's key; the encryptor sees x·y + ρ, statistically close to uniform (2^−40 over 2^30 elements), in a
/// ciphertext whose noise is flooded (so nothing of y shows in it). An actively malicious encryptor could plant a large
/// noise e and read y through e·y: resisting that needs proofs of bounded noise (LowGear's ZK proofs), not done.</para>
/// </remarks>
public sealed class BfvTriples : ITripleSource, IBitMaskSource
{
    /// <summary>Most triples (or masks) per call.</summary>
    public const int MaxCount = 1 << 24;
    /// <summary>Products per exchange: 8 ciphertexts a prime, the answers about 25 MB (below the 64 MiB frame limit).</summary>
    public const int ProductsPerExchange = 1 << 16;
    // With rounded scaling the product's noise is (e + δ)·y, at most N·(|e| + 1)·t/2 ≈ 2^41.5 for 25-bit t; 2^126 of
    // flooding hides it to 2^−40 over the 2^13 coefficients of up to 2^30 ciphertexts under one key; Δ = 2^150 leaves
    // room. ρ < 2^198 masks x·y < 2^128 to 2^−40 over 2^30 elements; eight primes make 2^199.9 > x·y + ρ.
    private const int FloodBits = 126, StatisticalBits = 70, PlainBits = 25, CrtPrimes = 8;
    private static readonly Lazy<BfvParameters[]> Sets = new(() =>
    {
        var primes = Primes.NttPrimes(PlainBits, 13, CrtPrimes);
        double bits = primes.Sum(p => Math.Log2(p));
        if (bits < 128 + StatisticalBits + 1) throw new InvalidOperationException($"The CRT primes hold {bits:F1} bits; x·y + ρ needs {128 + StatisticalBits + 1}.");
        return [.. primes.Select(t => BfvParameters.Create(13, [60, 60, 55], [40], t))];
    });
    private static readonly Lazy<Garner> Crt = new(() => new Garner([.. Sets.Value.Select(p => p.PlainModulus)]));

    // Per session: this party's own keys (index = own party) and the others' public contexts.
    private readonly ConditionalWeakTable<MpcSession, BfvContext[][]> _contexts = new();

    /// <summary>The eight parameter sets (one per CRT prime).</summary>
    public static IReadOnlyList<BfvParameters> Parameters => Sets.Value;

    /// <summary>Slots per ciphertext.</summary>
    public static int Slots => Sets.Value[0].N;

    /// <inheritdoc/>
    public async Task<ulong[]> TriplesAsync(MpcSession session, int count, CancellationToken cancellationToken = default)
    {
        Check(session, count);
        var a = Sharing.Random(count);
        var b = Sharing.Random(count);
        var (asEncryptor, asMultiplier) = await PairwiseAsync(session, _ => true, _ => true, a, b, count, cancellationToken).ConfigureAwait(false);
        var c = new ulong[count];
        for (int j = 0; j < count; j++) c[j] = a[j] * b[j];
        foreach (var part in asEncryptor.Concat(asMultiplier).Where(p => p is not null))
        {
            for (int j = 0; j < count; j++) c[j] += part![j];
            Array.Clear(part!);
        }
        return [.. a, .. b, .. c];
    }

    /// <inheritdoc/>
    public async Task<ulong[]> BitMasksAsync(MpcSession session, int count, CancellationToken cancellationToken = default)
    {
        Check(session, count);
        int n = session.Parties, me = session.Party, len = 64 * count;
        // This party's own random bits.
        var raw = Sharing.Random(count);
        var own = new ulong[len];
        for (int e = 0; e < count; e++)
            for (int j = 0; j < 64; j++) own[64 * e + j] = (raw[e] >> j) & 1;
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(raw.AsSpan()));
        // b = u_0, held by party 0; then b ← b + u_p − 2·b·u_p for p = 1 … n − 1, b·u_p = Σ_i b_i·u_p (i ≠ p by pairwise products, b_p·u_p locally).
        var b = me == 0 ? (ulong[])own.Clone() : new ulong[len];
        for (int p = 1; p < n; p++)
        {
            int mult = p;
            var (asEncryptor, asMultiplier) = await PairwiseAsync(session, i => i < mult, j => j == mult, me < p ? b : null, me == p ? own : null, len, cancellationToken).ConfigureAwait(false);
            var product = new ulong[len];
            if (me == p) for (int i = 0; i < len; i++) product[i] = b[i] * own[i];
            foreach (var part in asEncryptor.Concat(asMultiplier).Where(x => x is not null))
                for (int i = 0; i < len; i++) product[i] += part![i];
            for (int i = 0; i < len; i++) b[i] = b[i] + (me == p ? own[i] : 0) - 2 * product[i];
            Array.Clear(product);
        }
        Array.Clear(own);
        var result = new ulong[65 * count];
        for (int e = 0; e < count; e++)
        {
            ulong r = 0;
            for (int j = 0; j < 64; j++)
            {
                result[count + 64 * e + j] = b[64 * e + j];
                r += b[64 * e + j] << j;
            }
            result[e] = r;
        }
        Array.Clear(b);
        return result;
    }

    /// <summary>
    /// Every ordered pair (i, j), i ≠ j, with i an encryptor and j a multiplier (the predicates, the same at every party),
    /// multiplies i's vector by j's: result AsEncryptor[j] is this party's share x_me·y_j + ρ, AsMultiplier[i] its −ρ for
    /// x_i·y_me (null where the pair does not run). Two rounds per 2^17 elements; every party runs them, roles or not.
    /// </summary>
    public async Task<(ulong[]?[] AsEncryptor, ulong[]?[] AsMultiplier)> PairwiseAsync(MpcSession session, Func<int, bool> isEncryptor, Func<int, bool> isMultiplier,
        ulong[]? encrypt, ulong[]? multiply, int length, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(isEncryptor);
        ArgumentNullException.ThrowIfNull(isMultiplier);
        int n = session.Parties, me = session.Party;
        if (isEncryptor(me) != (encrypt is not null) || isMultiplier(me) != (multiply is not null)) throw new ArgumentException("A party passes the vectors of exactly the roles it has.");
        if ((encrypt is not null && encrypt.Length != length) || (multiply is not null && multiply.Length != length)) throw new ArgumentException($"The vectors have {length} elements (public: every party passes the same length).");
        var contexts = await ContextsAsync(session, cancellationToken).ConfigureAwait(false);
        var asEncryptor = new ulong[]?[n];
        var asMultiplier = new ulong[]?[n];
        for (int j = 0; j < n; j++)
        {
            if (j == me) continue;
            if (isEncryptor(me) && isMultiplier(j)) asEncryptor[j] = new ulong[length];
            if (isEncryptor(j) && isMultiplier(me)) asMultiplier[j] = new ulong[length];
        }
        for (int from = 0; from < length; from += ProductsPerExchange)
        {
            int size = Math.Min(ProductsPerExchange, length - from);
            await PairwiseOnceAsync(session, contexts, isEncryptor, isMultiplier, encrypt?[from..(from + size)], multiply?[from..(from + size)], size, from, asEncryptor, asMultiplier, cancellationToken).ConfigureAwait(false);
        }
        return (asEncryptor, asMultiplier);
    }

    private static async Task PairwiseOnceAsync(MpcSession session, BfvContext[][] contexts, Func<int, bool> isEncryptor, Func<int, bool> isMultiplier,
        ulong[]? x, ulong[]? y, int size, int offset, ulong[]?[] asEncryptor, ulong[]?[] asMultiplier, CancellationToken cancellationToken)
    {
        var sets = Sets.Value;
        int n = session.Parties, me = session.Party, slots = Slots, chunks = (size + slots - 1) / slots, primes = sets.Length, items = chunks * primes;
        bool anyMultiplierElse = Enumerable.Range(0, n).Any(j => j != me && isMultiplier(j));
        // Round 1: an encryptor sends Enc_me(x mod t_k), seeded, to every multiplier (the same ciphertexts to each).
        byte[] request = [];
        if (x is not null && anyMultiplierElse)
        {
            var upload = new byte[items][];
            var own = contexts[me];
            Parallel.For(0, items, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                int chunk = i / primes, k = i % primes;
                ulong t = sets[k].PlainModulus;
                var values = x.AsSpan(chunk * slots, Math.Min(slots, size - chunk * slots)).ToArray();
                for (int j = 0; j < values.Length; j++) values[j] %= t;
                upload[i] = RlweSerializer.Save(own[k].EncryptSymmetric(own[k].Encoder.EncodeBatch(values)));
                Array.Clear(values);
            });
            request = MpcPayload.Pack(upload);
        }
        var requests = await session.ExchangeAllAsync([.. Enumerable.Range(0, n).Select(j => j != me && isMultiplier(j) ? request : [])], MpcFrame.DefaultMaxPayload, cancellationToken).ConfigureAwait(false);
        // Round 2: a multiplier answers every encryptor's ciphertexts with Enc_i(x_i·y + ρ) and keeps −ρ.
        var answers = new byte[n][];
        for (int i = 0; i < n; i++)
        {
            answers[i] = [];
            if (i == me || !isEncryptor(i) || y is null) continue;
            var cts = MpcPayload.Unpack(requests[i], items, "length");
            var lo = Sharing.Random(size);
            var hi = new UInt128[size];
            var raw = new byte[16 * size];
            RandomNumberGenerator.Fill(raw);
            var hiMask = (UInt128.One << (64 + StatisticalBits)) - 1;
            for (int j = 0; j < size; j++) hi[j] = BinaryPrimitives.ReadUInt128LittleEndian(raw.AsSpan(16 * j)) & hiMask;
            Array.Clear(raw);
            var peer = contexts[i];
            var back = new byte[items][];
            Parallel.For(0, items, new ParallelOptions { CancellationToken = cancellationToken }, q =>
            {
                int chunk = q / primes, k = q % primes;
                ulong t = sets[k].PlainModulus, twoTo64 = (ulong)((UInt128.One << 64) % t);
                Ciphertext ct;
                try { ct = RlweSerializer.LoadCiphertext(cts[q], sets[k].Ring); }
                catch (Exception e) when (e is FormatException or ArgumentException) { throw new MpcProtocolException("ciphertext", $"Ciphertext {q} from party {i} does not load: {e.Message}"); }
                if (ct.Size != 2 || ct.Level != sets[k].MaxLevel) throw new MpcProtocolException("ciphertext", $"Ciphertext {q} from party {i} is not a fresh encryption.");
                int from = chunk * slots, length = Math.Min(slots, size - from);
                var yk = new ulong[length];
                var rho = new ulong[length];
                for (int j = 0; j < length; j++)
                {
                    yk[j] = y[from + j] % t;
                    rho[j] = (ulong)(((hi[from + j] % t) * twoTo64 + lo[from + j] % t) % t);
                }
                var ctx = peer[k];
                var product = ctx.Evaluator.MultiplyPlain(ct, ctx.Encoder.EncodeBatch(yk), ctx.Encoder);
                product = ctx.Evaluator.AddPlain(product, ctx.Encoder.EncodeBatch(rho), ctx.Encoder);
                back[q] = RlweSerializer.Save(ctx.Rerandomize(product, FloodBits));
                Array.Clear(rho);
            });
            Array.Clear(hi);
            for (int j = 0; j < size; j++) asMultiplier[i]![offset + j] = 0UL - lo[j];
            Array.Clear(lo);
            answers[i] = MpcPayload.Pack(back);
        }
        var replies = await session.ExchangeAllAsync(answers, MpcFrame.DefaultMaxPayload, cancellationToken).ConfigureAwait(false);
        if (x is null) return;
        var crt = Crt.Value;
        var mine = contexts[me];
        for (int j = 0; j < n; j++)
        {
            if (j == me || !isMultiplier(j)) continue;
            var cts = MpcPayload.Unpack(replies[j], items, "length");
            var residues = new ulong[primes][];
            for (int k = 0; k < primes; k++) residues[k] = new ulong[size];
            Parallel.For(0, items, new ParallelOptions { CancellationToken = cancellationToken }, q =>
            {
                int chunk = q / primes, k = q % primes;
                Ciphertext ct;
                try { ct = RlweSerializer.LoadCiphertext(cts[q], sets[k].Ring); }
                catch (Exception e) when (e is FormatException or ArgumentException) { throw new MpcProtocolException("ciphertext", $"Answer {q} from party {j} does not load: {e.Message}"); }
                var decoded = mine[k].DecryptUnsigned(ct);
                int from = chunk * slots;
                Array.Copy(decoded, 0, residues[k], from, Math.Min(slots, size - from));
                Array.Clear(decoded); // x·y + ρ: one factor of the other party's secret product
            });
            var column = new ulong[primes];
            for (int e = 0; e < size; e++)
            {
                for (int k = 0; k < primes; k++) column[k] = residues[k][e];
                asEncryptor[j]![offset + e] = crt.Low64(column);
            }
            foreach (var r in residues) Array.Clear(r);
            Array.Clear(column);
        }
    }

    private async Task<BfvContext[][]> ContextsAsync(MpcSession session, CancellationToken cancellationToken)
    {
        if (_contexts.TryGetValue(session, out var known)) return known;
        var sets = Sets.Value;
        int n = session.Parties, me = session.Party;
        var own = sets.Select(p => BfvContext.Create(p, relinearization: false)).ToArray();
        var mine = MpcPayload.Pack([.. own.Select(c => RlweSerializer.Save(c.PublicKey))]);
        var keys = await session.ExchangeAllAsync([.. Enumerable.Range(0, n).Select(j => j == me ? [] : mine)], 16 << 20, cancellationToken).ConfigureAwait(false);
        var contexts = new BfvContext[n][];
        contexts[me] = own;
        for (int j = 0; j < n; j++)
        {
            if (j == me) continue;
            var parts = MpcPayload.Unpack(keys[j], sets.Length, "length");
            contexts[j] = new BfvContext[sets.Length];
            for (int k = 0; k < sets.Length; k++)
            {
                try { contexts[j][k] = BfvContext.FromPublicKey(sets[k], RlweSerializer.LoadPublicKey(parts[k], sets[k].Ring)); }
                catch (Exception e) when (e is FormatException or ArgumentException) { throw new MpcProtocolException("bfvKey", $"Party {j}'s BFV key {k} is refused: {e.Message}"); }
            }
        }
        _contexts.AddOrUpdate(session, contexts);
        return contexts;
    }

    private static void Check(MpcSession session, int count)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (count < 1 || count > MaxCount) throw new ArgumentOutOfRangeException(nameof(count), count, $"1 … {MaxCount} per call.");
    }


    /// <summary>Garner's mixed-radix CRT for moduli below 2^31, returning the integer mod 2^64.</summary>
    private sealed class Garner
    {
        private readonly ulong[] _t;
        private readonly ulong[] _inverse;     // (t_0 ⋯ t_(k−1))^−1 mod t_k
        private readonly ulong[][] _prefix;    // prefix[k][i] = t_0 ⋯ t_(i−1) mod t_k
        private readonly ulong[] _prefix64;    // t_0 ⋯ t_(k−1) mod 2^64

        public Garner(ulong[] t)
        {
            if (t.Any(m => m >= 1UL << 31)) throw new ArgumentException("Moduli below 2^31.", nameof(t));
            _t = t;
            int k = t.Length;
            _prefix = new ulong[k][];
            _inverse = new ulong[k];
            _prefix64 = new ulong[k];
            ulong p64 = 1;
            for (int j = 0; j < k; j++)
            {
                _prefix64[j] = p64;
                p64 = unchecked(p64 * t[j]);
                _prefix[j] = new ulong[j + 1];
                ulong p = 1 % t[j];
                for (int i = 0; i <= j; i++)
                {
                    _prefix[j][i] = p;
                    if (i < j) p = p * (t[i] % t[j]) % t[j];
                }
                _inverse[j] = j == 0 ? 1 : (ulong)System.Numerics.BigInteger.ModPow(_prefix[j][j], t[j] - 2, t[j]); // t_j prime
            }
        }

        public ulong Low64(ReadOnlySpan<ulong> x)
        {
            Span<ulong> v = stackalloc ulong[_t.Length];
            ulong result = 0;
            for (int j = 0; j < _t.Length; j++)
            {
                ulong m = _t[j], partial = 0;
                for (int i = 0; i < j; i++) partial = (partial + v[i] % m * _prefix[j][i]) % m;
                v[j] = (x[j] % m + m - partial) % m * _inverse[j] % m;
                result = unchecked(result + v[j] * _prefix64[j]);
            }
            return result;
        }
    }
}
