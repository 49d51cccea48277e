using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Veil.Arithmetic;

/// <summary>
/// Modular arithmetic on residues of primes below 2^50 held as doubles, four lanes at a time (AVX2 + FMA).
/// </summary>
/// <remarks>
/// x·w mod q: h = fl(x·w), l = x·w − h exactly (one FMA), c = round(h/q), g = (h − c·q) + l exactly (FMA); g lies in
/// (−q, q) (Harvey 2014; van der Hoeven, Lecerf and Quintin 2016). A residue below 2^52 converts to and from a double
/// with one OR (or XOR) and one floating-point subtraction (or addition) against 2^52.
/// </remarks>
public static class FloatingPointModular
{
    /// <summary>Largest prime size for which the double-precision kernels are exact.</summary>
    public const int MaxBits = 50;

    /// <summary>Whether the processor has the instructions the kernels need.</summary>
    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    private const ulong MagicBits = 0x4330000000000000UL; // the double 2^52
    private const double Magic = 4503599627370496.0;

    /// <summary>Residues (&lt; 2^52) to doubles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> ToDouble(Vector256<ulong> v) =>
        Avx.Subtract(Avx2.Or(v, Vector256.Create(MagicBits)).AsDouble(), Vector256.Create(Magic));

    /// <summary>Integral doubles in [0, 2^52) to residues.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<ulong> FromDouble(Vector256<double> v) =>
        Avx2.Xor(Avx.Add(v, Vector256.Create(Magic)).AsUInt64(), Vector256.Create(MagicBits));

    /// <summary>x·w mod q as an exact integer in (−q, q).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> MulModLazy(Vector256<double> x, Vector256<double> w, Vector256<double> q, Vector256<double> qInv)
    {
        var h = Avx.Multiply(x, w);
        var l = Fma.MultiplySubtract(x, w, h);
        var c = Avx.RoundToNearestInteger(Avx.Multiply(h, qInv));
        return Avx.Add(Fma.MultiplyAddNegated(c, q, h), l);
    }

    /// <summary>x·w mod q in [0, q).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> MulMod(Vector256<double> x, Vector256<double> w, Vector256<double> q, Vector256<double> qInv)
    {
        var g = MulModLazy(x, w, q, qInv);
        return Avx.Add(g, Avx.And(Avx.CompareLessThan(g, Vector256<double>.Zero), q));
    }

    /// <summary>An exact integer |v| &lt; 2^52 reduced to [0, q).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> ReduceExact(Vector256<double> v, Vector256<double> q, Vector256<double> qInv)
    {
        var c = Avx.RoundToNegativeInfinity(Avx.Multiply(v, qInv));
        var r = Fma.MultiplyAddNegated(c, q, v);
        r = Avx.Add(r, Avx.And(Avx.CompareLessThan(r, Vector256<double>.Zero), q));
        return Avx.Subtract(r, Avx.And(Avx.CompareGreaterThanOrEqual(r, q), q));
    }

    /// <summary>destination[i] = a[i]·b[i] mod q for residues of q &lt; 2^50; length a multiple of 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyPointwise(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination, ulong modulus)
    {
        var q = Vector256.Create((double)modulus);
        var qInv = Vector256.Create(1.0 / modulus);
        var x = System.Runtime.InteropServices.MemoryMarshal.Cast<ulong, Vector256<ulong>>(a);
        var y = System.Runtime.InteropServices.MemoryMarshal.Cast<ulong, Vector256<ulong>>(b);
        var d = System.Runtime.InteropServices.MemoryMarshal.Cast<ulong, Vector256<ulong>>(destination);
        for (int i = 0; i < d.Length; i++) d[i] = FromDouble(MulMod(ToDouble(x[i]), ToDouble(y[i]), q, qInv));
    }

    /// <summary>destination[i] = destination[i] + a[i]·b[i] mod q for residues of q &lt; 2^50; length a multiple of 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MultiplyAddPointwise(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination, ulong modulus)
    {
        var q = Vector256.Create((double)modulus);
        var qInv = Vector256.Create(1.0 / modulus);
        var x = System.Runtime.InteropServices.MemoryMarshal.Cast<ulong, Vector256<ulong>>(a);
        var y = System.Runtime.InteropServices.MemoryMarshal.Cast<ulong, Vector256<ulong>>(b);
        var d = System.Runtime.InteropServices.MemoryMarshal.Cast<ulong, Vector256<ulong>>(destination);
        for (int i = 0; i < d.Length; i++)
        {
            var sum = Avx.Add(ToDouble(d[i]), MulModLazy(ToDouble(x[i]), ToDouble(y[i]), q, qInv)); // in (−q, 2q)
            sum = Avx.Add(sum, Avx.And(Avx.CompareLessThan(sum, Vector256<double>.Zero), q));
            d[i] = FromDouble(Avx.Subtract(sum, Avx.And(Avx.CompareGreaterThanOrEqual(sum, q), q)));
        }
    }
}
