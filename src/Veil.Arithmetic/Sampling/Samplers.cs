using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    public static void Uniform(RandomSource prng, RnsRing ring, Span<ulong> destination, int first, int limbs) =>
        Uniform(prng, ring, destination, first, limbs, IntegerVectorModular.IsSupported);

    // vectors: false runs the scalar loop alone (tests compare the two).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Uniform(RandomSource prng, RnsRing ring, Span<ulong> destination, int first, int limbs, bool vectors)
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
                int k = vectors ? UniformVectors(words, d, ref i, m, bound) : 0;
                for (; k < words.Length && i < n; k++)
                {
                    ulong x = words[k];
                    if (x < bound) d[i++] = m.Reduce(x);
                }
            }
        }
    }

    // Four words at a time while four outputs fit: the same words in the same order as the scalar loop, which goes on
    // from the returned index.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int UniformVectors(ReadOnlySpan<ulong> words, Span<ulong> destination, ref int i, Modulus m, ulong bound)
    {
        var q = Vector256.Create(m.Value);
        var twoQ = Vector256.Create(m.Value << 1);
        var one = Vector256.Create(1UL);
        var ratio = Vector256.Create(m.ShoupPrecompute(1));
        var signBit = Vector256.Create(1UL << 63);
        var biasedBound = Vector256.Create(bound ^ (1UL << 63));
        int k = 0, n = destination.Length;
        while (k + 4 <= words.Length && i + 4 <= n)
        {
            var x = Vector256.Create(words.Slice(k, 4));
            // x < bound unsigned, as a signed comparison with both sides' sign bits flipped.
            var accepted = Avx2.CompareGreaterThan(biasedBound.AsInt64(), Avx2.Xor(x, signBit).AsInt64());
            if (Avx.MoveMask(accepted.AsDouble()) != 0b1111)
            {
                // A group with a rejection takes the scalar step, in the same order, and the vectors go on after it
                // (at a 61-bit prime up to an eighth of the words are rejected, which would leave most of a block scalar).
                for (int end = k + 4; k < end; k++)
                {
                    ulong w = words[k];
                    if (w < bound) destination[i++] = m.Reduce(w);
                }
                continue;
            }
            var r = IntegerVectorModular.MulShoupLazy(x, one, ratio, q, twoQ);
            IntegerVectorModular.SubtractIfAtLeast(r, q).CopyTo(destination.Slice(i, 4));
            i += 4;
            k += 4;
        }
        return k;
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
    public static void Gaussian(RandomSource random, Span<sbyte> destination) => Gaussian(random, destination, Avx2.IsSupported);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Gaussian(RandomSource random, Span<sbyte> destination, bool vectors)
    {
        ArgumentNullException.ThrowIfNull(random);
        ReadOnlySpan<ulong> table = CumulativeTable;
        Span<ulong> block = stackalloc ulong[2048];
        for (int start = 0; start < destination.Length; start += block.Length)
        {
            int count = Math.Min(block.Length, destination.Length - start);
            var words = block[..count];
            random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(words));
            int i = vectors && BitConverter.IsLittleEndian ? GaussianVectors(words, destination.Slice(start, count)) : 0;
            for (; i < count; i++)
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

    // The scalar loop's arithmetic on four samples a lane: every table entry compared, no branch on a sample.
    // Returns how many samples it wrote (a multiple of four).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int GaussianVectors(ReadOnlySpan<ulong> words, Span<sbyte> destination)
    {
        ReadOnlySpan<ulong> table = CumulativeTable;
        int entries = table.Length - 1;
        Span<Vector256<ulong>> thresholds = stackalloc Vector256<ulong>[entries];
        for (int k = 0; k < entries; k++) thresholds[k] = Vector256.Create(table[k]);
        var one = Vector256.Create(1UL);
        Span<long> lanes = stackalloc long[4];
        int i = 0;
        for (; i + 4 <= words.Length; i += 4)
        {
            var r = Vector256.Create(words.Slice(i, 4));
            var u = Avx2.ShiftRightLogical(r, 1);
            // Count the entries above u (u − t wraps past 2^63 exactly when u < t); the magnitude is the rest.
            var below = Vector256<ulong>.Zero;
            for (int k = 0; k < entries; k++) below = Avx2.Add(below, Avx2.ShiftRightLogical(Avx2.Subtract(u, thresholds[k]), 63));
            var v = Avx2.Subtract(Vector256.Create((ulong)entries), below).AsInt64();
            var mask = Avx2.Subtract(Vector256<long>.Zero, Avx2.And(r, one).AsInt64());
            Avx2.Subtract(Avx2.Xor(v, mask), mask).CopyTo(lanes);
            destination[i] = (sbyte)lanes[0];
            destination[i + 1] = (sbyte)lanes[1];
            destination[i + 2] = (sbyte)lanes[2];
            destination[i + 3] = (sbyte)lanes[3];
        }
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(lanes));
        return i;
    }

    /// <summary>The largest σ <see cref="WideGaussian(RandomSource, double, Span{long})"/> takes: 2^55.</summary>
    public const double MaxWideSigma = 36028797018963968.0;
    private const double TwoToMinus53 = 1.0 / 9007199254740992.0;

    /// <summary>
    /// Rounded continuous Gaussian samples of standard deviation <paramref name="sigma"/> (for flooding noise, where σ
    /// is far above 1 and the rounding's distance from a discrete Gaussian is negligible), by the Box–Muller transform
    /// on 53-bit uniforms from <paramref name="random"/>.
    /// </summary>
    /// <remarks>Samples beyond ±2^62 are impossible for the σ allowed (at most 2^55). The random words are wiped.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">σ is not in [1, 2^55].</exception>
    public static void WideGaussian(RandomSource random, double sigma, Span<long> destination) =>
        WideGaussian(random, sigma, destination, Avx2.IsSupported);

    // vectors: the same transform four pairs at a time (Vector256.Log and SinCos may differ from Math's in the last
    // place, so a sample may differ from the scalar loop's by one); only where every sample stays below 2^51.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WideGaussian(RandomSource random, double sigma, Span<long> destination, bool vectors)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (!(sigma >= 1 && sigma <= MaxWideSigma)) ThrowHelper.OutOfRange(nameof(sigma), $"σ must be in [1, 2^55]; got {sigma}.");
        vectors &= sigma <= MaxVectorWideSigma && BitConverter.IsLittleEndian;
        Span<ulong> words = stackalloc ulong[256];
        for (int start = 0; start < destination.Length; start += words.Length / 2 * 2)
        {
            int pairs = Math.Min(words.Length / 2, (destination.Length - start + 1) / 2);
            var used = words[..(2 * pairs)];
            random.NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(used));
            int k = vectors ? WideGaussianVectors(used, sigma, destination[start..]) : 0;
            for (; k < pairs; k++)
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

    // |sample| ≤ σ·√(2·53·ln 2) < 8.6σ: below 2^51 (where doubles convert to integers by one addition) up to this σ.
    private const double MaxVectorWideSigma = 2.0e14;

    // Four pairs a step while eight outputs fit; returns the pairs done.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int WideGaussianVectors(ReadOnlySpan<ulong> used, double sigma, Span<long> destination)
    {
        int pairs = used.Length / 2, k = 0;
        var scale = Vector256.Create(TwoToMinus53);
        var twoPi = Vector256.Create(2 * Math.PI);
        var minusTwoSigmaSquared = Vector256.Create(-2 * sigma * sigma);
        for (; k + 4 <= pairs && 2 * k + 8 <= destination.Length; k += 4)
        {
            var a = Vector256.Create(used.Slice(2 * k, 4));
            var b = Vector256.Create(used.Slice(2 * k + 4, 4));
            // Lanes hold pairs (0, 2, 1, 3): the unpacks below put them back in order.
            var first = Avx2.UnpackLow(a, b);
            var second = Avx2.UnpackHigh(a, b);
            // (k + 1)·2^-53 with the 1 added as a double: k + 1 reaches 2^53, past ExactToDouble's range, and u1 must stay 1 there.
            var u1 = Avx.Multiply(Avx.Add(ExactToDouble(Avx2.ShiftRightLogical(first, 11)), Vector256.Create(1.0)), scale);
            var u2 = Avx.Multiply(ExactToDouble(Avx2.ShiftRightLogical(second, 11)), scale);
            var radius = Avx.Sqrt(Avx.Multiply(minusTwoSigmaSquared, Vector256.Log(u1)));
            var (sin, cos) = Vector256.SinCos(Avx.Multiply(twoPi, u2));
            var x = RoundToInt64(Avx.Multiply(radius, cos));
            var y = RoundToInt64(Avx.Multiply(radius, sin));
            Avx2.UnpackLow(x, y).CopyTo(destination.Slice(2 * k, 4));
            Avx2.UnpackHigh(x, y).CopyTo(destination.Slice(2 * k + 4, 4));
        }
        return k;
    }

    // x < 2^53 to double exactly: half of it through the 2^52 bit pattern, doubled, plus the low bit.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> ExactToDouble(Vector256<ulong> x)
    {
        var magic = Vector256.Create(4503599627370496.0); // 2^52
        var half = Avx.Subtract(Avx2.Or(Avx2.ShiftRightLogical(x, 1), magic.AsUInt64()).AsDouble(), magic);
        var low = Avx.Subtract(Avx2.Or(Avx2.And(x, Vector256.Create(1UL)), magic.AsUInt64()).AsDouble(), magic);
        return Avx.Add(Avx.Add(half, half), low);
    }

    // Round to nearest even (as Math.Round) and convert, for |v| < 2^51: adding 1.5·2^52 leaves the integer in the low bits.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<long> RoundToInt64(Vector256<double> v)
    {
        var magic = Vector256.Create(6755399441055744.0); // 1.5·2^52
        return Avx2.Subtract(Avx.Add(v, magic).AsInt64(), magic.AsInt64());
    }

    /// <summary>Writes signed coefficients (|v| &lt; 2^63) into every limb of an RNS polynomial (coefficient form), reduced
    /// without a branch on their signs or sizes.</summary>
    public static void WideToRns(ReadOnlySpan<long> values, RnsRing ring, Span<ulong> destination, int first, int limbs) =>
        WideToRns(values, ring, destination, first, limbs, IntegerVectorModular.IsSupported);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void WideToRns(ReadOnlySpan<long> values, RnsRing ring, Span<ulong> destination, int first, int limbs, bool vectors)
    {
        ArgumentNullException.ThrowIfNull(ring);
        int n = ring.N;
        if (values.Length < n) ThrowHelper.Argument(nameof(values), $"Expected {n} values, got {values.Length}.");
        for (int l = 0; l < limbs; l++)
        {
            var m = ring.Moduli[first + l];
            var d = destination.Slice(l * n, n);
            int c = 0;
            if (vectors)
            {
                var q = Vector256.Create(m.Value);
                var twoQ = Vector256.Create(m.Value << 1);
                var one = Vector256.Create(1UL);
                var ratio = Vector256.Create(m.ShoupPrecompute(1));
                for (; c + 4 <= n; c += 4)
                {
                    // As Modulus.FromSigned: reduce |v|, then q − r (0 for r = 0) under the sign's mask.
                    var v = Vector256.Create(values.Slice(c, 4));
                    var negative = Avx2.CompareGreaterThan(Vector256<long>.Zero, v).AsUInt64();
                    var magnitude = Avx2.Subtract(Avx2.Xor(v.AsUInt64(), negative), negative);
                    var r = IntegerVectorModular.SubtractIfAtLeast(IntegerVectorModular.SubtractIfAtLeast(
                        IntegerVectorModular.MulShoupLazy(magnitude, one, ratio, q, twoQ), twoQ), q);
                    var negated = Avx2.AndNot(Avx2.CompareEqual(r, Vector256<ulong>.Zero), Avx2.Subtract(q, r));
                    Avx2.Or(Avx2.AndNot(negative, r), Avx2.And(negative, negated)).CopyTo(d.Slice(c, 4));
                }
            }
            for (; c < n; c++) d[c] = m.FromSigned(values[c]);
        }
    }

    // 1 when u ≥ t, without a branch; valid for u < 2^63 and t ≤ 2^63, where u − t wraps past 2^63 exactly when u < t.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int AtLeast(ulong u, ulong t) => (int)(((u - t) >> 63) ^ 1);

    /// <summary>Writes small signed coefficients into every limb of an RNS polynomial (coefficient form).</summary>
    public static void SmallToRns(ReadOnlySpan<sbyte> values, RnsRing ring, Span<ulong> destination, int first, int limbs) =>
        SmallToRns(values, ring, destination, first, limbs, Avx2.IsSupported);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void SmallToRns(ReadOnlySpan<sbyte> values, RnsRing ring, Span<ulong> destination, int first, int limbs, bool vectors)
    {
        int n = ring.N;
        for (int l = 0; l < limbs; l++)
        {
            ulong q = ring.Moduli[first + l].Value;
            var d = destination.Slice(l * n, n);
            int i = 0;
            if (vectors && values.Length >= n)
            {
                var qv = Vector256.Create(q).AsInt64();
                ref sbyte v0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(values);
                for (; i + 4 <= n; i += 4)
                {
                    // Four bytes sign-extended; q added where negative by a mask, not a branch.
                    var v = Avx2.ConvertToVector256Int64(Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<int>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref v0, i)))).AsSByte());
                    Avx2.Add(v, Avx2.And(qv, Avx2.CompareGreaterThan(Vector256<long>.Zero, v))).AsUInt64().CopyTo(d.Slice(i, 4));
                }
            }
            for (; i < n; i++)
            {
                long v = values[i];
                // v + q when negative, v otherwise, without a branch on the (secret) sign.
                d[i] = (ulong)v + (q & (ulong)(v >> 63));
            }
        }
    }
}
