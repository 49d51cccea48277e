using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;
using Veil.Rlwe;

namespace Veil.Multiparty;

/// <summary>
/// One party of a <see cref="MultipartySession"/>: it holds its share s_i of the collective secret s = Σ s_i (never
/// sent anywhere) and produces its shares of the collective keys and of decryptions. Dispose it to wipe the share.
/// </summary>
/// <remarks>
/// What leaves the party: key-generation shares are RLWE samples (s_i hidden by fresh noise under the common a);
/// a decryption or key-switching share is s_i·c_1 plus flooding noise sized by <see cref="FloodingPolicy"/>, counted
/// against the party's decryption budget and refused once it is spent.
/// </remarks>
public sealed class MultipartyParty : IDisposable
{
    private readonly SecretKey _share;
    private SecretKey? _ephemeral; // u_i between the two relinearization rounds
    // Each key-generation share is made once: a second sample under the same public a would let its noise be averaged
    // away. Made shares are kept for re-sending; the flags travel in the saved state so a restarted party refuses too.
    private PublicKeyShare? _publicKeyShare;
    private RelinearizationShare1? _round1Share;
    private RelinearizationShare2? _round2Share;
    private readonly Dictionary<ulong, GaloisKeyShare> _galoisShares = [];
    private bool _publicKeyMade, _round1Made, _round2Made;
    private readonly HashSet<ulong> _galoisMade = [];

    /// <summary>Party <paramref name="index"/> of <paramref name="session"/>, with a fresh share and a budget of <paramref name="decryptionBudget"/> decryption shares.</summary>
    public MultipartyParty(MultipartySession session, int index, int decryptionBudget = DecryptionBudget.DefaultLimit)
    {
        ArgumentNullException.ThrowIfNull(session);
        session.CheckParty(index, nameof(index));
        Session = session;
        Index = index;
        _share = new KeyGenerator(session.Parameters, decryptionBudget).SecretKey;
    }

    private MultipartyParty(MultipartySession session, int index, SecretKey share, SecretKey? ephemeral, byte flags, IEnumerable<ulong> galoisMade)
    {
        Session = session;
        Index = index;
        _share = share;
        _ephemeral = ephemeral;
        _publicKeyMade = (flags & 1) != 0;
        _round1Made = (flags & 2) != 0;
        _round2Made = (flags & 4) != 0;
        _galoisMade.UnionWith(galoisMade);
    }

    /// <summary>The party's state (its key share, with its budget, and an ephemeral key between relinearization rounds) sealed by <paramref name="protector"/>.</summary>
    public byte[] Save(Veil.Serialization.ISecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(protector);
        var share = Veil.Rlwe.Serialization.RlweSerializer.SaveUnprotected(_share);
        var ephemeral = _ephemeral is null ? [] : Veil.Rlwe.Serialization.RlweSerializer.SaveUnprotected(_ephemeral);
        var payload = new byte[32 + 2 + 4 + share.Length + 4 + ephemeral.Length + 1 + 4 + 8 * _galoisMade.Count];
        try
        {
            var w = new Veil.Serialization.PayloadWriter(payload);
            w.WriteBytes(Session.Id);
            w.WriteUInt16((ushort)Index);
            w.WriteInt32(share.Length);
            w.WriteBytes(share);
            w.WriteInt32(ephemeral.Length);
            w.WriteBytes(ephemeral);
            w.WriteByte((byte)((_publicKeyMade ? 1 : 0) | (_round1Made ? 2 : 0) | (_round2Made ? 4 : 0)));
            w.WriteInt32(_galoisMade.Count);
            foreach (var g in _galoisMade.Order()) w.WriteUInt64(g);
            w.EnsureFull();
            var packed = Veil.Serialization.VeilEnvelope.Pack(MultipartySerializer.PartyStateType, Session.Parameters.Hash.Span, payload, Veil.Serialization.Compression.None, sensitive: true);
            try { return protector.Protect(packed, MultipartySerializer.PartyStateType); }
            finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(packed); }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(payload);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(share);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(ephemeral);
        }
    }

    /// <summary>A party's state from <see cref="Save"/>, for <paramref name="session"/>.</summary>
    /// <exception cref="Veil.Serialization.VeilFormatException">Bad bytes inside the seal, or the state of another session.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">The protector cannot open it.</exception>
    public static MultipartyParty Load(MultipartySession session, ReadOnlySpan<byte> sealedBytes, Veil.Serialization.ISecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(protector);
        var opened = protector.Unprotect(sealedBytes, MultipartySerializer.PartyStateType);
        try
        {
            var payload = Veil.Serialization.VeilEnvelope.Unpack(opened, MultipartySerializer.PartyStateType, session.Parameters.Hash.Span, default, null, 1L << 26, out var decompressed, out _, sensitive: true);
            var r = new Veil.Serialization.PayloadReader(payload);
            if (!r.ReadBytes(32, "session").SequenceEqual(session.Id)) throw new Veil.Serialization.VeilFormatException("session", "The party state belongs to another session.");
            int index = r.ReadUInt16("party");
            if (index >= session.Parties) throw new Veil.Serialization.VeilFormatException("party", $"Party {index} is outside the session.");
            SecretKey? share = null, ephemeral = null;
            try
            {
                share = Veil.Rlwe.Serialization.RlweSerializer.LoadSecretKey(r.ReadBytes(r.ReadCount("share", 1, 1 << 25), "share"), session.Parameters);
                int ephemeralLength = r.ReadCount("ephemeral", 0, 1 << 25);
                ephemeral = ephemeralLength == 0 ? null : Veil.Rlwe.Serialization.RlweSerializer.LoadSecretKey(r.ReadBytes(ephemeralLength, "ephemeral"), session.Parameters);
                byte flags = r.ReadByte("flags");
                int galoisCount = r.ReadCount("galoisMade", 0, 1 << 16);
                var galois = new ulong[galoisCount];
                for (int i = 0; i < galoisCount; i++) galois[i] = r.ReadUInt64("galoisMade");
                r.EnsureEnd("partyState");
                return new MultipartyParty(session, index, share, ephemeral, flags, galois);
            }
            catch
            {
                share?.Dispose();
                ephemeral?.Dispose();
                throw;
            }
            finally { if (decompressed is not null) System.Security.Cryptography.CryptographicOperations.ZeroMemory(decompressed); }
        }
        finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(opened); }
    }

    /// <summary>The session.</summary>
    public MultipartySession Session { get; }
    /// <summary>This party's number.</summary>
    public int Index { get; }
    /// <summary>Threads for key generation (one for per-party timings).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;
    /// <summary>Decryption and key-switching shares this party will still make.</summary>
    public int DecryptionsRemaining => _share.ReleaseBudget.Remaining;

    private KeyGenerator Generator(SecretKey key) => new(Session.Parameters, key) { MaxDegreeOfParallelism = MaxDegreeOfParallelism };

    /// <summary>This party's share of the collective public key; <paramref name="reference"/>, when given, is the session's a expanded beforehand (<see cref="MultipartySession.ExpandPublicKeyReference"/>).</summary>
    /// <exception cref="InvalidOperationException">The share was made before (by a saved state) and is not held any more.</exception>
    /// <exception cref="ArgumentException"><paramref name="reference"/> is not this session's public-key a.</exception>
    public PublicKeyShare CreatePublicKeyShare(ExpandedReference? reference = null)
    {
        if (_publicKeyShare is not null) return _publicKeyShare;
        RefuseSecondSample(_publicKeyMade, "public-key");
        var seed = Session.Reference.PublicKeySeed();
        reference?.CheckFor(Session.Parameters, switchingKey: false, seed, nameof(reference));
        var b = reference is null ? Generator(_share).CreatePublicKeyB(seed) : Generator(_share).CreatePublicKeyB(reference);
        _publicKeyMade = true;
        return _publicKeyShare = new PublicKeyShare(Session.Parameters, Session.Id, Index, b);
    }

    private static void RefuseSecondSample(bool made, string what)
    {
        if (made)
            throw new InvalidOperationException($"This party already made its {what} share: a second one under the same public a would let its noise be averaged out. Re-send the saved share.");
    }

    /// <summary>Round 1 of the relinearization key; keeps an ephemeral key u_i until round 2. <paramref name="reference"/>, when given, is the session's a_i expanded beforehand (<see cref="MultipartySession.ExpandRelinearizationReference"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="reference"/> is not this session's relinearization a_i.</exception>
    public RelinearizationShare1 CreateRelinearizationShare1(ExpandedReference? reference = null)
    {
        if (_round1Share is not null) return _round1Share;
        RefuseSecondSample(_round1Made, "relinearization round-1");
        var seed = Session.Reference.RelinearizationKeySeed();
        reference?.CheckFor(Session.Parameters, switchingKey: true, seed, nameof(reference));
        _ephemeral?.Dispose();
        _ephemeral = new KeyGenerator(Session.Parameters).SecretKey;
        _round1Made = true;
        RnsPolynomial[] h0, h1;
        if (reference is null)
        {
            var (b, a) = Generator(_ephemeral).CreateSwitchingKeyParts(_share, seed);
            h0 = b;
            h1 = [.. a.Select(aj => SecretProducts.MultiplyAddNoise(_share, aj))];
        }
        else
        {
            h0 = Generator(_ephemeral).CreateSwitchingKeyB(_share, reference);
            h1 = new RnsPolynomial[h0.Length];
            for (int j = 0; j < h0.Length; j++) h1[j] = SecretProducts.MultiplyAddNoise(_share, reference[j], Session.Parameters.Ring.LimbCount);
        }
        return _round1Share = new RelinearizationShare1(Session.Parameters, Session.Id, Index, h0, h1);
    }

    /// <summary>Round 2 of the relinearization key, from the sums of round 1; the ephemeral key is wiped afterwards.</summary>
    /// <exception cref="InvalidOperationException">Round 1 was not made by this party.</exception>
    /// <exception cref="ShareMismatchException">The sums belong to another session.</exception>
    public RelinearizationShare2 CreateRelinearizationShare2(RelinearizationRound1 round1)
    {
        ArgumentNullException.ThrowIfNull(round1);
        if (!round1.SessionId.AsSpan().SequenceEqual(Session.Id)) throw new ShareMismatchException("The round-1 sums belong to another session.");
        if (_round2Share is not null && _round2Share.Round1Digest.AsSpan().SequenceEqual(round1.Digest)) return _round2Share;
        // Round 2 is made once: with the ephemeral key gone, other sums cannot be answered (each answer is a sample of s_i).
        if (_round2Made) throw new InvalidOperationException("This party already made its round-2 share (for other round-1 sums, or before its state was saved).");
        var u = _ephemeral ?? throw new InvalidOperationException("Round 2 needs this party's round 1 first.");
        try
        {
            int digits = round1.H0.Count;
            var h0 = new RnsPolynomial[digits];
            for (int j = 0; j < digits; j++) h0[j] = SecretProducts.MultiplyAddNoise(_share, round1.H0[j]);
            var h1 = SecretProducts.MultiplyDifferenceAddNoise(u, _share, round1.H1);
            _round2Made = true;
            return _round2Share = new RelinearizationShare2(Session.Parameters, Session.Id, Index, round1.Digest, h0, h1);
        }
        finally
        {
            u.Dispose();
            _ephemeral = null;
        }
    }

    /// <summary>This party's share of the collective Galois key for <paramref name="galoisElement"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="reference"/> is not this session's a_i for the element.</exception>
    public GaloisKeyShare CreateGaloisKeyShare(ulong galoisElement, ExpandedReference? reference = null)
    {
        if (_galoisShares.TryGetValue(galoisElement, out var made)) return made;
        RefuseSecondSample(_galoisMade.Contains(galoisElement), $"Galois-key ({galoisElement})");
        var seed = Session.Reference.GaloisKeySeed(galoisElement);
        reference?.CheckFor(Session.Parameters, switchingKey: true, seed, nameof(reference));
        var b = reference is null ? Generator(_share).CreateGaloisKeyB(galoisElement, seed) : Generator(_share).CreateGaloisKeyB(galoisElement, reference);
        _galoisMade.Add(galoisElement);
        return _galoisShares[galoisElement] = new GaloisKeyShare(Session.Parameters, Session.Id, Index, galoisElement, b);
    }

    /// <summary>
    /// Shamir shares of this party's key share for a <paramref name="threshold"/>-of-n group, one dealing per party
    /// (this one included), each to be sent sealed to its recipient.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A threshold outside [1, n].</exception>
    /// <param name="threshold">t.</param>
    /// <param name="round">A name for this dealing round, the same for every dealer (dealings of two rounds are refused together).</param>
    public ThresholdDealing[] DealThresholdShares(int threshold, string round = "")
    {
        ArgumentNullException.ThrowIfNull(round);
        if (threshold < 1 || threshold > Session.Parties) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"The threshold is 1 … {Session.Parties}.");
        var points = Enumerable.Range(1, Session.Parties).Select(x => (ulong)x).ToArray();
        var shares = SecretPolynomial.Share(_share, threshold, points);
        var roundId = ThresholdParty.RoundIdFor(Session, threshold, round);
        return [.. shares.Select((s, j) => new ThresholdDealing(Session.Id, roundId, Index, j, threshold, s))];
    }

    /// <summary>This party's flooded share of the decryption of <paramref name="ciphertext"/> (size 2, NTT form).</summary>
    /// <exception cref="DecryptionBudgetExhaustedException">The party's budget is spent.</exception>
    /// <exception cref="InvalidOperationException">The flooding noise would not fit below Q_ℓ at the ciphertext's level.</exception>
    public DecryptionShare CreateDecryptionShare(Ciphertext ciphertext, FloodingPolicy? policy = null)
    {
        CheckCiphertext(Session, ciphertext);
        var digest = ShareDigests.Ciphertext(ciphertext);
        double sigmaBits = Flooding(ciphertext, policy);
        var h = SecretProducts.MultiplyAddNoise(_share, C1(ciphertext), ciphertext.Level + 1, Math.Pow(2, sigmaBits));
        return new DecryptionShare(Session.Parameters, Session.Id, Index, digest, ciphertext.Level, h, sigmaBits);
    }

    /// <summary>This party's flooded share of re-encrypting <paramref name="ciphertext"/> to <paramref name="recipient"/> (nobody decrypts; the recipient alone can).</summary>
    /// <exception cref="DecryptionBudgetExhaustedException">The party's budget is spent.</exception>
    public KeySwitchShare CreateKeySwitchShare(Ciphertext ciphertext, PublicKey recipient, FloodingPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        if (!recipient.Parameters.SameRingAs(Session.Parameters)) throw new ArgumentException("The recipient's key belongs to other parameters.", nameof(recipient));
        CheckCiphertext(Session, ciphertext);
        var digest = ShareDigests.Ciphertext(ciphertext);
        double sigmaBits = Flooding(ciphertext, policy);
        int limbs = ciphertext.Level + 1, n = Session.Parameters.N;
        var p0 = new RnsPolynomial(n, limbs, recipient.GetB().Data.AsSpan(0, limbs * n));
        var p1 = new RnsPolynomial(n, limbs, recipient.GetA().Data.AsSpan(0, limbs * n));
        using var u = new KeyGenerator(Session.Parameters).SecretKey;
        var h0 = SecretProducts.MultiplyAddNoise(_share, C1(ciphertext), limbs, Math.Pow(2, sigmaBits));
        var up0 = SecretProducts.MultiplyAddNoise(u, p0);
        Session.Parameters.Ring.Add(h0.Data, up0.Data, h0.Data, 0, limbs);
        var h1 = SecretProducts.MultiplyAddNoise(u, p1);
        return new KeySwitchShare(Session.Parameters, Session.Id, Index, digest, ShareDigests.PublicKey(recipient), ciphertext.Level, h0, h1, sigmaBits);
    }

    // s_i·x + e with noise of deviation σ, for the refresh protocol of this layer.
    internal RnsPolynomial MultiplyShare(RnsPolynomial x, double sigma) => SecretProducts.MultiplyAddNoise(_share, x, sigma);

    // Tests only: a share with key-generation noise instead of flooding, to measure the collective keys' own precision.
    internal DecryptionShare CreateDecryptionShareUnflooded(Ciphertext ciphertext) =>
        new(Session.Parameters, Session.Id, Index, ShareDigests.Ciphertext(ciphertext), ciphertext.Level, SecretProducts.MultiplyAddNoise(_share, C1(ciphertext), ciphertext.Level + 1), Math.Log2(Samplers.Sigma));

    /// <summary>A ciphertext of this session's parameters, size 2, NTT form (checked before any budget is spent).</summary>
    internal static void CheckCiphertext(MultipartySession session, Ciphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        if (!ciphertext.Parameters.SameRingAs(session.Parameters) || ciphertext.Level > session.Parameters.MaxLevel)
            throw new ArgumentException("The ciphertext belongs to other parameters.", nameof(ciphertext));
        if (ciphertext.Size != 2 || !ciphertext.IsNttForm) throw new ArgumentException("Collective decryption takes relinearized ciphertexts (size 2) in NTT form.", nameof(ciphertext));
    }

    // The budget this party's key share counts against (also by its threshold share and its refresh shares).
    internal DecryptionBudget Budget => _share.ReleaseBudget;

    // c_1 in place (the products check that it is reduced); copying it cost a tenth of a decryption share.
    private ReadOnlySpan<ulong> C1(Ciphertext ciphertext)
    {
        if (!ciphertext.Parameters.SameRingAs(Session.Parameters)) throw new ArgumentException("The ciphertext belongs to other parameters.", nameof(ciphertext));
        return ciphertext.Poly(1);
    }

    private double Flooding(Ciphertext ciphertext, FloodingPolicy? policy) => CheckFlooding(Session, ciphertext, policy, _share.ReleaseBudget);

    // σ from the policy and the budget; the room it needs is checked before the budget is spent.
    internal static double CheckFlooding(MultipartySession Session, Ciphertext ciphertext, FloodingPolicy? policy, DecryptionBudget budget)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        policy ??= FloodingPolicy.Default;
        policy.Validate();
        double sigmaBits = policy.SigmaBits(budget.Limit);
        double logQ = 0;
        for (int j = 0; j <= ciphertext.Level; j++) logQ += Math.Log2(Session.Parameters.Q[j]);
        // The sum of n floods, six deviations, and the message below it must stay under Q_ℓ/2 with room to spare.
        double needed = sigmaBits + Math.Log2(6) + 0.5 * Math.Log2(Session.Parties) + 2;
        if (sigmaBits > Math.Log2(Samplers.MaxWideSigma) || needed >= logQ - 1)
            throw new InvalidOperationException($"Flooding of 2^{sigmaBits:F1} from {Session.Parties} parties needs about 2^{needed:F1} of room, but Q at level {ciphertext.Level} is 2^{logQ:F1}: decrypt at a higher level or with a smaller budget.");
        if (!budget.TryConsume()) throw new DecryptionBudgetExhaustedException(budget.Limit);
        return sigmaBits;
    }

    /// <summary>Wipes the share (and an ephemeral key between rounds).</summary>
    public void Dispose()
    {
        _ephemeral?.Dispose();
        _ephemeral = null;
        _share.Dispose();
    }
}
