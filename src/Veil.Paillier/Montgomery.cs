using System.Numerics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Veil.Paillier;

/// <summary>
/// Arithmetic modulo an odd m in Montgomery form on 64-bit limbs (R = 2^(64·n)): the finely integrated product
/// (FIOS: multiplication and reduction in one pass), exponentiation by fixed windows with a constant-time table scan
/// for secret exponents, and fixed-base exponentiation from a precomputed table.
/// </summary>
/// <remarks>Values are little-endian limb arrays of length n, kept below m. The final subtraction of each product is
/// computed always and selected by mask, so a product's timing does not depend on its operands.</remarks>
internal sealed unsafe class MontgomeryContext
{
    private readonly ulong[] _m;
    private readonly ulong _mInv; // −m^-1 mod 2^64
    private readonly ulong[] _r2; // R² mod m
    private readonly ulong[] _one; // R mod m (1 in Montgomery form)

    /// <summary>A context; <paramref name="allowFma"/> false keeps every operation on the 64-bit product (for tests).</summary>
    public MontgomeryContext(BigInteger modulus, bool allowFma = true)
    {
        if (modulus.Sign <= 0 || modulus.IsEven) throw new ArgumentException("The modulus must be odd and positive.", nameof(modulus));
        Modulus = modulus;
        Limbs = (int)((modulus.GetBitLength() + 63) / 64);
        _m = ToLimbs(modulus, Limbs);
        ulong inv = 1;
        for (int i = 0; i < 6; i++) inv *= 2 - _m[0] * inv;
        _mInv = 0 - inv;
        var r = BigInteger.One << (64 * Limbs);
        _r2 = ToLimbs(r * r % modulus, Limbs);
        _one = ToLimbs(r % modulus, Limbs);
        // The four-lane product's 64-bit accumulators hold up to about 680 limbs; beyond 512 the 64-bit product serves.
        Fma = allowFma && FmaMontgomery.IsSupported && (modulus.GetBitLength() + 2 + 51) / 52 <= 512 ? new FmaMontgomery(modulus) : null;
    }

    /// <summary>The four-lane double-precision product for this modulus, where the processor has AVX2 and FMA.</summary>
    public FmaMontgomery? Fma { get; }

    public BigInteger Modulus { get; }
    public int Limbs { get; }

    public static ulong[] ToLimbs(BigInteger x, int limbs)
    {
        var result = new ulong[limbs];
        var bytes = x.ToByteArray(isUnsigned: true, isBigEndian: false);
        if (bytes.Length > limbs * 8) throw new ArgumentException("The value does not fit.", nameof(x));
        for (int i = 0; i < bytes.Length; i++) result[i / 8] |= (ulong)bytes[i] << (8 * (i % 8));
        return result;
    }

    public static BigInteger FromLimbs(ReadOnlySpan<ulong> limbs)
    {
        var bytes = new byte[limbs.Length * 8 + 1];
        for (int i = 0; i < limbs.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8 * i), limbs[i]);
        return new BigInteger(bytes, isUnsigned: true, isBigEndian: false);
    }

    /// <summary>x·R mod m, for 0 ≤ x &lt; m.</summary>
    public ulong[] ToMontgomery(BigInteger x)
    {
        var a = ToLimbs(x, Limbs);
        var r = new ulong[Limbs];
        Multiply(a, _r2, r);
        return r;
    }

    /// <summary>The ordinary value of a Montgomery-form a.</summary>
    public BigInteger FromMontgomery(ReadOnlySpan<ulong> a)
    {
        var one = new ulong[Limbs];
        one[0] = 1;
        var r = new ulong[Limbs];
        Multiply(a, one, r);
        return FromLimbs(r);
    }

    /// <summary>r = a·b·R^-1 mod m (a, b &lt; m; r may alias either).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Multiply(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> r)
    {
        int n = Limbs;
        Span<ulong> t = n <= 128 ? stackalloc ulong[n + 2] : new ulong[n + 2];
        t.Clear();
        fixed (ulong* pa = a, pb = b, pm = _m, pt = t)
        {
            ulong minv = _mInv;
            for (int i = 0; i < n; i++)
            {
                ulong ai = pa[i];
                First(ai, pb[0], pm[0], minv, pt, out ulong u, out ulong c1, out ulong c2);
                for (int j = 1; j < n; j++) Step(ai, u, pb[j], pm[j], pt, j, ref c1, ref c2);
                Final(pt, n, c1, c2);
            }
            SubtractIfAtLeast(pt, pt[n], pm, r, n);
        }
    }

    // Limb 0 of a row: t0 + ai·b0 + u·m0 ≡ 0 mod 2^64 for u = (t0 + ai·b0)·(−m^-1).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void First(ulong ai, ulong b0, ulong m0, ulong minv, ulong* pt, out ulong u, out ulong c1, out ulong c2)
    {
        ulong h1 = Math.BigMul(ai, b0, out ulong l1);
        ulong t0 = pt[0];
        l1 += t0; h1 += l1 < t0 ? 1UL : 0;
        u = l1 * minv;
        ulong h2 = Math.BigMul(u, m0, out ulong l2);
        l2 += l1; h2 += l2 < l1 ? 1UL : 0;
        c1 = h1; c2 = h2;
    }

    // Limb j of a row: t[j−1] ← low word of t[j] + ai·b_j + u·m_j + carries.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(ulong ai, ulong u, ulong bj, ulong mj, ulong* pt, int j, ref ulong c1, ref ulong c2)
    {
        ulong hi = Math.BigMul(ai, bj, out ulong lo);
        lo += c1; hi += lo < c1 ? 1UL : 0;
        ulong tj = pt[j];
        lo += tj; hi += lo < tj ? 1UL : 0;
        c1 = hi;
        ulong hi2 = Math.BigMul(u, mj, out ulong lo2);
        lo2 += c2; hi2 += lo2 < c2 ? 1UL : 0;
        lo2 += lo; hi2 += lo2 < lo ? 1UL : 0;
        pt[j - 1] = lo2; c2 = hi2;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Final(ulong* pt, int n, ulong c1, ulong c2)
    {
        ulong s = pt[n] + c1; ulong carry = s < c1 ? 1UL : 0;
        s += c2; carry += s < c2 ? 1UL : 0;
        pt[n - 1] = s; pt[n] = carry;
    }

    /// <summary>r = x − m when (top, x) ≥ m, else x; chosen by mask (x &lt; 2m).</summary>
    private static void SubtractIfAtLeast(ulong* px, ulong top, ulong* pm, Span<ulong> r, int n)
    {
        ulong borrow = 0;
        Span<ulong> d = n <= 128 ? stackalloc ulong[n] : new ulong[n];
        for (int j = 0; j < n; j++)
        {
            ulong x = px[j], y = pm[j];
            ulong diff = x - y - borrow;
            borrow = ((~x & y) | (~(x ^ y) & diff)) >> 63;
            d[j] = diff;
        }
        ulong keepX = 0UL - ((borrow & ~top) & 1);
        for (int j = 0; j < n; j++) r[j] = (d[j] & ~keepX) | (px[j] & keepX);
    }

    /// <summary>
    /// x^e mod m for 0 ≤ x &lt; m and e ≥ 0 of at most <paramref name="exponentBits"/> bits, by fixed windows (1 to 5 bits by exponent length). With
    /// <paramref name="secretExponent"/> the number of products depends only on <paramref name="exponentBits"/> and
    /// every table lookup reads the whole table.
    /// </summary>
    public BigInteger Pow(BigInteger x, BigInteger e, int exponentBits, bool secretExponent)
    {
        if (Fma is not null) return Fma.Pow(x, e, exponentBits, secretExponent);
        var bits = e.ToByteArray(isUnsigned: true, isBigEndian: false);
        try { return Pow64(x, bits, exponentBits, secretExponent); }
        finally { CryptographicOperations.ZeroMemory(bits); }
    }

    private BigInteger Pow64(BigInteger x, byte[] bits, int exponentBits, bool secretExponent)
    {
        // The window that minimises table building plus one product per window (5 for the long secret exponents).
        int w = exponentBits <= 16 ? 1 : exponentBits <= 64 ? 3 : exponentBits <= 256 ? 4 : 5, size = 1 << w;
        int n = Limbs;
        var table = new ulong[size * n];
        _one.CopyTo(table, 0);
        var xm = ToMontgomery(x % Modulus);
        xm.CopyTo(table, n);
        for (int i = 2; i < size; i++) Multiply(table.AsSpan((i - 1) * n, n), xm, table.AsSpan(i * n, n));
        var acc = (ulong[])_one.Clone();
        var entry = new ulong[n];
        int windows = (exponentBits + w - 1) / w;
        for (int win = windows - 1; win >= 0; win--)
        {
            for (int s = 0; s < w; s++) Multiply(acc, acc, acc);
            int digit = Window(bits, win * w, w);
            if (secretExponent)
            {
                Select(table, digit, entry, n, size);
                Multiply(acc, entry, acc);
            }
            else if (digit != 0) Multiply(acc, table.AsSpan(digit * n, n), acc);
        }
        var result = FromMontgomery(acc);
        if (secretExponent)
        {
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(table.AsSpan()));
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(acc.AsSpan()));
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(entry.AsSpan()));
        }
        return result;
    }

    /// <summary>Bits [start, start + width) of a little-endian byte string, zero past its end.</summary>
    internal static int Window(ReadOnlySpan<byte> bits, int start, int width)
    {
        int digit = 0;
        for (int b = 0; b < width; b++)
        {
            int bit = start + b;
            if (bit / 8 < bits.Length) digit |= ((bits[bit / 8] >> (bit % 8)) & 1) << b;
        }
        return digit;
    }

    /// <summary>entry = table[index], reading every entry (mask select).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Select(ulong[] table, int index, Span<ulong> entry, int n, int size)
    {
        entry.Clear();
        for (int k = 0; k < size; k++)
        {
            ulong mask = 0UL - (ulong)(((uint)(k ^ index) - 1) >> 31); // all ones where k == index
            var row = table.AsSpan(k * n, n);
            for (int j = 0; j < n; j++) entry[j] |= row[j] & mask;
        }
    }
}

/// <summary>
/// g^e mod m for a fixed g and exponents of up to a fixed length, from a table of g^(d·2^(w·j)) (w = 5): one product per
/// window and no squaring; every lookup scans its whole row, so the exponent (secret randomness) does not show in the
/// memory access pattern. Runs on the four-lane product where the context has it.
/// </summary>
internal sealed class FixedBaseExponentiator
{
    private const int W = 5, Size = 1 << W;
    private readonly MontgomeryContext _context;
    private readonly ulong[][]? _rows;
    private readonly double[][]? _fmaRows;

    public FixedBaseExponentiator(MontgomeryContext context, BigInteger g, int exponentBits)
    {
        _context = context;
        ExponentBits = exponentBits;
        int windows = (exponentBits + W - 1) / W;
        var fma = context.Fma;
        if (fma is not null)
        {
            int n = fma.Padded;
            _fmaRows = new double[windows][];
            var baseM = fma.ToMontgomery(g % context.Modulus);
            for (int j = 0; j < windows; j++)
            {
                var row = new double[Size * n];
                fma.One.CopyTo(row, 0);
                baseM.CopyTo(row, n);
                for (int d = 2; d < Size; d++) fma.Multiply(row.AsSpan((d - 1) * n, n), baseM, row.AsSpan(d * n, n));
                _fmaRows[j] = row;
                var next = row.AsSpan((Size - 1) * n, n).ToArray();
                fma.Multiply(next, baseM, next);
                baseM = next;
            }
        }
        else
        {
            int n = context.Limbs;
            _rows = new ulong[windows][];
            var baseM = context.ToMontgomery(g % context.Modulus);
            var one = context.ToMontgomery(BigInteger.One);
            for (int j = 0; j < windows; j++)
            {
                var row = new ulong[Size * n];
                one.CopyTo(row, 0);
                baseM.CopyTo(row, n);
                for (int d = 2; d < Size; d++) context.Multiply(row.AsSpan((d - 1) * n, n), baseM, row.AsSpan(d * n, n));
                _rows[j] = row;
                // Next window's base: g^(2^(w·(j+1))) = (this base)^(2^w).
                var next = row.AsSpan((Size - 1) * n, n).ToArray();
                context.Multiply(next, baseM, next);
                baseM = next;
            }
        }
    }

    public int ExponentBits { get; }

    /// <summary>g^e · y mod m (fully reduced) for 0 ≤ e &lt; 2^ExponentBits and 0 ≤ y &lt; m.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public BigInteger PowTimes(BigInteger e, BigInteger y)
    {
        var bytes = e.ToByteArray(isUnsigned: true, isBigEndian: false);
        try
        {
            var fma = _context.Fma;
            if (fma is not null)
            {
                int n = fma.Padded;
                var acc = (double[])fma.One.Clone();
                var entry = new double[n];
                for (int j = 0; j < _fmaRows!.Length; j++)
                {
                    FmaMontgomery.Select(_fmaRows[j], MontgomeryContext.Window(bytes, j * W, W), entry, n, Size);
                    fma.Multiply(acc, entry, acc);
                }
                // A Montgomery-form factor times an ordinary one is the ordinary product.
                var result = new double[n];
                fma.Multiply(acc, fma.ToDoubles(y), result);
                var value = fma.FromDoubles(result);
                return value >= _context.Modulus ? value - _context.Modulus : value;
            }
            else
            {
                int n = _context.Limbs;
                var acc = _context.ToMontgomery(BigInteger.One);
                var entry = new ulong[n];
                for (int j = 0; j < _rows!.Length; j++)
                {
                    MontgomeryContext.Select(_rows[j], MontgomeryContext.Window(bytes, j * W, W), entry, n, Size);
                    _context.Multiply(acc, entry, acc);
                }
                var result = new ulong[n];
                _context.Multiply(acc, MontgomeryContext.ToLimbs(y, n), result);
                return MontgomeryContext.FromLimbs(result);
            }
        }
        finally { CryptographicOperations.ZeroMemory(bytes); }
    }
}
