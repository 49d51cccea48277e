using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Veil.Arithmetic;

/// <summary>
/// Modular arithmetic on 64-bit residues four lanes at a time with AVX-512 VL and DQ, for primes the double-precision
/// kernels cannot hold (above 2^50, up to <see cref="Modulus.MaxBits"/>).
/// </summary>
/// <remarks>
/// Products by a constant w with Shoup companion w' = ⌊w·2^64/q⌋: the quotient ⌊x·w'/2^64⌋ is estimated from three
/// 32×32-bit products (the low one and the carries out of the middle ones dropped), which falls short by at most 2, so
/// x·w − estimate·q lies in [0, 4q) (4q &lt; 2^64 for every <see cref="Modulus"/>) and one unsigned minimum against
/// r − 2q brings it to [0, 2q), as the scalar <see cref="Modulus.MulShoupLazy"/>.
/// </remarks>
public static class IntegerVectorModular
{
    /// <summary>Whether the processor has the instructions the kernels need.</summary>
    public static bool IsSupported => Avx512F.VL.IsSupported && Avx512DQ.VL.IsSupported;

    /// <summary>x·w mod q in [0, 2q) for any 64-bit x, w &lt; q with Shoup companion <paramref name="wShoup"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ulong> MulShoupLazy(Vector256<ulong> x, Vector256<ulong> w, Vector256<ulong> wShoup, Vector256<ulong> q, Vector256<ulong> twoQ)
    {
        var xHi = Avx2.ShiftRightLogical(x, 32);
        var wHi = Avx2.ShiftRightLogical(wShoup, 32);
        var high = Avx2.Multiply(xHi.AsUInt32(), wHi.AsUInt32());
        var mid1 = Avx2.Multiply(x.AsUInt32(), wHi.AsUInt32());
        var mid2 = Avx2.Multiply(xHi.AsUInt32(), wShoup.AsUInt32());
        var quotient = Avx2.Add(high, Avx2.Add(Avx2.ShiftRightLogical(mid1, 32), Avx2.ShiftRightLogical(mid2, 32)));
        var r = Avx2.Subtract(Avx512DQ.VL.MultiplyLow(x, w), Avx512DQ.VL.MultiplyLow(quotient, q));
        return Avx512F.VL.Min(r, Avx2.Subtract(r, twoQ));
    }

    /// <summary>x − bound where x ≥ bound, else x (x &lt; 2^63 + bound): an unsigned minimum, since x − bound wraps above x otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ulong> SubtractIfAtLeast(Vector256<ulong> x, Vector256<ulong> bound) =>
        Avx512F.VL.Min(x, Avx2.Subtract(x, bound));
}
