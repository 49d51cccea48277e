using System.Numerics;
using Veil.Paillier;

namespace Veil.Federated;

/// <summary>
/// PPFLHE's aggregation (Wang et al. 2023) with a 3072-bit key: one key authority (participant 0) holds the Paillier
/// private key, everyone encrypts under its public key, the coordinator multiplies ciphertexts, the authority decrypts
/// the sum. Values are packed: each a fixed-point integer round(v·2^32) + 2^62 in a 72-bit slot (room for 64 summands),
/// 42 slots in one 3072-bit plaintext, so a 650-parameter update is 16 ciphertexts instead of 650.
/// </summary>
public static class PaillierAggregation
{
    /// <summary>Bits of a slot.</summary>
    public const int SlotBits = 72;
    private const int FractionBits = 32;
    private static readonly BigInteger Offset = BigInteger.One << 62;
    private static readonly BigInteger SlotMask = (BigInteger.One << SlotBits) - 1;

    /// <summary>Slots per ciphertext for a key.</summary>
    public static int SlotsPerCiphertext(PaillierPublicKey key) => (int)((key.N.GetBitLength() - 2) / SlotBits);

    /// <summary>Ciphertexts a vector of <paramref name="length"/> takes.</summary>
    public static int Chunks(PaillierPublicKey key, int length) => (length + SlotsPerCiphertext(key) - 1) / SlotsPerCiphertext(key);

    /// <summary>The vector encrypted, packed, serialized.</summary>
    /// <exception cref="ArgumentException">A value that is not finite or of magnitude 2^29 or more.</exception>
    public static byte[][] Encrypt(PaillierPublicKey key, ReadOnlySpan<double> vector)
    {
        int slots = SlotsPerCiphertext(key);
        var result = new byte[Chunks(key, vector.Length)][];
        for (int c = 0; c < result.Length; c++)
        {
            BigInteger packed = BigInteger.Zero;
            int n = Math.Min(slots, vector.Length - c * slots);
            for (int j = n - 1; j >= 0; j--)
            {
                double v = vector[c * slots + j];
                if (!double.IsFinite(v) || Math.Abs(v) >= 1 << 29) throw new ArgumentException($"A value to aggregate is {v}: Paillier slots take |v| < 2^29.", nameof(vector));
                packed = (packed << SlotBits) + new BigInteger(Math.Round(v * (1L << FractionBits))) + Offset;
            }
            result[c] = PaillierSerializer.Save(PaillierScheme.Encrypt(key, packed));
        }
        return result;
    }

    /// <summary>One participant's ciphertexts (count and key checked by the loader).</summary>
    public static PaillierCiphertext[] Load(PaillierPublicKey key, IReadOnlyList<byte[]> ciphertexts, int length)
    {
        if (ciphertexts.Count != Chunks(key, length)) throw FederationProtocolException.Invalid($"expected {Chunks(key, length)} Paillier ciphertexts, got {ciphertexts.Count}");
        return [.. ciphertexts.Select(c => PaillierSerializer.LoadCiphertext(c, key))];
    }

    /// <summary>Σ of contributions (products modulo n²).</summary>
    public static PaillierCiphertext[] Sum(IEnumerable<PaillierCiphertext[]> contributions)
    {
        PaillierCiphertext[]? sum = null;
        foreach (var c in contributions) sum = sum is null ? c : PaillierScheme.AddVectors(sum, c);
        return sum ?? throw new ArgumentException("Nothing to sum.", nameof(contributions));
    }

    /// <summary>The summed vector from the decrypted chunks of <paramref name="summands"/> contributions.</summary>
    public static double[] Decode(PaillierPublicKey key, IReadOnlyList<BigInteger> plaintexts, int length, int summands)
    {
        int slots = SlotsPerCiphertext(key);
        var result = new double[length];
        var offset = Offset * summands;
        for (int c = 0; c < plaintexts.Count; c++)
        {
            var m = plaintexts[c];
            int n = Math.Min(slots, length - c * slots);
            for (int j = 0; j < n; j++)
            {
                result[c * slots + j] = (double)((m & SlotMask) - offset) / (1L << FractionBits);
                m >>= SlotBits;
            }
        }
        return result;
    }
}
