using System.Numerics;
using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Ckks;

/// <summary>
/// Encodes vectors of up to N/2 complex (or real) values into plaintext polynomials through the canonical
/// embedding, and decodes them back, with an O(N log N) "special" FFT over the rotation group ⟨5⟩ mod 2N.
/// </summary>
/// <remarks>
/// Slot j holds m(ζ^(5^j)) / Δ for ζ = e^(iπ/N), so rotating the slots by r is the automorphism X → X^(5^r)
/// (Cheon–Kim–Kim–Song 2017; the FFT ordering follows the HEAAN reference implementation).
/// Coefficients m_i = round(Δ·Re v_i), m_(i+N/2) = round(Δ·Im v_i) of the inverse-transformed values v.
/// Not thread-safe: each thread should use its own encoder (they are cheap).
/// </remarks>
public sealed class CkksEncoder
{
    private readonly CkksParameters _parameters;
    private readonly int _slots, _m;
    private readonly int[] _rotationGroup;
    private readonly Complex[] _roots; // ζ^k for k in [0, 2N]
    private readonly Complex[] _twiddles; // per FFT stage: stage with half-length h uses [h − 1, 2h − 1)
    // Per-thread working arrays: one encoder may serve several threads at once (pool threads of a parallel caller).
    private readonly ThreadLocal<(Complex[] Buffer, double[] Coefficients)> _work;

    /// <summary>Creates an encoder for the parameters.</summary>
    public CkksEncoder(CkksParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        _slots = parameters.Slots;
        _m = 2 * parameters.N;
        _rotationGroup = new int[_slots];
        long g = 1;
        for (int j = 0; j < _slots; j++)
        {
            _rotationGroup[j] = (int)g;
            g = g * 5 % _m;
        }
        _roots = new Complex[_m + 1];
        for (int k = 0; k <= _m; k++)
        {
            double angle = 2 * Math.PI * k / _m;
            _roots[k] = new Complex(Math.Cos(angle), Math.Sin(angle));
        }
        // Twiddle of butterfly j in the stage of length len: ζ^((5^j mod 4·len)·2N/(4·len)), computed once here.
        _twiddles = new Complex[Math.Max(1, _slots - 1)];
        for (int len = 2; len <= _slots; len <<= 1)
        {
            int half = len >> 1, quarterStride = len << 2, step = _m / quarterStride;
            for (int j = 0; j < half; j++) _twiddles[half - 1 + j] = _roots[_rotationGroup[j] % quarterStride * step];
        }
        int slots = _slots, n = parameters.N;
        // Pinned, so the collector never leaves a moved copy of a decrypted polynomial behind; wiped after each use.
        _work = new ThreadLocal<(Complex[], double[])>(() => (GC.AllocateArray<Complex>(slots, pinned: true), GC.AllocateArray<double>(n, pinned: true)));
    }

    /// <summary>Threads used for the per-prime transforms (default: the processor count).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Number of slots (N/2).</summary>
    public int Slots => _slots;

    /// <summary>Encodes real values (missing slots are zero) at the given scale and level.</summary>
    public Plaintext Encode(ReadOnlySpan<double> values, double scale, int level)
    {
        var pt = new Plaintext(_parameters.Ring, level, scale);
        Encode(values, scale, level, pt);
        return pt;
    }

    /// <summary>Encodes real values at the default scale and the top level.</summary>
    public Plaintext Encode(ReadOnlySpan<double> values) => Encode(values, _parameters.DefaultScale, _parameters.MaxLevel);

    /// <summary>Encodes complex values at the given scale and level.</summary>
    public Plaintext Encode(ReadOnlySpan<Complex> values, double scale, int level)
    {
        var pt = new Plaintext(_parameters.Ring, level, scale);
        Encode(values, scale, level, pt);
        return pt;
    }

    /// <summary>Encodes real values into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">Too many values, a value not finite, a bad scale or level, or scaled values too large for Q_level.</exception>
    public void Encode(ReadOnlySpan<double> values, double scale, int level, Plaintext destination)
    {
        if (values.Length > _slots) ThrowHelper.Argument(nameof(values), $"At most {_slots} values fit; got {values.Length}.");
        var (buffer, coefficients) = _work.Value;
        for (int i = 0; i < values.Length; i++) buffer[i] = new Complex(values[i], 0);
        buffer.AsSpan(values.Length).Clear();
        EncodeAndWipe(buffer, coefficients, scale, level, destination);
    }

    /// <summary>Encodes complex values into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">Too many values, a value not finite, a bad scale or level, or scaled values too large for Q_level.</exception>
    public void Encode(ReadOnlySpan<Complex> values, double scale, int level, Plaintext destination)
    {
        if (values.Length > _slots) ThrowHelper.Argument(nameof(values), $"At most {_slots} values fit; got {values.Length}.");
        var (buffer, coefficients) = _work.Value;
        values.CopyTo(buffer);
        buffer.AsSpan(values.Length).Clear();
        EncodeAndWipe(buffer, coefficients, scale, level, destination);
    }

    /// <summary>
    /// Sparse packing: encodes up to <paramref name="slots"/> values (missing ones zero) as a polynomial in X^(N/2n),
    /// n = <paramref name="slots"/>, whose N/2 slots repeat the n values — the input a sparse bootstrap expects
    /// (<c>BootstrappingParameters.LogSlots</c>). Slot j of the result holds values[j mod n].
    /// </summary>
    /// <exception cref="ArgumentException">n is not a power of two in [1, N/2], too many values, a value not finite, a
    /// bad scale or level, or scaled values too large for Q_level.</exception>
    public Plaintext EncodeSparse(ReadOnlySpan<Complex> values, int slots, double scale, int level)
    {
        CheckSparse(slots, values.Length);
        var (buffer, coefficients) = _work.Value;
        for (int i = 0; i < _slots; i++)
        {
            int j = i & (slots - 1);
            buffer[i] = j < values.Length ? values[j] : Complex.Zero;
        }
        var pt = new Plaintext(_parameters.Ring, level, scale);
        EncodeAndWipe(buffer, coefficients, scale, level, pt);
        return pt;
    }

    /// <summary>Sparse packing of real values; see <see cref="EncodeSparse(ReadOnlySpan{Complex}, int, double, int)"/>.</summary>
    public Plaintext EncodeSparse(ReadOnlySpan<double> values, int slots, double scale, int level)
    {
        CheckSparse(slots, values.Length);
        var (buffer, coefficients) = _work.Value; // the pinned per-thread buffer: no movable copy of the values
        for (int i = 0; i < _slots; i++)
        {
            int j = i & (slots - 1);
            buffer[i] = j < values.Length ? new Complex(values[j], 0) : Complex.Zero;
        }
        var pt = new Plaintext(_parameters.Ring, level, scale);
        EncodeAndWipe(buffer, coefficients, scale, level, pt);
        return pt;
    }

    private void CheckSparse(int slots, int count)
    {
        if (slots < 1 || slots > _slots || !System.Numerics.BitOperations.IsPow2(slots))
            ThrowHelper.Argument(nameof(slots), $"The sparse slot count must be a power of two in [1, {_slots}]; got {slots}.");
        if (count > slots) ThrowHelper.Argument("values", $"At most {slots} values fit in {slots} slots; got {count}.");
    }

    /// <summary>Encodes the buffer; the caller's values leave no copy in the per-thread buffers.</summary>
    private void EncodeAndWipe(Complex[] buffer, double[] coefficients, double scale, int level, Plaintext destination)
    {
        try
        {
            EncodeBuffer(buffer, coefficients, scale, level, destination);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(coefficients.AsSpan()));
        }
        catch
        {
            Wipe(buffer, coefficients);
            throw;
        }
    }

    /// <summary>The per-thread buffers hold the caller's values (encoding) or a decrypted polynomial (decoding): wipe them.</summary>
    private static void Wipe(Complex[] buffer, double[] coefficients)
    {
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(buffer.AsSpan()));
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(coefficients.AsSpan()));
    }

    /// <summary>Encodes the same complex constant in every slot (the constant polynomial re + im·X^(N/2)).</summary>
    public void EncodeConstant(Complex value, double scale, int level, Plaintext destination)
    {
        CheckScaleAndLevel(scale, level, destination);
        var coefficients = _work.Value.Coefficients;
        Array.Clear(coefficients);
        coefficients[0] = Math.Round(value.Real * scale);
        coefficients[_parameters.N / 2] = Math.Round(value.Imaginary * scale);
        try { WriteCoefficients(coefficients, scale, level, destination); }
        finally { coefficients[0] = 0; coefficients[_parameters.N / 2] = 0; }
    }

    private void CheckScaleAndLevel(double scale, int level, Plaintext destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!(scale >= 1) || double.IsInfinity(scale)) ThrowHelper.Argument(nameof(scale), $"Scale must be finite and at least 1; got {scale}.");
        if (level < 0 || level > _parameters.MaxLevel) ThrowHelper.OutOfRange(nameof(level), $"Level must be in [0, {_parameters.MaxLevel}]; got {level}.");
        if (!destination.Parameters.SameRingAs(_parameters.Ring)) ThrowHelper.Argument(nameof(destination), "The plaintext belongs to other parameters.");
    }

    private void EncodeBuffer(Complex[] buffer, double[] coefficients, double scale, int level, Plaintext destination)
    {
        CheckScaleAndLevel(scale, level, destination);
        for (int i = 0; i < _slots; i++)
            if (!double.IsFinite(buffer[i].Real) || !double.IsFinite(buffer[i].Imaginary))
                ThrowHelper.Argument("values", $"Value {i} is not finite.");
        InverseSpecialFft(buffer);
        for (int i = 0; i < _slots; i++)
        {
            coefficients[i] = Math.Round(buffer[i].Real * scale);
            coefficients[i + _slots] = Math.Round(buffer[i].Imaginary * scale);
            buffer[i] = default; // wiped while it is in cache
        }
        WriteCoefficients(coefficients, scale, level, destination);
    }

    private void WriteCoefficients(double[] coefficients, double scale, int level, Plaintext destination)
    {
        var ring = _parameters.Ring;
        int n = ring.N;
        // Coefficients must stay below Q_level / 2 in magnitude or decoding wraps around.
        double logQ = 0;
        for (int j = 0; j <= level; j++) logQ += Math.Log2(ring.Q[j]);
        double max = 0;
        foreach (double c in coefficients) max = Math.Max(max, Math.Abs(c));
        if (max > 0 && Math.Log2(max) >= logQ - 1)
            ThrowHelper.Argument("values", $"Scaled values reach 2^{Math.Log2(max):F1}, beyond Q/2 = 2^{logQ - 1:F1} at level {level}; use a smaller scale or a higher level.");
        destination.Reshape(level, scale, isNttForm: true);
        Parallelism.For(level + 1, MaxDegreeOfParallelism, new ReduceAndTransform(ring.Ring, coefficients, destination));
    }

    private readonly struct ReduceAndTransform(RnsRing ring, double[] coefficients, Plaintext destination) : IParallelBody
    {
        public void Invoke(int j)
        {
            var m = ring.Moduli[j];
            var limb = destination.Limb(j);
            for (int i = 0; i < limb.Length; i++) limb[i] = ReduceRounded(coefficients[i], m);
            ring.Ntt[j].Forward(limb);
        }
    }

    private readonly struct InverseLimbs(RnsRing ring, ulong[] data) : IParallelBody
    {
        public void Invoke(int j) => ring.Ntt[j].Inverse(data.AsSpan(j * ring.N, ring.N));
    }

    /// <summary>An integral double reduced modulo q exactly, without allocating (values beyond 2^63 included).</summary>
    internal static ulong ReduceRounded(double value, Modulus m)
    {
        if (Math.Abs(value) < 9.2e18) return m.FromSigned((long)value);
        // value = ±mantissa · 2^exponent exactly; reduce both factors.
        long bits = BitConverter.DoubleToInt64Bits(value);
        int exponent = (int)((bits >> 52) & 0x7FF) - 1075;
        ulong mantissa = ((ulong)bits & 0xFFFFFFFFFFFFFUL) | (1UL << 52);
        ulong r = m.Mul(m.Reduce(mantissa), m.Pow(2, (ulong)exponent));
        return value < 0 ? m.Negate(r) : r;
    }

    /// <summary>Decodes a plaintext into complex values (all N/2 slots).</summary>
    public Complex[] DecodeComplex(Plaintext plaintext)
    {
        var result = new Complex[_slots];
        Decode(plaintext, result);
        return result;
    }

    /// <summary>Decodes a plaintext into the real parts of all N/2 slots.</summary>
    public double[] Decode(Plaintext plaintext)
    {
        var c = DecodeComplex(plaintext);
        var result = new double[c.Length];
        for (int i = 0; i < c.Length; i++) result[i] = c[i].Real;
        return result;
    }

    /// <summary>Decodes into <paramref name="destination"/> (up to N/2 values are written).</summary>
    /// <remarks>
    /// A decrypted plaintext is c_0 + c_1·s: with the ciphertext it gives the secret key, and so do its decoded values.
    /// Every intermediate copy (the coefficients, their centered values, the slots) is wiped before returning; only
    /// the values written to <paramref name="destination"/> remain. Results that leave the key holder need more: see
    /// <see cref="CkksReleaseDecryptor"/>.
    /// </remarks>
    /// <exception cref="ArgumentException">The plaintext belongs to other parameters.</exception>
    public void Decode(Plaintext plaintext, Span<Complex> destination)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        if (!plaintext.Parameters.SameRingAs(_parameters.Ring)) ThrowHelper.Argument(nameof(plaintext), "The plaintext belongs to other parameters.");
        if (!(plaintext.Scale > 0)) ThrowHelper.Argument(nameof(plaintext), "The plaintext scale must be positive.");
        var (buffer, coefficients) = _work.Value;
        try
        {
            CenteredCoefficients(plaintext, coefficients);
            SlotsFromCoefficients(coefficients, plaintext.Scale, buffer);
            int count = Math.Min(destination.Length, _slots);
            buffer.AsSpan(0, count).CopyTo(destination);
        }
        finally
        {
            Wipe(buffer, coefficients);
        }
    }

    /// <summary>The plaintext's coefficients as centered doubles (in (−Q_ℓ/2, Q_ℓ/2]); the scratch is wiped.</summary>
    internal void CenteredCoefficients(Plaintext plaintext, Span<double> coefficients)
    {
        var ring = _parameters.Ring.Ring;
        int n = ring.N, limbs = plaintext.Level + 1;
        var data = SecretArrayPool<ulong>.Rent(limbs * n);
        try
        {
            plaintext.Data.AsSpan(0, limbs * n).CopyTo(data);
            if (plaintext.IsNttForm) Parallelism.For(limbs, MaxDegreeOfParallelism, new InverseLimbs(ring, data));
            CrtComposer.ToCenteredDoubles(_parameters.Ring, limbs, data, coefficients);
        }
        finally
        {
            SecretArrayPool<ulong>.Return(data, limbs * n);
        }
    }

    /// <summary>Slots z_j = m(ζ^(5^j)) / scale from centered coefficients m (the special FFT), into <paramref name="slots"/>.</summary>
    internal void SlotsFromCoefficients(ReadOnlySpan<double> coefficients, double scale, Complex[] slots)
    {
        double inv = 1.0 / scale;
        for (int i = 0; i < _slots; i++) slots[i] = new Complex(coefficients[i] * inv, coefficients[i + _slots] * inv);
        SpecialFft(slots);
    }

    /// <summary>Slots from coefficients: evaluation at ζ^(5^j), in place.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void SpecialFft(Complex[] values)
    {
        int size = values.Length;
        BitReverse(values);
        for (int len = 2; len <= size; len <<= 1)
        {
            int half = len >> 1;
            var twiddles = _twiddles.AsSpan(half - 1, half);
            for (int i = 0; i < size; i += len)
            {
                for (int j = 0; j < half; j++)
                {
                    Complex u = values[i + j];
                    Complex v = values[i + j + half] * twiddles[j];
                    values[i + j] = u + v;
                    values[i + j + half] = u - v;
                }
            }
        }
    }

    /// <summary>The inverse of <see cref="SpecialFft"/>, in place.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void InverseSpecialFft(Complex[] values)
    {
        int size = values.Length;
        for (int len = size; len >= 2; len >>= 1)
        {
            int half = len >> 1;
            var twiddles = _twiddles.AsSpan(half - 1, half);
            for (int i = 0; i < size; i += len)
            {
                for (int j = 0; j < half; j++)
                {
                    // ζ^(2N − k) is the conjugate of ζ^k.
                    Complex a = values[i + j], b = values[i + j + half];
                    values[i + j] = a + b;
                    values[i + j + half] = (a - b) * Complex.Conjugate(twiddles[j]);
                }
            }
        }
        BitReverse(values);
        double inv = 1.0 / size;
        for (int i = 0; i < size; i++) values[i] *= inv;
    }

    private static void BitReverse(Complex[] values)
    {
        int n = values.Length, bits = System.Numerics.BitOperations.Log2((uint)n);
        for (int i = 0; i < n; i++)
        {
            int r = NttTable.ReverseBits(i, bits);
            if (r > i) (values[i], values[r]) = (values[r], values[i]);
        }
    }
}
