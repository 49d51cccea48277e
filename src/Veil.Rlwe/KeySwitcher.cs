using System.Buffers;
using Veil.Arithmetic;

namespace Veil.Rlwe;

/// <summary>
/// Hybrid key switching (Han–Ki 2020; as in Microsoft SEAL with one special prime): given d in NTT form over
/// Q_ℓ and a key from s' to s, returns (r_0, r_1) over Q_ℓ with r_0 + r_1·s ≈ d·s'.
/// </summary>
/// <remarks>
/// Steps: split d into digits of |P| primes, lift each to Q_ℓ·P (ModUp), take the inner product with the key,
/// then divide by P (ModDown). The added error is about N·σ·(digit size / P) + |P| rounding.
/// </remarks>
public static class KeySwitcher
{
    /// <summary>
    /// Computes the switched pair for <paramref name="input"/> (NTT form, (level+1)·N words) and adds it into
    /// <paramref name="accumulator0"/> and <paramref name="accumulator1"/> (NTT form over Q_level).
    /// </summary>
    /// <exception cref="ArgumentException">The key belongs to other parameters or the spans are too short.</exception>
    public static void SwitchAndAdd(RlweParameters parameters, int level, ReadOnlySpan<ulong> input, KeySwitchingKey key,
        Span<ulong> accumulator0, Span<ulong> accumulator1)
    {
        if (!key.Parameters.SameRingAs(parameters)) ThrowHelper.Argument(nameof(key), "The key belongs to other parameters.");
        var ring = parameters.Ring;
        int n = ring.N, qLimbs = level + 1, pLimbs = parameters.PCount, pStart = parameters.PStart;
        int extLimbs = qLimbs + pLimbs;
        if (input.Length < qLimbs * n || accumulator0.Length < qLimbs * n || accumulator1.Length < qLimbs * n)
            ThrowHelper.Argument(nameof(input), "Buffers are shorter than the level requires.");

        var pool = ArrayPool<ulong>.Shared;
        ulong[] coeff = pool.Rent(qLimbs * n), ext = pool.Rent(extLimbs * n), conv = pool.Rent(extLimbs * n);
        ulong[] scratch = pool.Rent((pLimbs + 1) * n), acc0 = pool.Rent(extLimbs * n), acc1 = pool.Rent(extLimbs * n);
        try
        {
            var coeffSpan = coeff.AsSpan(0, qLimbs * n);
            input[..(qLimbs * n)].CopyTo(coeffSpan);
            ring.Inverse(coeffSpan, 0, qLimbs);
            acc0.AsSpan(0, extLimbs * n).Clear();
            acc1.AsSpan(0, extLimbs * n).Clear();
            int digits = parameters.DigitCount(level);
            for (int d = 0; d < digits; d++)
            {
                int start = d * pLimbs, end = Math.Min(start + pLimbs, qLimbs);
                var (converter, targets) = parameters.ModUp(level, d);
                // ext holds limbs in the order Q_0 … Q_ℓ, P_0 … P_k; digit limbs are the input's own NTT values.
                var extSpan = ext.AsSpan(0, extLimbs * n);
                input.Slice(start * n, (end - start) * n).CopyTo(extSpan.Slice(start * n));
                converter.Convert(coeffSpan.Slice(start * n, (end - start) * n), conv, scratch, n);
                for (int t = 0; t < targets.Length; t++)
                {
                    int ringIndex = targets[t];
                    int extIndex = ringIndex >= pStart ? qLimbs + (ringIndex - pStart) : ringIndex;
                    var limb = extSpan.Slice(extIndex * n, n);
                    conv.AsSpan(t * n, n).CopyTo(limb);
                    ring.Ntt[ringIndex].Forward(limb);
                }
                // Inner product with the key, over Q_ℓ and then P (key limbs of P sit at pStart).
                ring.MulPointwiseAdd(extSpan[..(qLimbs * n)], key.B[d], acc0, 0, qLimbs);
                ring.MulPointwiseAdd(extSpan[..(qLimbs * n)], key.A[d], acc1, 0, qLimbs);
                ring.MulPointwiseAdd(extSpan.Slice(qLimbs * n, pLimbs * n), key.B[d].AsSpan(pStart * n), acc0.AsSpan(qLimbs * n), pStart, pLimbs);
                ring.MulPointwiseAdd(extSpan.Slice(qLimbs * n, pLimbs * n), key.A[d].AsSpan(pStart * n), acc1.AsSpan(qLimbs * n), pStart, pLimbs);
            }
            ModDownAndAdd(parameters, level, acc0, accumulator0, conv, scratch);
            ModDownAndAdd(parameters, level, acc1, accumulator1, conv, scratch);
        }
        finally
        {
            pool.Return(coeff); pool.Return(ext); pool.Return(conv);
            pool.Return(scratch); pool.Return(acc0); pool.Return(acc1);
        }
    }

    /// <summary>
    /// destination += round(x / P) = (x − [x]_P) · P^-1, [x]_P the centered residue, for x over Q_ℓ·P in NTT form
    /// (limbs Q_0 … Q_ℓ, then P).
    /// Works in place on <paramref name="x"/>.
    /// </summary>
    internal static void ModDownAndAdd(RlweParameters parameters, int level, ulong[] x, Span<ulong> destination, ulong[] conv, ulong[] scratch)
    {
        var ring = parameters.Ring;
        int n = ring.N, qLimbs = level + 1, pLimbs = parameters.PCount;
        var pPart = x.AsSpan(qLimbs * n, pLimbs * n);
        ring.Inverse(pPart, parameters.PStart, pLimbs);
        parameters.ModDown(level).Convert(pPart, conv, scratch, n);
        for (int j = 0; j < qLimbs; j++)
        {
            var m = ring.Moduli[j];
            var lifted = conv.AsSpan(j * n, n);
            ring.Ntt[j].Forward(lifted);
            var xs = x.AsSpan(j * n, n);
            var d = destination.Slice(j * n, n);
            ulong w = parameters.PInvModQ[j], wShoup = m.ShoupPrecompute(w);
            ulong q = m.Value;
            for (int c = 0; c < n; c++)
            {
                ulong diff = xs[c] + q - lifted[c];
                ulong v = m.MulShoup(diff, w, wShoup);
                ulong s = d[c] + v;
                d[c] = s >= q ? s - q : s;
            }
        }
    }

    /// <summary>Applies X → X^k to each limb of an NTT-form polynomial: destination[j] = source[perm[j]].</summary>
    public static void ApplyGaloisNtt(RlweParameters parameters, ulong galoisElement, ReadOnlySpan<ulong> source, Span<ulong> destination, int limbs)
    {
        var perm = parameters.GaloisPermutation(galoisElement);
        int n = parameters.N;
        for (int l = 0; l < limbs; l++)
        {
            var s = source.Slice(l * n, n);
            var d = destination.Slice(l * n, n);
            for (int j = 0; j < n; j++) d[j] = s[perm[j]];
        }
    }
}
