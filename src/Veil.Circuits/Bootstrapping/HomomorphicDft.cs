using System.Numerics;

namespace Veil.Circuits;

/// <summary>
/// The encoder's special FFT as a product of sparse slot matrices, grouped into a few levels: the CoeffToSlot and
/// SlotToCoeff steps of bootstrapping.
/// </summary>
/// <remarks>
/// <para>Decoding is z = F·BitRev(w) for w_k = m_k + i·m_(k+n) (n = N/2 slots), where F is the product of log2 n
/// butterfly stages; each stage touches slot p and slot p ± h only, so it has three diagonals (offsets 0, h, −h).
/// Leaving the bit reversal out, SlotToCoeff is F applied to slots that hold BitRev(w), and CoeffToSlot is F⁻¹
/// (the product of the inverse butterflies times 1/n), which leaves BitRev(w) in the slots; EvalMod works slot by slot and does not mind the order.</para>
/// <para>Merging g consecutive stages into one level gives at most 2^(g+1) − 1 diagonals (sums of ±h's), so a
/// level budget trades depth against rotations and plaintext products (Bossuat et al., Eurocrypt 2021, §4).</para>
/// </remarks>
public static class HomomorphicDft
{
    /// <summary>
    /// The stages of CoeffToSlot grouped into <paramref name="levels"/> transforms, in the order they are applied, with
    /// <paramref name="factor"/> (times 1/n) folded into the first.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The slot count is not a power of two ≥ 2, or the level count is outside [1, log2 n].</exception>
    public static Dictionary<int, Complex[]>[] CoeffToSlotMatrices(int slots, int levels, Complex factor)
    {
        int logN = CheckShape(slots, levels);
        // Inverse stages run from the longest butterfly (len = n) down to len = 2.
        var stages = new List<Dictionary<int, Complex[]>>();
        for (int len = slots; len >= 2; len >>= 1) stages.Add(Stage(slots, len, inverse: true));
        return Group(stages, slots, GroupSizes(logN, levels), factor / slots);
    }

    /// <summary>
    /// The stages of SlotToCoeff grouped into <paramref name="levels"/> transforms, in the order they are applied, with
    /// <paramref name="factor"/> folded into the first.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The slot count is not a power of two ≥ 2, or the level count is outside [1, log2 n].</exception>
    public static Dictionary<int, Complex[]>[] SlotToCoeffMatrices(int slots, int levels, Complex factor)
    {
        int logN = CheckShape(slots, levels);
        var stages = new List<Dictionary<int, Complex[]>>();
        for (int len = 2; len <= slots; len <<= 1) stages.Add(Stage(slots, len, inverse: false));
        // CoeffToSlot's groups mirrored: with as many levels, both merge the same stages and share every rotation key.
        var sizes = GroupSizes(logN, levels);
        Array.Reverse(sizes);
        return Group(stages, slots, sizes, factor);
    }

    /// <summary>
    /// CoeffToSlot for sparse packing: the transforms of <see cref="CoeffToSlotMatrices"/> over n = <paramref name="slots"/>
    /// slots, acting on <paramref name="fullSlots"/>-slot vectors that repeat n values, the last one also multiplying
    /// slot p by −i when p mod 2n ≥ n. Its output y then gives, in y + conj(y), the real halves in the first n of every
    /// 2n slots and the imaginary halves in the next n: one ciphertext for EvalMod instead of two.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The shape is invalid, or 2n exceeds <paramref name="fullSlots"/>.</exception>
    public static Dictionary<int, Complex[]>[] SparseCoeffToSlotMatrices(int slots, int levels, int fullSlots, Complex factor)
    {
        CheckSparse(slots, fullSlots);
        var matrices = CoeffToSlotMatrices(slots, levels, factor).Select(d => Lift(d, slots, 2 * slots)).ToArray();
        foreach (var d in matrices[^1].Values) for (int p = slots; p < 2 * slots; p++) d[p] *= -Complex.ImaginaryOne;
        return matrices.Select(d => Lift(d, 2 * slots, fullSlots)).ToArray();
    }

    /// <summary>
    /// SlotToCoeff for sparse packing, the inverse of <see cref="SparseCoeffToSlotMatrices"/>'s layout: its first
    /// transform reads real values z (real halves in the first n of every 2n slots, imaginary halves in the next n) as
    /// w_p = z_p + i·z_(p+n), then the transforms of <see cref="SlotToCoeffMatrices"/> over n slots follow; the output
    /// repeats n values over the <paramref name="fullSlots"/> slots.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The shape is invalid, or 2n exceeds <paramref name="fullSlots"/>.</exception>
    public static Dictionary<int, Complex[]>[] SparseSlotToCoeffMatrices(int slots, int levels, int fullSlots, Complex factor)
    {
        CheckSparse(slots, fullSlots);
        var matrices = SlotToCoeffMatrices(slots, levels, factor).Select(d => Lift(d, slots, 2 * slots)).ToArray();
        var same = new Complex[2 * slots];
        var across = new Complex[2 * slots];
        for (int p = 0; p < 2 * slots; p++)
        {
            // p mod 2n < n: z_p + i·z_(p+n); otherwise the same pair seen from its second half: z_(p−n) + i·z_p.
            same[p] = p < slots ? Complex.One : Complex.ImaginaryOne;
            across[p] = p < slots ? Complex.ImaginaryOne : Complex.One;
        }
        matrices[0] = Compose(new Dictionary<int, Complex[]> { [0] = same, [slots] = across }, matrices[0], 2 * slots);
        return matrices.Select(d => Lift(d, 2 * slots, fullSlots)).ToArray();
    }

    private static void CheckSparse(int slots, int fullSlots)
    {
        if (!BitOperations.IsPow2(fullSlots) || slots < 1 || 2 * slots > fullSlots)
            throw new ArgumentOutOfRangeException(nameof(slots), slots, $"Sparse packing takes a power of two at most half of the {fullSlots} slots.");
    }

    /// <summary>Diagonals of a map on <paramref name="period"/>-periodic vectors, written out over <paramref name="length"/> slots (fresh arrays).</summary>
    private static Dictionary<int, Complex[]> Lift(Dictionary<int, Complex[]> diagonals, int period, int length)
    {
        var result = new Dictionary<int, Complex[]>(diagonals.Count);
        foreach (var (offset, d) in diagonals)
        {
            var lifted = new Complex[length];
            for (int p = 0; p < length; p++) lifted[p] = d[p % period];
            result[offset] = lifted;
        }
        return result;
    }

    /// <summary>Applies diagonals to a plain slot vector, y[p] = Σ_o d_o[p]·x[p + o]: the plaintext twin of a transform.</summary>
    public static Complex[] ApplyPlain(IReadOnlyDictionary<int, Complex[]> diagonals, ReadOnlySpan<Complex> x)
    {
        ArgumentNullException.ThrowIfNull(diagonals);
        int n = x.Length;
        var y = new Complex[n];
        foreach (var (offset, d) in diagonals)
            for (int p = 0; p < n; p++) y[p] += d[p] * x[Mod(p + offset, n)];
        return y;
    }

    private static int CheckShape(int slots, int levels)
    {
        if (slots < 2 || !BitOperations.IsPow2(slots)) throw new ArgumentOutOfRangeException(nameof(slots), slots, "The slot count must be a power of two, at least 2.");
        int logN = BitOperations.Log2((uint)slots);
        if (levels < 1 || levels > logN) throw new ArgumentOutOfRangeException(nameof(levels), levels, $"A DFT over {slots} slots takes 1 to {logN} levels.");
        return logN;
    }

    /// <summary>Twiddle t_j of the stage of length len: ζ_(4·len)^(5^j mod 4·len), as the encoder's.</summary>
    private static Complex[] Twiddles(int len)
    {
        int half = len / 2, m = 4 * len;
        var t = new Complex[half];
        long g = 1;
        for (int j = 0; j < half; j++)
        {
            double angle = 2 * Math.PI * g / m;
            t[j] = new Complex(Math.Cos(angle), Math.Sin(angle));
            g = g * 5 % m;
        }
        return t;
    }

    /// <summary>
    /// One butterfly stage of length len as three diagonals. Forward: out[p] = x[p] + t·x[p + h] in a block's first
    /// half, x[p − h] − t·x[p] in its second. Inverse: x[p] + x[p + h], then conj(t)·(x[p − h] − x[p]).
    /// </summary>
    private static Dictionary<int, Complex[]> Stage(int n, int len, bool inverse)
    {
        int h = len / 2;
        var t = Twiddles(len);
        var d0 = new Complex[n]; var dPlus = new Complex[n]; var dMinus = new Complex[n];
        for (int p = 0; p < n; p++)
        {
            int r = p % len;
            if (r < h) { d0[p] = 1; dPlus[p] = inverse ? 1 : t[r]; }
            else
            {
                var w = inverse ? Complex.Conjugate(t[r - h]) : t[r - h];
                d0[p] = -w;
                dMinus[p] = inverse ? w : 1;
            }
        }
        return Diagonals(n, (0, d0), (h, dPlus), (-h, dMinus));
    }

    private static Dictionary<int, Complex[]> Diagonals(int n, params (int Offset, Complex[] Values)[] parts)
    {
        var result = new Dictionary<int, Complex[]>();
        foreach (var (offset, values) in parts)
        {
            int o = Mod(offset, n);
            if (result.TryGetValue(o, out var existing)) for (int p = 0; p < n; p++) existing[p] += values[p];
            else result[o] = values;
        }
        return result;
    }

    /// <summary>Stages per level for CoeffToSlot, the larger groups first.</summary>
    private static int[] GroupSizes(int logN, int levels) => Enumerable.Range(0, levels).Select(g => logN / levels + (g < logN % levels ? 1 : 0)).ToArray();

    /// <summary>Multiplies out consecutive groups of stages of the given sizes.</summary>
    private static Dictionary<int, Complex[]>[] Group(List<Dictionary<int, Complex[]>> stages, int n, int[] sizes, Complex factor)
    {
        var result = new Dictionary<int, Complex[]>[sizes.Length];
        int next = 0;
        for (int g = 0; g < sizes.Length; g++)
        {
            int size = sizes[g];
            var product = stages[next];
            for (int k = 1; k < size; k++) product = Compose(product, stages[next + k], n);
            next += size;
            result[g] = product;
        }
        foreach (var d in result[0].Values) for (int p = 0; p < n; p++) d[p] *= factor;
        return result;
    }

    /// <summary>The diagonals of A∘B (B first): A(Bx)[p] = Σ_a α_a[p]·Σ_b β_b[p + a]·x[p + a + b].</summary>
    private static Dictionary<int, Complex[]> Compose(Dictionary<int, Complex[]> first, Dictionary<int, Complex[]> then, int n)
    {
        var result = new Dictionary<int, Complex[]>();
        foreach (var (a, alpha) in then)
            foreach (var (b, beta) in first)
            {
                int o = Mod(a + b, n);
                if (!result.TryGetValue(o, out var d)) result[o] = d = new Complex[n];
                int shift = Mod(a, n), mask = n - 1; // n is a power of two
                for (int p = 0; p < n; p++) d[p] += alpha[p] * beta[(p + shift) & mask];
            }
        // Cancellations (offsets that meet from both signs) can leave exact zeros; drop empty diagonals.
        foreach (var o in result.Where(kv => kv.Value.All(v => v == Complex.Zero)).Select(kv => kv.Key).ToList()) result.Remove(o);
        return result;
    }

    private static int Mod(int a, int n) => ((a % n) + n) % n;
}
