namespace Veil.Arithmetic;

/// <summary>
/// A polynomial of Z_Q[X]/(X^N + 1) in residue-number-system form: one limb of N words per prime,
/// stored contiguously (limb i occupies [i·N, (i+1)·N)).
/// </summary>
public sealed class RnsPolynomial
{
    /// <summary>All limbs, limb-major.</summary>
    public ulong[] Data { get; }
    /// <summary>Ring degree.</summary>
    public int N { get; }
    /// <summary>Number of primes (limbs).</summary>
    public int LimbCount { get; }
    /// <summary>Whether the limbs hold NTT evaluations (the form RLWE keys and ciphertexts are kept in) rather than coefficients.</summary>
    public bool IsNttForm { get; set; } = true;

    /// <summary>A zero polynomial with the given shape.</summary>
    public RnsPolynomial(int n, int limbCount)
    {
        if (n < 1 || (n & (n - 1)) != 0) ThrowHelper.OutOfRange(nameof(n), "N must be a power of two.");
        if (limbCount < 1) ThrowHelper.OutOfRange(nameof(limbCount), "At least one limb is needed.");
        N = n;
        LimbCount = limbCount;
        Data = new ulong[checked(n * limbCount)];
    }

    /// <summary>A polynomial holding a copy of <paramref name="data"/> (limb-major, n·limbCount words).</summary>
    /// <exception cref="ArgumentException">The data's length is not n·limbCount.</exception>
    public RnsPolynomial(int n, int limbCount, ReadOnlySpan<ulong> data, bool isNttForm = true) : this(n, limbCount)
    {
        if (data.Length != Data.Length) ThrowHelper.Argument(nameof(data), $"{n}·{limbCount} = {Data.Length} words are needed; got {data.Length}.");
        data.CopyTo(Data);
        IsNttForm = isNttForm;
    }

    private RnsPolynomial(int n, int limbCount, ulong[] data)
    {
        N = n;
        LimbCount = limbCount;
        Data = data;
    }

    /// <summary>A polynomial over <paramref name="data"/> itself, not a copy: the caller hands the array over and stops using it.</summary>
    /// <exception cref="ArgumentException">The data's length is not n·limbCount, or n is not a power of two.</exception>
    public static RnsPolynomial Wrap(int n, int limbCount, ulong[] data, bool isNttForm = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (n < 1 || (n & (n - 1)) != 0) ThrowHelper.OutOfRange(nameof(n), "N must be a power of two.");
        if (limbCount < 1 || (long)n * limbCount != data.Length) ThrowHelper.Argument(nameof(data), $"{n}·{limbCount} words are needed; got {data.Length}.");
        return new RnsPolynomial(n, limbCount, data) { IsNttForm = isNttForm };
    }

    /// <summary>Throws unless every limb i is reduced modulo <paramref name="moduli"/>[i] and the shape matches.</summary>
    /// <exception cref="ArgumentException">Another ring degree, another limb count, or a coefficient not below its prime.</exception>
    public void CheckReduced(IReadOnlyList<Modulus> moduli, int n, string paramName)
    {
        if (N != n || LimbCount != moduli.Count)
            ThrowHelper.Argument(paramName, $"Expected a polynomial of degree {n} over {moduli.Count} primes; got degree {N} over {LimbCount}.");
        for (int l = 0; l < LimbCount; l++)
        {
            ulong q = moduli[l].Value;
            foreach (ulong v in Limb(l))
                if (v >= q) ThrowHelper.Argument(paramName, $"A coefficient of limb {l} is not below its prime {q}.");
        }
    }

    /// <summary>Limb i.</summary>
    public Span<ulong> Limb(int i) => Data.AsSpan(i * N, N);

    /// <summary>Limbs [0, count).</summary>
    public Span<ulong> Limbs(int count) => Data.AsSpan(0, count * N);

    /// <summary>A deep copy.</summary>
    public RnsPolynomial Clone()
    {
        var p = new RnsPolynomial(N, LimbCount) { IsNttForm = IsNttForm };
        Data.AsSpan().CopyTo(p.Data);
        return p;
    }
}
