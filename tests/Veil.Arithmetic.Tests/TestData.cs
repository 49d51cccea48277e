using System.Numerics;

namespace Veil.Arithmetic.Tests;

/// <summary>Deterministic test data and slow, obviously-correct reference implementations.</summary>
internal static class TestData
{
    /// <summary>The largest NTT-friendly prime of the given size for ring degree 2^logN.</summary>
    public static ulong Prime(int bits, int logN = 10) => Primes.NttPrimes(bits, logN, 1)[0];

    /// <summary>A uniform 64-bit value.</summary>
    public static ulong NextUInt64(this Random rng)
    {
        Span<byte> b = stackalloc byte[8];
        rng.NextBytes(b);
        return BitConverter.ToUInt64(b);
    }

    /// <summary>A uniform value in [0, bound).</summary>
    public static ulong NextBelow(this Random rng, ulong bound) => (ulong)(((UInt128)rng.NextUInt64() * bound) >> 64);

    /// <summary>Random reduced values, with the edge values 0, 1, q − 1 first.</summary>
    public static ulong[] ReducedValues(ulong q, int count, int seed)
    {
        var rng = new Random(seed);
        var v = new ulong[count];
        v[0] = 0; v[1] = 1; v[2] = q - 1;
        if (count > 3) v[3] = q / 2;
        if (count > 4) v[4] = (q + 1) / 2;
        for (int i = 5; i < count; i++) v[i] = rng.NextBelow(q);
        return v;
    }

    /// <summary>Schoolbook product in Z_q[X]/(X^N + 1), accumulated exactly in 128 bits.</summary>
    public static ulong[] NaiveNegacyclic(ulong[] a, ulong[] b, ulong q)
    {
        int n = a.Length;
        var pos = new UInt128[n];
        var neg = new UInt128[n];
        for (int i = 0; i < n; i++)
        {
            if (a[i] == 0) continue;
            for (int j = 0; j < n; j++)
            {
                UInt128 p = (UInt128)a[i] * b[j] % q;
                int k = i + j;
                if (k < n) pos[k] += p; else neg[k - n] += p;
            }
        }
        var r = new ulong[n];
        for (int k = 0; k < n; k++)
        {
            UInt128 pk = pos[k] % q, nk = neg[k] % q;
            r[k] = (ulong)((pk + q - nk) % q);
        }
        return r;
    }

    /// <summary>Polynomial evaluation a(x) mod q by Horner's rule in BigInteger.</summary>
    public static ulong Evaluate(ulong[] a, ulong x, ulong q)
    {
        BigInteger acc = 0;
        for (int i = a.Length - 1; i >= 0; i--) acc = (acc * x + a[i]) % q;
        return (ulong)acc;
    }

    /// <summary>Independent Miller–Rabin in BigInteger with many fixed bases (reference for 64-bit primality).</summary>
    public static bool IsProbablePrimeReference(ulong n)
    {
        if (n < 2) return false;
        ulong[] small = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71];
        foreach (var p in small)
        {
            if (n == p) return true;
            if (n % p == 0) return false;
        }
        BigInteger nn = n, d = n - 1;
        int s = 0;
        while (d.IsEven) { d >>= 1; s++; }
        foreach (var a in small)
        {
            var x = BigInteger.ModPow(a, d, nn);
            if (x.IsOne || x == nn - 1) continue;
            bool composite = true;
            for (int r = 1; r < s; r++)
            {
                x = x * x % nn;
                if (x == nn - 1) { composite = false; break; }
            }
            if (composite) return false;
        }
        return true;
    }

    /// <summary>Primality by trial division (reference for small n).</summary>
    public static bool IsPrimeByTrialDivision(ulong n)
    {
        if (n < 2) return false;
        if (n < 4) return true;
        if (n % 2 == 0) return false;
        for (ulong d = 3; d * d <= n; d += 2)
            if (n % d == 0) return false;
        return true;
    }
}
