using System.Runtime.CompilerServices;

namespace Veil.Arithmetic.Sampling;

/// <summary>Samplers writing RNS polynomials (coefficient form unless said otherwise).</summary>
public static class Samplers
{
    /// <summary>Standard deviation of the error distribution (HomomorphicEncryption.org standard).</summary>
    public const double Sigma = 3.2;
    /// <summary>Errors are truncated at this many standard deviations.</summary>
    public const int TailCut = 6;
    /// <summary>Largest error magnitude, ⌈6σ⌉ − 1 = 19.</summary>
    public const int MaxError = 19;

    // Cumulative table for |e| = 0..MaxError under the discrete Gaussian, scaled to 2^63,
    // where |e| = 0 has half weight so that the random sign is applied uniformly.
    private static readonly ulong[] CumulativeTable = BuildTable();

    private static ulong[] BuildTable()
    {
        var weights = new double[MaxError + 1];
        double total = 0;
        for (int k = 0; k <= MaxError; k++)
        {
            double w = Math.Exp(-(double)k * k / (2 * Sigma * Sigma));
            weights[k] = k == 0 ? w : 2 * w;
            total += weights[k];
        }
        var table = new ulong[MaxError + 1];
        double acc = 0;
        for (int k = 0; k <= MaxError; k++)
        {
            acc += weights[k] / total;
            table[k] = acc >= 1 ? 1UL << 63 : (ulong)(acc * (1UL << 63));
        }
        table[MaxError] = 1UL << 63;
        return table;
    }

    /// <summary>
    /// Uniform polynomial over the given primes, limbs [first, first+limbs) of <paramref name="ring"/>,
    /// written in NTT form directly (a uniform polynomial is uniform in either form).
    /// </summary>
    /// <remarks>Rejection sampling on 64-bit words removes modular bias; the randomness is public.</remarks>
    public static void Uniform(Prng prng, RnsRing ring, Span<ulong> destination, int first, int limbs)
    {
        int n = ring.N;
        Span<byte> block = stackalloc byte[2048];
        for (int l = 0; l < limbs; l++)
        {
            var m = ring.Moduli[first + l];
            ulong bound = ulong.MaxValue - ulong.MaxValue % m.Value; // accept x < bound, a multiple of q
            var d = destination.Slice(l * n, n);
            int i = 0;
            while (i < n)
            {
                // Draw 256 words at a time; Barrett reduction replaces a hardware division per coefficient.
                prng.NextBytes(block);
                var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(block);
                for (int k = 0; k < words.Length && i < n; k++)
                {
                    ulong x = words[k];
                    if (x < bound) d[i++] = m.Reduce(x);
                }
            }
        }
    }

    /// <summary>Uniform ternary coefficients in {−1, 0, 1} as signed bytes.</summary>
    public static void Ternary(Prng prng, Span<sbyte> destination)
    {
        Span<byte> buffer = stackalloc byte[256];
        int filled = 0, pos = 256;
        while (filled < destination.Length)
        {
            if (pos == 256) { prng.NextBytes(buffer); pos = 0; }
            byte b = buffer[pos++];
            // Rejecting 255 makes b mod 3 uniform; whether a byte was rejected reveals nothing of the kept ones.
            if (b == 255) continue;
            destination[filled++] = (sbyte)(b % 3 - 1);
        }
    }

    /// <summary>Centered discrete Gaussian (σ = 3.2, |e| ≤ 19) coefficients, sampled in constant time.</summary>
    public static void Gaussian(Prng prng, Span<sbyte> destination)
    {
        ReadOnlySpan<ulong> table = CumulativeTable;
        for (int i = 0; i < destination.Length; i++)
        {
            ulong r = prng.NextUInt64();
            ulong u = r >> 1;          // 63 bits for the magnitude
            long sign = (long)(r & 1); // one bit for the sign
            // Scan the whole table so that time does not depend on the sample.
            int magnitude = 0;
            for (int k = 0; k < table.Length - 1; k++) magnitude += AtLeast(u, table[k]);
            long v = magnitude;
            long mask = -sign;
            destination[i] = (sbyte)((v ^ mask) - mask);
        }
    }

    // 1 when u ≥ t, without a branch; valid for u < 2^63 and t ≤ 2^63, where u − t wraps past 2^63 exactly when u < t.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AtLeast(ulong u, ulong t) => (int)(((u - t) >> 63) ^ 1);

    /// <summary>Writes small signed coefficients into every limb of an RNS polynomial (coefficient form).</summary>
    public static void SmallToRns(ReadOnlySpan<sbyte> values, RnsRing ring, Span<ulong> destination, int first, int limbs)
    {
        int n = ring.N;
        for (int l = 0; l < limbs; l++)
        {
            ulong q = ring.Moduli[first + l].Value;
            var d = destination.Slice(l * n, n);
            for (int i = 0; i < n; i++)
            {
                long v = values[i];
                // v + q when negative, v otherwise, without a branch on the (secret) sign.
                d[i] = (ulong)v + (q & (ulong)(v >> 63));
            }
        }
    }
}
