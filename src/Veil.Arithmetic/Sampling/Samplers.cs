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
    public static void Uniform(RandomSource prng, RnsRing ring, Span<ulong> destination, int first, int limbs)
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
    /// <remarks>The random bytes that decided the coefficients are wiped from the stack before returning.</remarks>
    public static void Ternary(RandomSource random, Span<sbyte> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        // Large blocks: a call to the operating system's generator costs about a microsecond whatever its size.
        Span<byte> buffer = stackalloc byte[4096];
        int filled = 0, pos = buffer.Length;
        while (filled < destination.Length)
        {
            if (pos == buffer.Length) { random.NextBytes(buffer); pos = 0; }
            byte b = buffer[pos++];
            // Rejecting 255 makes b mod 3 uniform; whether a byte was rejected reveals nothing of the kept ones.
            if (b == 255) continue;
            destination[filled++] = (sbyte)(b % 3 - 1);
        }
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(buffer);
    }

    /// <summary>
    /// Ternary coefficients with exactly <paramref name="hammingWeight"/> nonzero entries (each ±1 with probability ½)
    /// at uniformly random positions: the sparse secrets of bootstrappable parameters, whose Hamming weight bounds
    /// |⟨c, s⟩ / q_0| by (h + 1)/2.
    /// </summary>
    /// <remarks>A Fisher–Yates shuffle of a vector holding h nonzero entries, with unbiased indices by rejection; the
    /// random words are wiped before returning. Its memory accesses depend on the indices drawn (as any shuffle's).</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The weight is negative or above the length.</exception>
    public static void SparseTernary(RandomSource random, int hammingWeight, Span<sbyte> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        int n = destination.Length;
        if (hammingWeight < 0 || hammingWeight > n)
            throw new ArgumentOutOfRangeException(nameof(hammingWeight), hammingWeight, $"The Hamming weight must be in [0, {n}].");
        Span<byte> word = stackalloc byte[8];
        destination.Clear();
        for (int i = 0; i < hammingWeight; i++)
        {
            random.NextBytes(word[..1]);
            destination[i] = (sbyte)(1 - 2 * (word[0] & 1)); // no branch on the sign
        }
        for (int i = n - 1; i > 0; i--)
        {
            // j uniform in [0, i] by rejection of the top partial range of 2^32.
            uint range = (uint)i + 1, limit = uint.MaxValue - uint.MaxValue % range;
            uint r;
            do { random.NextBytes(word[..4]); r = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(word); } while (r >= limit);
            int j = (int)(r % range);
            (destination[i], destination[j]) = (destination[j], destination[i]);
        }
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(word);
    }

    /// <summary>Centered discrete Gaussian (σ = 3.2, |e| ≤ 19) coefficients, sampled in constant time.</summary>
    /// <remarks>Exactly 8 random bytes per coefficient, read in blocks that are wiped before returning.</remarks>
    public static void Gaussian(RandomSource random, Span<sbyte> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        ReadOnlySpan<ulong> table = CumulativeTable;
        Span<ulong> block = stackalloc ulong[2048];
        for (int start = 0; start < destination.Length; start += block.Length)
        {
            int count = Math.Min(block.Length, destination.Length - start);
            var words = block[..count];
            random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(words));
            for (int i = 0; i < count; i++)
            {
                ulong r = BitConverter.IsLittleEndian ? words[i] : System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(words[i]);
                ulong u = r >> 1;          // 63 bits for the magnitude
                long sign = (long)(r & 1); // one bit for the sign
                // Scan the whole table so that time does not depend on the sample.
                int magnitude = 0;
                for (int k = 0; k < table.Length - 1; k++) magnitude += AtLeast(u, table[k]);
                long v = magnitude;
                long mask = -sign;
                destination[start + i] = (sbyte)((v ^ mask) - mask);
            }
        }
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(block));
    }

    /// <summary>The largest σ <see cref="WideGaussian"/> takes: 2^55.</summary>
    public const double MaxWideSigma = 36028797018963968.0;
    private const double TwoToMinus53 = 1.0 / 9007199254740992.0;

    /// <summary>
    /// Rounded continuous Gaussian samples of standard deviation <paramref name="sigma"/> (for flooding noise, where σ
    /// is far above 1 and the rounding's distance from a discrete Gaussian is negligible), by the Box–Muller transform
    /// on 53-bit uniforms from <paramref name="random"/>.
    /// </summary>
    /// <remarks>Samples beyond ±2^62 are impossible for the σ allowed (at most 2^55). The random words are wiped.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">σ is not in [1, 2^55].</exception>
    public static void WideGaussian(RandomSource random, double sigma, Span<long> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (!(sigma >= 1 && sigma <= MaxWideSigma)) ThrowHelper.OutOfRange(nameof(sigma), $"σ must be in [1, 2^55]; got {sigma}.");
        Span<ulong> words = stackalloc ulong[256];
        for (int start = 0; start < destination.Length; start += words.Length / 2 * 2)
        {
            int pairs = Math.Min(words.Length / 2, (destination.Length - start + 1) / 2);
            var used = words[..(2 * pairs)];
            random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(used));
            for (int k = 0; k < pairs; k++)
            {
                // u1 in (0, 1], u2 in [0, 1): radius √(−2 ln u1), angle 2π·u2; two independent normals.
                double u1 = ((used[2 * k] >> 11) + 1) * TwoToMinus53;
                double u2 = (used[2 * k + 1] >> 11) * TwoToMinus53;
                double radius = sigma * Math.Sqrt(-2 * Math.Log(u1));
                var (sin, cos) = Math.SinCos(2 * Math.PI * u2);
                destination[start + 2 * k] = (long)Math.Round(radius * cos);
                if (start + 2 * k + 1 < destination.Length) destination[start + 2 * k + 1] = (long)Math.Round(radius * sin);
            }
        }
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(words));
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
