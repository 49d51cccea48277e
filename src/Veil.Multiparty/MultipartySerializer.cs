using Veil.Arithmetic;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Multiparty;

/// <summary>
/// Shares and round-1 sums on the wire, in the Veil envelope under the parameters' hash. Loaders take the session and
/// check everything against it (session id, party range, digit counts, levels, Galois elements, every residue below its
/// prime) before a share can reach aggregation; bad bytes raise only <see cref="VeilFormatException"/>.
/// </summary>
public static class MultipartySerializer
{
    /// <summary>A public-key share.</summary>
    public static ObjectType PublicKeyShareType { get; } = ObjectTypes.Register(Schemes.Multiparty, 1, "PublicKeyShare");
    /// <summary>A round-1 relinearization share.</summary>
    public static ObjectType RelinearizationShare1Type { get; } = ObjectTypes.Register(Schemes.Multiparty, 2, "RelinearizationShare1");
    /// <summary>The round-1 sums.</summary>
    public static ObjectType RelinearizationRound1Type { get; } = ObjectTypes.Register(Schemes.Multiparty, 3, "RelinearizationRound1");
    /// <summary>A round-2 relinearization share.</summary>
    public static ObjectType RelinearizationShare2Type { get; } = ObjectTypes.Register(Schemes.Multiparty, 4, "RelinearizationShare2");
    /// <summary>A Galois-key share.</summary>
    public static ObjectType GaloisKeyShareType { get; } = ObjectTypes.Register(Schemes.Multiparty, 5, "GaloisKeyShare");
    /// <summary>A decryption share.</summary>
    public static ObjectType DecryptionShareType { get; } = ObjectTypes.Register(Schemes.Multiparty, 6, "DecryptionShare");
    /// <summary>A public-key-switching share.</summary>
    public static ObjectType KeySwitchShareType { get; } = ObjectTypes.Register(Schemes.Multiparty, 7, "KeySwitchShare");

    /// <summary>A threshold dealing (secret: sealed by an ISecretProtector).</summary>
    public static ObjectType ThresholdDealingType { get; } = ObjectTypes.Register(Schemes.Multiparty, 8, "ThresholdDealing");
    /// <summary>A threshold decryption share.</summary>
    public static ObjectType ThresholdDecryptionShareType { get; } = ObjectTypes.Register(Schemes.Multiparty, 9, "ThresholdDecryptionShare");

    /// <summary>A collective relinearization key (its a part is the round-1 sum, not a seed, so it is saved whole).</summary>
    public static ObjectType CollectiveRelinearizationKeyType { get; } = ObjectTypes.Register(Schemes.Multiparty, 10, "CollectiveRelinearizationKey");

    /// <summary>A party's sealed state.</summary>
    public static ObjectType PartyStateType { get; } = ObjectTypes.Register(Schemes.Multiparty, 11, "PartyState");
    /// <summary>A session (parameters, reference seed, party count, label, and the scheme's scale).</summary>
    public static ObjectType SessionType { get; } = ObjectTypes.Register(Schemes.Multiparty, 12, "Session");

    /// <summary>A refresh share.</summary>
    public static ObjectType RefreshShareType { get; } = ObjectTypes.Register(Schemes.Multiparty, 13, "RefreshShare");
    /// <summary>A threshold refresh share.</summary>
    public static ObjectType ThresholdRefreshShareType { get; } = ObjectTypes.Register(Schemes.Multiparty, 14, "ThresholdRefreshShare");

    private const int IdBytes = 32;

    /// <summary>Saves a refresh share (its decryption part over Q_level, its re-encryption part over Q).</summary>
    public static byte[] Save(RefreshShare share) => Pack(RefreshShareType, share, w => { w.WriteBytes(share.CiphertextDigest); w.WriteUInt16((ushort)share.Level); }, [share.H0, share.H1]);

    /// <summary>Loads a refresh share.</summary>
    public static RefreshShare LoadRefreshShare(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        var r = Open(data, RefreshShareType, session, limits, IdBytes + 2 + 2 * PolyBytes(session, session.Parameters.MaxLevel + 1), out var id, out int party);
        var digest = r.ReadBytes(IdBytes, "ciphertextDigest").ToArray();
        int level = ReadLevel(ref r, session);
        bool packed = Layout(ref r, session.Parameters, [level + 1, session.Parameters.MaxLevel + 1], "refreshShare");
        var h0 = ReadPoly(ref r, session.Parameters, level + 1, "h0", packed);
        var h1 = ReadPoly(ref r, session.Parameters, session.Parameters.MaxLevel + 1, "h1", packed);
        r.EnsureEnd("refreshShare");
        return new RefreshShare(session.Parameters, id, party, digest, level, h0, h1);
    }

    /// <summary>Saves a threshold refresh share.</summary>
    public static byte[] Save(ThresholdRefreshShare share) => Pack(ThresholdRefreshShareType, share, w => { WriteThresholdHeader(w, share); }, [share.H0, share.H1]);

    /// <summary>Loads a threshold refresh share.</summary>
    public static ThresholdRefreshShare LoadThresholdRefreshShare(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        var r = Open(data, ThresholdRefreshShareType, session, limits, IdBytes + 6 + 2 * session.Parties + IdBytes + 2 + 2 * PolyBytes(session, session.Parameters.MaxLevel + 1), out var id, out int party);
        var (roundId, threshold, active, digest, level) = ReadThresholdHeader(ref r, session, party);
        bool packed = Layout(ref r, session.Parameters, [level + 1, session.Parameters.MaxLevel + 1], "thresholdRefreshShare");
        var h0 = ReadPoly(ref r, session.Parameters, level + 1, "h0", packed);
        var h1 = ReadPoly(ref r, session.Parameters, session.Parameters.MaxLevel + 1, "h1", packed);
        r.EnsureEnd("thresholdRefreshShare");
        return new ThresholdRefreshShare(session.Parameters, id, party, roundId, threshold, active, digest, level, h0, h1);
    }

    // Round id ‖ t ‖ set (count u32, then u16 each) ‖ ciphertext digest ‖ level.
    private static void WriteThresholdHeader(PayloadWriterBox w, ThresholdCiphertextShare share)
    {
        w.WriteBytes(share.RoundId);
        w.WriteUInt16((ushort)share.Threshold);
        w.WriteUInt32((uint)share.Active.Count);
        foreach (int a in share.Active) w.WriteUInt16((ushort)a);
        w.WriteBytes(share.CiphertextDigest);
        w.WriteUInt16((ushort)share.Level);
    }

    private static (byte[] RoundId, int Threshold, int[] Active, byte[] Digest, int Level) ReadThresholdHeader(ref PayloadReader r, MultipartySession session, int party)
    {
        var roundId = r.ReadBytes(IdBytes, "roundId").ToArray();
        int threshold = r.ReadUInt16("threshold");
        if (threshold < 1 || threshold > session.Parties) throw new VeilFormatException("threshold", $"Threshold {threshold} outside 1 … {session.Parties}.");
        int count = r.ReadCount("active", threshold, session.Parties);
        var active = new int[count];
        for (int i = 0; i < count; i++)
        {
            active[i] = r.ReadUInt16("active");
            if (active[i] >= session.Parties || (i > 0 && active[i] <= active[i - 1])) throw new VeilFormatException("active", "The set of parties must be ascending, without repeats, inside the session.");
        }
        if (Array.IndexOf(active, party) < 0) throw new VeilFormatException("active", $"Party {party} is not in the set it names.");
        var digest = r.ReadBytes(IdBytes, "ciphertextDigest").ToArray();
        int level = ReadLevel(ref r, session);
        return (roundId, threshold, active, digest, level);
    }

    /// <summary>The session's public description, with the CKKS scale its parties encode at (0 when none).</summary>
    public static byte[] Save(MultipartySession session, double logDefaultScale)
    {
        ArgumentNullException.ThrowIfNull(session);
        var parameters = RlweSerializer.Save(session.Parameters);
        var payload = new byte[4 + parameters.Length + 32 + 2 + 8 + PayloadWriter.StringBytes(session.Label)];
        var w = new PayloadWriter(payload);
        w.WriteInt32(parameters.Length);
        w.WriteBytes(parameters);
        w.WriteBytes(session.Reference.Seed.Span);
        w.WriteUInt16((ushort)session.Parties);
        w.WriteDouble(logDefaultScale);
        w.WriteString(session.Label);
        w.EnsureFull();
        return VeilEnvelope.Pack(SessionType, new byte[32], payload, Compression.None);
    }

    /// <summary>A session from <see cref="Save(MultipartySession, double)"/>; its parameters must be 128-bit.</summary>
    /// <exception cref="VeilFormatException">Bad bytes or parameters below 128-bit security.</exception>
    public static (MultipartySession Session, double LogDefaultScale) LoadSession(ReadOnlySpan<byte> data, SerializationLimits? limits = null)
    {
        var payload = VeilEnvelope.Unpack(data, SessionType, new byte[32], default, limits, 1 << 16, out _, out _);
        var r = new PayloadReader(payload);
        var parameters = RlweSerializer.LoadParameters(r.ReadBytes(r.ReadCount("parameters", 1, 1 << 15), "parameters"), limits);
        var seed = r.ReadBytes(32, "seed").ToArray();
        int parties = r.ReadUInt16("parties");
        if (parties < 2 || parties > MultipartySession.MaxParties) throw new VeilFormatException("parties", $"{parties} parties; a session has 2 … {MultipartySession.MaxParties}.");
        double logScale = r.ReadFiniteDouble("logDefaultScale");
        // Sums at a scale above one prime are fine (the federation's are at 2^80 over two 60-bit primes); the encoder's limit holds.
        if (!(logScale > 0 && logScale < Veil.Ckks.CkksParameters.MaxLogDefaultScale)) throw new VeilFormatException("logDefaultScale", $"{logScale} is not a scale.");
        string label = r.ReadString("label", 256);
        r.EnsureEnd("session");
        return (new MultipartySession(parameters, seed, parties, label), logScale);
    }

    /// <summary>A collective relinearization key: digit count ‖ b_0 … b_(d−1) ‖ a_0 … a_(d−1), under the parameters' hash.</summary>
    public static byte[] Save(RelinearizationKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var k = key.Key;
        var p = k.Parameters;
        var polys = Enumerable.Range(0, k.DigitCount).Select(k.GetB).Concat(Enumerable.Range(0, k.DigitCount).Select(k.GetA)).ToArray();
        var payload = new byte[2 + polys.Sum(x => PackedBytes(p, x))];
        var w = new PayloadWriter(payload);
        w.WriteUInt16((ushort)k.DigitCount);
        foreach (var x in polys) WritePoly(ref w, p, x);
        w.EnsureFull();
        return VeilEnvelope.Pack(CollectiveRelinearizationKeyType, p.Hash.Span, payload, Compression.None);
    }

    /// <summary>Loads a collective relinearization key for <paramref name="parameters"/>.</summary>
    /// <exception cref="VeilFormatException">Bad bytes, other parameters, a wrong digit count or a residue past its prime.</exception>
    public static RelinearizationKey LoadCollectiveRelinearizationKey(ReadOnlySpan<byte> data, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        int digits = parameters.MaxDigitCount, limbs = parameters.Ring.LimbCount, n = parameters.N;
        var payload = VeilEnvelope.Unpack(data, CollectiveRelinearizationKeyType, parameters.Hash.Span, default, limits, 2 + 2L * digits * limbs * n * 8, out _, out _);
        var r = new PayloadReader(payload);
        int d = r.ReadUInt16("digits");
        if (d != digits) throw new VeilFormatException("digits", $"{d} digits; keys of these parameters have {digits}.");
        bool packed = Layout(ref r, parameters, Enumerable.Repeat(limbs, 2 * digits), "relinearizationKey");
        var b = new RnsPolynomial[digits];
        var a = new RnsPolynomial[digits];
        for (int i = 0; i < 2 * digits; i++)
        {
            var x = ReadPoly(ref r, parameters, limbs, i < digits ? "b" : "a", packed);
            if (i < digits) b[i] = x; else a[i - digits] = x;
        }
        r.EnsureEnd("relinearizationKey");
        return new RelinearizationKey(KeySwitchingKey.FromPolynomials(parameters, b, a));
    }

    /// <summary>A dealing sealed for its recipient by <paramref name="protector"/> (it holds a Shamir share of a secret key).</summary>
    public static byte[] Save(ThresholdDealing dealing, ISecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(dealing);
        ArgumentNullException.ThrowIfNull(protector);
        var secret = GC.AllocateArray<byte>(dealing.Share.ByteCount, pinned: true);
        dealing.Share.CopyTo(secret);
        var payload = new byte[2 * IdBytes + 6 + secret.Length];
        try
        {
            var w = new PayloadWriter(payload);
            w.WriteBytes(dealing.SessionId);
            w.WriteBytes(dealing.RoundId);
            w.WriteUInt16((ushort)dealing.Dealer);
            w.WriteUInt16((ushort)dealing.Recipient);
            w.WriteUInt16((ushort)dealing.Threshold);
            w.WriteBytes(secret);
            w.EnsureFull();
            var packed = VeilEnvelope.Pack(ThresholdDealingType, dealing.Share.Parameters.Hash.Span, payload, Compression.None, sensitive: true);
            try { return protector.Protect(packed, ThresholdDealingType); }
            finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(packed); }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(secret);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(payload);
        }
    }

    /// <summary>Opens a sealed dealing of <paramref name="session"/>.</summary>
    /// <exception cref="VeilFormatException">Bad bytes inside the seal, another session, parties out of range.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">The protector cannot open it.</exception>
    public static ThresholdDealing LoadThresholdDealing(ReadOnlySpan<byte> sealedBytes, MultipartySession session, ISecretProtector protector, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(protector);
        var opened = protector.Unprotect(sealedBytes, ThresholdDealingType);
        try
        {
            var payload = VeilEnvelope.Unpack(opened, ThresholdDealingType, session.Parameters.Hash.Span, default, limits, 2 * IdBytes + 6 + PolyBytes(session, Full(session)), out var decompressed, out _, sensitive: true);
            var r = new PayloadReader(payload);
            var id = ReadSession(ref r, session);
            var roundId = r.ReadBytes(IdBytes, "roundId").ToArray();
            int dealer = r.ReadUInt16("dealer"), recipient = r.ReadUInt16("recipient"), threshold = r.ReadUInt16("threshold");
            if (dealer >= session.Parties || recipient >= session.Parties) throw new VeilFormatException("party", "A dealer or recipient outside the session.");
            if (threshold < 1 || threshold > session.Parties) throw new VeilFormatException("threshold", $"Threshold {threshold} outside 1 … {session.Parties}.");
            var secret = r.ReadBytes((int)PolyBytes(session, Full(session)), "share");
            r.EnsureEnd("thresholdDealing");
            SecretPolynomial share;
            try { share = SecretPolynomial.FromBytes(session.Parameters, secret); }
            catch (ArgumentException e) { throw new VeilFormatException("share", e.Message, e); }
            if (decompressed is not null) System.Security.Cryptography.CryptographicOperations.ZeroMemory(decompressed);
            return new ThresholdDealing(id, roundId, dealer, recipient, threshold, share);
        }
        finally { System.Security.Cryptography.CryptographicOperations.ZeroMemory(opened); }
    }

    /// <summary>Saves a threshold decryption share.</summary>
    public static byte[] Save(ThresholdDecryptionShare share) => Pack(ThresholdDecryptionShareType, share, w =>
    {
        WriteThresholdHeader(w, share);
        w.WriteDouble(share.FloodingBits);
    }, [share.H]);

    /// <summary>Loads a threshold decryption share.</summary>
    public static ThresholdDecryptionShare LoadThresholdDecryptionShare(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        var r = Open(data, ThresholdDecryptionShareType, session, limits, IdBytes + 6 + 2 * session.Parties + IdBytes + 2 + 8 + PolyBytes(session, session.Parameters.MaxLevel + 1), out var id, out int party);
        var (roundId, threshold, active, digest, level) = ReadThresholdHeader(ref r, session, party);
        double flooding = ReadFlooding(ref r);
        bool packed = Layout(ref r, session.Parameters, [level + 1], "thresholdDecryptionShare");
        var h = ReadPoly(ref r, session.Parameters, level + 1, "h", packed);
        r.EnsureEnd("thresholdDecryptionShare");
        return new ThresholdDecryptionShare(session.Parameters, id, party, roundId, threshold, active, digest, level, h, flooding);
    }

    /// <summary>Saves a share or the round-1 sums.</summary>
    public static byte[] Save(PublicKeyShare share) => Pack(PublicKeyShareType, share, w => { }, [share.B]);
    /// <summary>Saves a round-1 relinearization share.</summary>
    public static byte[] Save(RelinearizationShare1 share) => Pack(RelinearizationShare1Type, share, w => w.WriteUInt16((ushort)share.H0.Count), [.. share.H0, .. share.H1]);
    /// <summary>Saves a round-2 relinearization share.</summary>
    public static byte[] Save(RelinearizationShare2 share) => Pack(RelinearizationShare2Type, share, w => { w.WriteBytes(share.Round1Digest); w.WriteUInt16((ushort)share.H0.Count); }, [.. share.H0, .. share.H1]);
    /// <summary>Saves a Galois-key share.</summary>
    public static byte[] Save(GaloisKeyShare share) => Pack(GaloisKeyShareType, share, w => { w.WriteUInt64(share.GaloisElement); w.WriteUInt16((ushort)share.B.Count); }, [.. share.B]);
    /// <summary>Saves a decryption share.</summary>
    public static byte[] Save(DecryptionShare share) => Pack(DecryptionShareType, share, w => { w.WriteBytes(share.CiphertextDigest); w.WriteUInt16((ushort)share.Level); w.WriteDouble(share.FloodingBits); }, [share.H]);
    /// <summary>Saves a public-key-switching share.</summary>
    public static byte[] Save(KeySwitchShare share) => Pack(KeySwitchShareType, share, w => { w.WriteBytes(share.CiphertextDigest); w.WriteBytes(share.RecipientDigest); w.WriteUInt16((ushort)share.Level); w.WriteDouble(share.FloodingBits); }, [share.H0, share.H1]);

    /// <summary>Saves the round-1 sums.</summary>
    public static byte[] Save(RelinearizationRound1 round1, RlweParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(round1);
        ArgumentNullException.ThrowIfNull(parameters);
        var polys = round1.H0.Concat(round1.H1).ToArray();
        var payload = new byte[IdBytes + 2 + polys.Sum(p => PackedBytes(parameters, p))];
        var w = new PayloadWriter(payload);
        w.WriteBytes(round1.SessionId);
        w.WriteUInt16((ushort)round1.H0.Count);
        foreach (var p in polys) WritePoly(ref w, parameters, p);
        w.EnsureFull();
        return VeilEnvelope.Pack(RelinearizationRound1Type, parameters.Hash.Span, payload, Compression.None);
    }

    /// <summary>Loads a public-key share of <paramref name="session"/>.</summary>
    /// <exception cref="VeilFormatException">Bad bytes, or a share of another session or party range.</exception>
    public static PublicKeyShare LoadPublicKeyShare(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        var r = Open(data, PublicKeyShareType, session, limits, PolyBytes(session, Full(session)), out var id, out int party);
        bool packed = Layout(ref r, session.Parameters, [Full(session)], "publicKeyShare");
        var b = ReadPoly(ref r, session.Parameters, Full(session), "b", packed);
        r.EnsureEnd("publicKeyShare");
        return new PublicKeyShare(session.Parameters, id, party, b);
    }

    /// <summary>Loads a round-1 relinearization share.</summary>
    public static RelinearizationShare1 LoadRelinearizationShare1(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        int digits = session.Parameters.MaxDigitCount;
        var r = Open(data, RelinearizationShare1Type, session, limits, 2 + 2 * digits * PolyBytes(session, Full(session)), out var id, out int party);
        ReadDigits(ref r, digits);
        bool packed = Layout(ref r, session.Parameters, Enumerable.Repeat(Full(session), 2 * digits), "h0");
        var h0 = ReadPolys(ref r, session, digits, "h0", packed);
        var h1 = ReadPolys(ref r, session, digits, "h1", packed);
        r.EnsureEnd("relinearizationShare1");
        return new RelinearizationShare1(session.Parameters, id, party, h0, h1);
    }

    /// <summary>Loads the round-1 sums.</summary>
    public static RelinearizationRound1 LoadRelinearizationRound1(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        int digits = session.Parameters.MaxDigitCount;
        var payload = VeilEnvelope.Unpack(data, RelinearizationRound1Type, session.Parameters.Hash.Span, default, limits, IdBytes + 2 + 2 * digits * PolyBytes(session, Full(session)), out _, out _);
        var r = new PayloadReader(payload);
        var id = ReadSession(ref r, session);
        ReadDigits(ref r, digits);
        bool packed = Layout(ref r, session.Parameters, Enumerable.Repeat(Full(session), 2 * digits), "h0");
        var h0 = ReadPolys(ref r, session, digits, "h0", packed);
        var h1 = ReadPolys(ref r, session, digits, "h1", packed);
        r.EnsureEnd("relinearizationRound1");
        return new RelinearizationRound1(id, h0, h1);
    }

    /// <summary>Loads a round-2 relinearization share.</summary>
    public static RelinearizationShare2 LoadRelinearizationShare2(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        int digits = session.Parameters.MaxDigitCount;
        var r = Open(data, RelinearizationShare2Type, session, limits, IdBytes + 2 + 2 * digits * PolyBytes(session, Full(session)), out var id, out int party);
        var digest = r.ReadBytes(IdBytes, "round1Digest").ToArray();
        ReadDigits(ref r, digits);
        bool packed = Layout(ref r, session.Parameters, Enumerable.Repeat(Full(session), 2 * digits), "h0");
        var h0 = ReadPolys(ref r, session, digits, "h0", packed);
        var h1 = ReadPolys(ref r, session, digits, "h1", packed);
        r.EnsureEnd("relinearizationShare2");
        return new RelinearizationShare2(session.Parameters, id, party, digest, h0, h1);
    }

    /// <summary>Loads a Galois-key share.</summary>
    public static GaloisKeyShare LoadGaloisKeyShare(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        int digits = session.Parameters.MaxDigitCount;
        var r = Open(data, GaloisKeyShareType, session, limits, 8 + 2 + digits * PolyBytes(session, Full(session)), out var id, out int party);
        ulong element = r.ReadUInt64("galoisElement");
        try { session.Parameters.GaloisPermutation(element); }
        catch (ArgumentException e) { throw new VeilFormatException("galoisElement", e.Message, e); }
        ReadDigits(ref r, digits);
        bool packed = Layout(ref r, session.Parameters, Enumerable.Repeat(Full(session), digits), "b");
        var b = ReadPolys(ref r, session, digits, "b", packed);
        r.EnsureEnd("galoisKeyShare");
        return new GaloisKeyShare(session.Parameters, id, party, element, b);
    }

    /// <summary>Loads a decryption share.</summary>
    public static DecryptionShare LoadDecryptionShare(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        var r = Open(data, DecryptionShareType, session, limits, IdBytes + 2 + 8 + PolyBytes(session, session.Parameters.MaxLevel + 1), out var id, out int party);
        var digest = r.ReadBytes(IdBytes, "ciphertextDigest").ToArray();
        int level = ReadLevel(ref r, session);
        double flooding = ReadFlooding(ref r);
        bool packed = Layout(ref r, session.Parameters, [level + 1], "decryptionShare");
        var h = ReadPoly(ref r, session.Parameters, level + 1, "h", packed);
        r.EnsureEnd("decryptionShare");
        return new DecryptionShare(session.Parameters, id, party, digest, level, h, flooding);
    }

    /// <summary>Loads a public-key-switching share.</summary>
    public static KeySwitchShare LoadKeySwitchShare(ReadOnlySpan<byte> data, MultipartySession session, SerializationLimits? limits = null)
    {
        var r = Open(data, KeySwitchShareType, session, limits, 2 * IdBytes + 2 + 8 + 2 * PolyBytes(session, session.Parameters.MaxLevel + 1), out var id, out int party);
        var digest = r.ReadBytes(IdBytes, "ciphertextDigest").ToArray();
        var recipient = r.ReadBytes(IdBytes, "recipientDigest").ToArray();
        int level = ReadLevel(ref r, session);
        double flooding = ReadFlooding(ref r);
        bool packed = Layout(ref r, session.Parameters, [level + 1, level + 1], "keySwitchShare");
        var h0 = ReadPoly(ref r, session.Parameters, level + 1, "h0", packed);
        var h1 = ReadPoly(ref r, session.Parameters, level + 1, "h1", packed);
        r.EnsureEnd("keySwitchShare");
        return new KeySwitchShare(session.Parameters, id, party, digest, recipient, level, h0, h1, flooding);
    }

    private static byte[] Pack(ObjectType type, Share share, Action<PayloadWriterBox> header, RnsPolynomial[] polys)
    {
        ArgumentNullException.ThrowIfNull(share);
        // Header fields first into a small buffer, then the polynomials.
        var box = new PayloadWriterBox();
        header(box);
        var head = box.ToArray();
        var payload = new byte[IdBytes + 2 + head.Length + polys.Sum(p => PackedBytes(share.Parameters, p))];
        var w = new PayloadWriter(payload);
        w.WriteBytes(share.SessionId);
        w.WriteUInt16((ushort)share.Party);
        w.WriteBytes(head);
        foreach (var p in polys) WritePoly(ref w, share.Parameters, p);
        w.EnsureFull();
        return VeilEnvelope.Pack(type, share.Parameters.Hash.Span, payload, Compression.None);
    }

    private static PayloadReader Open(ReadOnlySpan<byte> data, ObjectType type, MultipartySession session, SerializationLimits? limits, long maxBody, out byte[] id, out int party)
    {
        ArgumentNullException.ThrowIfNull(session);
        var payload = VeilEnvelope.Unpack(data, type, session.Parameters.Hash.Span, default, limits, IdBytes + 2 + maxBody, out _, out _);
        var r = new PayloadReader(payload);
        id = ReadSession(ref r, session);
        party = r.ReadUInt16("party");
        if (party >= session.Parties) throw new VeilFormatException("party", $"Party {party} is outside 0 … {session.Parties - 1}.");
        return r;
    }

    private static byte[] ReadSession(ref PayloadReader r, MultipartySession session)
    {
        var id = r.ReadBytes(IdBytes, "session").ToArray();
        if (!id.AsSpan().SequenceEqual(session.Id)) throw new VeilFormatException("session", "The share belongs to another session.");
        return id;
    }

    private static void ReadDigits(ref PayloadReader r, int digits)
    {
        int d = r.ReadUInt16("digits");
        if (d != digits) throw new VeilFormatException("digits", $"{d} digits; keys of these parameters have {digits}.");
    }

    private static int ReadLevel(ref PayloadReader r, MultipartySession session)
    {
        int level = r.ReadUInt16("level");
        if (level > session.Parameters.MaxLevel) throw new VeilFormatException("level", $"Level {level} is above {session.Parameters.MaxLevel}.");
        return level;
    }

    private static double ReadFlooding(ref PayloadReader r)
    {
        double bits = r.ReadFiniteDouble("floodingBits");
        if (bits < 0 || bits > 64) throw new VeilFormatException("floodingBits", $"{bits} is not a flooding size in bits.");
        return bits;
    }

    private static int Full(MultipartySession session) => session.Parameters.Ring.LimbCount;
    private static long PolyBytes(MultipartySession session, int limbs) => (long)limbs * session.Parameters.N * 8;

    private static ulong[] Moduli(RlweParameters parameters, int limbs) => [.. parameters.Ring.Moduli.Take(limbs).Select(m => m.Value)];

    private static long PackedBytes(RlweParameters parameters, RnsPolynomial p) => ResiduePacking.Bytes(Moduli(parameters, p.LimbCount), parameters.N);

    private static void WritePoly(ref PayloadWriter w, RlweParameters parameters, RnsPolynomial p) => w.WritePackedResidues(p.Data, Moduli(parameters, p.LimbCount), parameters.N);

    /// <summary>
    /// Whether the polynomials that remain are residue-packed (written since 2026-12) or 64-bit words (the earlier layout,
    /// still read): the two sizes always differ, so the remaining length decides, and any other length is refused.
    /// </summary>
    private static bool Layout(ref PayloadReader r, RlweParameters parameters, IEnumerable<int> limbCounts, string field)
    {
        long packed = 0, words = 0;
        foreach (int limbs in limbCounts)
        {
            packed += ResiduePacking.Bytes(Moduli(parameters, limbs), parameters.N);
            words += (long)limbs * parameters.N * 8;
        }
        if (r.Remaining == packed) return true;
        if (r.Remaining == words) return false;
        throw new VeilFormatException(field, $"{r.Remaining} bytes of polynomials; these parameters take {packed} (packed residues) or {words} (64-bit words).");
    }

    private static RnsPolynomial ReadPoly(ref PayloadReader r, RlweParameters parameters, int limbs, string field, bool packed)
    {
        var p = new RnsPolynomial(parameters.N, limbs);
        var moduli = Moduli(parameters, limbs);
        if (packed) r.ReadPackedResidues(p.Data, moduli, parameters.N, field);
        else r.ReadCoefficients(p.Data, moduli, parameters.N, field);
        return p;
    }

    private static RnsPolynomial[] ReadPolys(ref PayloadReader r, MultipartySession session, int count, string field, bool packed)
    {
        var result = new RnsPolynomial[count];
        for (int i = 0; i < count; i++) result[i] = ReadPoly(ref r, session.Parameters, Full(session), field, packed);
        return result;
    }

}

/// <summary>A growable writer for the few header fields of a share (PayloadWriter needs its size up front).</summary>
internal sealed class PayloadWriterBox
{
    private readonly MemoryStream _stream = new();
    public void WriteUInt16(ushort v) { Span<byte> b = stackalloc byte[2]; System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(b, v); _stream.Write(b); }
    public void WriteUInt32(uint v) { Span<byte> b = stackalloc byte[4]; System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, v); _stream.Write(b); }
    public void WriteUInt64(ulong v) { Span<byte> b = stackalloc byte[8]; System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b, v); _stream.Write(b); }
    public void WriteDouble(double v) { Span<byte> b = stackalloc byte[8]; System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(b, v); _stream.Write(b); }
    public void WriteBytes(ReadOnlySpan<byte> v) => _stream.Write(v);
    public byte[] ToArray() => _stream.ToArray();
}
