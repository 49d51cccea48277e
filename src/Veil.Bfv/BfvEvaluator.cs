using System.Buffers;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Bfv;

/// <summary>
/// BFV operations: everything of <see cref="RlweEvaluator"/> (add, subtract, negate, plaintext products, integer
/// products, relinearization, rotations of rows and the row swap, hoisting), with BFV's own product and level rules.
/// </summary>
/// <remarks>
/// <para>Ciphertexts stay in NTT form over Q_ℓ; their scale is 1. Operands of a sum or product must be at the same
/// level (dropping primes without scaling would change Δ); <see cref="ModSwitchToNext(Ciphertext)"/> moves one down.</para>
/// <para>Product (<see cref="Multiply"/>): the operands' coefficients are extended exactly from Q_ℓ to the auxiliary
/// basis B, the tensor is formed over Q_ℓ ∪ B, D ↦ round(t·D/Q_ℓ) is computed exactly — x = [t·D]_Q extended to B,
/// y = (t·D − x)/Q_ℓ in B — and y is extended back from B to Q_ℓ. Every step is an exact RNS operation; no
/// floating-point scaling touches a coefficient.</para>
/// </remarks>
public class BfvEvaluator : RlweEvaluator
{
    private readonly BfvParameters _parameters;

    /// <summary>An evaluator; keys are needed only by the operations that use them.</summary>
    public BfvEvaluator(BfvParameters parameters, RelinearizationKey? relinearizationKey = null, GaloisKeys? galoisKeys = null)
        : base((parameters ?? throw new ArgumentNullException(nameof(parameters))).Ring, relinearizationKey, galoisKeys)
    {
        _parameters = parameters;
    }

    /// <summary>The parameters.</summary>
    public BfvParameters Parameters => _parameters;

    /// <inheritdoc/>
    protected override void CheckLevels(int levelA, int levelB, string nameB)
    {
        if (levelA != levelB)
            throw new ArgumentException($"BFV operands must be at the same level ({levelA} and {levelB}); switch the higher one down with ModSwitchTo.", nameB);
    }

    /// <summary>destination = a · b scaled by t/Q (size a.Size + b.Size − 1; relinearize afterwards).</summary>
    /// <exception cref="ArgumentException">Operands at different levels or from other parameters, or too large a product.</exception>
    public override void Multiply(Ciphertext a, Ciphertext b, Ciphertext destination)
    {
        Check(a, nameof(a)); Check(b, nameof(b)); ArgumentNullException.ThrowIfNull(destination);
        CheckLevels(a.Level, b.Level, nameof(b));
        int size = a.Size + b.Size - 1;
        if (size > Ciphertext.MaxSize) throw new ArgumentException($"The product would have {size} polynomials; relinearize the operands first (at most {Ciphertext.MaxSize}).", nameof(b));
        var key = KeyId.Combine(a.KeyId, b.KeyId, nameof(b));
        int level = a.Level, n = _parameters.N, k = level + 1;
        var tools = _parameters.Level(level);
        var q = _parameters.Ring.Ring;
        var aux = _parameters.AuxiliaryBasis;
        int kb = aux.LimbCount, wide = k + kb;
        bool square = ReferenceEquals(a, b);
        var pool = ArrayPool<ulong>.Shared;
        int operands = square ? a.Size : a.Size + b.Size;
        // Lifted operands over Q ∪ B in NTT form: the Q part is the input itself, the B part is computed.
        ulong[] lifted = pool.Rent(operands * kb * n), tensor = pool.Rent(size * wide * n);
        try
        {
            Parallelism.For(operands, MaxDegreeOfParallelism, index =>
            {
                var (ct, i) = index < a.Size ? (a, index) : (b, index - a.Size);
                var coefficients = pool.Rent(k * n);
                var scratch = pool.Rent((k + 1) * n);
                try
                {
                    ct.Poly(i)[..(k * n)].CopyTo(coefficients);
                    q.Inverse(coefficients, 0, k);
                    var target = lifted.AsSpan(index * kb * n, kb * n);
                    tools.QToAux.ConvertToNtt(coefficients.AsSpan(0, k * n), target, scratch, n, aux.Ntt);
                }
                finally { pool.Return(coefficients); pool.Return(scratch); }
            });
            Span<ulong> Lifted(int index) => lifted.AsSpan(index * kb * n, kb * n);
            int bOffset = square ? 0 : a.Size;
            // The first product into each output polynomial writes it (i = 0, or j = b.Size − 1 past b's size): no clearing.
            for (int i = 0; i < a.Size; i++)
                for (int j = 0; j < b.Size; j++)
                {
                    var d = tensor.AsSpan((i + j) * wide * n, wide * n);
                    if (i == 0 || j == b.Size - 1 && i + j >= b.Size)
                    {
                        q.MulPointwise(a.Poly(i)[..(k * n)], b.Poly(j)[..(k * n)], d[..(k * n)], 0, k);
                        aux.MulPointwise(Lifted(i), Lifted(bOffset + j), d[(k * n)..], 0, kb);
                        continue;
                    }
                    q.MulPointwiseAdd(a.Poly(i)[..(k * n)], b.Poly(j)[..(k * n)], d[..(k * n)], 0, k);
                    aux.MulPointwiseAdd(Lifted(i), Lifted(bOffset + j), d[(k * n)..], 0, kb);
                }
            destination.Resize(level, size);
            Parallelism.For(size, MaxDegreeOfParallelism, index => ScaleAndRound(tensor.AsSpan(index * wide * n, wide * n), destination.Poly(index), tools, level));
            destination.Scale = 1.0;
            SetKey(destination, key);
        }
        finally
        {
            pool.Return(lifted);
            pool.Return(tensor);
        }
        // Resize may have changed the layout but the NTT flag is the core's to keep.
        if (!destination.IsNttForm) throw new InvalidOperationException("The product must be in NTT form.");
    }

    /// <summary>One tensor polynomial D over Q ∪ B (NTT form) → round(t·D/Q) over Q (NTT form).</summary>
    private void ScaleAndRound(Span<ulong> d, Span<ulong> output, BfvParameters.LevelTools tools, int level)
    {
        int n = _parameters.N, k = level + 1;
        var q = _parameters.Ring.Ring;
        var aux = _parameters.AuxiliaryBasis;
        int kb = aux.LimbCount;
        var pool = ArrayPool<ulong>.Shared;
        ulong[] xAux = pool.Rent(kb * n), scratch = pool.Rent((Math.Max(k, kb) + 1) * n);
        try
        {
            var dq = d[..(k * n)];
            var db = d.Slice(k * n, kb * n);
            q.Inverse(dq, 0, k);
            aux.Inverse(db, 0, kb);
            // x = [t·D]_Q, its centered representative extended to B (t folded into the conversion's first product).
            tools.QToAux.ConvertScaled(dq, tools.TModQ, xAux.AsSpan(0, kb * n), scratch, n);
            // y = (t·D − x)·Q^-1 = D·(t·Q^-1) − x·Q^-1 in B: exact, since t·D − x is a multiple of Q.
            for (int j = 0; j < kb; j++)
            {
                var m = aux.Moduli[j];
                ulong inv = tools.InverseQModAux[j], alpha = m.Mul(tools.TModAux[j], inv);
                var limb = db.Slice(j * n, n);
                var xs = xAux.AsSpan(j * n, n);
                if (FloatingPointModular.IsSupported && m.BitCount <= FloatingPointModular.MaxBits && n % 4 == 0)
                {
                    ScaledDifference(limb, xs, m.Value, alpha, inv);
                    continue;
                }
                ulong alphaShoup = m.ShoupPrecompute(alpha), invShoup = m.ShoupPrecompute(inv);
                for (int c = 0; c < n; c++) limb[c] = m.Sub(m.MulShoup(limb[c], alpha, alphaShoup), m.MulShoup(xs[c], inv, invShoup));
            }
            tools.AuxToQ.ConvertToNtt(db, output[..(k * n)], scratch, n, q.Ntt);
        }
        finally
        {
            pool.Return(xAux); pool.Return(scratch);
        }
    }

    /// <summary>d = d·α − x·β mod b, four lanes at a time in double precision (b below 2^50): two lazy products in (−b, b), one reduction.</summary>
    private static void ScaledDifference(Span<ulong> d, ReadOnlySpan<ulong> x, ulong modulus, ulong alpha, ulong beta)
    {
        var q = Vector256.Create((double)modulus);
        var qInv = Vector256.Create(1.0 / modulus);
        var a = Vector256.Create((double)alpha);
        var b = Vector256.Create((double)beta);
        var dv = MemoryMarshal.Cast<ulong, Vector256<ulong>>(d);
        var xv = MemoryMarshal.Cast<ulong, Vector256<ulong>>(x[..d.Length]);
        for (int i = 0; i < dv.Length; i++)
        {
            var r = Avx.Subtract(FloatingPointModular.MulModLazy(FloatingPointModular.ToDouble(dv[i]), a, q, qInv),
                FloatingPointModular.MulModLazy(FloatingPointModular.ToDouble(xv[i]), b, q, qInv));
            dv[i] = FloatingPointModular.FromDouble(FloatingPointModular.ReduceExact(r, q, qInv));
        }
    }

    /// <summary>destination = a·b, relinearized.</summary>
    public Ciphertext MultiplyRelinearize(Ciphertext a, Ciphertext b)
    {
        var d = Multiply(a, b);
        Relinearize(d, d);
        return d;
    }

    /// <summary>
    /// ct moved one level down: round(c·q_ℓ^-1) over Q_(ℓ−1), which keeps the message (Δ scales with Q) and divides the
    /// noise by q_ℓ; the noise budget shrinks by about the bits of q_ℓ minus the noise's own drop, and later
    /// operations are cheaper.
    /// </summary>
    /// <exception cref="InvalidOperationException">ct is at level 0.</exception>
    public void ModSwitchToNext(Ciphertext ct, Ciphertext destination)
    {
        DivideByLastPrime(ct, destination);
        destination.Scale = 1.0;
    }

    /// <summary>ct moved one level down, new ciphertext.</summary>
    public Ciphertext ModSwitchToNext(Ciphertext ct)
    {
        var d = DivideByLastPrime(ct);
        d.Scale = 1.0;
        return d;
    }

    /// <summary>ct moved down to <paramref name="level"/> by successive modulus switches.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A level above ct's, or below 0.</exception>
    public Ciphertext ModSwitchTo(Ciphertext ct, int level)
    {
        ArgumentNullException.ThrowIfNull(ct);
        if (level < 0 || level > ct.Level) throw new ArgumentOutOfRangeException(nameof(level), level, $"Level must be in [0, {ct.Level}].");
        var result = ct.Clone();
        while (result.Level > level) ModSwitchToNext(result, result);
        return result;
    }

    /// <summary>Rotates both rows of the slot matrix by <paramref name="steps"/> (slot j receives slot j + steps).</summary>
    public Ciphertext RotateRows(Ciphertext ct, int steps) => Rotate(ct, steps);

    /// <summary>Swaps the two rows of the slot matrix (the Galois element 2N − 1).</summary>
    public Ciphertext RotateColumns(Ciphertext ct) => Conjugate(ct);

    /// <summary>ct · k for an integer scalar (reduced to (−t/2, t/2] first, so the noise grows by at most t/2).</summary>
    public Ciphertext MultiplyScalar(Ciphertext ct, long scalar)
    {
        long t = (long)_parameters.PlainModulus;
        long r = scalar % t;
        if (r > t / 2) r -= t;
        else if (r < -(t / 2)) r += t;
        return MultiplyInteger(ct, r);
    }

    /// <summary>ct + m for a plaintext (round(Q·m/t) at ct's level).</summary>
    public Ciphertext AddPlain(Ciphertext ct, BfvPlaintext plaintext, BfvEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(ct);
        ArgumentNullException.ThrowIfNull(encoder);
        return AddPlain(ct, encoder.ScaledForEncryption(plaintext, ct.Level));
    }

    /// <summary>ct · m for a plaintext (m lifted at ct's level).</summary>
    public Ciphertext MultiplyPlain(Ciphertext ct, BfvPlaintext plaintext, BfvEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(ct);
        ArgumentNullException.ThrowIfNull(encoder);
        return MultiplyPlain(ct, encoder.ForMultiplication(plaintext, ct.Level));
    }
}
