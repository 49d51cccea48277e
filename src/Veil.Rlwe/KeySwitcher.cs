using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
        var ring = parameters.Ring;
        int n = ring.N, qLimbs = level + 1, pLimbs = parameters.PCount, pStart = parameters.PStart;
        int extLimbs = qLimbs + pLimbs, digits = parameters.DigitCount(level);
        var pool = ArrayPool<ulong>.Shared;
        ulong[] coeff = pool.Rent(qLimbs * n), ext = pool.Rent(digits * extLimbs * n);
        ulong[] acc = pool.Rent(2 * extLimbs * n);
        try
        {
            // 1. Coefficient form of every limb (needed by the basis conversion).
            Parallelism.For(qLimbs, maxDegreeOfParallelism, j =>
            {
                var limb = coeff.AsSpan(j * n, n);
                input.AsSpan(j * n, n).CopyTo(limb);
                ring.Ntt[j].Inverse(limb);
            });
            // 2. ModUp, one digit per task: ext_d holds limbs Q_0 … Q_ℓ, P_0 … P_k in NTT form.
            Parallelism.For(digits, maxDegreeOfParallelism, d =>
            {
                int start = d * pLimbs, end = Math.Min(start + pLimbs, qLimbs);
                var (converter, targets) = parameters.ModUp(level, d);
                var extD = ext.AsSpan(d * extLimbs * n, extLimbs * n);
                input.AsSpan(start * n, (end - start) * n).CopyTo(extD.Slice(start * n));
                ulong[] conv = pool.Rent(targets.Length * n), scratch = pool.Rent((pLimbs + 1) * n);
                try
                {
                    converter.Convert(coeff.AsSpan(start * n, (end - start) * n), conv, scratch, n);
                    for (int t = 0; t < targets.Length; t++)
                    {
                        int ringIndex = targets[t];
                        int extIndex = ringIndex >= pStart ? qLimbs + (ringIndex - pStart) : ringIndex;
                        var limb = extD.Slice(extIndex * n, n);
                        conv.AsSpan(t * n, n).CopyTo(limb);
                        ring.Ntt[ringIndex].Forward(limb);
                    }
                }
                finally
                {
                    pool.Return(conv); pool.Return(scratch);
                }
            });
            // 3. Inner product with the key, one limb per task, reduced once per coefficient.
            Parallelism.For(extLimbs, maxDegreeOfParallelism, e =>
            {
                int ringIndex = e < qLimbs ? e : pStart + (e - qLimbs);
                InnerProduct(ring.Moduli[ringIndex], ext, e, extLimbs, digits, n, key, ringIndex,
                    acc.AsSpan(e * n, n), acc.AsSpan((extLimbs + e) * n, n));
            });
            // 4. Divide both halves by P with rounding.
            ModDown(parameters, level, acc, 0, result0, maxDegreeOfParallelism);
            ModDown(parameters, level, acc, extLimbs * n, result1, maxDegreeOfParallelism);
        }
        finally
        {
            pool.Return(coeff); pool.Return(ext); pool.Return(acc);
        }
    }

    [SkipLocalsInit]
    private static void InnerProduct(Modulus m, ulong[] ext, int limb, int extLimbs, int digits, int n, KeySwitchingKey key, int ringIndex,
        Span<ulong> out0, Span<ulong> out1)
    {
        // Each product is below 2^122; up to 64 of them fit 128 bits. Carries are tracked by hand (faster than UInt128).
        Span<ulong> lo0 = out0, lo1 = out1;
        ulong[] hiBuffer = ArrayPool<ulong>.Shared.Rent(2 * n);
        var hi0 = hiBuffer.AsSpan(0, n);
        var hi1 = hiBuffer.AsSpan(n, n);
        hi0.Clear(); hi1.Clear(); lo0.Clear(); lo1.Clear();
        ref ulong rLo0 = ref MemoryMarshal.GetReference(lo0);
        ref ulong rLo1 = ref MemoryMarshal.GetReference(lo1);
        ref ulong rHi0 = ref MemoryMarshal.GetReference(hi0);
        ref ulong rHi1 = ref MemoryMarshal.GetReference(hi1);
        for (int d = 0; d < digits; d++)
        {
            ref ulong x = ref MemoryMarshal.GetArrayDataReference(ext);
            x = ref Unsafe.Add(ref x, (d * extLimbs + limb) * n);
            ref ulong b = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(key.B[d]), ringIndex * n);
            ref ulong a = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(key.A[d]), ringIndex * n);
            for (int c = 0; c < n; c++)
            {
                ulong xv = Unsafe.Add(ref x, c);
                ulong ph = Math.BigMul(xv, Unsafe.Add(ref b, c), out ulong pl);
                ulong s = Unsafe.Add(ref rLo0, c) + pl;
                Unsafe.Add(ref rHi0, c) += ph + (s < pl ? 1UL : 0UL);
                Unsafe.Add(ref rLo0, c) = s;
                ph = Math.BigMul(xv, Unsafe.Add(ref a, c), out pl);
                s = Unsafe.Add(ref rLo1, c) + pl;
                Unsafe.Add(ref rHi1, c) += ph + (s < pl ? 1UL : 0UL);
                Unsafe.Add(ref rLo1, c) = s;
            }
        }
        for (int c = 0; c < n; c++)
        {
            Unsafe.Add(ref rLo0, c) = m.Reduce128(m.Reduce(Unsafe.Add(ref rHi0, c)), Unsafe.Add(ref rLo0, c));
            Unsafe.Add(ref rLo1, c) = m.Reduce128(m.Reduce(Unsafe.Add(ref rHi1, c)), Unsafe.Add(ref rLo1, c));
        }
        ArrayPool<ulong>.Shared.Return(hiBuffer);
    }

    /// <summary>
    /// destination = round(x / P) = (x − [x]_P) · P^-1 for x over Q_ℓ·P in NTT form (limbs Q_0 … Q_ℓ, then P) starting
    /// at <paramref name="offset"/> of <paramref name="x"/>, [x]_P the centered residue. The P limbs of x are overwritten.
    /// </summary>
    internal static void ModDown(RlweParameters parameters, int level, ulong[] x, int offset, ulong[] destination, int maxDegreeOfParallelism)
    {
        var ring = parameters.Ring;
        int n = ring.N, qLimbs = level + 1, pLimbs = parameters.PCount;
        var pool = ArrayPool<ulong>.Shared;
        ulong[] conv = pool.Rent(qLimbs * n), scratch = pool.Rent((pLimbs + 1) * n);
        try
        {
            var pPart = x.AsSpan(offset + qLimbs * n, pLimbs * n);
            ring.Inverse(pPart, parameters.PStart, pLimbs);
            parameters.ModDown(level).Convert(pPart, conv, scratch, n);
            Parallelism.For(qLimbs, maxDegreeOfParallelism, j =>
            {
                var m = ring.Moduli[j];
                var lifted = conv.AsSpan(j * n, n);
                ring.Ntt[j].Forward(lifted);
                var xs = x.AsSpan(offset + j * n, n);
                var d = destination.AsSpan(j * n, n);
                ulong w = parameters.PInvModQ[j], wShoup = m.ShoupPrecompute(w);
                ulong q = m.Value;
                for (int c = 0; c < n; c++) d[c] = m.MulShoup(xs[c] + q - lifted[c], w, wShoup);
            });
        }
        finally
        {
            pool.Return(conv); pool.Return(scratch);
        }
    }

    /// <summary>Applies X → X^k to each limb of an NTT-form polynomial: destination[j] = source[perm[j]].</summary>
    public static void ApplyGaloisNtt(RlweParameters parameters, ulong galoisElement, ReadOnlySpan<ulong> source, Span<ulong> destination, int limbs)
    {
        var perm = parameters.SharedGaloisPermutation(galoisElement);
        int n = parameters.N;
        for (int l = 0; l < limbs; l++)
        {
            var s = source.Slice(l * n, n);
            var d = destination.Slice(l * n, n);
            for (int j = 0; j < n; j++) d[j] = s[perm[j]];
        }
    }
}
