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
    private readonly ulong[]? _hatModToShoup, _minusAModTo, _minusAShoup; // for the integer-lane kernels only
    private readonly ulong[] _productModTo; // A mod b_j
    private readonly double[] _inverseFrom; // 1 / a_i
    private readonly bool[] _sumFitsReduce;
    private readonly bool _floatingPoint; // every source prime below 2^50 and the kernels available
    // Every target below 2^50 too: Prepare leaves the t_i and the overshoot in the scratch as doubles, read as they are.
    private readonly bool _doubleScratch;
    // Some source above 2^50 and AVX-512 VL/DQ present: Prepare runs on 64-bit lanes.
    private readonly bool _integerPrepare;

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
        _floatingPoint = FloatingPointModular.IsSupported && _from.All(a => a.BitCount <= FloatingPointModular.MaxBits);
        _doubleScratch = _floatingPoint && _to.All(b => b.BitCount <= FloatingPointModular.MaxBits);
        _integerPrepare = !_floatingPoint && IntegerVectorModular.IsSupported && IntegerVectorModular.ConversionsSupported;
        _sumFitsReduce = _to.Select(b =>
        {
            var bound = _from.Aggregate(System.Numerics.BigInteger.Zero, (acc, a) => acc + (System.Numerics.BigInteger)(a.Value - 1) * (b.Value - 1))
                        + (System.Numerics.BigInteger)(k + 1) * b.Value;
            return bound < ((System.Numerics.BigInteger)b.Value << 64);
        }).ToArray();
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
        if (IntegerVectorModular.IsSupported && !_doubleScratch)
        {
            _hatModToShoup = new ulong[_hatModTo.Length];
            for (int j = 0; j < _to.Length; j++)
                for (int i = 0; i < k; i++) _hatModToShoup[j * k + i] = _to[j].ShoupPrecompute(_hatModTo[j * k + i]);
            _minusAModTo = _to.Select((b, j) => b.Negate(_productModTo[j])).ToArray();
            _minusAShoup = _to.Select((b, j) => b.ShoupPrecompute(_minusAModTo[j])).ToArray();
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
    /// <see cref="Convert"/> with each target limb j brought to NTT form by <paramref name="tables"/>[<paramref name="firstTable"/> + j]
    /// right after it is written, while it is still in cache (one pass over the destination instead of two).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ConvertToNtt(ReadOnlySpan<ulong> source, Span<ulong> destination, Span<ulong> scratch, int n, IReadOnlyList<NttTable> tables, int firstTable = 0)
    {
        ArgumentNullException.ThrowIfNull(tables);
        if (firstTable < 0 || firstTable + _to.Length > tables.Count) ThrowHelper.Argument(nameof(tables), $"{_to.Length} tables are needed from index {firstTable}; {tables.Count} given.");
        Prepare(source, scratch, n);
        for (int j = 0; j < _to.Length; j++)
        {
            var limb = destination.Slice(j * n, n);
            ConvertTarget(j, source, scratch, limb, n);
            tables[firstTable + j].Forward(limb);
        }
    }

    /// <summary>
    /// The part of <see cref="Convert"/> shared by all targets, written into <paramref name="scratch"/> ((|from| + 1)·N
    /// words; nothing with one source prime): after it, each target can be converted on its own, in any order or
    /// thread, with <see cref="ConvertTarget"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Prepare(ReadOnlySpan<ulong> source, Span<ulong> scratch, int n) => PrepareWeighted(source, scratch, n, _hatInv, _hatInvShoup);

    /// <summary>
    /// <see cref="Convert"/> of x_i = f_i·source_i mod a_i, the factors folded into the conversion's own first product
    /// (no pass over the source): for instance [t·D]_A with f_i = t mod a_i.
    /// </summary>
    /// <exception cref="ArgumentException">Not one factor per source prime, or a factor not below its prime.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ConvertScaled(ReadOnlySpan<ulong> source, ReadOnlySpan<ulong> factors, Span<ulong> destination, Span<ulong> scratch, int n)
    {
        int k = _from.Length;
        if (factors.Length != k) ThrowHelper.Argument(nameof(factors), $"One factor per source prime: {k} needed, {factors.Length} given.");
        var weights = new ulong[k];
        var shoup = new ulong[k];
        for (int i = 0; i < k; i++)
        {
            if (factors[i] >= _from[i].Value) ThrowHelper.Argument(nameof(factors), $"Factor {i} is not below its prime {_from[i].Value}.");
            weights[i] = _from[i].Mul(factors[i], _hatInv[i]);
            shoup[i] = _from[i].ShoupPrecompute(weights[i]);
        }
        if (k == 1)
        {
            // One source prime: the conversion reads the residue itself, so the factor is applied to a copy.
            var scaled = scratch[..n];
            var m = _from[0];
            for (int c = 0; c < n; c++) scaled[c] = m.MulShoup(source[c], weights[0], shoup[0]);
            for (int j = 0; j < _to.Length; j++) ConvertTarget(j, scaled, scratch, destination.Slice(j * n, n), n);
            return;
        }
        PrepareWeighted(source, scratch, n, weights, shoup);
        for (int j = 0; j < _to.Length; j++) ConvertTarget(j, source, scratch, destination.Slice(j * n, n), n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PrepareWeighted(ReadOnlySpan<ulong> source, Span<ulong> scratch, int n, ulong[] weights, ulong[] weightsShoup)
    {
        int k = _from.Length;
        if (k == 1) return;
        // The vector kernels read and write through raw references: the lengths are checked here, once.
        if (n < 0 || source.Length < k * n) ThrowHelper.Argument(nameof(source), $"{k} source limbs of {n} words are needed; {source.Length} words given.");
        if (scratch.Length < (k + 1) * n) ThrowHelper.Argument(nameof(scratch), $"The scratch needs (|from| + 1)·N = {(k + 1) * n} words; {scratch.Length} given.");
        if (_floatingPoint && n % 4 == 0)
        {
            PrepareFloatingPoint(source, scratch, n, weights);
            return;
        }
        if (_integerPrepare && n % 4 == 0)
        {
            PrepareIntegerVectors(source, scratch, n, weights, weightsShoup);
            return;
        }
        for (int i = 0; i < k; i++)
        {
            var m = _from[i];
            var s = source.Slice(i * n, n); var t = scratch.Slice(i * n, n);
            for (int c = 0; c < n; c++) t[c] = m.MulShoup(s[c], weights[i], weightsShoup[i]);
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
                if (a < 1UL << 52) ConvertOneSmallFloatingPoint(src, d, a, m);
                else ConvertOneFloatingPoint(src, d, a, m, aMod);
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
        // −A mod b_j, added overshoot times inside the same accumulator: one reduction per coefficient.
        ulong minusA = m.Negate(aMod);
        if (_doubleScratch && n % 4 == 0)
        {
            ConvertTargetPrepared(MemoryMarshal.Cast<ulong, double>(scratch), weights, d, m, minusA, k, n);
            return;
        }
        if (_floatingPoint && m.BitCount <= FloatingPointModular.MaxBits && n % 4 == 0)
        {
            ConvertTargetFloatingPoint(scratch, weights, overshoot, d, m, minusA, k, n);
            return;
        }
        if (_hatModToShoup is not null && n % 4 == 0)
        {
            ConvertTargetIntegerVectors(j, scratch, d, n);
            return;
        }
        bool fold = !_sumFitsReduce[j];
        for (int c = 0; c < n; c++)
        {
            // k ≤ 64 terms of < 2^122 each fit a 128-bit accumulator. 64×64 → 128 products with an explicit carry:
            // a UInt128 product would be a full 128 × 128 multiplication.
            ulong hi = Math.BigMul(overshoot[c], minusA, out ulong lo);
            for (int i = 0; i < k; i++)
            {
                ulong h = Math.BigMul(scratch[i * n + c], weights[i], out ulong l);
                lo += l;
                hi += h + (lo < l ? 1UL : 0UL);
            }
            // Reduce128 needs its input below b·2^64; fold the high word only where the sum can exceed that.
            d[c] = m.Reduce128(fold ? m.Reduce(hi) : hi, lo);
        }
    }

    /// <summary>
    /// <see cref="Prepare"/> four coefficients at a time on 64-bit lanes (a source prime above 2^50): the same t_i, and the
    /// overshoot from the same double operations in the same order (no FMA), so the result equals the scalar path's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PrepareIntegerVectors(ReadOnlySpan<ulong> source, Span<ulong> scratch, int n, ulong[] weights, ulong[] weightsShoup)
    {
        int k = _from.Length;
        ref ulong src = ref MemoryMarshal.GetReference(source);
        ref ulong t0 = ref MemoryMarshal.GetReference(scratch);
        for (int i = 0; i < k; i++)
        {
            var q = Vector256.Create(_from[i].Value);
            var twoQ = Vector256.Create(_from[i].Value << 1);
            var w = Vector256.Create(weights[i]);
            var ws = Vector256.Create(weightsShoup[i]);
            nuint row = (nuint)(i * n);
            for (int c = 0; c < n; c += 4)
            {
                var t = IntegerVectorModular.MulShoupLazy(Vector256.LoadUnsafe(ref src, row + (nuint)c), w, ws, q, twoQ);
                IntegerVectorModular.SubtractIfAtLeast(t, q).StoreUnsafe(ref t0, row + (nuint)c);
            }
        }
        nuint over = (nuint)(k * n);
        for (int c = 0; c < n; c += 4)
        {
            var f = Vector256<double>.Zero;
            for (int i = 0; i < k; i++)
            {
                var t = Avx512DQ.VL.ConvertToVector256Double(Vector256.LoadUnsafe(ref t0, (nuint)(i * n + c)));
                f = Avx.Add(f, Avx.Multiply(t, Vector256.Create(_inverseFrom[i])));
            }
            Avx512DQ.VL.ConvertToVector256UInt64(Avx.RoundToNearestInteger(f)).StoreUnsafe(ref t0, over + (nuint)c);
        }
    }

    /// <summary>
    /// <see cref="ConvertTarget"/> four coefficients at a time on 64-bit lanes (a target above 2^50, or a scratch of
    /// integers): every term t_i·Â_i and the overshoot's −v·A by a lazy Shoup product in [0, 2b), the sum kept in [0, 2b)
    /// by one unsigned minimum a term, then fully reduced.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ConvertTargetIntegerVectors(int j, ReadOnlySpan<ulong> scratch, Span<ulong> destination, int n)
    {
        int k = _from.Length;
        ulong b = _to[j].Value;
        var q = Vector256.Create(b);
        var twoQ = Vector256.Create(b << 1);
        var correction = Vector256.Create(_minusAModTo![j]);
        var correctionShoup = Vector256.Create(_minusAShoup![j]);
        Span<Vector256<ulong>> w = stackalloc Vector256<ulong>[2 * k];
        for (int i = 0; i < k; i++)
        {
            w[2 * i] = Vector256.Create(_hatModTo[j * k + i]);
            w[2 * i + 1] = Vector256.Create(_hatModToShoup![j * k + i]);
        }
        ref ulong src = ref MemoryMarshal.GetReference(scratch);
        ref ulong dst = ref MemoryMarshal.GetReference(destination);
        nuint over = (nuint)(k * n);
        for (int c = 0; c < n; c += 4)
        {
            var acc = IntegerVectorModular.MulShoupLazy(Vector256.LoadUnsafe(ref src, over + (nuint)c), correction, correctionShoup, q, twoQ);
            for (int i = 0; i < k; i++)
            {
                var term = IntegerVectorModular.MulShoupLazy(Vector256.LoadUnsafe(ref src, (nuint)(i * n + c)), w[2 * i], w[2 * i + 1], q, twoQ);
                acc = IntegerVectorModular.SubtractIfAtLeast(Avx2.Add(acc, term), twoQ);
            }
            IntegerVectorModular.SubtractIfAtLeast(acc, q).StoreUnsafe(ref dst, (nuint)c);
        }
    }

    /// <summary><see cref="Prepare"/> four coefficients at a time in double precision (every source prime below 2^50).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void PrepareFloatingPoint(ReadOnlySpan<ulong> source, Span<ulong> scratch, int n, ulong[] weights)
    {
        int k = _from.Length;
        for (int i = 0; i < k; i++)
        {
            var q = Vector256.Create((double)_from[i].Value);
            var qInv = Vector256.Create(1.0 / _from[i].Value);
            var w = Vector256.Create((double)weights[i]);
            var src = MemoryMarshal.Cast<ulong, Vector256<ulong>>(source.Slice(i * n, n));
            var dst = MemoryMarshal.Cast<ulong, Vector256<ulong>>(scratch.Slice(i * n, n));
            if (_doubleScratch)
                for (int v = 0; v < dst.Length; v++)
                    dst[v] = FloatingPointModular.MulMod(FloatingPointModular.ToDouble(src[v]), w, q, qInv).AsUInt64();
            else
                for (int v = 0; v < dst.Length; v++)
                    dst[v] = FloatingPointModular.FromDouble(FloatingPointModular.MulMod(FloatingPointModular.ToDouble(src[v]), w, q, qInv));
        }
        // v_c = round(Σ t_i / a_i), four coefficients at a time.
        var overshoot = MemoryMarshal.Cast<ulong, Vector256<ulong>>(scratch.Slice(k * n, n));
        for (int v = 0; v < overshoot.Length; v++)
        {
            var f = Vector256<double>.Zero;
            for (int i = 0; i < k; i++)
            {
                var raw = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(scratch), (nuint)(i * n + 4 * v));
                var t = _doubleScratch ? raw.AsDouble() : FloatingPointModular.ToDouble(raw);
                f = Fma.MultiplyAdd(t, Vector256.Create(_inverseFrom[i]), f);
            }
            var rounded = Avx.RoundToNearestInteger(f);
            overshoot[v] = _doubleScratch ? rounded.AsUInt64() : FloatingPointModular.FromDouble(rounded);
        }
    }

    /// <summary>
    /// <see cref="ConvertTarget"/> four coefficients at a time in double precision, for source and target primes below
    /// 2^50: each term t_i·Â_i and the overshoot correction is an exact FMA product mod b in (−b, b), accumulated and
    /// reduced every third term so that the sum stays an exact integer below 2^52.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvertTargetFloatingPoint(ReadOnlySpan<ulong> scratch, ReadOnlySpan<ulong> weights, ReadOnlySpan<ulong> overshoot, Span<ulong> destination,
        Modulus target, ulong minusA, int k, int n)
    {
        var q = Vector256.Create((double)target.Value);
        var qInv = Vector256.Create(1.0 / target.Value);
        var correction = Vector256.Create((double)minusA);
        Span<Vector256<double>> w = stackalloc Vector256<double>[k];
        for (int i = 0; i < k; i++) w[i] = Vector256.Create((double)weights[i]);
        var over = MemoryMarshal.Cast<ulong, Vector256<ulong>>(overshoot[..n]);
        var dst = MemoryMarshal.Cast<ulong, Vector256<ulong>>(destination[..n]);
        for (int v = 0; v < dst.Length; v++)
        {
            var acc = FloatingPointModular.MulModLazy(FloatingPointModular.ToDouble(over[v]), correction, q, qInv);
            for (int i = 0; i < k; i++)
            {
                var x = FloatingPointModular.ToDouble(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(scratch), (nuint)(i * n + 4 * v)));
                acc = Avx.Add(acc, FloatingPointModular.MulModLazy(x, w[i], q, qInv));
                if (i % 3 == 1) acc = FloatingPointModular.ReduceExact(acc, q, qInv);
            }
            dst[v] = FloatingPointModular.FromDouble(FloatingPointModular.ReduceExact(acc, q, qInv));
        }
    }

    /// <summary>
    /// <see cref="ConvertTargetFloatingPoint"/> on a scratch that already holds doubles (the t_i, then the overshoot), two
    /// vectors of four coefficients at a time so that their independent chains overlap. Each product is an exact integer
    /// in (−b, b); after every third term the sum is brought back to [−b/2 − 1, b/2 + 1] by subtracting round(sum/b)·b
    /// (exact: an FMA of integers below 2^53), so it never leaves (−3.5b, 3.5b) ⊂ (−2^52, 2^52); one full reduction at the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvertTargetPrepared(ReadOnlySpan<double> scratch, ReadOnlySpan<ulong> weights, Span<ulong> destination,
        Modulus target, ulong minusA, int k, int n)
    {
        var q = Vector256.Create((double)target.Value);
        var qInv = Vector256.Create(1.0 / target.Value);
        var correction = Vector256.Create((double)minusA);
        Span<Vector256<double>> w = stackalloc Vector256<double>[k];
        for (int i = 0; i < k; i++) w[i] = Vector256.Create((double)weights[i]);
        ref double src = ref MemoryMarshal.GetReference(scratch);
        var dst = MemoryMarshal.Cast<ulong, Vector256<ulong>>(destination[..n]);
        int v = 0;
        for (; v + 1 < dst.Length; v += 2)
        {
            nuint c0 = (nuint)(4 * v), c1 = c0 + 4, over = (nuint)(k * n);
            var acc0 = FloatingPointModular.MulModLazy(Vector256.LoadUnsafe(ref src, over + c0), correction, q, qInv);
            var acc1 = FloatingPointModular.MulModLazy(Vector256.LoadUnsafe(ref src, over + c1), correction, q, qInv);
            for (int i = 0; i < k; i++)
            {
                nuint row = (nuint)(i * n);
                acc0 = Avx.Add(acc0, FloatingPointModular.MulModLazy(Vector256.LoadUnsafe(ref src, row + c0), w[i], q, qInv));
                acc1 = Avx.Add(acc1, FloatingPointModular.MulModLazy(Vector256.LoadUnsafe(ref src, row + c1), w[i], q, qInv));
                if (i % 3 == 1)
                {
                    acc0 = Fma.MultiplyAddNegated(Avx.RoundToNearestInteger(Avx.Multiply(acc0, qInv)), q, acc0);
                    acc1 = Fma.MultiplyAddNegated(Avx.RoundToNearestInteger(Avx.Multiply(acc1, qInv)), q, acc1);
                }
            }
            dst[v] = FloatingPointModular.FromDouble(FloatingPointModular.ReduceExact(acc0, q, qInv));
            dst[v + 1] = FloatingPointModular.FromDouble(FloatingPointModular.ReduceExact(acc1, q, qInv));
        }
        for (; v < dst.Length; v++)
        {
            nuint c0 = (nuint)(4 * v);
            var acc = FloatingPointModular.MulModLazy(Vector256.LoadUnsafe(ref src, (nuint)(k * n) + c0), correction, q, qInv);
            for (int i = 0; i < k; i++)
            {
                acc = Avx.Add(acc, FloatingPointModular.MulModLazy(Vector256.LoadUnsafe(ref src, (nuint)(i * n) + c0), w[i], q, qInv));
                if (i % 3 == 1) acc = Fma.MultiplyAddNegated(Avx.RoundToNearestInteger(Avx.Multiply(acc, qInv)), q, acc);
            }
            dst[v] = FloatingPointModular.FromDouble(FloatingPointModular.ReduceExact(acc, q, qInv));
        }
    }

    /// <summary>
    /// The one-source conversion when the source prime is below 2^52 too, so that the residue is an exact double:
    /// x − a where x &gt; a/2 (a mask), then centred modulo b (|x_c| &lt; 2^51: round(x_c/b) is exact enough) and moved to [0, b).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvertOneSmallFloatingPoint(ReadOnlySpan<ulong> source, Span<ulong> destination, ulong a, Modulus target)
    {
        var q = Vector256.Create((double)target.Value);
        var qInv = Vector256.Create(1.0 / target.Value);
        var aD = Vector256.Create((double)a);
        var half = Vector256.Create((double)(a >> 1));
        var src = MemoryMarshal.Cast<ulong, Vector256<ulong>>(source);
        var dst = MemoryMarshal.Cast<ulong, Vector256<ulong>>(destination);
        for (int i = 0; i < dst.Length; i++)
        {
            var x = FloatingPointModular.ToDouble(src[i]);
            x = Avx.Subtract(x, Avx.And(Avx.CompareGreaterThan(x, half), aD));
            var r = Fma.MultiplyAddNegated(Avx.RoundToNearestInteger(Avx.Multiply(x, qInv)), q, x);
            r = Avx.Add(r, Avx.And(Avx.CompareLessThan(r, Vector256<double>.Zero), q));
            r = Avx.Subtract(r, Avx.And(Avx.CompareGreaterThanOrEqual(r, q), q));
            dst[i] = FloatingPointModular.FromDouble(r);
        }
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
