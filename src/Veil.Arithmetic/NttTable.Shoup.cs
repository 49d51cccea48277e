using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Veil.Arithmetic;

/// <summary>
/// The NTT for primes above 2^50 (the double-precision path's limit) on 64-bit integer lanes, four butterflies per
/// instruction, where the processor has AVX2 (AVX-512 VL/DQ's 64-bit lane products and unsigned minimum where present).
/// </summary>
/// <remarks>
/// Harvey's lazy butterflies as in the scalar path, each product by <see cref="IntegerVectorModular.MulShoupLazy"/>.
/// Outputs are fully reduced, so they equal the scalar path's word for word.
/// </remarks>
public sealed partial class NttTable
{
    private bool _integerVectors;
    // Roots and Shoup companions of the last two forward stages (first two inverse ones) in the shuffled lane order.
    private ulong[]? _fwdRootsT2, _fwdShoupT2, _fwdRootsT1, _fwdShoupT1;
    private ulong[]? _invRootsT2, _invShoupT2, _invRootsT1, _invShoupT1;

    /// <summary>Whether the processor has the instructions of the integer-lane kernels.</summary>
    public static bool IntegerVectorsSupported => IntegerVectorModular.IsSupported;

    /// <summary>Whether this table uses the integer-lane kernels (primes above 2^50).</summary>
    public bool UsesIntegerVectors => _integerVectors;

    private void InitializeIntegerVectors()
    {
        if (_rootsD is not null || !IntegerVectorsSupported || N < 8) return;
        (_fwdRootsT2, _fwdRootsT1) = ShuffledRoots(_roots);
        (_fwdShoupT2, _fwdShoupT1) = ShuffledRoots(_rootsShoup);
        (_invRootsT2, _invRootsT1) = ShuffledRoots(_invRoots);
        (_invShoupT2, _invShoupT1) = ShuffledRoots(_invRootsShoup);
        _integerVectors = true;
    }

    /// <summary>(x, y) in [0, 4q) → (x + y·w, x − y·w + 2q) in [0, 4q).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ForwardButterfly(ref Vector256<ulong> x, ref Vector256<ulong> y, Vector256<ulong> w, Vector256<ulong> wShoup, Vector256<ulong> q, Vector256<ulong> twoQ)
    {
        var u = IntegerVectorModular.SubtractIfAtLeast(x, twoQ);
        var v = IntegerVectorModular.MulShoupLazy(y, w, wShoup, q, twoQ);
        x = Avx2.Add(u, v);
        y = Avx2.Add(Avx2.Subtract(u, v), twoQ);
    }

    /// <summary>(u, v) in [0, 2q) → (u + v reduced to [0, 2q), (u − v + 2q)·w in [0, 2q)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InverseButterfly(ref Vector256<ulong> x, ref Vector256<ulong> y, Vector256<ulong> w, Vector256<ulong> wShoup, Vector256<ulong> q, Vector256<ulong> twoQ)
    {
        var d = Avx2.Add(Avx2.Subtract(x, y), twoQ);
        x = IntegerVectorModular.SubtractIfAtLeast(Avx2.Add(x, y), twoQ);
        y = IntegerVectorModular.MulShoupLazy(d, w, wShoup, q, twoQ);
    }

    /// <summary>Stage t = 2 (pairs (a_0, a_2), (a_1, a_3) of each group of four, two groups a step) or t = 1 (adjacent
    /// pairs, four a step), with the roots laid out as <see cref="ShuffledRoots{T}"/> does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ShortStage(ref ulong a0, int n, ulong[] roots, ulong[] shoup, Vector256<ulong> q, Vector256<ulong> twoQ, bool inverse, bool adjacent)
    {
        ref ulong r0 = ref MemoryMarshal.GetArrayDataReference(roots);
        ref ulong s0 = ref MemoryMarshal.GetArrayDataReference(shoup);
        for (int k = 0; k < n; k += 8)
        {
            var v0 = Vector256.LoadUnsafe(ref a0, (nuint)k);
            var v1 = Vector256.LoadUnsafe(ref a0, (nuint)(k + 4));
            var x = adjacent ? Avx2.UnpackLow(v0, v1) : Avx2.Permute2x128(v0, v1, 0x20);
            var y = adjacent ? Avx2.UnpackHigh(v0, v1) : Avx2.Permute2x128(v0, v1, 0x31);
            var w = Vector256.LoadUnsafe(ref r0, (nuint)(k >> 1));
            var ws = Vector256.LoadUnsafe(ref s0, (nuint)(k >> 1));
            if (inverse) InverseButterfly(ref x, ref y, w, ws, q, twoQ); else ForwardButterfly(ref x, ref y, w, ws, q, twoQ);
            (adjacent ? Avx2.UnpackLow(x, y) : Avx2.Permute2x128(x, y, 0x20)).StoreUnsafe(ref a0, (nuint)k);
            (adjacent ? Avx2.UnpackHigh(x, y) : Avx2.Permute2x128(x, y, 0x31)).StoreUnsafe(ref a0, (nuint)(k + 4));
        }
    }

    /// <summary>Forward transform on residues &lt; q, in place, output fully reduced.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardIntegerVectors(Span<ulong> values)
    {
        var q = Vector256.Create(Modulus.Value);
        var twoQ = Vector256.Create(Modulus.Value << 1);
        ref ulong a0 = ref MemoryMarshal.GetReference(values);
        ulong[] roots = _roots, shoup = _rootsShoup;
        int n = N, t = n;
        for (int m = 1; m < n; m <<= 1)
        {
            t >>= 1;
            if (t == 2) { ShortStage(ref a0, n, _fwdRootsT2!, _fwdShoupT2!, q, twoQ, inverse: false, adjacent: false); continue; }
            if (t == 1) { ShortStage(ref a0, n, _fwdRootsT1!, _fwdShoupT1!, q, twoQ, inverse: false, adjacent: true); continue; }
            for (int i = 0; i < m; i++)
            {
                var w = Vector256.Create(roots[m + i]);
                var ws = Vector256.Create(shoup[m + i]);
                ref ulong x = ref Unsafe.Add(ref a0, 2 * i * t);
                ref ulong y = ref Unsafe.Add(ref x, t);
                for (int j = 0; j < t; j += 4)
                {
                    var xv = Vector256.LoadUnsafe(ref x, (nuint)j);
                    var yv = Vector256.LoadUnsafe(ref y, (nuint)j);
                    ForwardButterfly(ref xv, ref yv, w, ws, q, twoQ);
                    xv.StoreUnsafe(ref x, (nuint)j);
                    yv.StoreUnsafe(ref y, (nuint)j);
                }
            }
        }
        for (int i = 0; i < n; i += 4)
        {
            var v = Vector256.LoadUnsafe(ref a0, (nuint)i);
            IntegerVectorModular.SubtractIfAtLeast(IntegerVectorModular.SubtractIfAtLeast(v, twoQ), q).StoreUnsafe(ref a0, (nuint)i);
        }
    }

    /// <summary>Inverse transform on residues &lt; q, in place, N^-1 folded into the last stage, output fully reduced.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void InverseIntegerVectors(Span<ulong> values)
    {
        var q = Vector256.Create(Modulus.Value);
        var twoQ = Vector256.Create(Modulus.Value << 1);
        ref ulong a0 = ref MemoryMarshal.GetReference(values);
        ulong[] roots = _invRoots, shoup = _invRootsShoup;
        int n = N, t = 1;
        for (int m = n >> 1; m > 1; m >>= 1, t <<= 1)
        {
            if (t == 1) { ShortStage(ref a0, n, _invRootsT1!, _invShoupT1!, q, twoQ, inverse: true, adjacent: true); continue; }
            if (t == 2) { ShortStage(ref a0, n, _invRootsT2!, _invShoupT2!, q, twoQ, inverse: true, adjacent: false); continue; }
            for (int i = 0; i < m; i++)
            {
                var w = Vector256.Create(roots[m + i]);
                var ws = Vector256.Create(shoup[m + i]);
                ref ulong x = ref Unsafe.Add(ref a0, 2 * i * t);
                ref ulong y = ref Unsafe.Add(ref x, t);
                for (int j = 0; j < t; j += 4)
                {
                    var xv = Vector256.LoadUnsafe(ref x, (nuint)j);
                    var yv = Vector256.LoadUnsafe(ref y, (nuint)j);
                    InverseButterfly(ref xv, ref yv, w, ws, q, twoQ);
                    xv.StoreUnsafe(ref x, (nuint)j);
                    yv.StoreUnsafe(ref y, (nuint)j);
                }
            }
        }
        // Last stage (m = 1) folds N^-1 into both outputs.
        int half = n >> 1;
        var invN = Vector256.Create(_invN);
        var invNShoup = Vector256.Create(_invNShoup);
        var last = Vector256.Create(_lastInvRoot);
        var lastShoup = Vector256.Create(_lastInvRootShoup);
        for (int j = 0; j < half; j += 4)
        {
            var u = Vector256.LoadUnsafe(ref a0, (nuint)j);
            var v = Vector256.LoadUnsafe(ref a0, (nuint)(j + half));
            var s = IntegerVectorModular.SubtractIfAtLeast(Avx2.Add(u, v), twoQ);
            var d = Avx2.Add(Avx2.Subtract(u, v), twoQ);
            IntegerVectorModular.SubtractIfAtLeast(IntegerVectorModular.MulShoupLazy(s, invN, invNShoup, q, twoQ), q).StoreUnsafe(ref a0, (nuint)j);
            IntegerVectorModular.SubtractIfAtLeast(IntegerVectorModular.MulShoupLazy(d, last, lastShoup, q, twoQ), q).StoreUnsafe(ref a0, (nuint)(j + half));
        }
    }
}
