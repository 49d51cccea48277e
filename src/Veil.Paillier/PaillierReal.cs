using System.Numerics;

namespace Veil.Paillier;

/// <summary>
/// An encrypted real: a ciphertext of the integer mantissa, the public base-16 exponent (value = mantissa · 16^Exponent,
/// as python-paillier), and a public bound on |mantissa| carried through every operation.
/// </summary>
/// <remarks>The bound is what makes overflow visible: an operation whose result could leave (−n/2, n/2) is refused before
/// it runs, and a decryption outside the bound is refused instead of returning a wrapped value.</remarks>
public sealed class PaillierReal
{
    internal PaillierReal(PaillierCiphertext ciphertext, int exponent, BigInteger bound)
    {
        Ciphertext = ciphertext;
        Exponent = exponent;
        Bound = bound;
    }

    /// <summary>The ciphertext of the mantissa (mod n, negatives as n − |m|).</summary>
    public PaillierCiphertext Ciphertext { get; }
    /// <summary>The public exponent: the value is mantissa · 16^Exponent.</summary>
    public int Exponent { get; }
    /// <summary>A public bound on |mantissa|.</summary>
    public BigInteger Bound { get; }
    /// <summary>The key it is under.</summary>
    public PaillierPublicKey Key => Ciphertext.Key;

    /// <summary>Enc(a + b).</summary>
    public static PaillierReal operator +(PaillierReal a, PaillierReal b) => PaillierFixedPoint.Add(a, b);
    /// <summary>Enc(a − b).</summary>
    public static PaillierReal operator -(PaillierReal a, PaillierReal b) => PaillierFixedPoint.Add(a, PaillierFixedPoint.Negate(b));
    /// <summary>Enc(−a).</summary>
    public static PaillierReal operator -(PaillierReal a) => PaillierFixedPoint.Negate(a);
    /// <summary>Enc(a·k) for a plaintext real k.</summary>
    public static PaillierReal operator *(PaillierReal a, double k) => PaillierFixedPoint.MultiplyScalar(a, k);
}

/// <summary>The result of a fixed-point operation could leave the plaintext range (−n/2, n/2), or a decryption lies outside its public bound.</summary>
public sealed class PaillierOverflowException : ArithmeticException
{
    /// <summary>Creates the exception.</summary>
    public PaillierOverflowException(string message) : base(message) { }
}

/// <summary>
/// Fixed-point reals on Paillier: encode with a public base-16 exponent, add (aligning exponents), add and multiply
/// by plaintext reals, negate, decrypt, with a public magnitude bound checked at each step.
/// </summary>
public static class PaillierFixedPoint
{
    /// <summary>The largest |exponent| (products add exponents; the magnitude bound stops long chains well before this).</summary>
    public const int MaxExponent = 1024;

    /// <summary>The default exponent: 16^-8 = 2^-32 resolution.</summary>
    public const int DefaultExponent = -8;

    /// <summary>The largest magnitude a result may have: below n/3 (python-paillier's max_int), leaving a gap that makes wrapping detectable.</summary>
    public static BigInteger MaxMagnitude(PaillierPublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.N / 3;
    }

    /// <summary>Encrypts round(value · 16^-exponent) with bound |mantissa|.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value that is not finite, an exponent outside ±MaxExponent, or a mantissa past <see cref="MaxMagnitude"/>.</exception>
    public static PaillierReal Encrypt(PaillierPublicKey key, double value, int exponent = DefaultExponent)
    {
        var mantissa = Encode(key, value, exponent);
        return new PaillierReal(PaillierScheme.Encrypt(key, mantissa), exponent, BigInteger.Abs(mantissa));
    }

    /// <summary>Encrypts an exact integer mantissa with its exponent (value = mantissa · 16^exponent).</summary>
    public static PaillierReal EncryptMantissa(PaillierPublicKey key, BigInteger mantissa, int exponent)
    {
        ArgumentNullException.ThrowIfNull(key);
        CheckExponent(exponent);
        CheckBound(key, BigInteger.Abs(mantissa), "the mantissa");
        return new PaillierReal(PaillierScheme.Encrypt(key, mantissa), exponent, BigInteger.Abs(mantissa));
    }

    /// <summary>Enc(a + b), the exponents aligned to the smaller one.</summary>
    /// <exception cref="PaillierOverflowException">The sum's bound would reach <see cref="MaxMagnitude"/>.</exception>
    public static PaillierReal Add(PaillierReal a, PaillierReal b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var (x, y) = Align(a, b);
        var bound = x.Bound + y.Bound;
        CheckBound(a.Key, bound, "the sum");
        return new PaillierReal(PaillierScheme.Add(x.Ciphertext, y.Ciphertext), x.Exponent, bound);
    }

    /// <summary>Enc(a + k) for a plaintext real k, encoded at a's exponent.</summary>
    public static PaillierReal AddPlain(PaillierReal a, double k)
    {
        ArgumentNullException.ThrowIfNull(a);
        var mantissa = Encode(a.Key, k, a.Exponent);
        var bound = a.Bound + BigInteger.Abs(mantissa);
        CheckBound(a.Key, bound, "the sum");
        return new PaillierReal(PaillierScheme.AddPlain(a.Ciphertext, mantissa), a.Exponent, bound);
    }

    /// <summary>Enc(a·k) for a plaintext real k encoded at <paramref name="exponent"/>; the result's exponent is the sum.</summary>
    /// <exception cref="PaillierOverflowException">The product's bound would reach <see cref="MaxMagnitude"/>.</exception>
    public static PaillierReal MultiplyScalar(PaillierReal a, double k, int exponent = DefaultExponent)
    {
        ArgumentNullException.ThrowIfNull(a);
        var mantissa = Encode(a.Key, k, exponent);
        CheckExponent(a.Exponent + exponent);
        var bound = a.Bound * BigInteger.Abs(mantissa);
        CheckBound(a.Key, bound, "the product");
        return new PaillierReal(PaillierScheme.MultiplyScalar(a.Ciphertext, mantissa), a.Exponent + exponent, bound);
    }

    /// <summary>Enc(a·k) for an exact integer k (the exponent unchanged).</summary>
    public static PaillierReal MultiplyInteger(PaillierReal a, BigInteger k)
    {
        ArgumentNullException.ThrowIfNull(a);
        var bound = a.Bound * BigInteger.Abs(k);
        CheckBound(a.Key, bound, "the product");
        return new PaillierReal(PaillierScheme.MultiplyScalar(a.Ciphertext, k), a.Exponent, bound);
    }

    /// <summary>Enc(−a).</summary>
    public static PaillierReal Negate(PaillierReal a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return new PaillierReal(PaillierScheme.Negate(a.Ciphertext), a.Exponent, a.Bound);
    }

    /// <summary>The decrypted mantissa, signed.</summary>
    /// <exception cref="PaillierOverflowException">The plaintext lies outside the public bound (the ciphertext was not produced by these operations on this bound, or was replaced).</exception>
    public static BigInteger DecryptMantissa(PaillierPrivateKey key, PaillierReal a)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(a);
        var m = PaillierScheme.Decrypt(key, a.Ciphertext);
        var n = key.PublicKey.N;
        var signed = m > n / 2 ? m - n : m;
        if (BigInteger.Abs(signed) > a.Bound)
            throw new PaillierOverflowException($"The decrypted mantissa has {BigInteger.Abs(signed).GetBitLength()} bits, past its public bound of {a.Bound.GetBitLength()} bits: the value wrapped or the ciphertext does not belong to this bound.");
        return signed;
    }

    /// <summary>The decrypted value as a double.</summary>
    public static double Decrypt(PaillierPrivateKey key, PaillierReal a) => ToDouble(DecryptMantissa(key, a), a.Exponent);

    /// <summary>Encrypts every value at one exponent, on all cores.</summary>
    public static PaillierReal[] EncryptVector(PaillierPublicKey key, ReadOnlySpan<double> values, int exponent = DefaultExponent, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        key.Precompute();
        var copy = values.ToArray();
        var result = new PaillierReal[copy.Length];
        Parallel.For(0, copy.Length, new ParallelOptions { CancellationToken = cancellation }, i => result[i] = Encrypt(key, copy[i], exponent));
        return result;
    }

    /// <summary>Element-wise sums, on all cores.</summary>
    public static PaillierReal[] AddVectors(IReadOnlyList<PaillierReal> a, IReadOnlyList<PaillierReal> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count) throw new ArgumentException($"Vectors of {a.Count} and {b.Count} values.", nameof(b));
        var result = new PaillierReal[a.Count];
        Parallel.For(0, a.Count, i => result[i] = Add(a[i], b[i]));
        return result;
    }

    /// <summary>Decrypts every value, on all cores.</summary>
    public static double[] DecryptVector(PaillierPrivateKey key, IReadOnlyList<PaillierReal> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var result = new double[values.Count];
        Parallel.For(0, values.Count, i => result[i] = Decrypt(key, values[i]));
        return result;
    }

    internal static BigInteger Encode(PaillierPublicKey key, double value, int exponent)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!double.IsFinite(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "Only finite values can be encoded.");
        CheckExponent(exponent);
        // value · 16^-exponent exactly: a double is mantissa·2^e, so the product is an integer shift before the one rounding.
        long bits = BitConverter.DoubleToInt64Bits(value);
        int e = (int)((bits >> 52) & 0x7FF);
        long frac = bits & 0xFFFFFFFFFFFFFL;
        if (e == 0) e = 1; else frac |= 1L << 52;
        int shift = e - 1075 - 4 * exponent; // value = frac·2^(e−1075); times 2^(−4·exponent)
        BigInteger mantissa = frac;
        if (shift >= 0) mantissa <<= shift;
        else if (shift < -60) mantissa = 0;
        else
        {
            var half = BigInteger.One << (-shift - 1);
            mantissa = (mantissa + half) >> -shift;
        }
        if (value < 0) mantissa = -mantissa;
        if (BigInteger.Abs(mantissa) >= MaxMagnitude(key)) throw new ArgumentOutOfRangeException(nameof(value), value, "The value does not fit the key at this exponent.");
        return mantissa;
    }

    internal static double ToDouble(BigInteger mantissa, int exponent)
    {
        // Scale in BigInteger first so that large mantissas with negative exponents keep their precision.
        int shift = 4 * exponent;
        if (shift >= 0) return (double)(mantissa << shift);
        long bitLength = (long)BigInteger.Abs(mantissa).GetBitLength();
        int keep = (int)Math.Max(0, bitLength - 60);
        return (double)(mantissa >> keep) * Math.Pow(2, keep + shift);
    }

    private static (PaillierReal, PaillierReal) Align(PaillierReal a, PaillierReal b)
    {
        if (a.Exponent == b.Exponent) return (a, b);
        var (low, high) = a.Exponent < b.Exponent ? (a, b) : (b, a);
        var factor = BigInteger.Pow(16, high.Exponent - low.Exponent);
        if (factor >= MaxMagnitude(a.Key)) throw new PaillierOverflowException($"Aligning exponents {low.Exponent} and {high.Exponent} needs a factor past this key's range.");
        var bound = high.Bound * factor;
        CheckBound(a.Key, bound, "the aligned operand");
        var scaled = new PaillierReal(PaillierScheme.MultiplyScalar(high.Ciphertext, factor), low.Exponent, bound);
        return a.Exponent < b.Exponent ? (a, scaled) : (scaled, b);
    }

    private static void CheckExponent(int exponent)
    {
        if (exponent < -MaxExponent || exponent > MaxExponent) throw new ArgumentOutOfRangeException(nameof(exponent), exponent, $"Exponents are in [−{MaxExponent}, {MaxExponent}].");
    }

    private static void CheckBound(PaillierPublicKey key, BigInteger bound, string what)
    {
        if (bound >= MaxMagnitude(key))
            throw new PaillierOverflowException($"{char.ToUpperInvariant(what[0])}{what[1..]} could reach {bound.GetBitLength()} bits, past the {MaxMagnitude(key).GetBitLength()}-bit range of this key: it would wrap modulo n.");
    }
}
