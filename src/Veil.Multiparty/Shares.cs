using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Multiparty;

/// <summary>What every share carries: its session and the party that made it.</summary>
public abstract class Share
{
    private protected Share(RlweParameters parameters, byte[] sessionId, int party)
    {
        Parameters = parameters;
        SessionId = sessionId;
        Party = party;
    }

    /// <summary>The parameters of its session.</summary>
    public RlweParameters Parameters { get; }
    /// <summary>The session (32 bytes).</summary>
    public byte[] SessionId { get; }
    /// <summary>The party, 0 … n − 1.</summary>
    public int Party { get; }
}

/// <summary>A share computed for one ciphertext: it names the ciphertext (digest) and its level.</summary>
public abstract class CiphertextShare : Share
{
    private protected CiphertextShare(RlweParameters parameters, byte[] sessionId, int party, byte[] ciphertextDigest, int level) : base(parameters, sessionId, party)
    {
        CiphertextDigest = ciphertextDigest;
        Level = level;
    }

    /// <summary>The ciphertext it was made for (SHA-256 of its parameters, level, scale and c_1).</summary>
    public byte[] CiphertextDigest { get; }
    /// <summary>The ciphertext's level.</summary>
    public int Level { get; }
}

/// <summary>A threshold share for one ciphertext: it also names its dealing round, t and the set of parties taking part.</summary>
public abstract class ThresholdCiphertextShare : CiphertextShare
{
    private protected ThresholdCiphertextShare(RlweParameters parameters, byte[] sessionId, int party, byte[] roundId, int threshold, int[] active, byte[] ciphertextDigest, int level)
        : base(parameters, sessionId, party, ciphertextDigest, level)
    {
        RoundId = roundId;
        Threshold = threshold;
        Active = active;
    }

    /// <summary>The dealing round of the threshold shares used.</summary>
    public byte[] RoundId { get; }
    /// <summary>t.</summary>
    public int Threshold { get; }
    /// <summary>The parties taking part, ascending (the Lagrange coefficients depend on them).</summary>
    public IReadOnlyList<int> Active { get; }
}

/// <summary>A party's share of the collective public key: b_i = −a·s_i + e_i with a from the reference string.</summary>
public sealed class PublicKeyShare : Share
{
    internal PublicKeyShare(RlweParameters parameters, byte[] sessionId, int party, RnsPolynomial b) : base(parameters, sessionId, party) => B = b;
    /// <summary>b_i over Q·P, NTT form.</summary>
    public RnsPolynomial B { get; }
}

/// <summary>Round 1 of the relinearization key: h0_i = −u_i·a + g·s_i + e, h1_i = s_i·a + e' per digit (u_i an ephemeral key).</summary>
public sealed class RelinearizationShare1 : Share
{
    internal RelinearizationShare1(RlweParameters parameters, byte[] sessionId, int party, RnsPolynomial[] h0, RnsPolynomial[] h1) : base(parameters, sessionId, party) { H0 = h0; H1 = h1; }
    /// <summary>h0_i per digit.</summary>
    public IReadOnlyList<RnsPolynomial> H0 { get; }
    /// <summary>h1_i per digit.</summary>
    public IReadOnlyList<RnsPolynomial> H1 { get; }
}

/// <summary>The sums of round 1, public, sent back to every party; its digest binds round 2 to it.</summary>
public sealed class RelinearizationRound1
{
    internal RelinearizationRound1(byte[] sessionId, RnsPolynomial[] h0, RnsPolynomial[] h1)
    {
        SessionId = sessionId;
        H0 = h0;
        H1 = h1;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData("veil/multiparty/rkg-round1"u8);
        hash.AppendData(sessionId);
        foreach (var p in h0.Concat(h1)) hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(p.Data.AsSpan()));
        Digest = hash.GetHashAndReset();
    }

    /// <summary>The session.</summary>
    public byte[] SessionId { get; }
    /// <summary>Σ h0_i per digit.</summary>
    public IReadOnlyList<RnsPolynomial> H0 { get; }
    /// <summary>Σ h1_i per digit: the collective key's a part.</summary>
    public IReadOnlyList<RnsPolynomial> H1 { get; }
    /// <summary>SHA-256 of the sums.</summary>
    public byte[] Digest { get; }
}

/// <summary>Round 2 of the relinearization key: h0'_i = s_i·h0 + e, h1'_i = (u_i − s_i)·h1 + e' per digit.</summary>
public sealed class RelinearizationShare2 : Share
{
    internal RelinearizationShare2(RlweParameters parameters, byte[] sessionId, int party, byte[] round1Digest, RnsPolynomial[] h0, RnsPolynomial[] h1) : base(parameters, sessionId, party)
    {
        Round1Digest = round1Digest;
        H0 = h0;
        H1 = h1;
    }
    /// <summary>The round-1 sums this share was computed from.</summary>
    public byte[] Round1Digest { get; }
    /// <summary>h0'_i per digit.</summary>
    public IReadOnlyList<RnsPolynomial> H0 { get; }
    /// <summary>h1'_i per digit.</summary>
    public IReadOnlyList<RnsPolynomial> H1 { get; }
}

/// <summary>A party's share of one collective Galois key: b_i,j = −a_j·s_i + e + g_j·σ(s_i), a_j from the reference string.</summary>
public sealed class GaloisKeyShare : Share
{
    internal GaloisKeyShare(RlweParameters parameters, byte[] sessionId, int party, ulong element, RnsPolynomial[] b) : base(parameters, sessionId, party) { GaloisElement = element; B = b; }
    /// <summary>The Galois element.</summary>
    public ulong GaloisElement { get; }
    /// <summary>b per digit.</summary>
    public IReadOnlyList<RnsPolynomial> B { get; }
}

/// <summary>A party's decryption share of one ciphertext: h_i = s_i·c_1 + z_i, z_i flooding noise.</summary>
public sealed class DecryptionShare : CiphertextShare
{
    internal DecryptionShare(RlweParameters parameters, byte[] sessionId, int party, byte[] ciphertextDigest, int level, RnsPolynomial h, double floodingBits)
        : base(parameters, sessionId, party, ciphertextDigest, level)
    {
        H = h;
        FloodingBits = floodingBits;
    }
    /// <summary>h_i over Q_level, NTT form.</summary>
    public RnsPolynomial H { get; }
    /// <summary>log2 of the flooding deviation the party added.</summary>
    public double FloodingBits { get; }
}

/// <summary>A party's share of re-encrypting a ciphertext to a recipient's public key (p_0, p_1): (s_i·c_1 + u_i·p_0 + z_i, u_i·p_1 + e_i).</summary>
public sealed class KeySwitchShare : CiphertextShare
{
    internal KeySwitchShare(RlweParameters parameters, byte[] sessionId, int party, byte[] ciphertextDigest, byte[] recipientDigest, int level, RnsPolynomial h0, RnsPolynomial h1, double floodingBits)
        : base(parameters, sessionId, party, ciphertextDigest, level)
    {
        RecipientDigest = recipientDigest;
        H0 = h0;
        H1 = h1;
        FloodingBits = floodingBits;
    }
    /// <summary>SHA-256 of the recipient's public key.</summary>
    public byte[] RecipientDigest { get; }
    /// <summary>The first part, over Q_level.</summary>
    public RnsPolynomial H0 { get; }
    /// <summary>The second part, over Q_level.</summary>
    public RnsPolynomial H1 { get; }
    /// <summary>log2 of the flooding deviation the party added.</summary>
    public double FloodingBits { get; }
}

/// <summary>A share refused by aggregation: another session, party, ciphertext or round, a duplicate, or a missing party.</summary>
public sealed class ShareMismatchException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public ShareMismatchException(string message) : base(message) { }
}

/// <summary>Digests that bind shares to what they were computed for.</summary>
public static class ShareDigests
{
    /// <summary>SHA-256 of a ciphertext's parameters, level, scale and c_1 (the part a share depends on).</summary>
    /// <exception cref="ArgumentException">A ciphertext that is not of size 2 in NTT form.</exception>
    public static byte[] Ciphertext(Ciphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        if (ciphertext.Size != 2 || !ciphertext.IsNttForm) throw new ArgumentException("Collective decryption takes relinearized ciphertexts (size 2) in NTT form.", nameof(ciphertext));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData("veil/multiparty/ciphertext"u8);
        hash.AppendData(ciphertext.Parameters.Hash.Span);
        Span<byte> meta = stackalloc byte[12];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(meta, ciphertext.Level);
        System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(meta[4..], ciphertext.Scale);
        hash.AppendData(meta);
        hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(ciphertext.Poly(1)));
        return hash.GetHashAndReset();
    }

    /// <summary>SHA-256 of a public key (its b and seed).</summary>
    public static byte[] PublicKey(PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData("veil/multiparty/public-key"u8);
        hash.AppendData(key.Parameters.Hash.Span);
        hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(key.GetB().Data.AsSpan()));
        hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(key.GetA().Data.AsSpan()));
        return hash.GetHashAndReset();
    }
}
