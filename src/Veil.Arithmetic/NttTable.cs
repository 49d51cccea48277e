using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Veil.Arithmetic;

/// <summary>
/// Precomputed tables for the negacyclic number-theoretic transform of Z_q[X]/(X^N + 1) and its inverse.
/// </summary>
/// <remarks>
/// Forward: Cooley–Tukey with powers of ψ (a primitive 2N-th root) in bit-reversed order, so that
/// output slot j holds a(ψ^(2·rev(j)+1)); inverse: Gentleman–Sande with ψ^-1, N^-1 folded into the last
/// stage. Butterflies follow Harvey (2014): values stay in [0, 4q) and are reduced once at the end.
/// </remarks>
public sealed partial class NttTable
{
    private readonly ulong[] _roots, _rootsShoup, _invRoots, _invRootsShoup;
    private readonly ulong _invN, _invNShoup, _lastInvRoot, _lastInvRootShoup;

    /// <summary>The modulus.</summary>
    public Modulus Modulus { get; }
    /// <summary>Ring degree N.</summary>
    public int N { get; }
    /// <summary>log2 N.</summary>
    public int LogN { get; }
    /// <summary>The primitive 2N-th root ψ the tables are built from.</summary>
    public ulong Psi { get; }

    /// <summary>Builds the tables for prime q ≡ 1 mod 2N.</summary>
    /// <exception cref="ArgumentException">q is not an NTT-friendly prime for this N.</exception>
    public NttTable(Modulus modulus, int logN)
    {
        if (logN < 1 || logN > 17) ThrowHelper.OutOfRange(nameof(logN), "logN must be in [1, 17].");
        Modulus = modulus;
        LogN = logN;
        N = 1 << logN;
        if (!Primes.IsPrime(modulus.Value)) ThrowHelper.Argument(nameof(modulus), $"{modulus.Value} is not prime.");
        Psi = Primes.MinimalPrimitiveRoot(modulus.Value, logN);
        ulong psiInv = modulus.Inverse(Psi);
        _roots = new ulong[N];
        _rootsShoup = new ulong[N];
        _invRoots = new ulong[N];
        _invRootsShoup = new ulong[N];
        ulong power = 1, invPower = 1;
        for (int i = 0; i < N; i++)
        {
            int r = ReverseBits(i, logN);
            _roots[r] = power;
            _invRoots[r] = invPower;
            power = modulus.Mul(power, Psi);
            invPower = modulus.Mul(invPower, psiInv);
        }
        for (int i = 0; i < N; i++)
        {
            _rootsShoup[i] = modulus.ShoupPrecompute(_roots[i]);
            _invRootsShoup[i] = modulus.ShoupPrecompute(_invRoots[i]);
        }
        _invN = modulus.Inverse((ulong)N);
        _invNShoup = modulus.ShoupPrecompute(_invN);
        // The last inverse stage multiplies the difference by ψ^-rev(1) and N^-1 at once.
        _lastInvRoot = modulus.Mul(_invRoots[1], _invN);
        _lastInvRootShoup = modulus.ShoupPrecompute(_lastInvRoot);
        InitializeFloatingPoint();
        InitializeIntegerVectors();
    }

    /// <summary>Reverses the low <paramref name="bits"/> bits of x.</summary>
    public static int ReverseBits(int x, int bits) => bits == 0 ? 0 : (int)(BitReverse((uint)x) >> (32 - bits));

    private static uint BitReverse(uint v)
    {
        v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
        v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
        v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
        v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
        return (v >> 16) | (v << 16);
    }

    /// <summary>In-place forward NTT; input coefficients in [0, q), output in [0, q), bit-reversed order.</summary>
    /// <exception cref="ArgumentException">The span length is not N.</exception>
    public void Forward(Span<ulong> values)
    {
        if (values.Length != N) ThrowHelper.Argument(nameof(values), $"Expected {N} values, got {values.Length}.");
        if (_rootsD is not null) ForwardFloatingPoint(values);
        else if (_integerVectors) ForwardIntegerVectors(values);
        else ForwardCore(ref MemoryMarshal.GetReference(values));
    }

    /// <summary>In-place inverse NTT; input in [0, q) bit-reversed order, output coefficients in [0, q).</summary>
    /// <exception cref="ArgumentException">The span length is not N.</exception>
    public void Inverse(Span<ulong> values)
    {
        if (values.Length != N) ThrowHelper.Argument(nameof(values), $"Expected {N} values, got {values.Length}.");
        if (_invRootsD is not null) InverseFloatingPoint(values);
        else if (_integerVectors) InverseIntegerVectors(values);
        else InverseCore(ref MemoryMarshal.GetReference(values));
    }

    /// <summary>The scalar (Shoup) forward transform, whatever the prime; for cross-checking the vector path.</summary>
    internal void ForwardScalar(Span<ulong> values) => ForwardCore(ref MemoryMarshal.GetReference(values[..N]));

    /// <summary>The scalar (Shoup) inverse transform, whatever the prime; for cross-checking the vector path.</summary>
    internal void InverseScalar(Span<ulong> values) => InverseCore(ref MemoryMarshal.GetReference(values[..N]));

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ForwardCore(ref ulong a)
    {
        ulong q = Modulus.Value, twoQ = q << 1;
        ref ulong roots = ref MemoryMarshal.GetArrayDataReference(_roots);
        ref ulong rootsShoup = ref MemoryMarshal.GetArrayDataReference(_rootsShoup);
        int n = N;
        int t = n;
        for (int m = 1; m < n; m <<= 1)
        {
            t >>= 1;
            if (t == 2)
            {
                // Two butterflies per root: the general loop's setup would cost as much as the work.
                for (int i = 0; i < m; i++)
                {
                    ulong w = Unsafe.Add(ref roots, m + i), wShoup = Unsafe.Add(ref rootsShoup, m + i);
                    ref ulong x = ref Unsafe.Add(ref a, 4 * i);
                    ulong u0 = Modulus.SubtractIfAtLeast(x, twoQ), y0 = Unsafe.Add(ref x, 2);
                    ulong u1 = Modulus.SubtractIfAtLeast(Unsafe.Add(ref x, 1), twoQ), y1 = Unsafe.Add(ref x, 3);
                    ulong v0 = y0 * w - Modulus.MultiplyHigh(y0, wShoup) * q;
                    ulong v1 = y1 * w - Modulus.MultiplyHigh(y1, wShoup) * q;
                    x = u0 + v0;
                    Unsafe.Add(ref x, 1) = u1 + v1;
                    Unsafe.Add(ref x, 2) = u0 - v0 + twoQ;
                    Unsafe.Add(ref x, 3) = u1 - v1 + twoQ;
                }
                continue;
            }
            if (t == 1)
            {
                for (int i = 0; i < m; i++)
                {
                    ulong w = Unsafe.Add(ref roots, m + i), wShoup = Unsafe.Add(ref rootsShoup, m + i);
                    ref ulong x = ref Unsafe.Add(ref a, 2 * i);
                    ulong u = Modulus.SubtractIfAtLeast(x, twoQ), yv = Unsafe.Add(ref x, 1);
                    ulong v = yv * w - Modulus.MultiplyHigh(yv, wShoup) * q;
                    x = u + v;
                    Unsafe.Add(ref x, 1) = u - v + twoQ;
                }
                continue;
            }
            for (int i = 0; i < m; i++)
            {
                ulong w = Unsafe.Add(ref roots, m + i);
                ulong wShoup = Unsafe.Add(ref rootsShoup, m + i);
                ref ulong x = ref Unsafe.Add(ref a, 2 * i * t);
                ref ulong y = ref Unsafe.Add(ref x, t);
                for (int j = 0; j < t; j += 2)
                {
                    // x, y in [0, 4q): bring x below 2q, y·w into [0, 2q), outputs stay below 4q. Two butterflies a
                    // step (t ≥ 4 here) give the multiplier independent work.
                    ulong u0 = Modulus.SubtractIfAtLeast(Unsafe.Add(ref x, j), twoQ);
                    ulong u1 = Modulus.SubtractIfAtLeast(Unsafe.Add(ref x, j + 1), twoQ);
                    ulong y0 = Unsafe.Add(ref y, j), y1 = Unsafe.Add(ref y, j + 1);
                    ulong v0 = y0 * w - Modulus.MultiplyHigh(y0, wShoup) * q;
                    ulong v1 = y1 * w - Modulus.MultiplyHigh(y1, wShoup) * q;
                    Unsafe.Add(ref x, j) = u0 + v0;
                    Unsafe.Add(ref x, j + 1) = u1 + v1;
                    Unsafe.Add(ref y, j) = u0 - v0 + twoQ;
                    Unsafe.Add(ref y, j + 1) = u1 - v1 + twoQ;
                }
            }
        }
        for (int i = 0; i < n; i++)
        {
            Unsafe.Add(ref a, i) = Modulus.SubtractIfAtLeast(Modulus.SubtractIfAtLeast(Unsafe.Add(ref a, i), twoQ), q);
        }
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void InverseCore(ref ulong a)
    {
        ulong q = Modulus.Value, twoQ = q << 1;
        ref ulong roots = ref MemoryMarshal.GetArrayDataReference(_invRoots);
        ref ulong rootsShoup = ref MemoryMarshal.GetArrayDataReference(_invRootsShoup);
        int n = N;
        int t = 1;
        for (int m = n >> 1; m > 1; m >>= 1)
        {
            if (t == 1)
            {
                // First inverse stage: adjacent pairs, one root each.
                for (int i = 0; i < m; i++)
                {
                    ulong w = Unsafe.Add(ref roots, m + i), wShoup = Unsafe.Add(ref rootsShoup, m + i);
                    ref ulong x = ref Unsafe.Add(ref a, 2 * i);
                    ulong u = x, v = Unsafe.Add(ref x, 1);
                    ulong d = u - v + twoQ;
                    x = Modulus.SubtractIfAtLeast(u + v, twoQ);
                    Unsafe.Add(ref x, 1) = d * w - Modulus.MultiplyHigh(d, wShoup) * q;
                }
                t = 2;
                continue;
            }
            int j1 = 0;
            for (int i = 0; i < m; i++)
            {
                ulong w = Unsafe.Add(ref roots, m + i);
                ulong wShoup = Unsafe.Add(ref rootsShoup, m + i);
                ref ulong x = ref Unsafe.Add(ref a, j1);
                ref ulong y = ref Unsafe.Add(ref x, t);
                for (int j = 0; j < t; j += 2)
                {
                    // Inputs in [0, 2q): sum reduced to [0, 2q), difference times w lands in [0, 2q); two a step (t ≥ 2).
                    ulong u0 = Unsafe.Add(ref x, j), v0 = Unsafe.Add(ref y, j);
                    ulong u1 = Unsafe.Add(ref x, j + 1), v1 = Unsafe.Add(ref y, j + 1);
                    ulong d0 = u0 - v0 + twoQ, d1 = u1 - v1 + twoQ;
                    Unsafe.Add(ref x, j) = Modulus.SubtractIfAtLeast(u0 + v0, twoQ);
                    Unsafe.Add(ref x, j + 1) = Modulus.SubtractIfAtLeast(u1 + v1, twoQ);
                    Unsafe.Add(ref y, j) = d0 * w - Modulus.MultiplyHigh(d0, wShoup) * q;
                    Unsafe.Add(ref y, j + 1) = d1 * w - Modulus.MultiplyHigh(d1, wShoup) * q;
                }
                j1 += t << 1;
            }
            t <<= 1;
        }
        // Last stage (m = 1) folds in N^-1 on both outputs.
        int half = n >> 1;
        for (int j = 0; j < half; j++)
        {
            ulong u = Unsafe.Add(ref a, j), v = Unsafe.Add(ref a, j + half);
            ulong s = Modulus.SubtractIfAtLeast(u + v, twoQ);
            ulong d = u - v + twoQ;
            Unsafe.Add(ref a, j) = Modulus.SubtractIfAtLeast(Modulus.MulShoupLazy(s, _invN, _invNShoup), q);
            Unsafe.Add(ref a, j + half) = Modulus.SubtractIfAtLeast(Modulus.MulShoupLazy(d, _lastInvRoot, _lastInvRootShoup), q);
        }
    }
}
