using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
namespace Veil.Arithmetic;

/// <summary>
/// Exact RNS basis conversion of the centered representative: for x given by its residues modulo primes {a_i}
/// (A = Π a_i), writes x_c mod b_j where x_c ≡ x (mod A) and x_c ∈ (−A/2, A/2].
/// </summary>
/// <remarks>
/// y_j = Σ_i t_i·Â_i − v·A mod b_j with t_i = [x_i·Â_i^-1]_{a_i}, Â_i = A / a_i and v = round(Σ_i t_i / a_i)
/// computed in double precision (Halevi–Polyakov–Shoup 2019). Within about k·2^-53·A of ±A/2 the rounding may pick
/// the other representative (off by exactly A), which after key switching's division by P is an error of at most 1.
/// Returning the centered value makes the division
/// by P in key switching a rounding rather than a floor, which removes a bias that would otherwise be multiplied
/// by the secret key.
/// </remarks>
public sealed class BasisConverter
{
    private readonly Modulus[] _from, _to;
    private readonly ulong[] _hatInv, _hatInvShoup;
    private readonly ulong[] _hatModTo; // [j * from + i] = Â_i mod b_j
    private readonly ulong[] _productModTo; // A mod b_j
    private readonly double[] _inverseFrom; // 1 / a_i

    /// <summary>Precomputes the conversion constants.</summary>
    public BasisConverter(IReadOnlyList<Modulus> from, IReadOnlyList<Modulus> to)
    {
        _from = from.ToArray();
        _to = to.ToArray();
        int k = _from.Length;
        _hatInv = new ulong[k];
        _hatInvShoup = new ulong[k];
        _hatModTo = new ulong[k * _to.Length];
        _productModTo = new ulong[_to.Length];
        _inverseFrom = _from.Select(a => 1.0 / a.Value).ToArray();
        for (int j = 0; j < _to.Length; j++)
        {
            ulong prod = 1;
            for (int t = 0; t < k; t++) prod = _to[j].Mul(prod, _to[j].Reduce(_from[t].Value));
            _productModTo[j] = prod;
        }
        for (int i = 0; i < k; i++)
        {
            ulong hat = 1;
            for (int t = 0; t < k; t++) if (t != i) hat = _from[i].Mul(hat, _from[i].Reduce(_from[t].Value));
            _hatInv[i] = _from[i].Inverse(hat);
            _hatInvShoup[i] = _from[i].ShoupPrecompute(_hatInv[i]);
            for (int j = 0; j < _to.Length; j++)
            {
                ulong h = 1;
                for (int t = 0; t < k; t++) if (t != i) h = _to[j].Mul(h, _to[j].Reduce(_from[t].Value));
                _hatModTo[j * k + i] = h;
            }
        }
    }

    /// <summary>Source primes.</summary>
    public int FromCount => _from.Length;
    /// <summary>Target primes.</summary>
    public int ToCount => _to.Length;

    /// <summary>
    /// Converts N coefficients given as |from| limbs (coefficient form) into |to| limbs.
    /// <paramref name="scratch"/> must hold (|from| + 1)·N words.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Convert(ReadOnlySpan<ulong> source, Span<ulong> destination, Span<ulong> scratch, int n)
    {
        Prepare(source, scratch, n);
        for (int j = 0; j < _to.Length; j++) ConvertTarget(j, source, scratch, destination.Slice(j * n, n), n);
    }

    /// <summary>
    /// The part of <see cref="Convert"/> shared by all targets, written into <paramref name="scratch"/> ((|from| + 1)·N
    /// words; nothing with one source prime): after it, each target can be converted on its own, in any order or
    /// thread, with <see cref="ConvertTarget"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Prepare(ReadOnlySpan<ulong> source, Span<ulong> scratch, int n)
    {
        int k = _from.Length;
        if (k == 1) return;
        for (int i = 0; i < k; i++)
        {
            var m = _from[i];
            var s = source.Slice(i * n, n); var t = scratch.Slice(i * n, n);
            for (int c = 0; c < n; c++) t[c] = m.MulShoup(s[c], _hatInv[i], _hatInvShoup[i]);
        }
        // v_c = round(Σ t_i / a_i): how many times A the plain sum overshoots the centered value.
        var overshoot = scratch.Slice(k * n, n);
        for (int c = 0; c < n; c++)
        {
            double f = 0;
            for (int i = 0; i < k; i++) f += scratch[i * n + c] * _inverseFrom[i];
            overshoot[c] = (ulong)Math.Round(f);
        }
    }

    /// <summary>Target <paramref name="j"/> of <see cref="Convert"/> into its own N words, after <see cref="Prepare"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ConvertTarget(int j, ReadOnlySpan<ulong> source, ReadOnlySpan<ulong> scratch, Span<ulong> destination, int n)
    {
        int k = _from.Length;
        var m = _to[j];
        var d = destination[..n];
        ulong aMod = _productModTo[j];
        if (k == 1)
        {
            // One source prime: the residue is the integer itself; subtract a when it is above a/2 (mask, no branch).
            var src = source[..n];
            ulong a = _from[0].Value, halfA = a >> 1;
            if (FloatingPointModular.IsSupported && m.BitCount <= FloatingPointModular.MaxBits && n % 4 == 0)
            {
                ConvertOneFloatingPoint(src, d, a, m, aMod);
                return;
            }
            for (int c = 0; c < n; c++)
            {
                ulong x = src[c];
                ulong mask = 0UL - ((halfA - x) >> 63);
                d[c] = m.Sub(m.Reduce(x), aMod & mask);
            }
            return;
        }
        ReadOnlySpan<ulong> weights = _hatModTo.AsSpan(j * k, k);
        var overshoot = scratch.Slice(k * n, n);
        for (int c = 0; c < n; c++)
        {
            // k ≤ 16 terms of < 2^122 each fit a 128-bit accumulator; reduce once.
            UInt128 acc = 0;
            for (int i = 0; i < k; i++) acc += (UInt128)scratch[i * n + c] * weights[i];
            d[c] = m.Sub(ReduceWide(m, acc), m.Mul(overshoot[c], aMod));
        }
    }

    private static ulong ReduceWide(Modulus m, UInt128 x)
    {
        ulong hi = (ulong)(x >> 64), lo = (ulong)x;
        // Reduce128 needs hi < q; fold the top word first.
        return m.Reduce128(m.Reduce(hi), lo);
    }

    /// <summary>
    /// The one-source conversion into a prime below 2^50, four lanes at a time in double precision: x (&lt; 2^61) is
    /// split as x_h·2^30 + x_l, so x mod b = x_h·(2^30 mod b) + x_l with one exact FMA product, and a is subtracted
    /// where x is above a/2 (a mask, no branch).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvertOneFloatingPoint(ReadOnlySpan<ulong> source, Span<ulong> destination, ulong a, Modulus target, ulong aMod)
    {
        var q = Vector256.Create((double)target.Value);
        var qInv = Vector256.Create(1.0 / target.Value);
        var r30 = Vector256.Create((double)target.Reduce(1UL << 30));
        var aModD = Vector256.Create((double)aMod);
        var half = Vector256.Create((long)(a >> 1));
        var low = Vector256.Create((1UL << 30) - 1);
        var src = MemoryMarshal.Cast<ulong, Vector256<ulong>>(source);
        var dst = MemoryMarshal.Cast<ulong, Vector256<ulong>>(destination);
        for (int i = 0; i < dst.Length; i++)
        {
            var x = src[i];
            var high = FloatingPointModular.ToDouble(Avx2.ShiftRightLogical(x, 30));
            var v = Avx.Add(FloatingPointModular.MulModLazy(high, r30, q, qInv), FloatingPointModular.ToDouble(Avx2.And(x, low)));
            var above = Avx2.CompareGreaterThan(x.AsInt64(), half).AsDouble();
            v = Avx.Subtract(v, Avx.And(above, aModD)); // in (−2b, b + 2^30): well inside ReduceExact's range
            dst[i] = FloatingPointModular.FromDouble(FloatingPointModular.ReduceExact(v, q, qInv));
        }
    }
}
