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
/// Beaver triples and comparison masks made by two parties with BFV, no dealer (the SIMD form of the homomorphic
/// preprocessing: MP-SPDZ's semi-honest LowGear idea over Z_2^64 by CRT). Party 0 encrypts its vector x slot-wise under
/// its own keys modulo four 50-bit batching primes; party 1 multiplies by its y, adds a mask ρ uniform in [0, 2^168),
/// re-randomizes (a fresh encryption of zero and 107 bits of flooding) and returns; party 0 decrypts, recombines
/// x·y + ρ over the integers by CRT (the primes' product, 2^200, exceeds it) and keeps it mod 2^64; party 1 keeps −ρ.
/// </summary>
/// <remarks>
/// <para>A triple's cross terms a_0·b_1 and b_0·a_1 are one such product of length 2L; a shared bit is u ⊕ v =
/// u + v − 2uv for party 0's u and party 1's v (one product per bit, 64 per mask). Two rounds per call (and one more in
/// a session's first call, for party 0's public keys). Parameters: N = 2^13, Q of 60 + 60 + 55 bits, P of 40 (128-bit),
/// Δ = 2^125 above the 2^107 of flooding.</para>
/// <para>Security (semi-honest): party 1 sees only ciphertexts under party 0's key; party 0 sees x·y + ρ, 40-bit
/// statistically close to uniform, in a ciphertext whose noise is flooded (so nothing of y shows in it).</para>
/// </remarks>
public sealed class BfvTriples : ITripleSource, IBitMaskSource
{
    /// <summary>Most triples (or masks · 32) per call.</summary>
    public const int MaxCount = 1 << 24;
    private const int FloodBits = 107, StatisticalBits = 40;
    private static readonly Lazy<BfvParameters[]> Sets = new(() =>
    {
        var primes = Primes.NttPrimes(50, 13, 4);
        return [.. primes.Select(t => BfvParameters.Create(13, [60, 60, 55], [40], t))];
    });
    private static readonly Lazy<Garner> Crt = new(() => new Garner([.. Sets.Value.Select(p => p.PlainModulus)]));

    private readonly ConditionalWeakTable<MpcSession, BfvContext[]> _contexts = new();

    /// <summary>The four parameter sets (one per CRT prime).</summary>
    public static IReadOnlyList<BfvParameters> Parameters => Sets.Value;

    /// <summary>Slots per ciphertext.</summary>
    public static int Slots => Sets.Value[0].N;

    /// <inheritdoc/>
    public async Task<ulong[]> TriplesAsync(MpcSession session, int count, CancellationToken cancellationToken = default)
    {
        Check(session, count);
        var a = Sharing.Random(count);
        var b = Sharing.Random(count);
        // Party 0 gives (a_0 ‖ b_0), party 1 (b_1 ‖ a_1): the product's shares are those of a_0·b_1 ‖ b_0·a_1.
        var operand = session.Party == 0 ? [.. a, .. b] : (ulong[])[.. b, .. a];
        var cross = await CrossProductAsync(session, operand, cancellationToken).ConfigureAwait(false);
        var c = new ulong[count];
        for (int j = 0; j < count; j++) c[j] = a[j] * b[j] + cross[j] + cross[count + j];
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(cross.AsSpan()));
        return [.. a, .. b, .. c];
    }

    /// <inheritdoc/>
    public async Task<ulong[]> BitMasksAsync(MpcSession session, int count, CancellationToken cancellationToken = default)
    {
        Check(session, count);
        // Each party's own random bits; the shared bit is u ⊕ v = u + v − 2·uv.
        var raw = Sharing.Random(count);
        var bits = new ulong[64 * count];
        for (int e = 0; e < count; e++)
            for (int j = 0; j < 64; j++) bits[64 * e + j] = (raw[e] >> j) & 1;
        var uv = await CrossProductAsync(session, bits, cancellationToken).ConfigureAwait(false);
        var result = new ulong[65 * count];
        for (int e = 0; e < count; e++)
        {
            ulong r = 0;
            for (int j = 0; j < 64; j++)
            {
                ulong share = bits[64 * e + j] - 2 * uv[64 * e + j];
                result[count + 64 * e + j] = share;
                r += share << j;
            }
            result[e] = r;
        }
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(raw.AsSpan()));
        Array.Clear(bits);
        return result;
    }

    /// <summary>Products per exchange: 16 ciphertexts a prime, the answers about 26 MB (below the 64 MiB frame limit).</summary>
    public const int ProductsPerExchange = 1 << 17;

    /// <summary>Shares of x ⊙ y mod 2^64 for party 0's x and party 1's y (this party passes its own vector; every 2^17 products take two rounds).</summary>
    public async Task<ulong[]> CrossProductAsync(MpcSession session, ulong[] own, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(own);
        if (session.Parties != 2) throw new InvalidOperationException("BFV triples are made between two parties.");
        if (own.Length <= ProductsPerExchange) return await CrossProductOnceAsync(session, own, cancellationToken).ConfigureAwait(false);
        var result = new ulong[own.Length];
        for (int from = 0; from < own.Length; from += ProductsPerExchange)
        {
            var part = await CrossProductOnceAsync(session, own[from..Math.Min(own.Length, from + ProductsPerExchange)], cancellationToken).ConfigureAwait(false);
            part.CopyTo(result, from);
        }
        return result;
    }

    private async Task<ulong[]> CrossProductOnceAsync(MpcSession session, ulong[] own, CancellationToken cancellationToken)
    {
        var sets = Sets.Value;
        int slots = Slots, chunks = (own.Length + slots - 1) / slots, primes = sets.Length;
        var contexts = await ContextsAsync(session, cancellationToken).ConfigureAwait(false);
        if (session.Party == 0)
        {
            // Round 1: Enc(x mod t_k) per chunk and prime, seeded (half size).
            var upload = new byte[chunks * primes][];
            Parallel.For(0, chunks * primes, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                int chunk = i / primes, k = i % primes;
                var values = Slice(own, chunk, slots).Select(v => v % sets[k].PlainModulus).ToArray();
                upload[i] = RlweSerializer.Save(contexts[k].EncryptSymmetric(contexts[k].Encoder.EncodeBatch(values)));
            });
            await session.ExchangeAsync(Pack(upload), 0, cancellationToken).ConfigureAwait(false);
            // Round 2: the answers, decrypted and recombined by CRT.
            var answers = Unpack(await session.ExchangeAsync([], MpcFrame.DefaultMaxPayload, cancellationToken).ConfigureAwait(false), chunks * primes);
            var residues = new ulong[primes][];
            for (int k = 0; k < primes; k++) residues[k] = new ulong[own.Length];
            Parallel.For(0, chunks * primes, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                int chunk = i / primes, k = i % primes;
                Ciphertext ct;
                try { ct = RlweSerializer.LoadCiphertext(answers[i], sets[k].Ring); }
                catch (Exception e) when (e is FormatException or ArgumentException) { throw new MpcProtocolException("ciphertext", $"Answer {i} from the other party does not load: {e.Message}"); }
                var decoded = contexts[k].DecryptUnsigned(ct);
                int from = chunk * slots, length = Math.Min(slots, own.Length - from);
                Array.Copy(decoded, 0, residues[k], from, length);
            });
            var crt = Crt.Value;
            var shares = new ulong[own.Length];
            for (int j = 0; j < own.Length; j++) shares[j] = crt.Low64(residues[0][j], residues[1][j], residues[2][j], residues[3][j]);
            return shares;
        }
        else
        {
            var request = Unpack(await session.ExchangeAsync([], MpcFrame.DefaultMaxPayload, cancellationToken).ConfigureAwait(false), chunks * primes);
            // ρ = hi·2^64 + lo uniform in [0, 2^168); this party keeps −lo.
            var lo = Sharing.Random(own.Length);
            var hi = new UInt128[own.Length];
            var raw = new byte[16 * own.Length];
            RandomNumberGenerator.Fill(raw);
            var hiMask = (UInt128.One << (64 + StatisticalBits)) - 1;
            for (int j = 0; j < own.Length; j++) hi[j] = BinaryPrimitives.ReadUInt128LittleEndian(raw.AsSpan(16 * j)) & hiMask;
            Array.Clear(raw);
            var answers = new byte[chunks * primes][];
            Parallel.For(0, chunks * primes, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                int chunk = i / primes, k = i % primes;
                ulong t = sets[k].PlainModulus, twoTo64 = (ulong)((UInt128.One << 64) % t);
                var ctx = contexts[k];
                Ciphertext x;
                try { x = RlweSerializer.LoadCiphertext(request[i], sets[k].Ring); }
                catch (Exception e) when (e is FormatException or ArgumentException) { throw new MpcProtocolException("ciphertext", $"Ciphertext {i} from the other party does not load: {e.Message}"); }
                if (x.Size != 2 || x.Level != sets[k].MaxLevel) throw new MpcProtocolException("ciphertext", $"Ciphertext {i} from the other party is not a fresh encryption.");
                int from = chunk * slots, length = Math.Min(slots, own.Length - from);
                var y = new ulong[length];
                var rho = new ulong[length];
                for (int j = 0; j < length; j++)
                {
                    y[j] = own[from + j] % t;
                    rho[j] = (ulong)(((hi[from + j] % t) * twoTo64 + lo[from + j] % t) % t);
                }
                var product = ctx.Evaluator.MultiplyPlain(x, ctx.Encoder.EncodeBatch(y), ctx.Encoder);
                product = ctx.Evaluator.AddPlain(product, ctx.Encoder.EncodeBatch(rho), ctx.Encoder);
                answers[i] = RlweSerializer.Save(ctx.Rerandomize(product, FloodBits));
                Array.Clear(rho);
            });
            await session.ExchangeAsync(Pack(answers), 0, cancellationToken).ConfigureAwait(false);
            Array.Clear(hi);
            var shares = new ulong[own.Length];
            for (int j = 0; j < own.Length; j++) shares[j] = 0UL - lo[j];
            Array.Clear(lo);
            return shares;
        }
    }

    private async Task<BfvContext[]> ContextsAsync(MpcSession session, CancellationToken cancellationToken)
    {
        if (_contexts.TryGetValue(session, out var known)) return known;
        var sets = Sets.Value;
        BfvContext[] contexts;
        if (session.Party == 0)
        {
            contexts = [.. sets.Select(p => BfvContext.Create(p, relinearization: false))];
            await session.ExchangeAsync(Pack([.. contexts.Select(c => RlweSerializer.Save(c.PublicKey))]), 0, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var keys = Unpack(await session.ExchangeAsync([], 16 << 20, cancellationToken).ConfigureAwait(false), sets.Length);
            contexts = new BfvContext[sets.Length];
            for (int k = 0; k < sets.Length; k++)
            {
                try { contexts[k] = BfvContext.FromPublicKey(sets[k], RlweSerializer.LoadPublicKey(keys[k], sets[k].Ring)); }
                catch (Exception e) when (e is FormatException or ArgumentException) { throw new MpcProtocolException("bfvKey", $"The other party's BFV key {k} is refused: {e.Message}"); }
            }
        }
        _contexts.AddOrUpdate(session, contexts);
        return contexts;
    }

    private static void Check(MpcSession session, int count)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.Parties != 2) throw new InvalidOperationException("BFV triples are made between two parties.");
        if (count < 1 || count > MaxCount) throw new ArgumentOutOfRangeException(nameof(count), count, $"1 … {MaxCount} per call.");
    }

    private static IEnumerable<ulong> Slice(ulong[] values, int chunk, int slots) => values.Skip(chunk * slots).Take(slots);

    private static byte[] Pack(IReadOnlyList<byte[]> items)
    {
        var bytes = new byte[4 + items.Sum(i => 4 + i.Length)];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, items.Count);
        int at = 4;
        foreach (var item in items)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), item.Length);
            item.CopyTo(bytes, at + 4);
            at += 4 + item.Length;
        }
        return bytes;
    }

    private static byte[][] Unpack(byte[] bytes, int expected)
    {
        if (bytes.Length < 4 || BinaryPrimitives.ReadInt32LittleEndian(bytes) != expected) throw new MpcProtocolException("length", $"Expected {expected} BFV objects from the other party.");
        var items = new byte[expected][];
        int at = 4;
        for (int i = 0; i < expected; i++)
        {
            if (at + 4 > bytes.Length) throw new MpcProtocolException("length", $"The message ends inside object {i}.");
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at));
            if (length < 0 || length > bytes.Length - at - 4) throw new MpcProtocolException("length", $"Object {i} declares {length} bytes past the end.");
            items[i] = bytes.AsSpan(at + 4, length).ToArray();
            at += 4 + length;
        }
        if (at != bytes.Length) throw new MpcProtocolException("length", $"{bytes.Length - at} bytes after the last object.");
        return items;
    }

    /// <summary>Garner's mixed-radix CRT for four moduli, returning the integer mod 2^64.</summary>
    private sealed class Garner
    {
        private readonly ulong _t1, _t2, _t3, _t4, _c12, _c123, _c1234, _t12mod3, _t12mod4, _t123mod4, _t12, _t123;

        public Garner(ulong[] t)
        {
            (_t1, _t2, _t3, _t4) = (t[0], t[1], t[2], t[3]);
            _c12 = Inverse(_t1 % _t2, _t2);
            _t12mod3 = (ulong)((UInt128)_t1 * _t2 % _t3);
            _c123 = Inverse(_t12mod3, _t3);
            _t12mod4 = (ulong)((UInt128)_t1 * _t2 % _t4);
            _t123mod4 = (ulong)((UInt128)_t12mod4 * _t3 % _t4);
            _c1234 = Inverse(_t123mod4, _t4);
            _t12 = _t1 * _t2;
            _t123 = _t12 * _t3;
        }

        public ulong Low64(ulong x1, ulong x2, ulong x3, ulong x4)
        {
            ulong v1 = x1;
            ulong v2 = MulMod(Sub(x2, v1 % _t2, _t2), _c12, _t2);
            ulong partial3 = (ulong)(((UInt128)v2 * _t1 + v1) % _t3);
            ulong v3 = MulMod(Sub(x3, partial3, _t3), _c123, _t3);
            ulong partial4 = (ulong)((((UInt128)v2 * _t1 + v1) % _t4 + (UInt128)v3 * _t12mod4) % _t4);
            ulong v4 = MulMod(Sub(x4, partial4, _t4), _c1234, _t4);
            return unchecked(v1 + v2 * _t1 + v3 * _t12 + v4 * _t123);
        }

        private static ulong Sub(ulong a, ulong b, ulong m) => a >= b ? a - b : a + m - b;

        private static ulong MulMod(ulong a, ulong b, ulong m) => (ulong)((UInt128)a * b % m);

        private static ulong Inverse(ulong a, ulong m) => (ulong)System.Numerics.BigInteger.ModPow(a, m - 2, m); // m prime
    }
}
