using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Multiparty;

/// <summary>
/// Aggregation of shares into collective keys, decryptions and re-encryptions. Shares arrive in any order; every one
/// must belong to the session, to the object being aggregated (ciphertext, round, Galois element), and come from a
/// distinct party, and all parties must be present: a share from elsewhere or a second share from a party is refused
/// with <see cref="ShareMismatchException"/>, never summed. Aggregators hold no secret.
/// </summary>
public static class Collective
{
    /// <summary>The collective public key (b = Σ b_i, a from the reference string).</summary>
    public static PublicKey PublicKey(MultipartySession session, IReadOnlyCollection<PublicKeyShare> shares)
    {
        Check(session, shares, "public-key");
        var sum = Sum(session, shares.Select(s => s.B), session.Parameters.Ring.LimbCount);
        return Veil.Rlwe.PublicKey.FromPolynomial(session.Parameters, sum, session.Reference.PublicKeySeed());
    }

    /// <summary>The sums of round 1 of the relinearization key, for every party's round 2.</summary>
    public static RelinearizationRound1 RelinearizationRound1(MultipartySession session, IReadOnlyCollection<RelinearizationShare1> shares)
    {
        Check(session, shares, "relinearization round-1");
        int digits = session.Parameters.MaxDigitCount, limbs = session.Parameters.Ring.LimbCount;
        CheckDigits(shares.SelectMany(s => new[] { s.H0.Count, s.H1.Count }), digits);
        var h0 = new RnsPolynomial[digits];
        var h1 = new RnsPolynomial[digits];
        for (int j = 0; j < digits; j++)
        {
            h0[j] = Sum(session, shares.Select(s => s.H0[j]), limbs);
            h1[j] = Sum(session, shares.Select(s => s.H1[j]), limbs);
        }
        return new RelinearizationRound1(session.Id, h0, h1);
    }

    /// <summary>The collective relinearization key: b = Σ h0'_i + Σ h1'_i, a = the round-1 Σ h1_i (held in memory; it has no seed).</summary>
    public static RelinearizationKey RelinearizationKey(MultipartySession session, RelinearizationRound1 round1, IReadOnlyCollection<RelinearizationShare2> shares)
    {
        ArgumentNullException.ThrowIfNull(round1);
        Check(session, shares, "relinearization round-2");
        if (!round1.SessionId.AsSpan().SequenceEqual(session.Id)) throw new ShareMismatchException("The round-1 sums belong to another session.");
        foreach (var s in shares)
            if (!s.Round1Digest.AsSpan().SequenceEqual(round1.Digest)) throw new ShareMismatchException($"Party {s.Party}'s round-2 share was computed from other round-1 sums.");
        int digits = session.Parameters.MaxDigitCount, limbs = session.Parameters.Ring.LimbCount;
        CheckDigits(shares.SelectMany(s => new[] { s.H0.Count, s.H1.Count }), digits);
        var b = new RnsPolynomial[digits];
        for (int j = 0; j < digits; j++)
            b[j] = Sum(session, shares.Select(s => s.H0[j]).Concat(shares.Select(s => s.H1[j])), limbs);
        return new RelinearizationKey(KeySwitchingKey.FromPolynomials(session.Parameters, b, round1.H1.ToArray()));
    }

    /// <summary>The collective Galois keys: for each element, all parties' shares summed (a from the reference string).</summary>
    public static GaloisKeys GaloisKeys(MultipartySession session, IEnumerable<GaloisKeyShare> shares)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(shares);
        shares = shares.ToArray();
        foreach (var s in shares) ArgumentNullException.ThrowIfNull(s, nameof(shares));
        var keys = new Dictionary<ulong, KeySwitchingKey>();
        int digits = session.Parameters.MaxDigitCount, limbs = session.Parameters.Ring.LimbCount;
        foreach (var group in shares.GroupBy(s => s.GaloisElement))
        {
            var list = group.ToList();
            Check(session, list, $"Galois key {group.Key}");
            CheckDigits(list.Select(s => s.B.Count), digits);
            var b = new RnsPolynomial[digits];
            for (int j = 0; j < digits; j++) b[j] = Sum(session, list.Select(s => s.B[j]), limbs);
            keys[group.Key] = KeySwitchingKey.FromPolynomials(session.Parameters, b, session.Reference.GaloisKeySeed(group.Key));
        }
        return Veil.Rlwe.GaloisKeys.FromKeys(session.Parameters, keys);
    }

    /// <summary>The decrypted plaintext c_0 + Σ h_i (NTT form, at the ciphertext's level and scale), flooded by every party.</summary>
    public static Plaintext Decrypt(MultipartySession session, Ciphertext ciphertext, IReadOnlyCollection<DecryptionShare> shares)
    {
        CheckCiphertextShares(session, ciphertext, shares, "decryption");
        return WithFirstPart(session, ciphertext, shares.Select(s => s.H));
    }

    // c_0 + Σ h as a plaintext at the ciphertext's level and scale; the working sum (m + e) is cleared.
    private static Plaintext WithFirstPart(MultipartySession session, Ciphertext ciphertext, IEnumerable<RnsPolynomial> parts)
    {
        int limbs = ciphertext.Level + 1;
        var sum = Sum(session, parts, limbs);
        session.Parameters.Ring.Add(sum.Data, ciphertext.Poly(0), sum.Data, 0, limbs);
        var plaintext = new Plaintext(session.Parameters, ciphertext.Level, ciphertext.Scale);
        sum.Data.AsSpan(0, limbs * session.Parameters.N).CopyTo(plaintext.Data);
        Array.Clear(sum.Data);
        return plaintext;
    }

    /// <summary>
    /// The plaintext from the threshold shares of a set of at least t parties: c_0 + Σ_(j∈T) h_j. Every share must name
    /// the same set T, which must be exactly the senders.
    /// </summary>
    /// <exception cref="ThresholdNotMetException">Fewer than t parties.</exception>
    /// <exception cref="ShareMismatchException">Shares of another ciphertext, session, set or threshold, or a sender twice.</exception>
    public static Plaintext DecryptThreshold(MultipartySession session, Ciphertext ciphertext, IReadOnlyCollection<ThresholdDecryptionShare> shares)
    {
        CheckThresholdShares(session, ciphertext, shares, "decryption");
        return WithFirstPart(session, ciphertext, shares.Select(s => s.H));
    }

    /// <summary>The ciphertext re-encrypted under <paramref name="recipient"/>: (c_0 + Σ h0_i, Σ h1_i).</summary>
    public static Ciphertext SwitchToPublicKey(MultipartySession session, Ciphertext ciphertext, PublicKey recipient, IReadOnlyCollection<KeySwitchShare> shares)
    {
        var recipientDigest = ShareDigests.PublicKey(recipient);
        CheckCiphertextShares(session, ciphertext, shares, "key-switching");
        foreach (var s in shares)
            if (!s.RecipientDigest.AsSpan().SequenceEqual(recipientDigest))
                throw new ShareMismatchException($"Party {s.Party}'s key-switching share is for another recipient.");
        int limbs = ciphertext.Level + 1;
        var c0 = Sum(session, shares.Select(s => s.H0), limbs);
        session.Parameters.Ring.Add(c0.Data, ciphertext.Poly(0), c0.Data, 0, limbs);
        var c1 = Sum(session, shares.Select(s => s.H1), limbs);
        var switched = Ciphertext.FromPolynomials(session.Parameters, ciphertext.Scale, c0, c1);
        return recipient.Id.IsNone ? switched : switched.Bind(recipient.Id); // it now decrypts under the recipient's key
    }

    /// <summary>Every party's share, of this session, made for this ciphertext at its level; returns the ciphertext's digest.</summary>
    internal static byte[] CheckCiphertextShares<T>(MultipartySession session, Ciphertext ciphertext, IReadOnlyCollection<T> shares, string what) where T : CiphertextShare
    {
        var digest = ShareDigests.Ciphertext(ciphertext);
        Check(session, shares, what);
        foreach (var s in shares)
            if (!s.CiphertextDigest.AsSpan().SequenceEqual(digest) || s.Level != ciphertext.Level)
                throw new ShareMismatchException($"Party {s.Party}'s {what} share belongs to another ciphertext.");
        return digest;
    }

    /// <summary>
    /// Threshold shares of this session and ciphertext that name one dealing round, t and set T, exactly T's members each
    /// once, and at least t of them; returns the ciphertext's digest.
    /// </summary>
    internal static byte[] CheckThresholdShares<T>(MultipartySession session, Ciphertext ciphertext, IReadOnlyCollection<T> shares, string what) where T : ThresholdCiphertextShare
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(shares);
        var digest = ShareDigests.Ciphertext(ciphertext);
        if (shares.Count == 0) throw new ThresholdNotMetException("No shares.");
        foreach (var s in shares) ArgumentNullException.ThrowIfNull(s, nameof(shares));
        var first = shares.First();
        var set = ThresholdParty.CheckSet(session, first.Threshold, first.Active.ToArray());
        var senders = new HashSet<int>();
        foreach (var s in shares)
        {
            if (!s.SessionId.AsSpan().SequenceEqual(session.Id)) throw new ShareMismatchException($"Party {s.Party}'s share belongs to another session.");
            if (!s.CiphertextDigest.AsSpan().SequenceEqual(digest) || s.Level != ciphertext.Level) throw new ShareMismatchException($"Party {s.Party}'s {what} share belongs to another ciphertext.");
            if (s.Threshold != first.Threshold || !s.Active.SequenceEqual(set) || !s.RoundId.AsSpan().SequenceEqual(first.RoundId)) throw new ShareMismatchException($"Party {s.Party}'s share was made for another set of parties, threshold or dealing round.");
            if (!senders.Add(s.Party)) throw new ShareMismatchException($"Party {s.Party} sent two shares (a replay is not summed twice).");
        }
        if (!senders.SetEquals(set)) throw new ShareMismatchException($"The shares come from parties {string.Join(", ", senders.Order())} but name the set {string.Join(", ", set)}.");
        return digest;
    }

    private static void Check<T>(MultipartySession session, IReadOnlyCollection<T> shares, string what) where T : Share
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(shares);
        var seen = new bool[session.Parties];
        foreach (var s in shares)
        {
            ArgumentNullException.ThrowIfNull(s, nameof(shares));
            if (!s.SessionId.AsSpan().SequenceEqual(session.Id)) throw new ShareMismatchException($"A {what} share from party {s.Party} belongs to another session.");
            if (s.Party < 0 || s.Party >= session.Parties) throw new ShareMismatchException($"A {what} share names party {s.Party}, outside 0 … {session.Parties - 1}.");
            if (seen[s.Party]) throw new ShareMismatchException($"Party {s.Party} sent two {what} shares (a replay is not summed twice).");
            seen[s.Party] = true;
        }
        int missing = seen.Count(x => !x);
        if (missing > 0)
            throw new ShareMismatchException($"{missing} of {session.Parties} parties have not sent their {what} share (parties {string.Join(", ", Enumerable.Range(0, session.Parties).Where(i => !seen[i]).Take(8))}…); every party is needed.");
    }

    private static void CheckDigits(IEnumerable<int> counts, int digits)
    {
        if (counts.Any(c => c != digits)) throw new ShareMismatchException($"Key shares of these parameters have {digits} digits.");
    }

    private static RnsPolynomial Sum(MultipartySession session, IEnumerable<RnsPolynomial> polys, int limbs)
    {
        var ring = session.Parameters.Ring;
        int n = ring.N;
        var sum = new RnsPolynomial(n, limbs);
        foreach (var p in polys)
        {
            if (p.LimbCount != limbs || p.N != n) throw new ShareMismatchException($"A share polynomial has {p.LimbCount} limbs of degree {p.N}; {limbs} of degree {n} expected.");
            ring.Add(sum.Data, p.Data, sum.Data, 0, limbs);
        }
        return sum;
    }
}
