using Org.BouncyCastle.Math.EC;
using BcInteger = Org.BouncyCastle.Math.BigInteger;

namespace Veil.ElGamal;

/// <summary>
/// Exponential EC-ElGamal on P-256: Enc(m) = (r·G, m·G + r·X). Additively homomorphic (add, add plaintext, multiply by a
/// plaintext scalar, negate); decryption recovers m·G and solves for m by baby-step giant-step over a declared range.
/// </summary>
/// <remarks>
/// Security: IND-CPA under DDH on P-256 (128-bit). Products with secret scalars (the key, the encryption randomness) are blinded by a fresh multiple of the group order; the search that
/// ends decryption takes time that depends on m, which is visible only where decryption runs. Plaintexts are integers
/// mod the group order; negative values are taken mod that order and decrypt as negatives when the range includes them.
/// </remarks>
public static class ElGamalScheme
{
    /// <summary>A fresh key pair from <see cref="System.Security.Cryptography.RandomNumberGenerator"/>.</summary>
    public static (ElGamalPublicKey PublicKey, ElGamalPrivateKey PrivateKey) GenerateKeys()
    {
        var x = Curve.RandomScalar();
        var pk = new ElGamalPublicKey(Curve.MultiplyG(x));
        return (pk, new ElGamalPrivateKey(x.ToByteArrayUnsigned(), pk));
    }

    /// <summary>Enc(m) for any m (taken mod the group order).</summary>
    public static ElGamalCiphertext Encrypt(ElGamalPublicKey key, long m)
    {
        ArgumentNullException.ThrowIfNull(key);
        var r = Curve.RandomScalar();
        var c1 = Curve.MultiplyG(r);
        var c2 = Curve.MultiplySecret(key.Point, r); // r is as secret as m
        if (m != 0) c2 = c2.Add(Curve.MultiplyG(Curve.Scalar(m)));
        return new ElGamalCiphertext(key, c1.Normalize(), c2.Normalize());
    }

    /// <summary>Enc(a + b).</summary>
    public static ElGamalCiphertext Add(ElGamalCiphertext a, ElGamalCiphertext b)
    {
        CheckSameKey(a, b);
        return new ElGamalCiphertext(a.Key, a.C1.Add(b.C1).Normalize(), a.C2.Add(b.C2).Normalize());
    }

    /// <summary>Enc(a + k) for a plaintext k (deterministic in k: rerandomize before sharing if k must stay hidden).</summary>
    public static ElGamalCiphertext AddPlain(ElGamalCiphertext a, long k)
    {
        ArgumentNullException.ThrowIfNull(a);
        return k == 0 ? a : new ElGamalCiphertext(a.Key, a.C1, a.C2.Add(Curve.MultiplyG(Curve.Scalar(k))).Normalize());
    }

    /// <summary>Enc(k·a) for a plaintext scalar k (negative allowed).</summary>
    public static ElGamalCiphertext MultiplyScalar(ElGamalCiphertext a, long k)
    {
        ArgumentNullException.ThrowIfNull(a);
        var s = Curve.Scalar(k);
        return new ElGamalCiphertext(a.Key, Curve.Multiply(a.C1, s).Normalize(), Curve.Multiply(a.C2, s).Normalize());
    }

    /// <summary>Enc(−a).</summary>
    public static ElGamalCiphertext Negate(ElGamalCiphertext a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return new ElGamalCiphertext(a.Key, a.C1.Negate(), a.C2.Negate());
    }

    /// <summary>The same plaintext under fresh randomness (adds an encryption of 0).</summary>
    public static ElGamalCiphertext Rerandomize(ElGamalCiphertext a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return Add(a, Encrypt(a.Key, 0));
    }

    /// <summary>m·G = C2 − x·C1: the lifted plaintext, before the search.</summary>
    internal static ECPoint DecryptToPoint(ElGamalPrivateKey key, ElGamalCiphertext c)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(c);
        if (!ReferenceEquals(c.Key, key.PublicKey) && !c.Key.Fingerprint.AsSpan().SequenceEqual(key.PublicKey.Fingerprint))
            throw new ArgumentException("The ciphertext is under another key.", nameof(c));
        return c.C2.Subtract(Curve.MultiplySecret(c.C1, key.Scalar)).Normalize();
    }

    /// <summary>
    /// The plaintext m ∈ [range.Min, range.Max]. The key keeps one baby-step table per range (built on the first
    /// decryption, shared by threads).
    /// </summary>
    /// <exception cref="ElGamalRangeException">m is outside the range.</exception>
    /// <exception cref="ArgumentException">A ciphertext under another key.</exception>
    public static long Decrypt(ElGamalPrivateKey key, ElGamalCiphertext ciphertext, ElGamalRange range, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(range);
        var target = DecryptToPoint(key, ciphertext);
        var table = key.Table(range);
        ulong giantSteps = (range.Size + (ulong)range.BabySteps - 1) / (ulong)range.BabySteps;
        const int batch = 32;
        var points = new ECPoint[batch];
        var current = target;
        for (ulong i0 = 0; i0 < giantSteps; i0 += batch)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = (int)Math.Min(batch, giantSteps - i0);
            for (int k = 0; k < count; k++) { points[k] = current; current = current.Add(table.Step); }
            Curve.Ec.NormalizeAll(points, 0, count, null);
            for (int k = 0; k < count; k++)
            {
                foreach (int j in table.Candidates(DiscreteLogTable.Key(points[k])))
                {
                    long m = range.Min + (long)(i0 + (ulong)k) * range.BabySteps + j;
                    if (m > range.Max) continue;
                    if (Curve.MultiplyG(Curve.Scalar(m)).Equals(target)) return m;
                }
            }
        }
        throw new ElGamalRangeException($"The plaintext is outside [{range.Min}, {range.Max}]: the tally left the declared range, or the ciphertext is not an encryption of a value in it.");
    }

    /// <summary>Encrypts every value, on all cores.</summary>
    public static ElGamalCiphertext[] EncryptVector(ElGamalPublicKey key, ReadOnlySpan<long> values, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var copy = values.ToArray();
        var result = new ElGamalCiphertext[copy.Length];
        Parallel.For(0, copy.Length, new ParallelOptions { CancellationToken = cancellation }, i => result[i] = Encrypt(key, copy[i]));
        return result;
    }

    /// <summary>Element-wise sums, on all cores.</summary>
    public static ElGamalCiphertext[] AddVectors(IReadOnlyList<ElGamalCiphertext> a, IReadOnlyList<ElGamalCiphertext> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count) throw new ArgumentException($"Vectors of {a.Count} and {b.Count} ciphertexts.", nameof(b));
        var result = new ElGamalCiphertext[a.Count];
        Parallel.For(0, a.Count, i => result[i] = Add(a[i], b[i]));
        return result;
    }

    /// <summary>Decrypts every ciphertext over one range, on all cores.</summary>
    public static long[] DecryptVector(ElGamalPrivateKey key, IReadOnlyList<ElGamalCiphertext> ciphertexts, ElGamalRange range, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(ciphertexts);
        ArgumentNullException.ThrowIfNull(key);
        key.Table(range);
        var result = new long[ciphertexts.Count];
        Parallel.For(0, ciphertexts.Count, new ParallelOptions { CancellationToken = cancellation }, i => result[i] = Decrypt(key, ciphertexts[i], range, cancellation));
        return result;
    }

    private static void CheckSameKey(ElGamalCiphertext a, ElGamalCiphertext b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!ReferenceEquals(a.Key, b.Key) && !a.Key.Fingerprint.AsSpan().SequenceEqual(b.Key.Fingerprint))
            throw new ArgumentException("The ciphertexts are under different keys.", nameof(b));
    }
}
