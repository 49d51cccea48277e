using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Veil.Arithmetic;

/// <summary>
/// An odd word-size modulus q (2 ≤ bits ≤ 61) with its Barrett constant, and the modular
/// operations every layer above uses. Inputs are assumed already reduced (&lt; q) unless a
/// method says otherwise.
/// </summary>
/// <remarks>
/// Barrett: with r = ⌊2^128 / q⌋, x mod q = x − ⌊x·r / 2^128⌋·q, corrected by at most one subtraction.
/// Shoup: for a fixed multiplicand w, w' = ⌊w·2^64 / q⌋ turns x·w mod q into two multiplications.
/// The 61-bit cap leaves room for Harvey's lazy NTT, whose values live in [0, 4q).
/// </remarks>
public readonly struct Modulus : IEquatable<Modulus>
{
    /// <summary>The largest modulus size supported, in bits.</summary>
    public const int MaxBits = 61;

    /// <summary>The modulus q.</summary>
    public readonly ulong Value;
    /// <summary>High word of ⌊2^128 / q⌋.</summary>
    public readonly ulong RatioHi;
    /// <summary>Low word of ⌊2^128 / q⌋.</summary>
    public readonly ulong RatioLo;
    /// <summary>Bit length of q.</summary>
    public readonly int BitCount;

    /// <summary>Creates the modulus and its Barrett constant.</summary>
    /// <exception cref="ArgumentOutOfRangeException">q is even, below 3 or above 2^61.</exception>
    public Modulus(ulong value) : this(value, requireOdd: true) { }

    private Modulus(ulong value, bool requireOdd)
    {
        if (value < (requireOdd ? 3UL : 2UL) || (requireOdd && (value & 1) == 0) || value >> MaxBits != 0)
            ThrowHelper.OutOfRange(nameof(value), requireOdd ? $"A modulus must be odd and in [3, 2^{MaxBits}); got {value}." : $"A modulus must be in [2, 2^{MaxBits}); got {value}.");
        Value = value;
        BitCount = 64 - System.Numerics.BitOperations.LeadingZeroCount(value);
        var ratio = (System.Numerics.BigInteger.One << 128) / value;
        RatioLo = (ulong)(ratio & ulong.MaxValue);
        RatioHi = (ulong)(ratio >> 64);
    }

    /// <summary>
    /// A modulus for reduction, addition and multiplication only, of any value in [2, 2^61) — even ones included (a
    /// plaintext modulus such as 2^16). <see cref="Inverse"/> and <see cref="Pow"/>-based inverses need an odd prime.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 2 or not below 2^61.</exception>
    public static Modulus ForArithmetic(ulong value) => new(value, requireOdd: false);

    /// <summary>x − bound when x ≥ bound, else x; no branch (valid for x &lt; 2^63 + bound, bound &lt; 2^63).</summary>
    /// <remarks>Branch-free on purpose: data-dependent branches mispredict on random residues (half the time), which
    /// costs more than the arithmetic, and they would leak secret-dependent timing.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SubtractIfAtLeast(ulong x, ulong bound)
    {
        ulong d = x - bound;
        return d + (bound & (ulong)((long)d >> 63));
    }

    /// <summary>The high 64 bits of a·b (one mulx where BMI2 is available).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong MultiplyHigh(ulong a, ulong b) =>
        Bmi2.X64.IsSupported ? Bmi2.X64.MultiplyNoFlags(a, b) : Math.BigMul(a, b, out _);

    /// <summary>x mod q for any 64-bit x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Reduce(ulong x)
    {
        ulong quotient = MultiplyHigh(x, RatioHi);
        return SubtractIfAtLeast(x - quotient * Value, Value);
    }

    /// <summary>(hi·2^64 + lo) mod q, for a 128-bit value below q·2^64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Reduce128(ulong hi, ulong lo)
    {
        // Estimate ⌊x·r / 2^128⌋ from the three partial products that matter; the error is at most one q.
        ulong carryLo = MultiplyHigh(lo, RatioLo);
        ulong midHi = Math.BigMul(lo, RatioHi, out ulong midLo);
        ulong sum = midLo + carryLo;
        ulong carry = sum < midLo ? 1UL : 0UL; // compiles to a flag read (setc), not a branch
        ulong t = midHi + carry;
        ulong crossHi = Math.BigMul(hi, RatioLo, out ulong crossLo);
        ulong sum2 = sum + crossLo;
        carry = sum2 < sum ? 1UL : 0UL;
        ulong quotient = hi * RatioHi + t + crossHi + carry;
        return SubtractIfAtLeast(lo - quotient * Value, Value);
    }

    /// <summary>a·b mod q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Mul(ulong a, ulong b)
    {
        ulong hi = Math.BigMul(a, b, out ulong lo);
        return Reduce128(hi, lo);
    }

    /// <summary>a + b mod q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Add(ulong a, ulong b)
    {
        return SubtractIfAtLeast(a + b, Value);
    }

    /// <summary>a − b mod q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Sub(ulong a, ulong b)
    {
        ulong d = a - b;
        return d + (Value & (ulong)((long)d >> 63));
    }

    /// <summary>−a mod q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Negate(ulong a) => Sub(0, a);

    /// <summary>The Shoup companion ⌊w·2^64 / q⌋ of a constant w &lt; q.</summary>
    public ulong ShoupPrecompute(ulong w)
    {
        if (w >= Value) ThrowHelper.OutOfRange(nameof(w), "The Shoup constant must be reduced.");
        return (ulong)(((UInt128)w << 64) / Value);
    }

    /// <summary>x·w mod q in [0, 2q) (lazy), x any 64-bit value, w with companion <paramref name="wShoup"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong MulShoupLazy(ulong x, ulong w, ulong wShoup)
    {
        ulong quotient = MultiplyHigh(x, wShoup);
        return x * w - quotient * Value;
    }

    /// <summary>x·w mod q, fully reduced.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong MulShoup(ulong x, ulong w, ulong wShoup)
    {
        return SubtractIfAtLeast(MulShoupLazy(x, w, wShoup), Value);
    }

    /// <summary>Maps a signed value to its residue in [0, q).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong FromSigned(long x)
    {
        // Branch-free: reduce |x|, then negate under a mask when x was negative.
        ulong mask = (ulong)(x >> 63);
        ulong magnitude = ((ulong)x ^ mask) - mask;
        ulong r = Reduce(magnitude);
        ulong negated = (Value - r) & (0UL - (r != 0 ? 1UL : 0UL));
        return (r & ~mask) | (negated & mask);
    }

    /// <summary>base^exponent mod q.</summary>
    public ulong Pow(ulong b, ulong exponent)
    {
        ulong result = 1 % Value, x = Reduce(b);
        while (exponent != 0)
        {
            if ((exponent & 1) != 0) result = Mul(result, x);
            x = Mul(x, x);
            exponent >>= 1;
        }
        return result;
    }

    /// <summary>The inverse of a modulo q.</summary>
    /// <exception cref="ArgumentException">a is not invertible.</exception>
    public ulong Inverse(ulong a)
    {
        // Extended Euclid in 128-bit signed arithmetic: q may not be prime in every caller.
        Int128 t = 0, newT = 1, r = Value, newR = Reduce(a);
        while (newR != 0)
        {
            Int128 quotient = r / newR;
            (t, newT) = (newT, t - quotient * newT);
            (r, newR) = (newR, r - quotient * newR);
        }
        if (r != 1) ThrowHelper.Argument(nameof(a), $"{a} has no inverse modulo {Value}.");
        if (t < 0) t += Value;
        return (ulong)t;
    }

    /// <inheritdoc/>
    public bool Equals(Modulus other) => Value == other.Value;
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Modulus m && Equals(m);
    /// <inheritdoc/>
    public override int GetHashCode() => Value.GetHashCode();
    /// <inheritdoc/>
    public override string ToString() => $"{Value} ({BitCount} bits)";
}
