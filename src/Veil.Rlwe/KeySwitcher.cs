using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Veil.Arithmetic;

namespace Veil.Rlwe;

/// <summary>
/// Hybrid key switching (Han–Ki 2020; as in Microsoft SEAL with one special prime): given d in NTT form over
/// Q_ℓ and a key from s' to s, returns (r_0, r_1) over Q_ℓ with r_0 + r_1·s ≈ d·s'.
/// </summary>
/// <remarks>
/// Steps: split d into digits of |P| primes, lift each exactly (centered) to Q_ℓ·P (ModUp), take the inner product
/// with the key limb by limb, accumulating 128-bit products and reducing once (lazy reduction), then divide by P
/// with rounding (ModDown). Digits, limbs and polynomials are independent, so each phase runs on up to
/// <c>maxDegreeOfParallelism</c> threads. The added error is about N·σ·(digit size / P) plus rounding.
/// </remarks>
public static class KeySwitcher
{
    /// <summary>
    /// Computes the switched pair for <paramref name="input"/> (NTT form, (level+1)·N words) and adds it into
    /// <paramref name="accumulator0"/> and <paramref name="accumulator1"/> (NTT form over Q_level).
    /// </summary>
    /// <exception cref="ArgumentException">The key belongs to other parameters or the spans are too short.</exception>
    public static void SwitchAndAdd(RlweParameters parameters, int level, ReadOnlySpan<ulong> input, KeySwitchingKey key,
        Span<ulong> accumulator0, Span<ulong> accumulator1, int maxDegreeOfParallelism = 1)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(key);
        if (!key.Parameters.SameRingAs(parameters)) ThrowHelper.Argument(nameof(key), "The key belongs to other parameters.");
        if (level < 0 || level > parameters.MaxLevel) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {parameters.MaxLevel}].");
        int n = parameters.N, qLimbs = level + 1;
        if (input.Length < qLimbs * n || accumulator0.Length < qLimbs * n || accumulator1.Length < qLimbs * n)
            ThrowHelper.Argument(nameof(input), "Buffers are shorter than the level requires.");
        var pool = ArrayPool<ulong>.Shared;
        ulong[] inputCopy = pool.Rent(qLimbs * n), out0 = pool.Rent(qLimbs * n), out1 = pool.Rent(qLimbs * n);
        try
        {
            input[..(qLimbs * n)].CopyTo(inputCopy);
            Switch(parameters, level, inputCopy, key, out0, out1, maxDegreeOfParallelism);
            var ring = parameters.Ring;
            ring.Add(accumulator0, out0.AsSpan(0, qLimbs * n), accumulator0, 0, qLimbs);
            ring.Add(accumulator1, out1.AsSpan(0, qLimbs * n), accumulator1, 0, qLimbs);
        }
        finally
        {
            pool.Return(inputCopy); pool.Return(out0); pool.Return(out1);
        }
    }

    /// <summary>
    /// The key-switching core: writes (r_0, r_1) over Q_level into <paramref name="result0"/>, <paramref name="result1"/>.
    /// <paramref name="input"/> (NTT form over Q_level) is left unchanged.
    /// </summary>
    internal static void Switch(RlweParameters parameters, int level, ulong[] input, KeySwitchingKey key,
        ulong[] result0, ulong[] result1, int maxDegreeOfParallelism)
    {
        if (key.Automorphism != 0)
        {
            // A pre-permuted Galois key switches σ_k(d): undo σ_k on the input, switch, and redo it on the output.
            int len = (level + 1) * parameters.N;
            var unpermuted = ArrayPool<ulong>.Shared.Rent(len);
            try
            {
                ApplyGaloisNtt(parameters, GaloisElements.Inverse(key.Automorphism, parameters.N), input, unpermuted, level + 1);
                using var d = Decompose(parameters, level, unpermuted.AsSpan(0, len), maxDegreeOfParallelism);
                d.Switch(key, key.Automorphism, result0, result1, maxDegreeOfParallelism);
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(unpermuted);
            }
            return;
        }
        var ext = DecomposeRented(parameters, level, input, maxDegreeOfParallelism);
        try
        {
            SwitchDecomposed(parameters, level, ext, key, result0, result1, maxDegreeOfParallelism);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(ext);
        }
    }

    /// <summary>
    /// Splits d (NTT form over Q_level) into digits and lifts each to Q_level·P in NTT form: the part of key switching
    /// that does not depend on the key, shared by every rotation of the same ciphertext (hoisting).
    /// </summary>
    public static KeySwitchDecomposition Decompose(RlweParameters parameters, int level, ReadOnlySpan<ulong> input, int maxDegreeOfParallelism = 1) =>
        new(parameters, level, DecomposeRented(parameters, level, input, maxDegreeOfParallelism));

    /// <summary>The lifted digits in a buffer rented from the shared pool (the caller returns it): no object per call.</summary>
    internal static ulong[] DecomposeRented(RlweParameters parameters, int level, ReadOnlySpan<ulong> input, int maxDegreeOfParallelism)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return parameters.Gadget.DecomposeRented(level, input, maxDegreeOfParallelism);
    }

    private readonly struct InnerProducts(RlweParameters parameters, int level, ulong[] ext, KeySwitchingKey key, ulong[] acc) : IParallelBody
    {
        public void Invoke(int e)
        {
            int n = parameters.N, qLimbs = level + 1, extLimbs = qLimbs + parameters.PCount;
            int ringIndex = e < qLimbs ? e : parameters.PStart + (e - qLimbs);
            InnerProduct(parameters.Ring.Ntt[ringIndex], ext, e, extLimbs, parameters.DigitCount(level), n, key, ringIndex,
                acc.AsSpan(e * n, n), acc.AsSpan((extLimbs + e) * n, n));
        }
    }

    /// <summary>acc = (Σ_d ext_d ⊙ b_d, Σ_d ext_d ⊙ a_d) over Q_level·P, each half laid out as its Q limbs then its P limbs.</summary>
    internal static void InnerProductsFor(RlweParameters parameters, int level, ulong[] ext, KeySwitchingKey key, ulong[] acc, int maxDegreeOfParallelism = 1) =>
        Parallelism.For(level + 1 + parameters.PCount, maxDegreeOfParallelism, new InnerProducts(parameters, level, ext, key, acc));

    /// <summary>Inner product of a (possibly automorphed) decomposition with a key, then division by P.</summary>
    internal static void SwitchDecomposed(RlweParameters parameters, int level, ulong[] ext, KeySwitchingKey key,
        ulong[] result0, ulong[] result1, int maxDegreeOfParallelism)
    {
        int len = (level + 1) * parameters.N;
        SwitchFused(parameters, level, ext, key, null, default, result0.AsMemory(0, len), result1.AsMemory(0, len), maxDegreeOfParallelism);
    }

    /// <summary>
    /// The rotation tail for a pre-permuted Galois key: out0 = σ_k(c0 + r0), out1 = σ_k(r1). <paramref name="c0"/> may be
    /// <paramref name="out0"/> itself (each limb of c0 is read before the same limb of out0 is written), not another
    /// overlapping range; empty means c0 = 0.
    /// </summary>
    internal static void SwitchDecomposedPermuted(RlweParameters parameters, int level, ulong[] ext, KeySwitchingKey key, ulong galoisElement,
        ReadOnlyMemory<ulong> c0, Memory<ulong> out0, Memory<ulong> out1, int maxDegreeOfParallelism)
    {
        if (key.Automorphism != galoisElement) ThrowHelper.Argument(nameof(key), $"The key is not pre-permuted for element {galoisElement}.");
        SwitchFused(parameters, level, ext, key, parameters.SharedGaloisPermutation(galoisElement), c0, out0, out1, maxDegreeOfParallelism);
    }

    /// <summary>
    /// Everything after the decomposition, limb by limb so that each limb's inner products, division by P, addend and
    /// permutation happen while it is in cache (no Q·P-sized accumulator goes to memory and back): first the P limbs'
    /// inner products, brought to coefficient form (what every limb's division by P needs); then for each limb j of
    /// Q_level, out_h[j] = π((r_h[j] − [r_h]_P mod q_j)·P^-1 + addend_h[j]) with π the optional NTT-domain permutation
    /// and addend_0 = <paramref name="addend"/> (empty: none), addend_1 = 0.
    /// </summary>
    internal static void SwitchFused(RlweParameters parameters, int level, ulong[] ext, KeySwitchingKey key, int[]? perm,
        ReadOnlyMemory<ulong> addend, Memory<ulong> out0, Memory<ulong> out1, int maxDegreeOfParallelism)
    {
        if (!key.Parameters.SameRingAs(parameters)) ThrowHelper.Argument(nameof(key), "The key belongs to other parameters.");
        var ring = parameters.Ring;
        int n = ring.N, qLimbs = level + 1, pLimbs = parameters.PCount;
        if (out0.Length < qLimbs * n || out1.Length < qLimbs * n || (!addend.IsEmpty && addend.Length < qLimbs * n))
            ThrowHelper.Argument(nameof(out0), "Buffers are shorter than the level requires.");
        var converter = parameters.ModDown(level);
        var pool = ArrayPool<ulong>.Shared;
        ulong[] pAcc = pool.Rent(2 * pLimbs * n), scratch = pool.Rent(2 * (pLimbs + 1) * n);
        try
        {
            // Every thread takes a slice of the P limbs' coefficients (one P limb would leave the others idle), then each
            // half is brought to coefficient form on its own thread.
            int slices = maxDegreeOfParallelism > 1 && n % (4 * maxDegreeOfParallelism) == 0 ? maxDegreeOfParallelism : 1;
            Parallelism.For(pLimbs * slices, maxDegreeOfParallelism, new PInnerProducts(parameters, level, ext, key, pAcc, slices));
            Parallelism.For(2, maxDegreeOfParallelism, new PCoefficients(parameters, converter, pAcc, scratch));
            Parallelism.For(qLimbs, maxDegreeOfParallelism, new FusedLimb(parameters, level, ext, key, converter, pAcc, scratch, perm, addend, out0, out1));
        }
        finally
        {
            pool.Return(pAcc); pool.Return(scratch);
        }
    }

    private readonly struct PInnerProducts(RlweParameters parameters, int level, ulong[] ext, KeySwitchingKey key, ulong[] pAcc, int slices) : IParallelBody
    {
        public void Invoke(int task)
        {
            int n = parameters.N, qLimbs = level + 1, pLimbs = parameters.PCount, k = task / slices, slice = task % slices;
            int ringIndex = parameters.PStart + k, width = n / slices;
            var table = parameters.Ring.Ntt[ringIndex];
            InnerProduct(table.Modulus, table.UsesFloatingPoint, ext, qLimbs + k, qLimbs + pLimbs, parameters.DigitCount(level), n, key.B, key.A, ringIndex,
                pAcc.AsSpan(k * n, n), pAcc.AsSpan((pLimbs + k) * n, n), slice * width, (slice + 1) * width);
        }
    }

    private readonly struct PCoefficients(RlweParameters parameters, BasisConverter converter, ulong[] pAcc, ulong[] scratch) : IParallelBody
    {
        public void Invoke(int h)
        {
            int n = parameters.N, pLimbs = parameters.PCount;
            PrepareP(parameters, converter, pAcc.AsSpan(h * pLimbs * n, pLimbs * n), scratch.AsSpan(h * (pLimbs + 1) * n, (pLimbs + 1) * n));
        }
    }

    private readonly struct FusedLimb(RlweParameters parameters, int level, ulong[] ext, KeySwitchingKey key, BasisConverter converter,
        ulong[] pAcc, ulong[] scratch, int[]? perm, ReadOnlyMemory<ulong> addend, Memory<ulong> out0, Memory<ulong> out1) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Invoke(int j)
        {
            int n = parameters.N, qLimbs = level + 1, pLimbs = parameters.PCount, extLimbs = qLimbs + pLimbs;
            var table = parameters.Ring.Ntt[j];
            var tmp = ArrayPool<ulong>.Shared.Rent(3 * n);
            try
            {
                Span<ulong> r0 = tmp.AsSpan(0, n), r1 = tmp.AsSpan(n, n), lifted = tmp.AsSpan(2 * n, n);
                InnerProduct(table, ext, j, extLimbs, parameters.DigitCount(level), n, key, j, r0, r1);
                for (int h = 0; h < 2; h++)
                {
                    var r = h == 0 ? r0 : r1;
                    var add = h == 0 && !addend.IsEmpty ? addend.Span.Slice(j * n, n) : default;
                    var destination = (h == 0 ? out0 : out1).Span.Slice(j * n, n);
                    var pCoefficients = pAcc.AsSpan(h * pLimbs * n, pLimbs * n);
                    var prepared = scratch.AsSpan(h * (pLimbs + 1) * n, (pLimbs + 1) * n);
                    if (perm is null)
                        DivideLimbByP(parameters, converter, j, pCoefficients, prepared, r, add, destination, lifted);
                    else
                    {
                        DivideLimbByP(parameters, converter, j, pCoefficients, prepared, r, add, r, lifted);
                        Gather(r, destination, perm, 1);
                    }
                }
            }
            finally
            {
                ArrayPool<ulong>.Shared.Return(tmp);
            }
        }
    }

    /// <summary>
    /// The P part of a value over Q_level·P (NTT form, overwritten) brought to coefficient form and prepared for
    /// conversion into each prime of Q_level (<paramref name="scratch"/>: (|P| + 1)·N words): what every limb's division
    /// by P shares.
    /// </summary>
    private static void PrepareP(RlweParameters parameters, BasisConverter converter, Span<ulong> pPart, Span<ulong> scratch)
    {
        parameters.Ring.Inverse(pPart, parameters.PStart, parameters.PCount);
        converter.Prepare(pPart, scratch, parameters.N);
    }

    /// <summary>
    /// Limb j of the division by P after <see cref="PrepareP"/>: destination = (x − NTT([x]_P mod q_j))·P^-1 + addend mod
    /// q_j, with <paramref name="lifted"/> (N words) as scratch; destination may be x.
    /// </summary>
    private static void DivideLimbByP(RlweParameters parameters, BasisConverter converter, int j, ReadOnlySpan<ulong> pCoefficients,
        ReadOnlySpan<ulong> prepared, ReadOnlySpan<ulong> x, ReadOnlySpan<ulong> addend, Span<ulong> destination, Span<ulong> lifted)
    {
        var table = parameters.Ring.Ntt[j];
        converter.ConvertTarget(j, pCoefficients, prepared, lifted, parameters.N);
        table.Forward(lifted);
        DivideByPLimb(table, x, lifted, parameters.PInvModQ[j], addend, destination);
    }

    /// <summary>
    /// destination = (x − lifted)·w + addend mod q on one limb (w = P^-1 mod q; empty addend: none); destination may be x.
    /// Four lanes in double precision below 2^50.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DivideByPLimb(NttTable table, ReadOnlySpan<ulong> x, ReadOnlySpan<ulong> lifted, ulong w, ReadOnlySpan<ulong> addend, Span<ulong> destination)
    {
        var m = table.Modulus;
        int n = destination.Length;
        bool add = !addend.IsEmpty;
        if (table.UsesFloatingPoint && n % 4 == 0)
        {
            var q = Vector256.Create((double)m.Value);
            var qInv = Vector256.Create(1.0 / m.Value);
            var wd = Vector256.Create((double)w);
            var xv = MemoryMarshal.Cast<ulong, Vector256<ulong>>(x);
            var lv = MemoryMarshal.Cast<ulong, Vector256<ulong>>(lifted);
            var av = MemoryMarshal.Cast<ulong, Vector256<ulong>>(addend);
            var dv = MemoryMarshal.Cast<ulong, Vector256<ulong>>(destination);
            for (int i = 0; i < dv.Length; i++)
            {
                var u = FloatingPointModular.MulMod(Avx.Subtract(FloatingPointModular.ToDouble(xv[i]), FloatingPointModular.ToDouble(lv[i])), wd, q, qInv);
                if (add)
                {
                    u = Avx.Add(u, FloatingPointModular.ToDouble(av[i]));
                    u = Avx.Subtract(u, Avx.And(Avx.CompareGreaterThanOrEqual(u, q), q));
                }
                dv[i] = FloatingPointModular.FromDouble(u);
            }
            return;
        }
        ulong wShoup = m.ShoupPrecompute(w), qv = m.Value;
        if (add)
            for (int c = 0; c < n; c++) destination[c] = m.Add(m.MulShoup(x[c] + qv - lifted[c], w, wShoup), addend[c]);
        else
            for (int c = 0; c < n; c++) destination[c] = m.MulShoup(x[c] + qv - lifted[c], w, wShoup);
    }

    /// <summary>
    /// The rotation by σ_k of a ciphertext (c0, c1) whose c1 is decomposed in <paramref name="ext"/>, kept over Q_ℓ·P and
    /// multiplied by P instead of divided: output = (σ_k(P·c0 + r0), σ_k(r1)), (r0, r1) the inner product with the
    /// pre-permuted key, each half laid out as its Q_ℓ limbs then its P limbs. Dividing by P gives the rotation; a sum of
    /// such terms times plaintexts lifted to Q_ℓ·P needs one division by P in all (double hoisting).
    /// </summary>
    internal static void RotateLifted(RlweParameters parameters, int level, ulong[] ext, KeySwitchingKey key, ulong galoisElement,
        ReadOnlySpan<ulong> c0, Span<ulong> output, int maxDegreeOfParallelism)
    {
        if (!key.Parameters.SameRingAs(parameters)) ThrowHelper.Argument(nameof(key), "The key belongs to other parameters.");
        if (key.Automorphism != galoisElement) ThrowHelper.Argument(nameof(key), $"The key is not pre-permuted for element {galoisElement}.");
        var ring = parameters.Ring;
        int n = ring.N, qLimbs = level + 1, extLimbs = qLimbs + parameters.PCount;
        if (output.Length < 2 * extLimbs * n || c0.Length < qLimbs * n) ThrowHelper.Argument(nameof(output), "Buffers are shorter than the level requires.");
        var perm = parameters.SharedGaloisPermutation(galoisElement);
        var acc = ArrayPool<ulong>.Shared.Rent(2 * extLimbs * n);
        try
        {
            InnerProductsFor(parameters, level, ext, key, acc, maxDegreeOfParallelism);
            ref int pm = ref MemoryMarshal.GetArrayDataReference(perm);
            for (int half = 0; half < 2; half++)
                for (int e = 0; e < extLimbs; e++)
                {
                    if (half == 0 && e < qLimbs)
                    {
                        ref ulong src = ref acc[e * n];
                        ref ulong dst = ref MemoryMarshal.GetReference(output.Slice(e * n, n));
                        var m = ring.Moduli[e];
                        ulong w = parameters.PModQ[e], wShoup = m.ShoupPrecompute(w);
                        ref ulong c = ref MemoryMarshal.GetReference(c0.Slice(e * n, n));
                        for (int i = 0; i < n; i++)
                        {
                            int k = Unsafe.Add(ref pm, i);
                            Unsafe.Add(ref dst, i) = m.Add(Unsafe.Add(ref src, k), m.MulShoup(Unsafe.Add(ref c, k), w, wShoup));
                        }
                    }
                    else Gather(acc.AsSpan((half * extLimbs + e) * n, n), output.Slice((half * extLimbs + e) * n, n), perm, 1);
                }
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(acc);
        }
    }

    /// <summary>(P·c0, P·c1) over Q_ℓ with zero P limbs: the rotation by 0 in the layout of <see cref="RotateLifted"/>.</summary>
    internal static void LiftByP(RlweParameters parameters, int level, ReadOnlySpan<ulong> c0, ReadOnlySpan<ulong> c1, Span<ulong> output)
    {
        var ring = parameters.Ring;
        int n = ring.N, qLimbs = level + 1, extLimbs = qLimbs + parameters.PCount;
        if (output.Length < 2 * extLimbs * n || c0.Length < qLimbs * n || c1.Length < qLimbs * n) ThrowHelper.Argument(nameof(output), "Buffers are shorter than the level requires.");
        for (int half = 0; half < 2; half++)
        {
            var source = half == 0 ? c0 : c1;
            var dst = output.Slice(half * extLimbs * n, extLimbs * n);
            ring.MulScalar(source[..(qLimbs * n)], parameters.PModQ, dst[..(qLimbs * n)], 0, qLimbs);
            dst[(qLimbs * n)..].Clear();
        }
    }

    /// <summary>
    /// The residues modulo the special primes (NTT form) of a plaintext given over Q_level (NTT form): its centered
    /// coefficients converted exactly, so that the plaintext can multiply terms kept over Q_level·P.
    /// </summary>
    public static void LiftPlaintextToP(RlweParameters parameters, int level, ReadOnlySpan<ulong> plaintext, Span<ulong> pLimbs)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (level < 0 || level > parameters.MaxLevel) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {parameters.MaxLevel}].");
        var ring = parameters.Ring;
        int n = ring.N, qLimbs = level + 1, pCount = parameters.PCount;
        if (plaintext.Length < qLimbs * n || pLimbs.Length < pCount * n) ThrowHelper.Argument(nameof(pLimbs), "Buffers are shorter than the level requires.");
        var pool = ArrayPool<ulong>.Shared;
        ulong[] coeff = pool.Rent(qLimbs * n), scratch = pool.Rent((qLimbs + 1) * n);
        try
        {
            plaintext[..(qLimbs * n)].CopyTo(coeff);
            ring.Inverse(coeff.AsSpan(0, qLimbs * n), 0, qLimbs);
            parameters.ModUpToP(level).Convert(coeff.AsSpan(0, qLimbs * n), pLimbs[..(pCount * n)], scratch.AsSpan(0, (qLimbs + 1) * n), n);
            ring.Forward(pLimbs[..(pCount * n)], parameters.PStart, pCount);
        }
        finally
        {
            pool.Return(coeff); pool.Return(scratch);
        }
    }

    /// <summary>out0 = Σ_d ext_d ⊙ b_d, out1 = Σ_d ext_d ⊙ a_d on one limb.</summary>
    private static void InnerProduct(NttTable table, ulong[] ext, int limb, int extLimbs, int digits, int n, KeySwitchingKey key, int ringIndex,
        Span<ulong> out0, Span<ulong> out1) =>
        InnerProduct(table.Modulus, table.UsesFloatingPoint, ext, limb, extLimbs, digits, n, key.B, key.A, ringIndex, out0, out1);

    /// <summary>The kernel choice, separate from the key type so that tests can drive every path with arbitrary data.</summary>
    internal static void InnerProduct(Modulus m, bool floatingPoint, ulong[] ext, int limb, int extLimbs, int digits, int n,
        ulong[][] keyB, ulong[][] keyA, int ringIndex, Span<ulong> out0, Span<ulong> out1) =>
        InnerProduct(m, floatingPoint, ext, limb, extLimbs, digits, n, keyB, keyA, ringIndex, out0, out1, 0, n);

    /// <summary>The same on coefficients [lo, hi) only (both multiples of 4), written at those places of the outputs.</summary>
    internal static void InnerProduct(Modulus m, bool floatingPoint, ulong[] ext, int limb, int extLimbs, int digits, int n,
        ulong[][] keyB, ulong[][] keyA, int ringIndex, Span<ulong> out0, Span<ulong> out1, int lo, int hi)
    {
        // The double-precision kernel centres its sum every fourth digit, so it holds any digit count for primes below 2^50.
        if (floatingPoint && m.BitCount <= FloatingPointModular.MaxBits && n % 4 == 0)
            InnerProductFloatingPoint(m, ext, limb, extLimbs, digits, n, keyB, keyA, ringIndex, out0, out1, lo, hi);
        else if (SplitProductFits(m, digits) && n % 4 == 0)
            InnerProductSplit(m, ext, limb, extLimbs, digits, n, keyB, keyA, ringIndex, out0, out1, lo, hi);
        else
            InnerProductScalar(m, ext, limb, extLimbs, digits, n, keyB, keyA, ringIndex, out0, out1, lo, hi);
    }

    /// <summary>
    /// Blocks of 64 coefficients with 128-bit accumulators kept in L1: each product is below 2^122, so up to 64 digits
    /// add up without overflow, and each coefficient is reduced once (lazy reduction).
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void InnerProductScalar(Modulus m, ulong[] ext, int limb, int extLimbs, int digits, int n, ulong[][] keyB, ulong[][] keyA,
        int ringIndex, Span<ulong> out0, Span<ulong> out1, int lo, int hi)
    {
        const int Block = 64;
        Span<ulong> acc = stackalloc ulong[4 * Block];
        ref ulong lo0 = ref acc[0];
        ref ulong hi0 = ref acc[Block];
        ref ulong lo1 = ref acc[2 * Block];
        ref ulong hi1 = ref acc[3 * Block];
        ref ulong extRef = ref MemoryMarshal.GetArrayDataReference(ext);
        for (int start = lo; start < hi; start += Block)
        {
            acc.Clear();
            int count = Math.Min(Block, hi - start);
            for (int d = 0; d < digits; d++)
            {
                ref ulong x = ref Unsafe.Add(ref extRef, (d * extLimbs + limb) * n + start);
                ref ulong b = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(keyB[d]), ringIndex * n + start);
                ref ulong a = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(keyA[d]), ringIndex * n + start);
                for (int c = 0; c < count; c++)
                {
                    ulong xv = Unsafe.Add(ref x, c);
                    ulong ph = Math.BigMul(xv, Unsafe.Add(ref b, c), out ulong pl);
                    ulong s = Unsafe.Add(ref lo0, c) + pl;
                    Unsafe.Add(ref hi0, c) += ph + (s < pl ? 1UL : 0UL);
                    Unsafe.Add(ref lo0, c) = s;
                    ph = Math.BigMul(xv, Unsafe.Add(ref a, c), out pl);
                    s = Unsafe.Add(ref lo1, c) + pl;
                    Unsafe.Add(ref hi1, c) += ph + (s < pl ? 1UL : 0UL);
                    Unsafe.Add(ref lo1, c) = s;
                }
            }
            for (int c = 0; c < count; c++)
            {
                out0[start + c] = m.Reduce128(m.Reduce(Unsafe.Add(ref hi0, c)), Unsafe.Add(ref lo0, c));
                out1[start + c] = m.Reduce128(m.Reduce(Unsafe.Add(ref hi1, c)), Unsafe.Add(ref lo1, c));
            }
        }
    }

    private const int SplitBlock = 256, SplitChunk = 7, SplitShift = 30;

    /// <summary>
    /// Whether <see cref="InnerProductSplit"/> is exact for this prime and digit count: halves below 2^30 give partial
    /// products below 2^60, so low and middle sums of 7 digits fit 64 bits before a carry, and the high sum of at most 15.
    /// </summary>
    internal static bool SplitProductFits(Modulus m, int digits) => Avx2.IsSupported && m.BitCount <= 2 * SplitShift && digits <= 15;

    /// <summary>
    /// The 60-bit primes, four lanes at a time without a 64-bit multiplier: each residue is split into 30-bit halves,
    /// x·k = x₁k₁·2^60 + (x₀k₁ + x₁k₀)·2^30 + x₀k₀ with 32-bit multiplies (vpmuludq), the three columns summed over digits
    /// in 64-bit lanes with a carry every 7 digits, and each coefficient reduced once at the end.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void InnerProductSplit(Modulus m, ulong[] ext, int limb, int extLimbs, int digits, int n, ulong[][] keyB, ulong[][] keyA,
        int ringIndex, Span<ulong> out0, Span<ulong> out1, int lo, int hi)
    {
        const int B = SplitBlock;
        var mask = Vector256.Create((1UL << SplitShift) - 1);
        // Columns: [low0, mid0, high0, low1, mid1, high1] × B lanes, kept in L1 across the digits.
        Span<ulong> columns = stackalloc ulong[6 * B];
        ref ulong col = ref MemoryMarshal.GetReference(columns);
        ref ulong extRef = ref MemoryMarshal.GetArrayDataReference(ext);
        ulong r60 = m.Reduce(1UL << (2 * SplitShift)), r60Shoup = m.ShoupPrecompute(r60);
        for (int start = lo; start < hi; start += B)
        {
            int count = Math.Min(B, hi - start);
            columns.Clear();
            for (int d = 0; d < digits; d++)
            {
                ref ulong xr = ref Unsafe.Add(ref extRef, (d * extLimbs + limb) * n + start);
                ref ulong br = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(keyB[d]), ringIndex * n + start);
                ref ulong ar = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(keyA[d]), ringIndex * n + start);
                for (int c = 0; c < count; c += 4)
                {
                    var x = Vector256.LoadUnsafe(ref xr, (nuint)c);
                    var b = Vector256.LoadUnsafe(ref br, (nuint)c);
                    var a = Vector256.LoadUnsafe(ref ar, (nuint)c);
                    var x0 = Avx2.And(x, mask).AsUInt32(); var x1 = Avx2.ShiftRightLogical(x, SplitShift).AsUInt32();
                    var b0 = Avx2.And(b, mask).AsUInt32(); var b1 = Avx2.ShiftRightLogical(b, SplitShift).AsUInt32();
                    var a0 = Avx2.And(a, mask).AsUInt32(); var a1 = Avx2.ShiftRightLogical(a, SplitShift).AsUInt32();
                    ref ulong p = ref Unsafe.Add(ref col, c);
                    Avx2.Add(Vector256.LoadUnsafe(ref p), Avx2.Multiply(x0, b0)).StoreUnsafe(ref p);
                    Avx2.Add(Vector256.LoadUnsafe(ref p, B), Avx2.Add(Avx2.Multiply(x0, b1), Avx2.Multiply(x1, b0))).StoreUnsafe(ref p, B);
                    Avx2.Add(Vector256.LoadUnsafe(ref p, 2 * B), Avx2.Multiply(x1, b1)).StoreUnsafe(ref p, 2 * B);
                    Avx2.Add(Vector256.LoadUnsafe(ref p, 3 * B), Avx2.Multiply(x0, a0)).StoreUnsafe(ref p, 3 * B);
                    Avx2.Add(Vector256.LoadUnsafe(ref p, 4 * B), Avx2.Add(Avx2.Multiply(x0, a1), Avx2.Multiply(x1, a0))).StoreUnsafe(ref p, 4 * B);
                    Avx2.Add(Vector256.LoadUnsafe(ref p, 5 * B), Avx2.Multiply(x1, a1)).StoreUnsafe(ref p, 5 * B);
                }
                if (d % SplitChunk == SplitChunk - 1 || d == digits - 1) CarrySplitColumns(ref col, mask);
            }
            // After the carry, low and middle are below 2^30: value = high·2^60 + (mid·2^30 + low), reduced once.
            for (int c = 0; c < count; c++)
            {
                out0[start + c] = FoldSplit(m, Unsafe.Add(ref col, 2 * B + c), (Unsafe.Add(ref col, B + c) << SplitShift) | Unsafe.Add(ref col, c), r60, r60Shoup);
                out1[start + c] = FoldSplit(m, Unsafe.Add(ref col, 5 * B + c), (Unsafe.Add(ref col, 4 * B + c) << SplitShift) | Unsafe.Add(ref col, 3 * B + c), r60, r60Shoup);
            }
        }
    }

    /// <summary>Moves the bits above 30 of the low columns into the middle ones and of the middle into the high ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CarrySplitColumns(ref ulong col, Vector256<ulong> mask)
    {
        const int B = SplitBlock;
        for (int half = 0; half < 2; half++)
        {
            ref ulong low = ref Unsafe.Add(ref col, 3 * half * B);
            for (int c = 0; c < B; c += 4)
            {
                var l = Vector256.LoadUnsafe(ref low, (nuint)c);
                var mid = Avx2.Add(Vector256.LoadUnsafe(ref low, (nuint)(B + c)), Avx2.ShiftRightLogical(l, SplitShift));
                Avx2.And(l, mask).StoreUnsafe(ref low, (nuint)c);
                Avx2.And(mid, mask).StoreUnsafe(ref low, (nuint)(B + c));
                Avx2.Add(Vector256.LoadUnsafe(ref low, (nuint)(2 * B + c)), Avx2.ShiftRightLogical(mid, SplitShift)).StoreUnsafe(ref low, (nuint)(2 * B + c));
            }
        }
    }

    /// <summary>(high·2^60 + low) mod q for low &lt; 2^60: one Shoup product in [0, 2q) plus low stays below 2^62, then Barrett.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong FoldSplit(Modulus m, ulong high, ulong low, ulong r60, ulong r60Shoup) =>
        m.Reduce(m.MulShoupLazy(high, r60, r60Shoup) + low);

    private const int FloatBlock = 1024;

    /// <summary>
    /// The same for primes below 2^50 in double precision (AVX2/FMA): each product reduced to (−0.875q, 0.875q) without its
    /// final correction, summed exactly in blocks of 1024 coefficients kept in L1 (so that each pass reads three long runs
    /// instead of 3·digits interleaved streams, which the prefetchers follow badly), the sum centred (v − round(v/q)·q)
    /// after every fourth digit so that it stays below 4q &lt; 2^52 for any number of digits, and reduced once at the end.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void InnerProductFloatingPoint(Modulus m, ulong[] ext, int limb, int extLimbs, int digits, int n, ulong[][] keyB, ulong[][] keyA,
        int ringIndex, Span<ulong> out0, Span<ulong> out1, int lo, int hi)
    {
        const int B = FloatBlock;
        double qs = m.Value;
        var q = Vector256.Create(qs);
        var qInv = Vector256.Create(1.0 / qs);
        Span<double> sums = stackalloc double[2 * B];
        ref double s0 = ref MemoryMarshal.GetReference(sums);
        ref double s1 = ref Unsafe.Add(ref s0, B);
        ref ulong extRef = ref MemoryMarshal.GetArrayDataReference(ext);
        ref ulong o0 = ref MemoryMarshal.GetReference(out0);
        ref ulong o1 = ref MemoryMarshal.GetReference(out1);
        for (int start = lo; start < hi; start += B)
        {
            int count = Math.Min(B, hi - start);
            for (int d = 0; d < digits; d++)
            {
                ref ulong xr = ref Unsafe.Add(ref extRef, (d * extLimbs + limb) * n + start);
                ref ulong br = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(keyB[d]), ringIndex * n + start);
                ref ulong ar = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(keyA[d]), ringIndex * n + start);
                bool first = d == 0, centre = (d & 3) == 3 && d != digits - 1;
                for (int c = 0; c < count; c += 4)
                {
                    var x = FloatingPointModular.ToDouble(Vector256.LoadUnsafe(ref xr, (nuint)c));
                    var p0 = FloatingPointModular.MulModLazy(x, FloatingPointModular.ToDouble(Vector256.LoadUnsafe(ref br, (nuint)c)), q, qInv);
                    var p1 = FloatingPointModular.MulModLazy(x, FloatingPointModular.ToDouble(Vector256.LoadUnsafe(ref ar, (nuint)c)), q, qInv);
                    if (!first)
                    {
                        p0 = Avx.Add(p0, Vector256.LoadUnsafe(ref s0, (nuint)c));
                        p1 = Avx.Add(p1, Vector256.LoadUnsafe(ref s1, (nuint)c));
                    }
                    if (centre)
                    {
                        p0 = Fma.MultiplyAddNegated(Avx.RoundToNearestInteger(Avx.Multiply(p0, qInv)), q, p0);
                        p1 = Fma.MultiplyAddNegated(Avx.RoundToNearestInteger(Avx.Multiply(p1, qInv)), q, p1);
                    }
                    p0.StoreUnsafe(ref s0, (nuint)c);
                    p1.StoreUnsafe(ref s1, (nuint)c);
                }
            }
            for (int c = 0; c < count; c += 4)
            {
                FloatingPointModular.FromDouble(FloatingPointModular.ReduceExact(Vector256.LoadUnsafe(ref s0, (nuint)c), q, qInv)).StoreUnsafe(ref o0, (nuint)(start + c));
                FloatingPointModular.FromDouble(FloatingPointModular.ReduceExact(Vector256.LoadUnsafe(ref s1, (nuint)c), q, qInv)).StoreUnsafe(ref o1, (nuint)(start + c));
            }
        }
    }

    /// <summary>
    /// destination = round(x / P) = (x − [x]_P) · P^-1 for x over Q_ℓ·P in NTT form (limbs Q_0 … Q_ℓ, then P) starting
    /// at <paramref name="offset"/> of <paramref name="x"/>, [x]_P the centered residue. The P limbs of x are
    /// overwritten; the destination may be x's own Q limbs. <paramref name="sensitive"/> (encryption, where x holds
    /// b·u + e before the division) wipes the scratch that held x's P part.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ModDown(RlweParameters parameters, int level, ulong[] x, int offset, ulong[] destination, int maxDegreeOfParallelism,
        int destinationOffset = 0, bool sensitive = false)
    {
        int n = parameters.N, pLimbs = parameters.PCount;
        var converter = parameters.ModDown(level);
        var scratch = ArrayPool<ulong>.Shared.Rent((pLimbs + 1) * n);
        try
        {
            PrepareP(parameters, converter, x.AsSpan(offset + (level + 1) * n, pLimbs * n), scratch.AsSpan(0, (pLimbs + 1) * n));
            Parallelism.For(level + 1, maxDegreeOfParallelism, new DivideByP(parameters, level, converter, scratch, x, offset, destination, destinationOffset, sensitive));
        }
        finally
        {
            if (sensitive) SecretArrayPool<ulong>.Wipe(scratch.AsSpan(0, (pLimbs + 1) * n));
            ArrayPool<ulong>.Shared.Return(scratch);
        }
    }

    /// <summary>Limb j of <see cref="ModDown"/> (destination may be x itself).</summary>
    private readonly struct DivideByP(RlweParameters parameters, int level, BasisConverter converter, ulong[] scratch, ulong[] x, int offset,
        ulong[] destination, int destinationOffset, bool sensitive) : IParallelBody
    {
        public void Invoke(int j)
        {
            int n = parameters.N, pLimbs = parameters.PCount;
            var lifted = ArrayPool<ulong>.Shared.Rent(n);
            try
            {
                DivideLimbByP(parameters, converter, j, x.AsSpan(offset + (level + 1) * n, pLimbs * n), scratch.AsSpan(0, (pLimbs + 1) * n),
                    x.AsSpan(offset + j * n, n), default, destination.AsSpan(destinationOffset + j * n, n), lifted.AsSpan(0, n));
            }
            finally
            {
                if (sensitive) SecretArrayPool<ulong>.Wipe(lifted.AsSpan(0, n));
                ArrayPool<ulong>.Shared.Return(lifted);
            }
        }
    }

    private readonly struct ForwardLimbs(RnsRing ring, ulong[] data, int n) : IParallelBody
    {
        public void Invoke(int j) => ring.Ntt[j].Forward(data.AsSpan(j * n, n));
    }

    /// <summary>Applies X → X^k to each limb of an NTT-form polynomial: destination[j] = source[perm[j]].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ApplyGaloisNtt(RlweParameters parameters, ulong galoisElement, ReadOnlySpan<ulong> source, Span<ulong> destination, int limbs)
    {
        Gather(source, destination, parameters.SharedGaloisPermutation(galoisElement), limbs);
    }

    /// <summary>
    /// destination[l·N + j] = source[l·N + perm[j]] for each of <paramref name="limbs"/> limbs: an NTT-domain automorphism
    /// (perm from <see cref="RlweParameters.SharedGaloisPermutation"/>, entries below N).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Gather(ReadOnlySpan<ulong> source, Span<ulong> destination, int[] perm, int limbs)
    {
        int n = perm.Length;
        ref int pm = ref MemoryMarshal.GetArrayDataReference(perm);
        for (int l = 0; l < limbs; l++)
        {
            ref ulong s = ref MemoryMarshal.GetReference(source.Slice(l * n, n));
            ref ulong d = ref MemoryMarshal.GetReference(destination.Slice(l * n, n));
            for (int j = 0; j < n; j++) Unsafe.Add(ref d, j) = Unsafe.Add(ref s, Unsafe.Add(ref pm, j));
        }
    }
}

/// <summary>
/// A polynomial split into key-switching digits and lifted to Q_ℓ·P (NTT form), reusable for several keys:
/// rotating one ciphertext by many steps decomposes it once (hoisting, Halevi–Shoup 2018).
/// Holds a pooled buffer: dispose it.
/// </summary>
public sealed class KeySwitchDecomposition : IDisposable
{
    private ulong[]? _ext;
    private readonly RlweParameters _parameters;

    internal KeySwitchDecomposition(RlweParameters parameters, int level, ulong[] ext)
    {
        _parameters = parameters;
        Level = level;
        _ext = ext;
    }

    /// <summary>The level of the decomposed polynomial.</summary>
    public int Level { get; }

    /// <summary>
    /// Writes (r_0, r_1) over Q_level, the key switch of σ_k(d) when <paramref name="galoisElement"/> is given (the
    /// automorphism commutes with the decomposition, so it is applied to the lifted digits), else of d.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The decomposition was disposed.</exception>
    public void Switch(KeySwitchingKey key, ulong? galoisElement, ulong[] result0, ulong[] result1, int maxDegreeOfParallelism = 1)
    {
        ArgumentNullException.ThrowIfNull(key);
        var ext = _ext ?? throw new ObjectDisposedException(nameof(KeySwitchDecomposition));
        ulong k = galoisElement ?? 0;
        if (key.Automorphism != 0 && key.Automorphism != k)
            ThrowHelper.Argument(nameof(key), $"The key is a Galois key for element {key.Automorphism}; it cannot switch for element {k}.");
        if (k == 0)
        {
            KeySwitcher.SwitchDecomposed(_parameters, Level, ext, key, result0, result1, maxDegreeOfParallelism);
            return;
        }
        if (key.Automorphism == k)
        {
            // σ_k(switch(d)) with the pre-permuted key equals switch(σ_k(d)) with the plain one: permute two outputs, not the digits.
            Rotate(key, k, default, result0, result1, maxDegreeOfParallelism);
            return;
        }
        int n = _parameters.N, extLimbs = Level + 1 + _parameters.PCount, digits = _parameters.DigitCount(Level);
        var permuted = ArrayPool<ulong>.Shared.Rent(digits * extLimbs * n);
        try
        {
            var perm = _parameters.SharedGaloisPermutation(k);
            Parallelism.For(digits * extLimbs, maxDegreeOfParallelism, l => KeySwitcher.Gather(ext.AsSpan(l * n, n), permuted.AsSpan(l * n, n), perm, 1));
            KeySwitcher.SwitchDecomposed(_parameters, Level, permuted, key, result0, result1, maxDegreeOfParallelism);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(permuted);
        }
    }

    /// <summary>
    /// The rotation of a ciphertext (c0, c1) whose c1 this decomposition holds, with a pre-permuted Galois key:
    /// out0 = σ_k(c0 + r0), out1 = σ_k(r1), (r0, r1) the switch of the unpermuted digits. <paramref name="c0"/> may be
    /// <paramref name="out0"/> itself but must not overlap it otherwise; empty means c0 = 0.
    /// </summary>
    internal void Rotate(KeySwitchingKey key, ulong galoisElement, ReadOnlyMemory<ulong> c0, Memory<ulong> out0, Memory<ulong> out1, int maxDegreeOfParallelism)
    {
        var ext = _ext ?? throw new ObjectDisposedException(nameof(KeySwitchDecomposition));
        if (key.Automorphism != galoisElement) ThrowHelper.Argument(nameof(key), $"The key is not pre-permuted for element {galoisElement}.");
        KeySwitcher.SwitchDecomposedPermuted(_parameters, Level, ext, key, galoisElement, c0, out0, out1, maxDegreeOfParallelism);
    }

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        var ext = Interlocked.Exchange(ref _ext, null);
        if (ext is not null) ArrayPool<ulong>.Shared.Return(ext);
    }
}
