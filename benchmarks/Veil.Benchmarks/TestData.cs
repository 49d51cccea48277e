using Veil.Arithmetic;

namespace Veil.Benchmarks;

/// <summary>Deterministic inputs shared by the benchmark classes.</summary>
internal static class TestData
{
    /// <summary>The preset literal for a set name ("SetA" or "SetB").</summary>
    public static Veil.Ckks.CkksParametersLiteral Literal(string set) => set switch
    {
        "SetA" => Veil.Ckks.CkksParameters.SetA,
        "SetB" => Veil.Ckks.CkksParameters.SetB,
        _ => throw new ArgumentOutOfRangeException(nameof(set), set, "Expected SetA or SetB."),
    };

    /// <summary>Uniform residues below q.</summary>
    public static ulong[] Residues(ulong q, int count, int seed)
    {
        var random = new Random(seed);
        var values = new ulong[count];
        for (int i = 0; i < count; i++) values[i] = (ulong)random.NextInt64(0, (long)q);
        return values;
    }

    /// <summary>A uniform polynomial over the first <paramref name="limbs"/> primes of the ring (limb-major).</summary>
    public static ulong[] Polynomial(RnsRing ring, int limbs, int seed)
    {
        var random = new Random(seed);
        int n = ring.N;
        var values = new ulong[limbs * n];
        for (int l = 0; l < limbs; l++)
        {
            long q = (long)ring.Moduli[l].Value;
            for (int i = 0; i < n; i++) values[l * n + i] = (ulong)random.NextInt64(0, q);
        }
        return values;
    }

    /// <summary>Real values in [−1, 1).</summary>
    public static double[] Reals(int count, int seed)
    {
        var random = new Random(seed);
        var values = new double[count];
        for (int i = 0; i < count; i++) values[i] = 2 * random.NextDouble() - 1;
        return values;
    }
}
