using System.Numerics;
using System.Security.Cryptography;
using Veil.Paillier;
using Veil.Serialization;

namespace Veil.Mpc;

/// <summary>A source of Beaver triples: this party's shares (a, b, c = a·b), laid out as a (count) ‖ b ‖ c.</summary>
public interface ITripleSource
{
    /// <summary>This party's shares of <paramref name="count"/> fresh triples; every party calls it in the same step.</summary>
    Task<ulong[]> TriplesAsync(MpcSession session, int count, CancellationToken cancellationToken = default);
}

/// <summary>Triples from the session's <see cref="TrustedDealer"/>.</summary>
public sealed class DealerTriples : ITripleSource
{
    /// <summary>The one instance.</summary>
    public static DealerTriples Instance { get; } = new();
    private DealerTriples() { }

    /// <inheritdoc/>
    public Task<ulong[]> TriplesAsync(MpcSession session, int count, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return session.DealAsync(DealKind.Triples, count, 0, 0, 3 * count, cancellationToken);
    }
}

/// <summary>
/// Beaver triples made by the two parties themselves with Paillier, no dealer (the homomorphic preprocessing of
/// SecureML and MP-SPDZ's semi-honest offline phase): each party holds its own key pair; for c = (a_0 + a_1)(b_0 + b_1),
/// the cross term a_i·b_j is an oblivious linear evaluation — party i sends Enc_i(a_i), party j returns
/// Enc_i(a_i·b_j + ρ) with ρ uniform in [0, 2^168) and keeps −ρ, party i decrypts and keeps a_i·b_j + ρ, both mod 2^64.
/// One source can serve several sessions; the other party's key is remembered per session.
/// </summary>
/// <remarks>
/// <para>Party i learns a_i·b_j + ρ, statistically close to uniform (ρ is 2^40 times larger than the product:
/// 40-bit statistical security); party j sees only ciphertexts under i's key. Each returned ciphertext is multiplied by a
/// fresh textbook encryption (r^n with r uniform: party i holds the factorization, so the faster DJN form, whose
/// randomness is short, is not used for it), so its randomness says nothing of b_j. Semi-honest: a party that deviates
/// can corrupt the triples without being detected.</para>
/// <para>The answers are packed: ⌊(|n| − 2)/170⌋ slots of 170 bits per ciphertext (18 at 3072 bits), folded by Horner's
/// rule (170 squarings per slot), so a party decrypts one ciphertext per 18 elements. Cost per triple and party: one
/// encryption, one product by a 64-bit scalar, and 1/18 of a textbook encryption and a decryption; two rounds.</para>
/// </remarks>
public sealed class PaillierTriples : ITripleSource
{
    private const int StatisticalBits = 40, SlotBits = 2 * 64 + StatisticalBits + 2;
    /// <summary>The most triples one call makes (each party's first message stays below one frame).</summary>
    public const int MaxCount = 50_000;
    private readonly PaillierPublicKey _public;
    private readonly PaillierPrivateKey _private;
    private readonly bool _acceptPeerBelow128Bits;
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<MpcSession, PaillierPublicKey> _peers = new();

    /// <summary>
    /// A source with this party's own key pair. The other party's key must be 128-bit (3072 bits or more) unless
    /// <paramref name="acceptPeerBelow128Bits"/> says otherwise, explicitly.
    /// </summary>
    public PaillierTriples(PaillierPublicKey publicKey, PaillierPrivateKey privateKey, bool acceptPeerBelow128Bits = false)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        ArgumentNullException.ThrowIfNull(privateKey);
        if (!ReferenceEquals(privateKey.PublicKey, publicKey) && privateKey.PublicKey.N != publicKey.N) throw new ArgumentException("The keys are not a pair.", nameof(privateKey));
        _public = publicKey;
        _private = privateKey;
        _acceptPeerBelow128Bits = acceptPeerBelow128Bits;
    }

    /// <summary>
    /// A source with a fresh key pair of <paramref name="bits"/> bits (below 3072 only with
    /// <paramref name="allowBelow128Bits"/>, which then also accepts such a key from the other party).
    /// </summary>
    public static PaillierTriples Generate(int bits = PaillierScheme.DefaultBits, bool allowBelow128Bits = false)
    {
        var (pk, sk) = PaillierScheme.GenerateKeys(bits, allowBelow128Bits);
        return new PaillierTriples(pk, sk, acceptPeerBelow128Bits: allowBelow128Bits);
    }

    /// <summary>Elements per packed answer for a key of <paramref name="bits"/> bits.</summary>
    public static int SlotsPerCiphertext(int bits) => (bits - 2) / SlotBits;

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">Not a two-party session.</exception>
    /// <exception cref="MpcProtocolException">The other party sent a bad frame, key or ciphertext, or closed its channel.</exception>
    public async Task<ulong[]> TriplesAsync(MpcSession session, int count, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (session.Parties != 2) throw new InvalidOperationException("Paillier triples are made between two parties.");
        if (count < 1 || count > MaxCount) throw new ArgumentOutOfRangeException(nameof(count), count, $"1 … {MaxCount} triples per call.");
        if (!_peers.TryGetValue(session, out var peer))
        {
            peer = await ExchangeKeysAsync(session, cancellationToken).ConfigureAwait(false);
            _peers.AddOrUpdate(session, peer);
        }
        var a = Sharing.Random(count);
        var b = Sharing.Random(count);
        // Round 1: Enc_own(a_i) for every element, under this party's key.
        var mine = new PaillierCiphertext[count];
        Parallel.For(0, count, new ParallelOptions { CancellationToken = cancellationToken }, j => mine[j] = _public.Encrypt(a[j]));
        var theirs = LoadCiphertexts(await session.ExchangeAsync(Pack(mine), MaxPayload(peer, count), cancellationToken).ConfigureAwait(false), peer, count);
        // Round 2: the packed answers Enc_peer(Σ_s (a_peer·b_own + ρ_s)·2^(170·s)); keep −ρ.
        int slots = SlotsPerCiphertext(peer.Bits), packs = (count + slots - 1) / slots;
        var minusRho = new ulong[count];
        var answers = new PaillierCiphertext[packs];
        Parallel.For(0, packs, new ParallelOptions { CancellationToken = cancellationToken }, p =>
        {
            int first = p * slots, last = Math.Min(count, first + slots);
            BigInteger masks = BigInteger.Zero;
            PaillierCiphertext? acc = null;
            for (int j = last - 1; j >= first; j--)
            {
                var rho = RandomMask();
                minusRho[j] = 0UL - (ulong)(rho & ulong.MaxValue);
                masks = (masks << SlotBits) + rho;
                var term = theirs[j] * b[j];
                acc = acc is null ? term : acc * (BigInteger.One << SlotBits) + term;
            }
            answers[p] = acc! + PaillierScheme.EncryptStandard(peer, masks); // a fresh r^n re-randomizes the whole answer
        });
        // The answers to this party's elements were packed for its own key's size.
        int ownSlots = SlotsPerCiphertext(_public.Bits), ownPacks = (count + ownSlots - 1) / ownSlots;
        var back = LoadCiphertexts(await session.ExchangeAsync(Pack(answers), MaxPayload(_public, ownPacks), cancellationToken).ConfigureAwait(false), _public, ownPacks);
        var c = new ulong[count];
        var mask = (BigInteger.One << SlotBits) - 1;
        Parallel.For(0, back.Length, new ParallelOptions { CancellationToken = cancellationToken }, p =>
        {
            var value = _private.Decrypt(back[p]);
            for (int j = p * ownSlots, s = 0; j < Math.Min(count, (p + 1) * ownSlots); j++, s++)
            {
                ulong crossTerm = (ulong)(((value >> (SlotBits * s)) & mask) & ulong.MaxValue);
                c[j] = a[j] * b[j] + crossTerm + minusRho[j];
            }
        });
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(minusRho.AsSpan()));
        return [.. a, .. b, .. c];
    }

    /// <summary>ρ uniform in [0, 2^168) from the OS generator.</summary>
    private static BigInteger RandomMask()
    {
        Span<byte> bytes = stackalloc byte[(2 * 64 + StatisticalBits) / 8];
        RandomNumberGenerator.Fill(bytes);
        var rho = new BigInteger(bytes, isUnsigned: true, isBigEndian: false);
        CryptographicOperations.ZeroMemory(bytes);
        return rho;
    }

    private async Task<PaillierPublicKey> ExchangeKeysAsync(MpcSession session, CancellationToken cancellationToken)
    {
        var bytes = await session.ExchangeAsync(PaillierSerializer.Save(_public), 1 << 16, cancellationToken).ConfigureAwait(false);
        try { return PaillierSerializer.LoadPublicKey(bytes, _acceptPeerBelow128Bits); }
        catch (VeilFormatException e) { throw new MpcProtocolException("paillierKey", $"The other party's Paillier key is refused: {e.Message}"); }
    }

    private static int MaxPayload(PaillierPublicKey key, int count) => checked(count * CiphertextBytes(key));

    // A saved ciphertext: the envelope's header and c in 2·|n| bits.
    private static int CiphertextBytes(PaillierPublicKey key) => VeilHeader.Size + key.Bits / 4;

    private static byte[] Pack(PaillierCiphertext[] ciphertexts)
    {
        // Every saved ciphertext of one key has the same size: one array, filled part by part.
        int size = ciphertexts.Length == 0 ? 0 : CiphertextBytes(ciphertexts[0].Key);
        var packed = new byte[checked(ciphertexts.Length * size)];
        for (int j = 0; j < ciphertexts.Length; j++) PaillierSerializer.Save(ciphertexts[j]).CopyTo(packed, j * size);
        return packed;
    }

    private static PaillierCiphertext[] LoadCiphertexts(byte[] payload, PaillierPublicKey key, int count)
    {
        int size = CiphertextBytes(key);
        if (payload.Length != count * size) throw new MpcProtocolException("length", $"Expected {count} Paillier ciphertexts of {size} bytes; got {payload.Length} bytes.");
        var result = new PaillierCiphertext[count];
        for (int j = 0; j < count; j++)
        {
            try { result[j] = PaillierSerializer.LoadCiphertext(payload.AsSpan(j * size, size), key); }
            catch (VeilFormatException e) { throw new MpcProtocolException("paillierCiphertext", $"Ciphertext {j} from the other party is refused: {e.Message}"); }
        }
        return result;
    }
}
