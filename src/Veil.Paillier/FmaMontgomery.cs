using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;

namespace Veil.Paillier;

/// <summary>
/// Montgomery arithmetic modulo an odd m on 52-bit limbs held in doubles, four limbs per AVX2 instruction: each
/// 52 × 52-bit product is split exactly into its high and low halves by two fused multiply-adds (the high half
/// rounded to a multiple of 2^52 by adding 2^104, the low half the exact remainder), and the halves are summed in
/// 64-bit integer accumulators without carries until a row is done.
/// </summary>
/// <remarks>
/// <para>R = 2^(52k) with 52k ≥ bits(m) + 2, so R &gt; 4m and the product of two values below 2m is below 2m without a
/// final subtraction (Walter's bound): there is no data-dependent step anywhere in a product. Values are k limbs in
/// [0, 2^52), below 2m, padded with zero limbs to a multiple of four.</para>
/// <para>About three times the throughput of the 64-bit FIOS product here, whose carry chains cost more instructions
/// than the multiplications themselves.</para>
/// </remarks>
internal sealed class FmaMontgomery
{
    private const int LimbBits = 52;
    private const long LimbMask = (1L << LimbBits) - 1;
    private static readonly double HighMagic = Math.Pow(2, 104);       // 2^104 + a·b stays in [2^104, 2^105): an ulp of 2^52
    private static readonly double LowMagic = 1.5 * Math.Pow(2, 52);   // x + this has an ulp of 1 for |x| ≤ 2^51
    private static readonly long HighMagicBits = BitConverter.DoubleToInt64Bits(HighMagic);
    private static readonly long LowMagicBits = BitConverter.DoubleToInt64Bits(LowMagic);

    private readonly double[] _mPadded; // four zero limbs, m, four zero limbs
    private readonly long _mInv; // −m^-1 mod 2^52

    public static bool IsSupported => Fma.IsSupported && Avx2.IsSupported;

    public FmaMontgomery(BigInteger modulus)
    {
        if (modulus.Sign <= 0 || modulus.IsEven) throw new ArgumentException("The modulus must be odd and positive.", nameof(modulus));
        Modulus = modulus;
        K = (int)((modulus.GetBitLength() + 2 + LimbBits - 1) / LimbBits);
        Padded = (K + 3) & ~3;
        _mPadded = new double[Padded + 8];
        ToDoubles(modulus).AsSpan(0, Padded).CopyTo(_mPadded.AsSpan(4));
        ulong m0 = (ulong)((long)(modulus & LimbMask)), inv = 1;
        for (int i = 0; i < 6; i++) inv *= 2 - m0 * inv;
        _mInv = (long)(0 - inv) & LimbMask;
        R = BigInteger.One << (LimbBits * K);
        One = ToDoubles(R % modulus);
        _r2 = ToDoubles(R * R % modulus);
    }

    private readonly double[] _r2; // R² mod m

    public BigInteger Modulus { get; }
    /// <summary>Limbs of a value.</summary>
    public int K { get; }
    /// <summary>Length of a value's array (K rounded up to a multiple of 4).</summary>
    public int Padded { get; }
    private BigInteger R { get; }
    /// <summary>1 in Montgomery form.</summary>
    public double[] One { get; }

    /// <summary>x (0 ≤ x &lt; 2^(52K)) as limbs.</summary>
    public double[] ToDoubles(BigInteger x)
    {
        if (x.Sign < 0 || x.GetBitLength() > LimbBits * K) throw new ArgumentException("The value does not fit.", nameof(x));
        var words = new ulong[(LimbBits * K + 63) / 64 + 1];
        x.TryWriteBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(words.AsSpan()), out _, isUnsigned: true, isBigEndian: false);
        var result = new double[Padded];
        for (int i = 0; i < K; i++)
        {
            int bit = i * LimbBits, w = bit >> 6, shift = bit & 63;
            ulong limb = words[w] >> shift;
            if (shift > 64 - LimbBits) limb |= words[w + 1] << (64 - shift);
            result[i] = (long)(limb & LimbMask);
        }
        Array.Clear(words);
        return result;
    }

    /// <summary>The integer the limbs hold (limbs in [0, 2^52)).</summary>
    public BigInteger FromDoubles(ReadOnlySpan<double> limbs)
    {
        var words = new ulong[(LimbBits * K + 63) / 64 + 1];
        for (int i = 0; i < K; i++)
        {
            ulong limb = (ulong)(long)limbs[i];
            int bit = i * LimbBits, w = bit >> 6, shift = bit & 63;
            words[w] |= limb << shift;
            if (shift > 64 - LimbBits) words[w + 1] |= limb >> (64 - shift);
        }
        var x = new BigInteger(System.Runtime.InteropServices.MemoryMarshal.AsBytes(words.AsSpan()), isUnsigned: true, isBigEndian: false);
        Array.Clear(words);
        return x;
    }

    /// <summary>x·R mod m for 0 ≤ x &lt; m.</summary>
    public double[] ToMontgomery(BigInteger x) => ToDoubles((x << (LimbBits * K)) % Modulus);

    /// <summary>The ordinary value (fully reduced) of a Montgomery-form a.</summary>
    public BigInteger FromMontgomery(ReadOnlySpan<double> a)
    {
        var oneLimb = new double[Padded];
        oneLimb[0] = 1;
        var r = new double[Padded];
        Multiply(a, oneLimb, r);
        var x = FromDoubles(r);
        return x >= Modulus ? x - Modulus : x; // below 2m; the last step of an exponentiation, on its public result size
    }

    /// <summary>r = a·b·R^-1 mod m, below 2m (a, b below 2m; r may alias either).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public unsafe void Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> r)
    {
        int k = K, kp = Padded;
        // Accumulators at fixed, aligned positions: TL[x] sums the low halves of products landing at limb x, TH[x] the
        // high halves of products landing at x (worth limb x + 1). Row i reads b and m shifted by i instead, from
        // copies with four zero limbs on each side, so every accumulator store is reloaded at the same address.
        int size = 2 * kp + 8;
        long* tl = stackalloc long[size];
        long* th = stackalloc long[size];
        double* bp = stackalloc double[kp + 8];
        new Span<long>(tl, size).Clear();
        new Span<long>(th, size).Clear();
        new Span<double>(bp, kp + 8).Clear();
        fixed (double* pa = a, pb = b, pm = _mPadded, pr = r)
        {
            for (int j = 0; j < k; j++) bp[4 + j] = pb[j];
            var highMagic = Vector256.Create(HighMagic);
            var lowMagic = Vector256.Create(LowMagic);
            var bothHighMagics = Vector256.Create(2 * HighMagicBits);
            var bothLowMagics = Vector256.Create(2 * LowMagicBits);
            ulong b0 = (ulong)pb[0];
            for (int i = 0; i < k; i++)
            {
                ulong ai = (ulong)pa[i];
                // T[i] (carry-in included) plus a_i·b_0 mod 2^52 fixes u, the multiple of m that clears limb i.
                long ti = tl[i] + (i > 0 ? th[i - 1] : 0) + (long)((ai * b0) & LimbMask);
                long u = (long)(((ulong)ti * (ulong)_mInv) & LimbMask);
                var va = Vector256.Create((double)ai);
                var vu = Vector256.Create((double)u);
                int end = i + k;
                for (int x = i & ~3; x < end; x += 4)
                {
                    var vb = Avx.LoadVector256(bp + 4 + x - i);
                    var vm = Avx.LoadVector256(pm + 4 + x - i);
                    var hiA = Fma.MultiplyAdd(va, vb, highMagic);
                    var hiM = Fma.MultiplyAdd(vu, vm, highMagic);
                    // The exact remainders a·b − (hi − magic), each within ±2^51, read as integers through LowMagic.
                    var loA = Avx.Add(Fma.MultiplySubtract(va, vb, Avx.Subtract(hiA, highMagic)), lowMagic);
                    var loM = Avx.Add(Fma.MultiplySubtract(vu, vm, Avx.Subtract(hiM, highMagic)), lowMagic);
                    var highs = Avx2.Subtract(Avx2.Add(hiA.AsInt64(), hiM.AsInt64()), bothHighMagics);
                    var lows = Avx2.Subtract(Avx2.Add(loA.AsInt64(), loM.AsInt64()), bothLowMagics);
                    Avx.Store(tl + x, Avx2.Add(Avx.LoadVector256(tl + x), lows));
                    Avx.Store(th + x, Avx2.Add(Avx.LoadVector256(th + x), highs));
                }
                // T[i] ≡ 0 mod 2^52 now: carry it into T[i + 1].
                long t = tl[i] + (i > 0 ? th[i - 1] : 0);
                tl[i + 1] += t >> LimbBits;
            }
            // The result is T[k … 2k): normalize to limbs in [0, 2^52).
            long carry = 0;
            for (int t = 0; t < k; t++)
            {
                long x = tl[k + t] + th[k + t - 1] + carry;
                pr[t] = x & LimbMask;
                carry = x >> LimbBits;
            }
            for (int t = k; t < kp; t++) pr[t] = 0;
        }
    }

    /// <summary>x^e mod m by fixed windows; with <paramref name="secretExponent"/>, the same products for every exponent of this length and every table entry read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public BigInteger Pow(BigInteger x, BigInteger e, int exponentBits, bool secretExponent)
    {
        int w = exponentBits <= 16 ? 1 : exponentBits <= 64 ? 3 : exponentBits <= 256 ? 4 : 5, size = 1 << w;
        int n = Padded;
        var table = new double[size * n];
        One.CopyTo(table, 0);
        var xm = ToMontgomery(x % Modulus);
        xm.CopyTo(table, n);
        for (int i = 2; i < size; i++) Multiply(table.AsSpan((i - 1) * n, n), xm, table.AsSpan(i * n, n));
        var acc = (double[])One.Clone();
        var entry = new double[n];
        var bits = e.ToByteArray(isUnsigned: true, isBigEndian: false);
        try
        {
        int windows = (exponentBits + w - 1) / w;
        for (int win = windows - 1; win >= 0; win--)
        {
            for (int s = 0; s < w; s++) Multiply(acc, acc, acc);
            int digit = MontgomeryContext.Window(bits, win * w, w);
            if (secretExponent)
            {
                Select(table, digit, entry, n, size);
                Multiply(acc, entry, acc);
            }
            else if (digit != 0) Multiply(acc, table.AsSpan(digit * n, n), acc);
        }
        return FromMontgomery(acc);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bits);
            if (secretExponent)
            {
                CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(table.AsSpan()));
                CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(acc.AsSpan()));
                CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(entry.AsSpan()));
                CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(xm.AsSpan()));
            }
        }
    }

    /// <summary>entry = table[index], reading every entry (mask select on the bits, four limbs at a time).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Select(double[] table, int index, Span<double> entry, int n, int size)
    {
        var e = System.Runtime.InteropServices.MemoryMarshal.Cast<double, Vector256<long>>(entry[..n]);
        var t = System.Runtime.InteropServices.MemoryMarshal.Cast<double, Vector256<long>>(table.AsSpan(0, size * n));
        int vectors = n / 4;
        e.Clear();
        for (int k = 0; k < size; k++)
        {
            var mask = Vector256.Create(-(long)(((uint)(k ^ index) - 1) >> 31));
            var row = t.Slice(k * vectors, vectors);
            for (int j = 0; j < vectors; j++) e[j] |= row[j] & mask;
        }
    }

    /// <summary>a·b mod m, fully reduced, for 0 ≤ a, b &lt; m (two products: a·b·R^-1, then times R² mod m).</summary>
    public BigInteger MultiplyMod(BigInteger a, BigInteger b)
    {
        var r = new double[Padded];
        Multiply(ToDoubles(a), ToDoubles(b), r);
        Multiply(r, _r2, r);
        var x = FromDoubles(r);
        return x >= Modulus ? x - Modulus : x;
    }
}
