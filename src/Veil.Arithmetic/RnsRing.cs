using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Veil.Arithmetic;

/// <summary>
/// The ring Z_{q_0·…·q_{k-1}}[X]/(X^N + 1) in RNS form: its primes, NTT tables and the limb-wise
/// arithmetic that works on contiguous spans of limbs. Immutable and shareable across threads.
/// </summary>
public sealed class RnsRing
{
    /// <summary>Ring degree N.</summary>
    public int N { get; }
    /// <summary>log2 N.</summary>
    public int LogN { get; }
    /// <summary>The primes, in limb order.</summary>
    public IReadOnlyList<Modulus> Moduli => _moduli;
    /// <summary>The NTT table of each prime.</summary>
    public IReadOnlyList<NttTable> Ntt => _ntt;

    private readonly Modulus[] _moduli;
    private readonly NttTable[] _ntt;

    /// <summary>Builds the ring; every prime must be ≡ 1 mod 2N and distinct.</summary>
    /// <exception cref="ArgumentException">A prime is repeated or not NTT-friendly.</exception>
    public RnsRing(int logN, IEnumerable<ulong> primes)
    {
        LogN = logN;
        N = 1 << logN;
        _moduli = primes.Select(p => new Modulus(p)).ToArray();
        if (_moduli.Length == 0) ThrowHelper.Argument(nameof(primes), "At least one prime is needed.");
        if (_moduli.Select(m => m.Value).Distinct().Count() != _moduli.Length)
            ThrowHelper.Argument(nameof(primes), "The primes must be distinct.");
        _ntt = new NttTable[_moduli.Length];
        // Building tables is the slow part of parameter setup; primes are independent.
        Parallelism.For(_moduli.Length, Environment.ProcessorCount, i => _ntt[i] = new NttTable(_moduli[i], logN));
    }

    /// <summary>Number of primes.</summary>
    public int LimbCount => _moduli.Length;

    /// <summary>Limb i of a limb-major span.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<ulong> Limb(Span<ulong> data, int i) => data.Slice(i * N, N);

    /// <summary>Forward NTT of limbs [first, first+count) of the span (limb first at offset 0).</summary>
    public void Forward(Span<ulong> data, int first, int count)
    {
        for (int i = 0; i < count; i++) _ntt[first + i].Forward(data.Slice(i * N, N));
    }

    /// <summary>Inverse NTT of limbs [first, first+count).</summary>
    public void Inverse(Span<ulong> data, int first, int count)
    {
        for (int i = 0; i < count; i++) _ntt[first + i].Inverse(data.Slice(i * N, N));
    }

    /// <summary>destination = a + b, limb-wise over primes [first, first + limbs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination, int first, int limbs)
    {
        for (int l = 0; l < limbs; l++)
        {
            ulong q = _moduli[first + l].Value;
            var x = a.Slice(l * N, N); var y = b.Slice(l * N, N); var d = destination.Slice(l * N, N);
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                // Residues are below 2^61, so sums fit a signed compare: s − q where s ≥ q, four lanes at a time.
                var vq = Vector256.Create((long)q);
                var vx = MemoryMarshal.Cast<ulong, long>(x); var vy = MemoryMarshal.Cast<ulong, long>(y); var vd = MemoryMarshal.Cast<ulong, long>(d);
                for (; i + 4 <= d.Length; i += 4)
                {
                    var sum = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(vx), (nuint)i) + Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(vy), (nuint)i);
                    var over = Vector256.GreaterThan(vq, sum); // all ones where sum < q
                    (sum - Vector256.AndNot(vq, over)).StoreUnsafe(ref MemoryMarshal.GetReference(vd), (nuint)i);
                }
            }
            for (; i < d.Length; i++) d[i] = Modulus.SubtractIfAtLeast(x[i] + y[i], q);
        }
    }

    /// <summary>destination = a − b, limb-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Sub(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination, int first, int limbs)
    {
        for (int l = 0; l < limbs; l++)
        {
            ulong q = _moduli[first + l].Value;
            var x = a.Slice(l * N, N); var y = b.Slice(l * N, N); var d = destination.Slice(l * N, N);
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var vq = Vector256.Create((long)q);
                var vx = MemoryMarshal.Cast<ulong, long>(x); var vy = MemoryMarshal.Cast<ulong, long>(y); var vd = MemoryMarshal.Cast<ulong, long>(d);
                for (; i + 4 <= d.Length; i += 4)
                {
                    var diff = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(vx), (nuint)i) - Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(vy), (nuint)i);
                    (diff + (vq & Vector256.ShiftRightArithmetic(diff, 63))).StoreUnsafe(ref MemoryMarshal.GetReference(vd), (nuint)i);
                }
            }
            for (; i < d.Length; i++)
            {
                ulong diff = x[i] - y[i];
                d[i] = diff + (q & (ulong)((long)diff >> 63));
            }
        }
    }

    /// <summary>destination = −a, limb-wise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Negate(ReadOnlySpan<ulong> a, Span<ulong> destination, int first, int limbs)
    {
        for (int l = 0; l < limbs; l++)
        {
            ulong q = _moduli[first + l].Value;
            var x = a.Slice(l * N, N); var d = destination.Slice(l * N, N);
            var m = _moduli[first + l];
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                var qv = Vector256.Create(q);
                for (; i + 4 <= d.Length; i += 4)
                {
                    var v = Vector256.Create(x.Slice(i, 4));
                    Vector256.ConditionalSelect(Vector256.Equals(v, Vector256<ulong>.Zero), Vector256<ulong>.Zero, qv - v).CopyTo(d.Slice(i, 4));
                }
            }
            for (; i < d.Length; i++) d[i] = m.Negate(x[i]);
        }
    }

    /// <summary>destination = a ⊙ b (coefficient-wise product; a product of polynomials in NTT form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MulPointwise(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination, int first, int limbs)
    {
        for (int l = 0; l < limbs; l++)
        {
            var m = _moduli[first + l];
            if (_ntt[first + l].UsesFloatingPoint)
            {
                FloatingPointModular.MultiplyPointwise(a.Slice(l * N, N), b.Slice(l * N, N), destination.Slice(l * N, N), m.Value);
                continue;
            }
            ref ulong x = ref MemoryMarshal.GetReference(a.Slice(l * N, N));
            ref ulong y = ref MemoryMarshal.GetReference(b.Slice(l * N, N));
            ref ulong d = ref MemoryMarshal.GetReference(destination.Slice(l * N, N));
            for (int i = 0; i < N; i++)
            {
                ulong hi = Math.BigMul(Unsafe.Add(ref x, i), Unsafe.Add(ref y, i), out ulong lo);
                Unsafe.Add(ref d, i) = m.Reduce128(hi, lo);
            }
        }
    }

    /// <summary>destination += a ⊙ b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MulPointwiseAdd(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b, Span<ulong> destination, int first, int limbs)
    {
        for (int l = 0; l < limbs; l++)
        {
            var m = _moduli[first + l];
            ulong q = m.Value;
            if (_ntt[first + l].UsesFloatingPoint)
            {
                FloatingPointModular.MultiplyAddPointwise(a.Slice(l * N, N), b.Slice(l * N, N), destination.Slice(l * N, N), q);
                continue;
            }
            ref ulong x = ref MemoryMarshal.GetReference(a.Slice(l * N, N));
            ref ulong y = ref MemoryMarshal.GetReference(b.Slice(l * N, N));
            ref ulong d = ref MemoryMarshal.GetReference(destination.Slice(l * N, N));
            for (int i = 0; i < N; i++)
            {
                ulong hi = Math.BigMul(Unsafe.Add(ref x, i), Unsafe.Add(ref y, i), out ulong lo);
                Unsafe.Add(ref d, i) = Modulus.SubtractIfAtLeast(Unsafe.Add(ref d, i) + m.Reduce128(hi, lo), q);
            }
        }
    }

    /// <summary>destination = a · c_l on limb l, where c_l &lt; q_l is a per-limb constant.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MulScalar(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> scalars, Span<ulong> destination, int first, int limbs)
    {
        for (int l = 0; l < limbs; l++)
        {
            var m = _moduli[first + l];
            ulong w = scalars[l], wShoup = m.ShoupPrecompute(w);
            var x = a.Slice(l * N, N); var d = destination.Slice(l * N, N);
            int i = 0;
            if (IntegerVectorModular.IsSupported)
            {
                // The same Shoup product four lanes wide (exact, so word for word the scalar result).
                var wv = Vector256.Create(w); var wsv = Vector256.Create(wShoup);
                var q = Vector256.Create(m.Value); var twoQ = Vector256.Create(m.Value << 1);
                for (; i + 4 <= d.Length; i += 4)
                    IntegerVectorModular.SubtractIfAtLeast(IntegerVectorModular.MulShoupLazy(Vector256.Create(x.Slice(i, 4)), wv, wsv, q, twoQ), q).CopyTo(d.Slice(i, 4));
            }
            for (; i < d.Length; i++) d[i] = m.MulShoup(x[i], w, wShoup);
        }
    }

    /// <summary>accumulator += a · c_l on limb l (Shoup multiplication, one pass, no temporary).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MulScalarAdd(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> scalars, Span<ulong> accumulator, int first, int limbs)
    {
        for (int l = 0; l < limbs; l++)
        {
            var m = _moduli[first + l];
            ulong w = scalars[l], wShoup = m.ShoupPrecompute(w);
            var x = a.Slice(l * N, N); var d = accumulator.Slice(l * N, N);
            int i = 0;
            if (IntegerVectorModular.IsSupported)
            {
                var wv = Vector256.Create(w); var wsv = Vector256.Create(wShoup);
                var q = Vector256.Create(m.Value); var twoQ = Vector256.Create(m.Value << 1);
                for (; i + 4 <= d.Length; i += 4)
                {
                    var product = IntegerVectorModular.SubtractIfAtLeast(IntegerVectorModular.MulShoupLazy(Vector256.Create(x.Slice(i, 4)), wv, wsv, q, twoQ), q);
                    IntegerVectorModular.SubtractIfAtLeast(Vector256.Create(d.Slice(i, 4)) + product, q).CopyTo(d.Slice(i, 4));
                }
            }
            for (; i < d.Length; i++) d[i] = m.Add(d[i], m.MulShoup(x[i], w, wShoup));
        }
    }

    /// <summary>destination = a + c_l on limb l (adding a constant to a polynomial in NTT form).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddScalar(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> scalars, Span<ulong> destination, int first, int limbs)
    {
        for (int l = 0; l < limbs; l++)
        {
            ulong q = _moduli[first + l].Value, c = scalars[l];
            var x = a.Slice(l * N, N); var d = destination.Slice(l * N, N);
            for (int i = 0; i < d.Length; i++)
            {
                d[i] = Modulus.SubtractIfAtLeast(x[i] + c, q);
            }
        }
    }
}
