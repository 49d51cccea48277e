using Veil.Bfv;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>
/// The BFV implementation of <see cref="ICircuitEvaluator"/>: every scale is 1, "rescaling" is a modulus switch (one
/// level down, noise divided with the modulus), constants and plaintext vectors must be integers (taken mod t). The
/// circuits see N/2 slots — one row of the BFV matrix; vectors are encoded into both rows, so both rows compute the
/// same circuit.
/// </summary>
public sealed class BfvCircuitEvaluator : ICircuitEvaluator
{
    private readonly BfvEncoder _encoder;

    /// <summary>Wraps an evaluator and its encoder (batching parameters).</summary>
    public BfvCircuitEvaluator(BfvEvaluator evaluator, BfvEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(encoder);
        if (!evaluator.Parameters.SupportsBatching) throw new ArgumentException("Circuits need slots: t must be a batching prime.", nameof(evaluator));
        Evaluator = evaluator;
        _encoder = encoder;
    }

    /// <summary>The BFV evaluator.</summary>
    public BfvEvaluator Evaluator { get; }

    /// <inheritdoc/>
    public int Slots => Evaluator.Parameters.N / 2;
    /// <inheritdoc/>
    public double RescaleFactor(int level) => 1.0;
    /// <inheritdoc/>
    public Ciphertext Add(Ciphertext a, Ciphertext b) => Evaluator.Add(a, b);
    /// <inheritdoc/>
    public void Add(Ciphertext a, Ciphertext b, Ciphertext destination) => Evaluator.Add(a, b, destination);

    /// <inheritdoc/>
    /// <remarks>The plaintext is in multiplication form (from <see cref="Encode"/>): it is scaled by Δ here.</remarks>
    public void AddPlain(Ciphertext ct, Plaintext pt, Ciphertext destination)
    {
        ArgumentNullException.ThrowIfNull(ct);
        ArgumentNullException.ThrowIfNull(pt);
        var delta = Evaluator.Parameters.DeltaResidues(ct.Level);
        var ring = Evaluator.Ring.Ring;
        int n = Evaluator.Parameters.N;
        var scaled = new Plaintext(Evaluator.Ring, ct.Level, 1.0, isNttForm: true);
        for (int i = 0; i <= ct.Level; i++)
        {
            var q = ring.Moduli[i];
            ulong d = delta[i], ds = q.ShoupPrecompute(d);
            var src = pt.Data.AsSpan(i * n, n);
            var dst = scaled.Data.AsSpan(i * n, n);
            for (int c = 0; c < n; c++) dst[c] = q.MulShoup(src[c], d, ds);
        }
        Evaluator.AddPlain(ct, scaled, destination);
    }

    /// <inheritdoc/>
    public void AddScalar(Ciphertext ct, double value, Ciphertext destination)
    {
        ArgumentNullException.ThrowIfNull(ct);
        long v = Integer(value);
        var delta = Evaluator.Parameters.DeltaResidues(ct.Level);
        var ring = Evaluator.Ring.Ring;
        ulong t = Evaluator.Parameters.PlainModulus;
        ulong m = (ulong)(((v % (long)t) + (long)t) % (long)t);
        Span<ulong> residues = stackalloc ulong[ct.Level + 1];
        for (int i = 0; i <= ct.Level; i++) residues[i] = ring.Moduli[i].Mul(delta[i], ring.Moduli[i].Reduce(m));
        Evaluator.AddResidues(ct, residues, destination);
    }

    /// <inheritdoc/>
    public Ciphertext Multiply(Ciphertext a, Ciphertext b) => Evaluator.Multiply(a, b);
    /// <inheritdoc/>
    public Ciphertext Square(Ciphertext a) => Evaluator.Square(a);
    /// <inheritdoc/>
    public void Relinearize(Ciphertext ct, Ciphertext destination) => Evaluator.Relinearize(ct, destination);
    /// <inheritdoc/>
    public Ciphertext MultiplyPlain(Ciphertext ct, Plaintext pt) => Evaluator.MultiplyPlain(ct, pt);
    /// <inheritdoc/>
    public Ciphertext MultiplyScalar(Ciphertext ct, double value, double constantScale) => Evaluator.MultiplyScalar(ct, Integer(value));
    /// <inheritdoc/>
    public void MultiplyInteger(Ciphertext ct, long value, Ciphertext destination) => Evaluator.MultiplyInteger(ct, value, destination);
    /// <inheritdoc/>
    public Ciphertext MultiplyInteger(Ciphertext ct, long value) => Evaluator.MultiplyInteger(ct, value);
    /// <inheritdoc/>
    public void Rescale(Ciphertext ct, Ciphertext destination) => Evaluator.ModSwitchToNext(ct, destination);
    /// <inheritdoc/>
    public Ciphertext DropToLevel(Ciphertext ct, int level) => Evaluator.ModSwitchTo(ct, level);
    /// <inheritdoc/>
    public Ciphertext Rotate(Ciphertext ct, int steps) => Evaluator.Rotate(ct, steps);
    /// <inheritdoc/>
    public void Rotate(Ciphertext ct, int steps, Ciphertext destination) => Evaluator.Rotate(ct, steps, destination);
    /// <inheritdoc/>
    public Ciphertext[] RotateHoisted(Ciphertext ct, IReadOnlyList<int> steps) => Evaluator.RotateHoisted(ct, steps);
    /// <inheritdoc/>
    public void MultiplyRotationsSum(Ciphertext x, IReadOnlyList<IReadOnlyList<(int Step, LiftedPlaintext Weight)>> groups, IReadOnlyList<Ciphertext> destinations) =>
        Evaluator.MultiplyRotationsSum(x, groups, destinations);

    /// <inheritdoc/>
    /// <remarks>Values must be integers; they fill both rows. The plaintext is in multiplication form.</remarks>
    public Plaintext Encode(ReadOnlySpan<double> values, double scale, int level)
    {
        if (values.Length > Slots) throw new ArgumentException($"At most {Slots} values; got {values.Length}.", nameof(values));
        var both = new long[2 * Slots];
        for (int i = 0; i < values.Length; i++) both[i] = both[Slots + i] = Integer(values[i]);
        return _encoder.ForMultiplication(_encoder.EncodeBatch(both), level);
    }

    /// <inheritdoc/>
    public Ciphertext NewCiphertext(int level, double scale) => Evaluator.Zero(level, 1.0);

    private static long Integer(double value)
    {
        double r = Math.Round(value);
        if (!double.IsFinite(value) || Math.Abs(value - r) > 1e-9 || Math.Abs(r) > 9e15)
            throw new ArgumentException($"BFV circuits take integer constants; got {value}.", nameof(value));
        return (long)r;
    }
}
