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

    /// <summary>A zero polynomial with the given shape.</summary>
    public RnsPolynomial(int n, int limbCount)
    {
        if (n < 1 || (n & (n - 1)) != 0) ThrowHelper.OutOfRange(nameof(n), "N must be a power of two.");
        if (limbCount < 1) ThrowHelper.OutOfRange(nameof(limbCount), "At least one limb is needed.");
        N = n;
        LimbCount = limbCount;
        Data = new ulong[checked(n * limbCount)];
    }

    /// <summary>Limb i.</summary>
    public Span<ulong> Limb(int i) => Data.AsSpan(i * N, N);

    /// <summary>Limbs [0, count).</summary>
    public Span<ulong> Limbs(int count) => Data.AsSpan(0, count * N);

    /// <summary>A deep copy.</summary>
    public RnsPolynomial Clone()
    {
        var p = new RnsPolynomial(N, LimbCount);
        Data.AsSpan().CopyTo(p.Data);
        return p;
    }
}
