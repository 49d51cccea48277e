using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Veil.Arithmetic;

/// <summary>
/// The NTT for primes below 2^50 in double precision with AVX2 and FMA, four butterflies per instruction.
/// </summary>
/// <remarks>
/// Residues below 2^50 are exact doubles. x·w mod q: h = fl(x·w), l = x·w − h exactly (one FMA), c = round(h/q),
/// g = (h − c·q) + l exactly (FMA), which lies in (−q, q) and needs one conditional +q (Harvey 2014; van der Hoeven,
/// Lecerf and Quintin 2016). The polynomial is converted in place: for x &lt; 2^52 the double of x has the bits of
/// (x | 2^52 exponent pattern) minus 2^52, so the conversion is an OR and a subtraction per word.
/// </remarks>
public sealed partial class NttTable
{
    /// <summary>Primes below this size take the floating-point path when the processor has AVX2 and FMA.</summary>
    public const int FloatingPointMaxBits = FloatingPointModular.MaxBits;

    private const ulong MagicBits = 0x4330000000000000UL; // the double 2^52
    private const double Magic = 4503599627370496.0;

    private double[]? _rootsD, _invRootsD;
    // Roots of the last two forward stages (first two inverse ones) laid out as the shuffled lanes use them.
    private double[]? _fwdT2, _fwdT1, _invT2, _invT1;
    private double _invND, _lastInvRootD;

    /// <summary>Whether this table uses the AVX2/FMA double-precision kernels.</summary>
    public bool UsesFloatingPoint => _rootsD is not null;

    private void InitializeFloatingPoint()
    {
        if (Modulus.BitCount > FloatingPointMaxBits || !FloatingPointModular.IsSupported || N < 8) return;
        _rootsD = _roots.Select(r => (double)r).ToArray();
        _invRootsD = _invRoots.Select(r => (double)r).ToArray();
        _invND = _invN;
        _lastInvRootD = _lastInvRoot;
        (_fwdT2, _fwdT1) = ShuffledRoots(_rootsD);
        (_invT2, _invT1) = ShuffledRoots(_invRootsD);
    }

    private (T[] t2, T[] t1) ShuffledRoots<T>(T[] roots)
    {
        // t = 2 (m = N/4 groups of 4 words): two groups per vector, lanes [r_i, r_i, r_(i+1), r_(i+1)].
        int m2 = N / 4;
        var t2 = new T[2 * m2];
        for (int i = 0; i < m2; i += 2)
        {
            t2[2 * i] = t2[2 * i + 1] = roots[m2 + i];
            t2[2 * i + 2] = t2[2 * i + 3] = roots[m2 + i + 1];
        }
        // t = 1 (m = N/2 pairs): four pairs per vector; unpacking puts pairs 0, 2, 1, 3 in lanes 0 … 3.
        int m1 = N / 2;
        var t1 = new T[m1];
        for (int i = 0; i < m1; i += 4)
        {
            t1[i] = roots[m1 + i];
            t1[i + 1] = roots[m1 + i + 2];
            t1[i + 2] = roots[m1 + i + 1];
            t1[i + 3] = roots[m1 + i + 3];
        }
        return (t2, t1);
    }

    // Lazy reduction. MulModLazy(x, w) for |x| ≤ B·q (w < q < 2^50) is an exact integer of magnitude below
    // (1/2 + 3B/8)·q: its quotient estimate is off by at most B/4 and its low part at most B·q/8. Centre brings an exact
    // integer below 2^52 to [−q/2 − 1, q/2 + 1]. Forward: the sums are centred every second stage, so inputs stay below
    // 1.9q and outputs below 3.1q. Inverse: x + y is centred every stage and (x − y)·w stays below 2q (the fixed point
    // of Y = 1/2 + 3·2Y/8), so no value exceeds 4q < 2^52. A butterfly is then a product, two additions and on average
    // one centring (forward) or exactly one (inverse), against a full reduction of all three before.

    /// <summary>v − round(v/q)·q: an exact integer |v| &lt; 2^52 brought to [−q/2 − 1, q/2 + 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Centre(Vector256<double> v, Vector256<double> q, Vector256<double> qInv) =>
        Fma.MultiplyAddNegated(Avx.RoundToNearestInteger(Avx.Multiply(v, qInv)), q, v);

    /// <summary>(x, y) → (x + y·w, x − y·w), inputs below 1.9q in magnitude; outputs below 3.1q, or centred when <paramref name="reduce"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ForwardButterfly(ref Vector256<double> x, ref Vector256<double> y, Vector256<double> w, Vector256<double> q, Vector256<double> qInv, bool reduce)
    {
        var yv = FloatingPointModular.MulModLazy(y, w, q, qInv);
        var sum = Avx.Add(x, yv);
        var diff = Avx.Subtract(x, yv);
        x = reduce ? Centre(sum, q, qInv) : sum;
        y = reduce ? Centre(diff, q, qInv) : diff;
    }

    /// <summary>(x, y) → (centred x + y, (x − y)·w), inputs below 2q in magnitude; y' below 2q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InverseButterfly(ref Vector256<double> x, ref Vector256<double> y, Vector256<double> w, Vector256<double> q, Vector256<double> qInv)
    {
        var sum = Avx.Add(x, y);
        var diff = Avx.Subtract(x, y);
        x = Centre(sum, q, qInv);
        y = FloatingPointModular.MulModLazy(diff, w, q, qInv);
    }

    /// <summary>Stage t = 2: butterflies (a_0, a_2), (a_1, a_3) in each group of four, two groups per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StageT2(ref double a0, int n, double[] roots, Vector256<double> q, Vector256<double> qInv, bool inverse, bool reduce)
    {
        ref double r0 = ref MemoryMarshal.GetArrayDataReference(roots);
        for (int k = 0; k < n; k += 8)
        {
            var v0 = Vector256.LoadUnsafe(ref a0, (nuint)k);
            var v1 = Vector256.LoadUnsafe(ref a0, (nuint)(k + 4));
            var x = Avx.Permute2x128(v0, v1, 0x20);
            var y = Avx.Permute2x128(v0, v1, 0x31);
            var w = Vector256.LoadUnsafe(ref r0, (nuint)(k >> 1));
            if (inverse) InverseButterfly(ref x, ref y, w, q, qInv); else ForwardButterfly(ref x, ref y, w, q, qInv, reduce);
            Avx.Permute2x128(x, y, 0x20).StoreUnsafe(ref a0, (nuint)k);
            Avx.Permute2x128(x, y, 0x31).StoreUnsafe(ref a0, (nuint)(k + 4));
        }
    }

    /// <summary>Stage t = 1: butterflies on adjacent pairs, four pairs per step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StageT1(ref double a0, int n, double[] roots, Vector256<double> q, Vector256<double> qInv, bool inverse, bool reduce)
    {
        ref double r0 = ref MemoryMarshal.GetArrayDataReference(roots);
        for (int k = 0; k < n; k += 8)
        {
            var v0 = Vector256.LoadUnsafe(ref a0, (nuint)k);
            var v1 = Vector256.LoadUnsafe(ref a0, (nuint)(k + 4));
            var x = Avx.UnpackLow(v0, v1);
            var y = Avx.UnpackHigh(v0, v1);
            var w = Vector256.LoadUnsafe(ref r0, (nuint)(k >> 1));
            if (inverse) InverseButterfly(ref x, ref y, w, q, qInv); else ForwardButterfly(ref x, ref y, w, q, qInv, reduce);
            Avx.UnpackLow(x, y).StoreUnsafe(ref a0, (nuint)k);
            Avx.UnpackHigh(x, y).StoreUnsafe(ref a0, (nuint)(k + 4));
        }
    }

    /// <summary>The butterflies of one group of a stage with t ≥ 4 (x and y t words apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ForwardGroup(ref double x, ref double y, int t, Vector256<double> w, Vector256<double> q, Vector256<double> qInv, bool reduce)
    {
        for (int j = 0; j < t; j += 4)
        {
            var xv = Vector256.LoadUnsafe(ref x, (nuint)j);
            var yv = Vector256.LoadUnsafe(ref y, (nuint)j);
            ForwardButterfly(ref xv, ref yv, w, q, qInv, reduce);
            xv.StoreUnsafe(ref x, (nuint)j);
            yv.StoreUnsafe(ref y, (nuint)j);
        }
    }

    /// <summary>The inverse butterflies of one group of a stage with t ≥ 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InverseGroup(ref double x, ref double y, int t, Vector256<double> w, Vector256<double> q, Vector256<double> qInv)
    {
        for (int j = 0; j < t; j += 4)
        {
            var xv = Vector256.LoadUnsafe(ref x, (nuint)j);
            var yv = Vector256.LoadUnsafe(ref y, (nuint)j);
            InverseButterfly(ref xv, ref yv, w, q, qInv);
            xv.StoreUnsafe(ref x, (nuint)j);
            yv.StoreUnsafe(ref y, (nuint)j);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ToDoubles(Span<ulong> values)
    {
        var d = MemoryMarshal.Cast<ulong, Vector256<ulong>>(values);
        var magic = Vector256.Create(MagicBits);
        var m = Vector256.Create(Magic);
        for (int i = 0; i < d.Length; i++) d[i] = Avx.Subtract(Avx2.Or(d[i], magic).AsDouble(), m).AsUInt64();
    }

    /// <summary>Exact integers of magnitude below 2^52 (at most 3.1q here), in place, to residues in [0, q).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FromDoubles(Span<ulong> values, Vector256<double> q, Vector256<double> qInv)
    {
        var d = MemoryMarshal.Cast<ulong, Vector256<ulong>>(values);
        var magic = Vector256.Create(MagicBits);
        var m = Vector256.Create(Magic);
        for (int i = 0; i < d.Length; i++)
        {
            var r = Centre(d[i].AsDouble(), q, qInv);
            r = Avx.Add(r, Avx.And(Avx.CompareLessThan(r, Vector256<double>.Zero), q));
            r = Avx.Subtract(r, Avx.And(Avx.CompareGreaterThanOrEqual(r, q), q)); // q/2 + 1 ≥ q only for tiny q
            d[i] = Avx2.Xor(Avx.Add(r, m).AsUInt64(), magic);
        }
    }

    /// <summary>Forward transform on residues &lt; q &lt; 2^50, in place, output fully reduced.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardFloatingPoint(Span<ulong> values)
    {
        ToDoubles(values);
        var a = MemoryMarshal.Cast<ulong, double>(values);
        double qs = Modulus.Value;
        var q = Vector256.Create(qs);
        var qInv = Vector256.Create(1.0 / qs);
        var roots = _rootsD!;
        int n = N, t = n, stage = 0;
        ref double a0 = ref MemoryMarshal.GetReference(a);
        // Inputs in [0, q); outputs of an unreduced stage below 3q (then the next one centres them), of a reducing one ≤ q/2 + 1.
        for (int m = 1; m < n; m <<= 1, stage++)
        {
            t >>= 1;
            bool reduce = (stage & 1) == 1;
            if (t >= 4)
            {
                for (int i = 0; i < m; i++)
                {
                    var w = Vector256.Create(roots[m + i]);
                    ref double x = ref Unsafe.Add(ref a0, 2 * i * t);
                    ref double y = ref Unsafe.Add(ref x, t);
                    if (reduce) ForwardGroup(ref x, ref y, t, w, q, qInv, reduce: true);
                    else ForwardGroup(ref x, ref y, t, w, q, qInv, reduce: false);
                }
            }
            else if (t == 2) StageT2(ref a0, n, _fwdT2!, q, qInv, inverse: false, reduce);
            else StageT1(ref a0, n, _fwdT1!, q, qInv, inverse: false, reduce);
        }
        FromDoubles(values, q, qInv);
    }

    /// <summary>Inverse transform on residues &lt; q &lt; 2^50, in place, N^-1 folded into the last stage.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void InverseFloatingPoint(Span<ulong> values)
    {
        ToDoubles(values);
        var a = MemoryMarshal.Cast<ulong, double>(values);
        double qs = Modulus.Value;
        var q = Vector256.Create(qs);
        var qInv = Vector256.Create(1.0 / qs);
        var roots = _invRootsD!;
        int n = N, t = 1;
        ref double a0 = ref MemoryMarshal.GetReference(a);
        for (int m = n >> 1; m > 1; m >>= 1)
        {
            if (t >= 4)
            {
                for (int i = 0; i < m; i++)
                {
                    var w = Vector256.Create(roots[m + i]);
                    ref double x = ref Unsafe.Add(ref a0, 2 * i * t);
                    ref double y = ref Unsafe.Add(ref x, t);
                    InverseGroup(ref x, ref y, t, w, q, qInv);
                }
            }
            else if (t == 2) StageT2(ref a0, n, _invT2!, q, qInv, inverse: true, reduce: true);
            else StageT1(ref a0, n, _invT1!, q, qInv, inverse: true, reduce: true);
            t <<= 1;
        }
        // Last stage (m = 1, t = N/2) with N^-1 folded into both outputs: inputs below 2q, products below 1.5q.
        int half = n >> 1;
        var invN = Vector256.Create(_invND);
        var last = Vector256.Create(_lastInvRootD);
        for (int j = 0; j < half; j += 4)
        {
            var xv = Vector256.LoadUnsafe(ref a0, (nuint)j);
            var yv = Vector256.LoadUnsafe(ref a0, (nuint)(j + half));
            FloatingPointModular.MulModLazy(Avx.Add(xv, yv), invN, q, qInv).StoreUnsafe(ref a0, (nuint)j);
            FloatingPointModular.MulModLazy(Avx.Subtract(xv, yv), last, q, qInv).StoreUnsafe(ref a0, (nuint)(j + half));
        }
        FromDoubles(values, q, qInv);
    }
}
