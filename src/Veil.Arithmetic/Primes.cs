namespace Veil.Arithmetic;

/// <summary>Deterministic primality testing and generation of NTT-friendly primes.</summary>
public static class Primes
{
    // These bases make Miller–Rabin deterministic for every 64-bit integer.
    private static readonly ulong[] WitnessBases = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];

    /// <summary>Whether n is prime (exact for all 64-bit n).</summary>
    public static bool IsPrime(ulong n)
    {
        if (n < 2) return false;
        foreach (ulong p in WitnessBases)
        {
            if (n == p) return true;
            if (n % p == 0) return false;
        }
        ulong d = n - 1;
        int s = 0;
        while ((d & 1) == 0) { d >>= 1; s++; }
        foreach (ulong a in WitnessBases)
        {
            ulong x = PowMod(a, d, n);
            if (x == 1 || x == n - 1) continue;
            bool composite = true;
            for (int r = 1; r < s; r++)
            {
                x = MulMod(x, x, n);
                if (x == n - 1) { composite = false; break; }
            }
            if (composite) return false;
        }
        return true;
    }

    /// <summary>
    /// The <paramref name="count"/> largest primes q &lt; 2^bits with q ≡ 1 (mod 2N), in descending order,
    /// skipping any in <paramref name="exclude"/>.
    /// </summary>
    /// <remarks>Deterministic: the same arguments always give the same primes, so parameter sets are reproducible.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">bits outside [logN + 2, 61] or count &lt; 1.</exception>
    /// <exception cref="InvalidOperationException">Not enough such primes exist.</exception>
    public static ulong[] NttPrimes(int bits, int logN, int count, IReadOnlySet<ulong>? exclude = null)
    {
        if (logN < 1 || logN > 20) ThrowHelper.OutOfRange(nameof(logN), "logN must be in [1, 20].");
        if (bits < logN + 2 || bits > Modulus.MaxBits)
            ThrowHelper.OutOfRange(nameof(bits), $"Prime size must be in [{logN + 2}, {Modulus.MaxBits}] bits for logN = {logN}; got {bits}.");
        if (count < 1) ThrowHelper.OutOfRange(nameof(count), "count must be positive.");
        ulong step = 2UL << logN;
        ulong lower = 1UL << (bits - 1);
        // Largest candidate below 2^bits that is ≡ 1 mod 2N.
        ulong candidate = (1UL << bits) - step + 1;
        var result = new List<ulong>(count);
        while (result.Count < count && candidate > lower)
        {
            if ((exclude is null || !exclude.Contains(candidate)) && IsPrime(candidate)) result.Add(candidate);
            candidate -= step;
        }
        if (result.Count < count)
            ThrowHelper.InvalidOperation($"Only {result.Count} primes of {bits} bits are ≡ 1 mod 2^{logN + 1}; {count} were asked for.");
        return result.ToArray();
    }

    /// <summary>The smallest primitive 2N-th root of unity modulo the prime q (q ≡ 1 mod 2N).</summary>
    /// <exception cref="ArgumentException">q is not ≡ 1 mod 2N.</exception>
    public static ulong MinimalPrimitiveRoot(ulong q, int logN)
    {
        ulong twoN = 2UL << logN;
        if ((q - 1) % twoN != 0) ThrowHelper.Argument(nameof(q), $"{q} is not ≡ 1 mod {twoN}.");
        var m = new Modulus(q);
        ulong cofactor = (q - 1) / twoN;
        ulong best = 0;
        // Find one generator of the 2N-th roots, then the smallest of its odd powers (all primitive roots).
        for (ulong g = 2; g < q; g++)
        {
            ulong root = m.Pow(g, cofactor);
            if (m.Pow(root, twoN >> 1) == q - 1)
            {
                best = root;
                ulong square = m.Mul(root, root), current = root;
                for (ulong i = 0; i < twoN >> 1; i++)
                {
                    if (current < best) best = current;
                    current = m.Mul(current, square);
                }
                return best;
            }
        }
        ThrowHelper.InvalidOperation($"No primitive root found modulo {q}.");
        return 0;
    }

    private static ulong MulMod(ulong a, ulong b, ulong n) => (ulong)((UInt128)a * b % n);

    private static ulong PowMod(ulong b, ulong e, ulong n)
    {
        ulong r = 1, x = b % n;
        while (e != 0)
        {
            if ((e & 1) != 0) r = MulMod(r, x, n);
            x = MulMod(x, x, n);
            e >>= 1;
        }
        return r;
    }
}
