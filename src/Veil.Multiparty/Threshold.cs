using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;
using Veil.Rlwe;

namespace Veil.Multiparty;

/// <summary>
/// One dealer's Shamir share of its key share for one recipient: f_i(x_j) with x_j = j + 1. Secret: it travels only
/// sealed (<see cref="MultipartySerializer.Save(ThresholdDealing, Veil.Serialization.ISecretProtector)"/>). Dispose it to wipe it.
/// </summary>
public sealed class ThresholdDealing : IDisposable
{
    internal ThresholdDealing(byte[] sessionId, byte[] roundId, int dealer, int recipient, int threshold, SecretPolynomial share)
    {
        SessionId = sessionId;
        RoundId = roundId;
        Dealer = dealer;
        Recipient = recipient;
        Threshold = threshold;
        Share = share;
    }

    /// <summary>The session.</summary>
    public byte[] SessionId { get; }
    /// <summary>The dealing round (SHA-256 of the session, the threshold and the round's name): dealings of two rounds do not mix.</summary>
    public byte[] RoundId { get; }
    /// <summary>The party that dealt it.</summary>
    public int Dealer { get; }
    /// <summary>The party it is for.</summary>
    public int Recipient { get; }
    /// <summary>t: how many parties must take part in a decryption.</summary>
    public int Threshold { get; }
    internal SecretPolynomial Share { get; }

    /// <summary>Wipes the share.</summary>
    public void Dispose() => Share.Dispose();
}

/// <summary>A threshold decryption share: (λ_j·s'_j)·c_1 + z_j for the set of parties taking part, which it names.</summary>
public sealed class ThresholdDecryptionShare : ThresholdCiphertextShare
{
    internal ThresholdDecryptionShare(RlweParameters parameters, byte[] sessionId, int party, byte[] roundId, int threshold, int[] active, byte[] ciphertextDigest, int level, RnsPolynomial h, double floodingBits)
        : base(parameters, sessionId, party, roundId, threshold, active, ciphertextDigest, level)
    {
        H = h;
        FloodingBits = floodingBits;
    }
    /// <summary>The share over Q_level.</summary>
    public RnsPolynomial H { get; }
    /// <summary>log2 of the flooding deviation added.</summary>
    public double FloodingBits { get; }
}

/// <summary>Fewer parties than the threshold took part: their shares sum to noise that hides the plaintext entirely, so nothing is decrypted.</summary>
public sealed class ThresholdNotMetException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ThresholdNotMetException(string message) : base(message) { }
}

/// <summary>
/// A party's threshold share s'_j = Σ_i f_i(x_j) of the collective secret, from every dealer's dealing for it. Any t
/// such shares, each weighted by its Lagrange coefficient for the set taking part, sum to s; the set is chosen per
/// decryption, so up to n − t parties may drop out after key generation. Dispose it to wipe the share.
/// </summary>
public sealed class ThresholdParty : IDisposable
{
    private readonly SecretPolynomial _share;
    private readonly DecryptionBudget _budget; // the party's own key-share budget: one count for every way s_i is used

    private ThresholdParty(MultipartySession session, int index, int threshold, byte[] roundId, SecretPolynomial share, DecryptionBudget budget)
    {
        RoundId = roundId;
        Session = session;
        Index = index;
        Threshold = threshold;
        _share = share;
        _budget = budget;
    }

    internal DecryptionBudget Budget => _budget;

    /// <summary>The dealing round this share comes from.</summary>
    public byte[] RoundId { get; }

    /// <summary>The session.</summary>
    public MultipartySession Session { get; }
    /// <summary>This party's number.</summary>
    public int Index { get; }
    /// <summary>t.</summary>
    public int Threshold { get; }
    /// <summary>Decryption shares this party will still make.</summary>
    public int DecryptionsRemaining => _budget.Remaining;

    /// <summary>
    /// <paramref name="self"/>'s threshold share from the dealings of every party for it. Its decryption shares count
    /// against <paramref name="self"/>'s budget (saved with the party's state), so combining again does not reset it.
    /// </summary>
    /// <exception cref="ShareMismatchException">A dealing for another party, session or threshold, a dealer twice, or a dealer missing.</exception>
    public static ThresholdParty Combine(MultipartyParty self, IReadOnlyCollection<ThresholdDealing> dealings)
    {
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(dealings);
        var session = self.Session;
        int index = self.Index;
        foreach (var d in dealings) ArgumentNullException.ThrowIfNull(d, nameof(dealings));
        var seen = new bool[session.Parties];
        int threshold = dealings.FirstOrDefault()?.Threshold ?? 0;
        var roundId = dealings.FirstOrDefault()?.RoundId ?? [];
        foreach (var d in dealings)
        {
            if (!d.SessionId.AsSpan().SequenceEqual(session.Id)) throw new ShareMismatchException($"Dealer {d.Dealer}'s dealing belongs to another session.");
            if (d.Recipient != index) throw new ShareMismatchException($"Dealer {d.Dealer}'s dealing is for party {d.Recipient}, not {index}.");
            if (d.Threshold != threshold) throw new ShareMismatchException("The dealings disagree on the threshold.");
            if (!d.RoundId.AsSpan().SequenceEqual(roundId)) throw new ShareMismatchException($"Dealer {d.Dealer}'s dealing belongs to another dealing round.");
            if (d.Dealer < 0 || d.Dealer >= session.Parties || seen[d.Dealer]) throw new ShareMismatchException($"Dealer {d.Dealer} appears twice or is outside the session.");
            seen[d.Dealer] = true;
        }
        if (seen.Any(x => !x)) throw new ShareMismatchException($"Dealings from {seen.Count(x => !x)} of {session.Parties} dealers are missing.");
        return new ThresholdParty(session, index, threshold, roundId, SecretPolynomial.Sum(dealings.Select(d => d.Share).ToArray()), self.Budget);
    }

    /// <summary>This party's flooded share of decrypting <paramref name="ciphertext"/> with the parties <paramref name="active"/> (this one among them).</summary>
    /// <exception cref="ThresholdNotMetException">Fewer than t parties in the set.</exception>
    /// <exception cref="DecryptionBudgetExhaustedException">The budget is spent.</exception>
    public ThresholdDecryptionShare CreateDecryptionShare(Ciphertext ciphertext, IReadOnlyCollection<int> active, FloodingPolicy? policy = null)
    {
        var set = CheckSet(Session, Threshold, active);
        if (Array.IndexOf(set, Index) < 0) throw new ArgumentException($"Party {Index} is not in the set taking part.", nameof(active));
        MultipartyParty.CheckCiphertext(Session, ciphertext);
        var digest = ShareDigests.Ciphertext(ciphertext);
        double sigmaBits = MultipartyParty.CheckFlooding(Session, ciphertext, policy, _budget);
        var lambda = LagrangeAtZero(Session.Parameters, set, Index);
        var h = SecretProducts.MultiplyAddNoise(_share, lambda, ciphertext.Poly(1), ciphertext.Level + 1, Math.Pow(2, sigmaBits));
        return new ThresholdDecryptionShare(Session.Parameters, Session.Id, Index, RoundId, Threshold, set, digest, ciphertext.Level, h, sigmaBits);
    }

    // λ_j·s'_j for the set (the caller disposes it).
    internal SecretPolynomial Weighted(int[] set) => _share.MultiplyScalar(LagrangeAtZero(Session.Parameters, set, Index));

    /// <summary>The id a dealing round named <paramref name="round"/> with threshold t carries (an aggregator checks shares against it).</summary>
    public static byte[] DealingRoundId(MultipartySession session, int threshold, string round = "")
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(round);
        return RoundIdFor(session, threshold, round);
    }

    internal static byte[] RoundIdFor(MultipartySession session, int threshold, string round)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        hash.AppendData("veil/multiparty/dealing-round"u8);
        hash.AppendData(session.Id);
        Span<byte> t = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(t, threshold);
        hash.AppendData(t);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(round));
        return hash.GetHashAndReset();
    }

    internal static int[] CheckSet(MultipartySession session, int threshold, IReadOnlyCollection<int> active)
    {
        ArgumentNullException.ThrowIfNull(active);
        var set = active.Distinct().Order().ToArray();
        if (set.Length != active.Count) throw new ArgumentException("A party appears twice in the set.", nameof(active));
        foreach (int j in set) session.CheckParty(j, nameof(active));
        if (set.Length < threshold)
            throw new ThresholdNotMetException($"{set.Length} parties take part but the threshold is {threshold}: below it the shares sum to noise as large as Q, so nothing is decrypted.");
        return set;
    }

    /// <summary>λ_j = Π_(k ≠ j) x_k / (x_k − x_j) modulo each prime, x = party + 1.</summary>
    internal static ulong[] LagrangeAtZero(RlweParameters parameters, int[] set, int j)
    {
        var moduli = parameters.Ring.Moduli;
        var result = new ulong[moduli.Count];
        for (int l = 0; l < moduli.Count; l++)
        {
            var m = moduli[l];
            ulong num = 1, den = 1, xj = (ulong)(j + 1);
            foreach (int k in set)
            {
                if (k == j) continue;
                ulong xk = (ulong)(k + 1);
                num = m.Mul(num, xk);
                den = m.Mul(den, m.Sub(xk, xj));
            }
            result[l] = m.Mul(num, m.Inverse(den));
        }
        return result;
    }

    /// <summary>Wipes the share.</summary>
    public void Dispose() => _share.Dispose();
}
