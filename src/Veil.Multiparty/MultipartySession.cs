using System.Security.Cryptography;
using Veil.Rlwe;

namespace Veil.Multiparty;

/// <summary>
/// What every party of one key agrees on before key generation: the parameters, the common reference string (from a
/// public seed), the number of parties, and the session id every share carries (SHA-256 of all three and a label).
/// </summary>
public sealed class MultipartySession
{
    /// <summary>The most parties a session may have.</summary>
    public const int MaxParties = 1024;

    /// <summary>A session over <paramref name="parameters"/> for <paramref name="parties"/> parties, the reference string from <paramref name="seed"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 2 or more than <see cref="MaxParties"/> parties.</exception>
    public MultipartySession(RlweParameters parameters, ReadOnlySpan<byte> seed, int parties, string label = "")
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(label);
        if (parties < 2 || parties > MaxParties) throw new ArgumentOutOfRangeException(nameof(parties), parties, $"A session has 2 … {MaxParties} parties.");
        if (System.Text.Encoding.UTF8.GetByteCount(label) > 256) throw new ArgumentException("A label is at most 256 bytes of UTF-8.", nameof(label));
        Parameters = parameters;
        Reference = new CommonReferenceString(seed);
        Parties = parties;
        Label = label;
        var input = new List<byte>();
        input.AddRange("veil/multiparty/session/v1"u8.ToArray());
        input.AddRange(parameters.Hash.ToArray());
        input.AddRange(Reference.Seed.ToArray());
        var count = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(count, parties);
        input.AddRange(count);
        input.AddRange(System.Text.Encoding.UTF8.GetBytes(label));
        Id = SHA256.HashData(input.ToArray());
    }

    /// <summary>The parameters.</summary>
    public RlweParameters Parameters { get; }
    /// <summary>The common reference string: the uniform parts of every collective key.</summary>
    public CommonReferenceString Reference { get; }
    /// <summary>The number of parties; every collective operation needs all of them.</summary>
    public int Parties { get; }
    /// <summary>A free label (the consortium, the study).</summary>
    public string Label { get; }
    /// <summary>32 bytes that every share of this session carries.</summary>
    public byte[] Id { get; }

    /// <summary>The public key's a, expanded from the reference string ahead of the shares that use it.</summary>
    public ExpandedReference ExpandPublicKeyReference() => ExpandedReference.ForPublicKey(Parameters, Reference.PublicKeySeed());
    /// <summary>The relinearization key's a_i, expanded ahead of round 1.</summary>
    public ExpandedReference ExpandRelinearizationReference() => ExpandedReference.ForSwitchingKey(Parameters, Reference.RelinearizationKeySeed());
    /// <summary>The a_i of the Galois key for <paramref name="galoisElement"/>, expanded ahead of its shares.</summary>
    public ExpandedReference ExpandGaloisReference(ulong galoisElement) => ExpandedReference.ForSwitchingKey(Parameters, Reference.GaloisKeySeed(galoisElement));

    internal void CheckParty(int party, string name)
    {
        if (party < 0 || party >= Parties) throw new ArgumentOutOfRangeException(name, party, $"Parties are numbered 0 … {Parties - 1}.");
    }
}

/// <summary>
/// How much flooding noise a party adds to a share that leads to a decryption (Li–Micciancio, IND-CPA-D):
/// σ = √(12·τ)·2^(s/2)·2^B per coefficient, with s the statistical security, τ the party's decryption budget and 2^B a
/// public bound on the ciphertext's error (the Rényi-divergence bound of Li, Micciancio, Schultz and Sorrell, as the
/// single-key release decryptor uses). Every honest party adds its own σ, so the sum carries at least σ whatever the
/// others do.
/// </summary>
/// <param name="StatisticalSecurity">s, in bits (at least 40).</param>
/// <param name="ErrorBits">B: log2 of a bound on the ciphertext's error, which no party can measure (it would have to
/// decrypt): the computation's owner gives it; 20 bits covers a product relinearized and rescaled at the usual scales.</param>
public sealed record FloodingPolicy(int StatisticalSecurity = 40, double ErrorBits = 20)
{
    /// <summary>The default: s = 40, B = 20.</summary>
    public static FloodingPolicy Default { get; } = new();

    /// <summary>log2 σ for a budget of τ decryptions.</summary>
    public double SigmaBits(int budget) => 0.5 * Math.Log2(12.0 * Math.Max(1, budget)) + StatisticalSecurity / 2.0 + ErrorBits;

    internal void Validate()
    {
        if (StatisticalSecurity < 40 || StatisticalSecurity > 128) throw new ArgumentOutOfRangeException(nameof(StatisticalSecurity), StatisticalSecurity, "Statistical security is 40 … 128 bits.");
        if (!(ErrorBits >= 2 && ErrorBits <= 40)) throw new ArgumentOutOfRangeException(nameof(ErrorBits), ErrorBits, "The error bound is 2^2 … 2^40.");
    }
}
