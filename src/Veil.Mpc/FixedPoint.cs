namespace Veil.Mpc;

/// <summary>
/// Reals as integers of Z_2^64 scaled by 2^f (two's complement: a negative value is 2^64 − |x|·2^f), as CrypTen's
/// encoder with its default f = 16. A product carries 2f fractional bits until it is truncated.
/// </summary>
public sealed record FixedPointFormat
{
    /// <summary>CrypTen's default of 16 fractional bits, values below 2^8 in magnitude.</summary>
    public static FixedPointFormat Default { get; } = new(16, 8);

    /// <summary>A format with f fractional bits for values below 2^<paramref name="integerBits"/> in magnitude.</summary>
    /// <exception cref="ArgumentOutOfRangeException">f outside [1, 30], or a product of two values (2·(f + integer bits) bits) past 60 bits.</exception>
    public FixedPointFormat(int fractionalBits, int integerBits)
    {
        if (fractionalBits < 1 || fractionalBits > 30) throw new ArgumentOutOfRangeException(nameof(fractionalBits), fractionalBits, "Fractional bits are 1 … 30.");
        if (integerBits < 0 || 2 * (fractionalBits + integerBits) > 60)
            throw new ArgumentOutOfRangeException(nameof(integerBits), integerBits, $"A product needs 2·(f + integer bits) ≤ 60 bits; with f = {fractionalBits}, integer bits are 0 … {30 - fractionalBits}.");
        FractionalBits = fractionalBits;
        IntegerBits = integerBits;
    }

    /// <summary>f.</summary>
    public int FractionalBits { get; }

    /// <summary>Values are below 2^IntegerBits in magnitude.</summary>
    public int IntegerBits { get; }

    /// <summary>2^f.</summary>
    public double Scale => Math.ScaleB(1.0, FractionalBits);

    /// <summary>The bound on |x|: 2^IntegerBits.</summary>
    public double MaxMagnitude => Math.ScaleB(1.0, IntegerBits);

    /// <summary>
    /// Bits of an untruncated product of two values, 2·(f + integer bits): the bound its truncation is sized for (it fails
    /// with probability at most 2^(bits + 1 − 64) per element; 2^−15 for the default format).
    /// </summary>
    public int ProductBits => 2 * (FractionalBits + IntegerBits);

    /// <summary>round(x·2^f) mod 2^64.</summary>
    /// <exception cref="OverflowException">|x| is not below <see cref="MaxMagnitude"/>, or x is not finite.</exception>
    public ulong Encode(double x)
    {
        if (!double.IsFinite(x) || Math.Abs(x) >= MaxMagnitude)
            throw new OverflowException($"{x} is outside the fixed-point range (−{MaxMagnitude}, {MaxMagnitude}) of {FractionalBits} fractional bits.");
        return unchecked((ulong)(long)Math.Round(x * Scale));
    }

    /// <summary>Each value encoded.</summary>
    public ulong[] Encode(ReadOnlySpan<double> values)
    {
        var result = new ulong[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = Encode(values[i]);
        return result;
    }

    /// <summary>The real of an element with <paramref name="fractionalBits"/> fractional bits (f by default; 2f for an untruncated product).</summary>
    public double Decode(ulong x, int? fractionalBits = null) => Math.ScaleB((double)unchecked((long)x), -(fractionalBits ?? FractionalBits));

    /// <summary>Each value decoded.</summary>
    public double[] Decode(ReadOnlySpan<ulong> values, int? fractionalBits = null)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++) result[i] = Decode(values[i], fractionalBits);
        return result;
    }
}
