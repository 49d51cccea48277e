using System.Numerics;
using Veil.Arithmetic;

namespace Veil.Rlwe.Tests;

/// <summary>Parameter sets used across the RLWE tests, and exact (BigInteger) reference arithmetic.</summary>
internal static class TestRings
{
    private static readonly Dictionary<string, Lazy<RlweParameters>> Sets = new()
    {
        // One special prime: one prime a digit.
        ["OneSpecial"] = new(() => Build(11, [60, 40, 40, 40], [60], SecurityLevel.InsecureNoCheck)),
        // Two special primes: digits of two primes, the last one partial at even levels.
        ["TwoSpecial"] = new(() => Build(11, [60, 40, 40, 40, 40], [60, 60], SecurityLevel.InsecureNoCheck)),
        // A small ring with small primes.
        ["Small"] = new(() => Build(10, [50, 30, 30], [50], SecurityLevel.InsecureNoCheck)),
        // Anchor set A: N = 2^13, Q = 60 + 40 + 40 bits, P = 60 bits, 128-bit secure.
        ["AnchorA"] = new(() => Build(13, [60, 40, 40], [60], SecurityLevel.Bits128)),
        // Anchor set B: N = 2^14, Q = 60 + 6·40 bits, P = 60 bits, 128-bit secure.
        ["AnchorB"] = new(() => Build(14, [60, 40, 40, 40, 40, 40, 40], [60], SecurityLevel.Bits128)),
    };

    public static RlweParameters Get(string name) => Sets[name].Value;

    /// <summary>
    /// Distinct NTT primes of the requested sizes. For each size the largest primes go to P first, then to Q in order,
    /// so P is never smaller than a Q prime of the same size.
    /// </summary>
    public static (ulong[] Q, ulong[] P) Primes(int logN, int[] qBits, int[] pBits)
    {
        var pool = qBits.Concat(pBits).GroupBy(b => b)
            .ToDictionary(g => g.Key, g => new Queue<ulong>(Arithmetic.Primes.NttPrimes(g.Key, logN, g.Count())));
        var p = pBits.Select(b => pool[b].Dequeue()).ToArray();
        var q = qBits.Select(b => pool[b].Dequeue()).ToArray();
        return (q, p);
    }

    public static RlweParameters Build(int logN, int[] qBits, int[] pBits, SecurityLevel security)
    {
        var (q, p) = Primes(logN, qBits, pBits);
        return RlweParameters.Create(logN, q, p, security);
    }

    /// <summary>Small random integers in [−bound, bound], from a fixed seed.</summary>
    public static long[] SmallMessage(int n, int bound, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (long)rng.Next(-bound, bound + 1)).ToArray();
    }

    /// <summary>A plaintext at <paramref name="level"/> holding the integer polynomial m · scale, in NTT form.</summary>
    public static Plaintext Encode(RlweParameters parameters, int level, long[] m, long scale)
    {
        var pt = new Plaintext(parameters, level);
        for (int l = 0; l <= level; l++)
        {
            var mod = parameters.Ring.Moduli[l];
            var limb = pt.Limb(l);
            for (int i = 0; i < parameters.N; i++) limb[i] = mod.FromSigned(checked(m[i] * scale));
        }
        parameters.Ring.Forward(pt.Data, 0, level + 1);
        return pt;
    }

    /// <summary>
    /// The centered integer coefficients (−Q_ℓ/2, Q_ℓ/2] of an NTT-form polynomial over q_0 … q_level, by CRT over every limb.
    /// </summary>
    public static BigInteger[] DecodeCentered(RlweParameters parameters, int level, ReadOnlySpan<ulong> ntt)
    {
        int n = parameters.N, limbs = level + 1;
        var coeff = ntt[..(limbs * n)].ToArray();
        parameters.Ring.Inverse(coeff, 0, limbs);
        var primes = Enumerable.Range(0, limbs).Select(l => parameters.Ring.Moduli[l].Value).ToArray();
        BigInteger q = primes.Aggregate(BigInteger.One, (a, p) => a * p);
        var weights = new BigInteger[limbs];
        for (int l = 0; l < limbs; l++)
        {
            BigInteger hat = q / primes[l];
            weights[l] = hat * BigInteger.ModPow(hat % primes[l], primes[l] - 2, primes[l]);
        }
        var result = new BigInteger[n];
        for (int i = 0; i < n; i++)
        {
            BigInteger x = 0;
            for (int l = 0; l < limbs; l++) x += weights[l] * coeff[l * n + i];
            x %= q;
            if (x > q / 2) x -= q;
            result[i] = x;
        }
        return result;
    }

    /// <summary>Centered coefficients of one NTT-form limb of the full ring (Q·P), for checking key errors limb by limb.</summary>
    public static long[] CenteredLimb(RlweParameters parameters, int ringLimb, ReadOnlySpan<ulong> nttLimb)
    {
        var c = nttLimb.ToArray();
        parameters.Ring.Ntt[ringLimb].Inverse(c);
        ulong q = parameters.Ring.Moduli[ringLimb].Value;
        return c.Select(v => v > q / 2 ? -(long)(q - v) : (long)v).ToArray();
    }

    /// <summary>max_i |a_i − b_i|.</summary>
    public static BigInteger MaxDistance(IReadOnlyList<BigInteger> a, IReadOnlyList<BigInteger> b)
    {
        BigInteger max = 0;
        for (int i = 0; i < a.Count; i++) max = BigInteger.Max(max, BigInteger.Abs(a[i] - b[i]));
        return max;
    }

    /// <summary>The automorphism X → X^k on integer coefficients: coefficient i goes to i·k mod 2N, negated past N.</summary>
    public static BigInteger[] Automorphism(IReadOnlyList<BigInteger> a, ulong k)
    {
        int n = a.Count;
        var r = new BigInteger[n];
        for (int i = 0; i < n; i++)
        {
            long e = (long)((ulong)i * k % (ulong)(2 * n));
            if (e < n) r[e] = a[i]; else r[e - n] = -a[i];
        }
        return r;
    }

    /// <summary>Exact negacyclic product of small integer polynomials (no overflow for |a|,|b| ≤ 2^20, N ≤ 2^14).</summary>
    public static long[] NegacyclicProduct(long[] a, long[] b)
    {
        int n = a.Length;
        var r = new long[n];
        for (int i = 0; i < n; i++)
        {
            if (a[i] == 0) continue;
            for (int j = 0; j < n; j++)
            {
                long p = a[i] * b[j];
                if (i + j < n) r[i + j] += p; else r[i + j - n] -= p;
            }
        }
        return r;
    }

    public static BigInteger[] Scaled(long[] m, BigInteger scale) => m.Select(v => v * scale).ToArray();
}
