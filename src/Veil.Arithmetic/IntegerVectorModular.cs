using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Veil.Arithmetic;

/// <summary>
/// Modular arithmetic on 64-bit residues four lanes at a time with AVX2 (AVX-512 VL and DQ where present, for the
/// 64-bit products and unsigned minima), for primes the double-precision kernels cannot hold (above 2^50, up to
/// <see cref="Modulus.MaxBits"/>).
/// </summary>
/// <remarks>
/// Products by a constant w with Shoup companion w' = ⌊w·2^64/q⌋: the quotient ⌊x·w'/2^64⌋ is estimated from three
/// 32×32-bit products (the low one and the carries out of the middle ones dropped), which falls short by at most 2, so
/// x·w − estimate·q lies in [0, 4q) (4q &lt; 2^64 for every <see cref="Modulus"/>) and one unsigned minimum against
/// r − 2q brings it to [0, 2q), as the scalar <see cref="Modulus.MulShoupLazy"/>. Without AVX-512 the low 64-bit
/// products are built from three 32×32-bit ones and the minimum is a blend on the sign of r − 2q (r &lt; 2^63 + 2q), the
/// same words either way.
/// </remarks>
public static class IntegerVectorModular
{
    /// <summary>Whether the processor has the instructions the kernels need.</summary>
    public static bool IsSupported => Avx2.IsSupported;

    /// <summary>Whether 64-bit lanes convert to and from doubles in one instruction (AVX-512 DQ), which
    /// <see cref="BasisConverter"/>'s integer-lane preparation needs.</summary>
    public static bool ConversionsSupported => Avx512DQ.VL.IsSupported;

    /// <summary>x·w mod q in [0, 2q) for any 64-bit x, w &lt; q with Shoup companion <paramref name="wShoup"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ulong> MulShoupLazy(Vector256<ulong> x, Vector256<ulong> w, Vector256<ulong> wShoup, Vector256<ulong> q, Vector256<ulong> twoQ)
    {
        if (!Avx512DQ.VL.IsSupported) return MulShoupLazyAvx2(x, w, wShoup, q, twoQ);
        var r = Avx2.Subtract(Avx512DQ.VL.MultiplyLow(x, w), Avx512DQ.VL.MultiplyLow(ShoupQuotient(x, wShoup), q));
        return Avx512F.VL.Min(r, Avx2.Subtract(r, twoQ));
    }

    // The AVX2-only form (tests run it on every processor with AVX2).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<ulong> MulShoupLazyAvx2(Vector256<ulong> x, Vector256<ulong> w, Vector256<ulong> wShoup, Vector256<ulong> q, Vector256<ulong> twoQ)
    {
        var r = Avx2.Subtract(MultiplyLowAvx2(x, w), MultiplyLowAvx2(ShoupQuotient(x, wShoup), q));
        return SubtractIfAtLeastAvx2(r, twoQ);
    }

    // ⌊x·w'/2^64⌋ short by at most 2: the high product and the high halves of the two middle ones.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> ShoupQuotient(Vector256<ulong> x, Vector256<ulong> wShoup)
    {
        var xHi = Avx2.ShiftRightLogical(x, 32);
        var wHi = Avx2.ShiftRightLogical(wShoup, 32);
        var high = Avx2.Multiply(xHi.AsUInt32(), wHi.AsUInt32());
        var mid1 = Avx2.Multiply(x.AsUInt32(), wHi.AsUInt32());
        var mid2 = Avx2.Multiply(xHi.AsUInt32(), wShoup.AsUInt32());
        return Avx2.Add(high, Avx2.Add(Avx2.ShiftRightLogical(mid1, 32), Avx2.ShiftRightLogical(mid2, 32)));
    }

    /// <summary>The low 64 bits of x·y per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ulong> MultiplyLow(Vector256<ulong> x, Vector256<ulong> y) =>
        Avx512DQ.VL.IsSupported ? Avx512DQ.VL.MultiplyLow(x, y) : MultiplyLowAvx2(x, y);

    // x_lo·y_lo + ((x_hi·y_lo + x_lo·y_hi) mod 2^32)·2^32.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<ulong> MultiplyLowAvx2(Vector256<ulong> x, Vector256<ulong> y)
    {
        var low = Avx2.Multiply(x.AsUInt32(), y.AsUInt32());
        var cross = Avx2.Add(Avx2.Multiply(Avx2.ShiftRightLogical(x, 32).AsUInt32(), y.AsUInt32()),
                             Avx2.Multiply(x.AsUInt32(), Avx2.ShiftRightLogical(y, 32).AsUInt32()));
        return Avx2.Add(low, Avx2.ShiftLeftLogical(cross, 32));
    }

    /// <summary>x − bound where x ≥ bound, else x (for bound ≤ 2^63 and x &lt; 2^63 + bound, which the AVX2 form needs): an unsigned minimum, since x − bound wraps above x otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ulong> SubtractIfAtLeast(Vector256<ulong> x, Vector256<ulong> bound) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.Min(x, Avx2.Subtract(x, bound)) : SubtractIfAtLeastAvx2(x, bound);

    // x − bound has its sign bit set exactly when it wrapped (x < bound, given x < 2^63 + bound): keep x there.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<ulong> SubtractIfAtLeastAvx2(Vector256<ulong> x, Vector256<ulong> bound)
    {
        var t = Avx2.Subtract(x, bound);
        return Avx.BlendVariable(t.AsDouble(), x.AsDouble(), t.AsDouble()).AsUInt64();
    }
}
