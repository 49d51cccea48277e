using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Bfv;

/// <summary>A BFV plaintext: N coefficients modulo t.</summary>
public sealed class BfvPlaintext
{
    internal BfvPlaintext(BfvParameters parameters, ulong[] coefficients)
    {
        Parameters = parameters;
        Coefficients = coefficients;
    }

    /// <summary>The parameters.</summary>
    public BfvParameters Parameters { get; }

    /// <summary>The coefficients, each in [0, t).</summary>
    public ulong[] Coefficients { get; }
}

/// <summary>
/// Encodes integers into BFV plaintexts — batched (N slots, 2 rows of N/2, when t is a batching prime) or as
/// coefficients (any t) — and prepares plaintexts for encryption and addition (round(Q·m/t)) or multiplication (m lifted to Q).
/// </summary>
/// <remarks>
/// Batching: the plaintext polynomial m is the inverse NTT modulo t of the slot values placed so that slot j of row 0
/// is m(ζ^(5^j)) and slot j of row 1 is m(ζ^(−5^j)), ζ a primitive 2N-th root of unity mod t. A rotation by k
/// (Galois element 5^k) then moves slot j + k to j in each row, and X → X^−1 swaps the rows.
/// </remarks>
public sealed class BfvEncoder
{
    private readonly BfvParameters _parameters;
    private readonly int[] _slotToNtt;

    /// <summary>An encoder for the parameters.</summary>
    public BfvEncoder(BfvParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        int n = parameters.N, half = n / 2, logN = parameters.Ring.LogN;
        _slotToNtt = new int[n];
        ulong twoN = 2UL * (ulong)n, power = 1;
        for (int j = 0; j < half; j++)
        {
            // The NTT leaves a(ψ^(2·rev(k)+1)) in position k: the position of exponent e is rev((e − 1)/2).
            _slotToNtt[j] = NttTable.ReverseBits((int)((power - 1) / 2), logN);
            _slotToNtt[half + j] = NttTable.ReverseBits((int)((twoN - power - 1) / 2), logN);
            power = power * 5 % twoN;
        }
    }

    /// <summary>The parameters.</summary>
    public BfvParameters Parameters => _parameters;

    /// <summary>Slots: N (row 0 is slots 0 … N/2 − 1, row 1 the rest).</summary>
    public int SlotCount => _parameters.N;

    private void RequireBatching()
    {
        if (!_parameters.SupportsBatching)
            throw new InvalidOperationException($"t = {_parameters.PlainModulus} is not a prime ≡ 1 mod 2N: use coefficient encoding, or a batching prime (BfvParameters.BatchingPrime).");
    }

    /// <summary>Batch-encodes up to N signed integers (reduced mod t; missing slots are 0).</summary>
    /// <exception cref="ArgumentException">More than N values.</exception>
    /// <exception cref="InvalidOperationException">t does not support batching.</exception>
    public BfvPlaintext EncodeBatch(ReadOnlySpan<long> values)
    {
        RequireBatching();
        if (values.Length > SlotCount) throw new ArgumentException($"At most {SlotCount} values; got {values.Length}.", nameof(values));
        var t = _parameters.T;
        var m = new ulong[_parameters.N];
        for (int j = 0; j < values.Length; j++) m[_slotToNtt[j]] = t.FromSigned(values[j] % (long)Math.Min(t.Value, long.MaxValue));
        _parameters.PlainNtt!.Inverse(m);
        return new BfvPlaintext(_parameters, m);
    }

    /// <summary>Batch-encodes up to N unsigned integers (reduced mod t).</summary>
    public BfvPlaintext EncodeBatch(ReadOnlySpan<ulong> values)
    {
        RequireBatching();
        if (values.Length > SlotCount) throw new ArgumentException($"At most {SlotCount} values; got {values.Length}.", nameof(values));
        var t = _parameters.T;
        var m = new ulong[_parameters.N];
        for (int j = 0; j < values.Length; j++) m[_slotToNtt[j]] = t.Reduce(values[j]);
        _parameters.PlainNtt!.Inverse(m);
        return new BfvPlaintext(_parameters, m);
    }

    /// <summary>The N slot values in [0, t).</summary>
    public ulong[] DecodeBatch(BfvPlaintext plaintext)
    {
        var slots = new ulong[SlotCount];
        DecodeBatch(plaintext, slots);
        return slots;
    }

    /// <summary>The N slot values in [0, t), into <paramref name="destination"/> (N values).</summary>
    /// <exception cref="ArgumentException">The destination is shorter than N.</exception>
    public void DecodeBatch(BfvPlaintext plaintext, Span<ulong> destination)
    {
        RequireBatching();
        Check(plaintext);
        if (destination.Length < SlotCount) throw new ArgumentException($"The destination holds {destination.Length} values; {SlotCount} are written.", nameof(destination));
        var values = System.Buffers.ArrayPool<ulong>.Shared.Rent(_parameters.N);
        try
        {
            plaintext.Coefficients.CopyTo(values, 0);
            _parameters.PlainNtt!.Forward(values.AsSpan(0, _parameters.N));
            for (int j = 0; j < SlotCount; j++) destination[j] = values[_slotToNtt[j]];
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan(0, _parameters.N)));
            System.Buffers.ArrayPool<ulong>.Shared.Return(values);
        }
    }

    /// <summary>The N slot values as signed integers in (−t/2, t/2].</summary>
    public long[] DecodeBatchSigned(BfvPlaintext plaintext) => [.. DecodeBatch(plaintext).Select(v => Centered(v))];

    /// <summary>Encodes up to N signed integers as coefficients (any t).</summary>
    public BfvPlaintext EncodeCoefficients(ReadOnlySpan<long> coefficients)
    {
        if (coefficients.Length > _parameters.N) throw new ArgumentException($"At most {_parameters.N} coefficients; got {coefficients.Length}.", nameof(coefficients));
        var m = new ulong[_parameters.N];
        for (int i = 0; i < coefficients.Length; i++) m[i] = _parameters.T.FromSigned(coefficients[i] % (long)Math.Min(_parameters.PlainModulus, long.MaxValue));
        return new BfvPlaintext(_parameters, m);
    }

    /// <summary>The coefficients as signed integers in (−t/2, t/2].</summary>
    public long[] DecodeCoefficientsSigned(BfvPlaintext plaintext)
    {
        Check(plaintext);
        return [.. plaintext.Coefficients.Select(v => Centered(v))];
    }

    private long Centered(ulong v) => v > _parameters.PlainModulus / 2 ? -(long)(_parameters.PlainModulus - v) : (long)v;

    /// <summary>
    /// round(Q·m/t) over Q_level in NTT form, what encryption and plaintext addition use: Δ·m plus the rounded share
    /// ⌊((Q mod t)·m + ⌊t/2⌋)/t⌋ of the remainder (SEAL's scaling). With plain Δ·m a plaintext product would carry an
    /// extra noise (Q mod t)·⌊m·y/t⌋ that depends on the other operand; with rounding it is (e + δ)·y, |δ| ≤ ½.
    /// </summary>
    public Plaintext ScaledForEncryption(BfvPlaintext plaintext, int level)
    {
        Check(plaintext);
        CheckLevel(level);
        var tools = _parameters.Level(level);
        var ring = _parameters.Ring.Ring;
        int n = _parameters.N;
        ulong t = _parameters.PlainModulus, rem = tools.QModT, half = t / 2;
        var result = new Plaintext(_parameters.Ring, level, 1.0, isNttForm: true);
        var m = plaintext.Coefficients;
        var carry = new ulong[n];
        for (int c = 0; c < n; c++) carry[c] = (ulong)(((UInt128)rem * m[c] + half) / t);
        Parallelism.For(level + 1, Environment.ProcessorCount, i =>
        {
            var q = ring.Moduli[i];
            ulong delta = tools.DeltaModQ[i], deltaShoup = q.ShoupPrecompute(delta);
            var limb = result.Data.AsSpan(i * n, n);
            for (int c = 0; c < n; c++) limb[c] = q.Add(q.MulShoup(q.Reduce(m[c]), delta, deltaShoup), q.Reduce(carry[c]));
            ring.Ntt[i].Forward(limb);
        });
        Array.Clear(carry);
        return result;
    }

    /// <summary>m lifted to Q_level (centered, in (−t/2, t/2]) in NTT form: the operand of a plaintext multiplication.</summary>
    public Plaintext ForMultiplication(BfvPlaintext plaintext, int level)
    {
        Check(plaintext);
        CheckLevel(level);
        var ring = _parameters.Ring.Ring;
        int n = _parameters.N;
        ulong t = _parameters.PlainModulus, half = t / 2;
        var result = new Plaintext(_parameters.Ring, level, 1.0, isNttForm: true);
        var m = plaintext.Coefficients;
        Parallelism.For(level + 1, Environment.ProcessorCount, i =>
        {
            var q = ring.Moduli[i];
            ulong tModQ = q.Reduce(t);
            var limb = result.Data.AsSpan(i * n, n);
            for (int c = 0; c < n; c++) limb[c] = m[c] > half ? q.Sub(q.Reduce(m[c]), tModQ) : q.Reduce(m[c]);
            ring.Ntt[i].Forward(limb);
        });
        return result;
    }

    private void Check(BfvPlaintext plaintext)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        if (plaintext.Parameters != _parameters) throw new ArgumentException("The plaintext belongs to other parameters.", nameof(plaintext));
    }

    private void CheckLevel(int level)
    {
        if (level < 0 || level > _parameters.MaxLevel) throw new ArgumentOutOfRangeException(nameof(level), level, $"Level must be in [0, {_parameters.MaxLevel}].");
    }
}
