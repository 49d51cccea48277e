using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;
using Veil.Rlwe;

namespace Veil.Multiparty;

/// <summary>
/// How a collective refresh hides the message: each party adds a mask uniform in [−2^b, 2^b] with
/// b = MessageBits + s + log2 N, so the masked plaintext the aggregator sees is within 2^−s (statistical distance, all
/// coefficients together) of the masks alone.
/// </summary>
/// <param name="MessageBits">log2 of a bound on the plaintext's coefficients (scale, value range and √N), given by the computation's owner.</param>
/// <param name="StatisticalSecurity">s (at least 40).</param>
/// <remarks>The masks cancel in the sum of a share's two parts, which is s_i·(c_1 − a') plus noise: refreshing one
/// ciphertext again and again would let that noise be averaged away. So each refresh share counts against the party's
/// budget τ, and its decryption part is smudged with σ = √(12·τ)·2^(s/2)·4, enough that τ samples averaged keep a
/// deviation of 2^(s/2) (about 12 bits of a 2^45 scale are left at N = 2^14 with τ = 16).</remarks>
public sealed record RefreshPolicy(double MessageBits, int StatisticalSecurity = 40)
{
    internal FloodingPolicy Flooding => new(StatisticalSecurity, ErrorBits: 2);

    /// <summary>b, the masks' bit size, for ring degree <paramref name="n"/>.</summary>
    public int MaskBits(int n) => (int)Math.Ceiling(MessageBits + StatisticalSecurity + Math.Log2(n));

    internal void Validate()
    {
        if (StatisticalSecurity < 40 || StatisticalSecurity > 128) throw new ArgumentOutOfRangeException(nameof(StatisticalSecurity), StatisticalSecurity, "Statistical security is 40 … 128 bits.");
        if (!(MessageBits >= 1 && MessageBits <= 80)) throw new ArgumentOutOfRangeException(nameof(MessageBits), MessageBits, "The message bound is 2^1 … 2^80.");
    }
}

/// <summary>A party's refresh share: (s_i·c_1 + M_i + e, −s_i·a' − M_i + e') with a' from the reference string for this ciphertext.</summary>
public sealed class RefreshShare : CiphertextShare
{
    internal RefreshShare(RlweParameters parameters, byte[] sessionId, int party, byte[] ciphertextDigest, int level, RnsPolynomial h0, RnsPolynomial h1)
        : base(parameters, sessionId, party, ciphertextDigest, level)
    {
        H0 = h0;
        H1 = h1;
    }
    /// <summary>The masked decryption part, over Q_level.</summary>
    public RnsPolynomial H0 { get; }
    /// <summary>The re-encryption part, over Q at the top level.</summary>
    public RnsPolynomial H1 { get; }
}

/// <summary>A threshold party's refresh share, naming the set of parties taking part.</summary>
public sealed class ThresholdRefreshShare : ThresholdCiphertextShare
{
    internal ThresholdRefreshShare(RlweParameters parameters, byte[] sessionId, int party, byte[] roundId, int threshold, int[] active, byte[] ciphertextDigest, int level, RnsPolynomial h0, RnsPolynomial h1)
        : base(parameters, sessionId, party, roundId, threshold, active, ciphertextDigest, level)
    {
        H0 = h0;
        H1 = h1;
    }
    /// <summary>The masked decryption part, over Q_level.</summary>
    public RnsPolynomial H0 { get; }
    /// <summary>The re-encryption part, over Q at the top level.</summary>
    public RnsPolynomial H1 { get; }
}

/// <summary>
/// Collective refresh (Mouchet et al.): the parties turn a ciphertext at a low level into a fresh one at the top level
/// without anyone seeing the value, an interactive alternative to bootstrapping. The aggregator sees only the message
/// plus the sum of masks.
/// </summary>
public static class CollectiveRefresh
{
    /// <summary>This party's share of refreshing <paramref name="ciphertext"/>.</summary>
    /// <exception cref="InvalidOperationException">Q at the ciphertext's level is too small to hold the masks of every party.</exception>
    public static RefreshShare CreateShare(MultipartyParty party, Ciphertext ciphertext, RefreshPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(party);
        ArgumentNullException.ThrowIfNull(policy);
        MultipartyParty.CheckCiphertext(party.Session, ciphertext);
        policy.Validate();
        CheckRoom(party.Session, ciphertext, policy);
        double sigma = Math.Pow(2, MultipartyParty.CheckFlooding(party.Session, ciphertext, policy.Flooding, party.Budget));
        var (digest, level, h0, h1) = Shares(party.Session, ciphertext, policy, x => party.MultiplyShare(x, sigma), x => party.MultiplyShare(x, Samplers.Sigma));
        return new RefreshShare(party.Session.Parameters, party.Session.Id, party.Index, digest, level, h0, h1);
    }

    /// <summary>A threshold party's share of refreshing <paramref name="ciphertext"/> with the set <paramref name="active"/> (at least t parties, this one among them).</summary>
    /// <exception cref="ThresholdNotMetException">Fewer than t parties in the set.</exception>
    public static ThresholdRefreshShare CreateShare(ThresholdParty party, Ciphertext ciphertext, IReadOnlyCollection<int> active, RefreshPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(party);
        var session = party.Session;
        var set = ThresholdParty.CheckSet(session, party.Threshold, active);
        if (Array.IndexOf(set, party.Index) < 0) throw new ArgumentException($"Party {party.Index} is not in the set taking part.", nameof(active));
        ArgumentNullException.ThrowIfNull(policy);
        MultipartyParty.CheckCiphertext(session, ciphertext);
        policy.Validate();
        CheckRoom(session, ciphertext, policy);
        double sigma = Math.Pow(2, MultipartyParty.CheckFlooding(session, ciphertext, policy.Flooding, party.Budget));
        using var weighted = party.Weighted(set);
        var (digest, level, h0, h1) = Shares(session, ciphertext, policy, x => SecretProducts.MultiplyAddNoise(weighted, x, sigma), x => SecretProducts.MultiplyAddNoise(weighted, x));
        return new ThresholdRefreshShare(session.Parameters, session.Id, party.Index, party.RoundId, party.Threshold, set, digest, level, h0, h1);
    }

    /// <summary>The refreshed ciphertext from the threshold shares of a set of at least t parties.</summary>
    /// <exception cref="ThresholdNotMetException">Fewer than t parties.</exception>
    /// <exception cref="ShareMismatchException">Shares of another ciphertext, session, set or threshold, or a sender twice.</exception>
    public static Ciphertext CombineThreshold(MultipartySession session, Ciphertext ciphertext, IReadOnlyCollection<ThresholdRefreshShare> shares)
    {
        var digest = Collective.CheckThresholdShares(session, ciphertext, shares, "refresh");
        return Lift(session, ciphertext, digest, shares.Select(s => s.H0), shares.Select(s => s.H1));
    }

    // The room the masks need, checked before any budget is spent.
    private static void CheckRoom(MultipartySession session, Ciphertext ciphertext, RefreshPolicy policy)
    {
        var p = session.Parameters;
        int b = policy.MaskBits(p.N);
        double logQ = 0;
        for (int j = 0; j <= ciphertext.Level; j++) logQ += Math.Log2(p.Q[j]);
        if (b + Math.Log2(session.Parties) + 3 >= logQ || b > 125)
            throw new InvalidOperationException($"Masks of 2^{b} bits from {session.Parties} parties need Q of about 2^{b + Math.Log2(session.Parties) + 3:F0} at level {ciphertext.Level}, which has 2^{logQ:F1}: refresh one level higher.");
    }

    private static (byte[] Digest, int Level, RnsPolynomial H0, RnsPolynomial H1) Shares(MultipartySession session, Ciphertext ciphertext, RefreshPolicy policy,
        Func<RnsPolynomial, RnsPolynomial> multiplyFlooded, Func<RnsPolynomial, RnsPolynomial> multiply)
    {
        var p = session.Parameters;
        var digest = ShareDigests.Ciphertext(ciphertext);
        int n = p.N, level = ciphertext.Level, top = p.MaxLevel;
        int b = policy.MaskBits(n);
        var ring = p.Ring;
        var mask = SampleMask(ring, n, top + 1, b);
        try
        {
            var h0 = multiplyFlooded(new RnsPolynomial(n, level + 1, ciphertext.Poly(1)));
            ring.Add(h0.Data, mask.AsSpan(0, (level + 1) * n), h0.Data, 0, level + 1);
            var a = CommonA(session, digest);
            var h1 = multiply(a);
            ring.Negate(h1.Data, h1.Data, 0, top + 1);
            ring.Sub(h1.Data, mask, h1.Data, 0, top + 1);
            return (digest, level, h0, h1);
        }
        finally { CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(mask.AsSpan())); }
    }

    /// <summary>The refreshed ciphertext at the top level: (lift(c_0 + Σ h0_i) + Σ h1_i, a').</summary>
    public static Ciphertext Combine(MultipartySession session, Ciphertext ciphertext, IReadOnlyCollection<RefreshShare> shares)
    {
        var digest = Collective.CheckCiphertextShares(session, ciphertext, shares, "refresh");
        return Lift(session, ciphertext, digest, shares.Select(s => s.H0), shares.Select(s => s.H1));
    }

    private static Ciphertext Lift(MultipartySession session, Ciphertext ciphertext, byte[] digest, IEnumerable<RnsPolynomial> h0s, IEnumerable<RnsPolynomial> h1s)
    {
        var p = session.Parameters;
        var ring = p.Ring;
        int n = p.N, level = ciphertext.Level, top = p.MaxLevel, low = level + 1;
        // The masked plaintext over Q_level, in coefficient form, lifted exactly (centered) to every prime of Q.
        var masked = new ulong[(top + 1) * n];
        ciphertext.Poly(0).CopyTo(masked);
        foreach (var h in h0s) ring.Add(masked, h.Data, masked, 0, low);
        ring.Inverse(masked, 0, low);
        if (top > level)
        {
            var converter = new BasisConverter(ring.Moduli.Take(low).ToArray(), ring.Moduli.Skip(low).Take(top - level).ToArray());
            var scratch = new ulong[(low + 1) * n];
            converter.Convert(masked.AsSpan(0, low * n), masked.AsSpan(low * n), scratch, n);
        }
        ring.Forward(masked, 0, top + 1);
        foreach (var h in h1s) ring.Add(masked, h.Data, masked, 0, top + 1);
        var c0 = new RnsPolynomial(n, top + 1, masked);
        var c1 = CommonA(session, digest);
        var refreshed = Ciphertext.FromPolynomials(p, ciphertext.Scale, c0, c1);
        return ciphertext.KeyId.IsNone ? refreshed : refreshed.Bind(ciphertext.KeyId); // same collective key, top level
    }

    // a' for this ciphertext: from the reference string and the ciphertext's digest, so no two refreshes share it.
    private static RnsPolynomial CommonA(MultipartySession session, byte[] digest)
    {
        var p = session.Parameters;
        int limbs = p.MaxLevel + 1;
        var a = new RnsPolynomial(p.N, limbs);
        using var prng = new Prng(session.Reference.Derive("refresh/" + Convert.ToHexString(digest), 0), "veil/mhe/refresh-a");
        Samplers.Uniform(prng, p.Ring, a.Data, 0, limbs);
        return a;
    }

    // Uniform integers in [−2^b, 2^b] (b ≤ 125) as residues modulo the first `limbs` primes, NTT form.
    private static ulong[] SampleMask(RnsRing ring, int n, int limbs, int b)
    {
        var result = GC.AllocateArray<ulong>(limbs * n, pinned: true);
        Span<byte> bytes = stackalloc byte[16];
        UInt128 span = (UInt128.One << (b + 1)) + 1, limit = UInt128.MaxValue - UInt128.MaxValue % span;
        for (int c = 0; c < n; c++)
        {
            UInt128 r;
            do { RandomNumberGenerator.Fill(bytes); r = System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(bytes); } while (r >= limit);
            Int128 value = (Int128)(r % span) - ((Int128)1 << b);
            for (int l = 0; l < limbs; l++)
            {
                ulong q = ring.Moduli[l].Value;
                Int128 residue = value % q;
                if (residue < 0) residue += q;
                result[l * n + c] = (ulong)residue;
            }
        }
        bytes.Clear();
        ring.Forward(result, 0, limbs);
        return result;
    }
}
