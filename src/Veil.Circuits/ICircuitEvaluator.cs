using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Circuits;

/// <summary>
/// What the circuits (polynomial evaluation, linear transforms, slot sums) need of a scheme: slot-wise arithmetic on
/// ciphertexts, constants at a chosen scale, plaintext vectors, rotations, and the factor each level's rescaling divides
/// by. One implementation per scheme (<see cref="CkksCircuitEvaluator"/>; a BFV one keeps every scale at 1 and rescales
/// by modulus switching), so that each circuit is written once.
/// </summary>
/// <remarks>Scales are doubles for every scheme; a scheme without one reports 1 and ignores the constant scales.</remarks>
public interface ICircuitEvaluator
{
    /// <summary>Number of slots.</summary>
    int Slots { get; }

    /// <summary>The factor a rescaling at <paramref name="level"/> divides the scale by (CKKS: q_level).</summary>
    double RescaleFactor(int level);

    /// <summary>a + b, new ciphertext.</summary>
    Ciphertext Add(Ciphertext a, Ciphertext b);
    /// <summary>destination = a + b.</summary>
    void Add(Ciphertext a, Ciphertext b, Ciphertext destination);
    /// <summary>destination = ct + pt.</summary>
    void AddPlain(Ciphertext ct, Plaintext pt, Ciphertext destination);
    /// <summary>destination = ct + c in every slot, at ct's scale.</summary>
    void AddScalar(Ciphertext ct, double value, Ciphertext destination);
    /// <summary>a · b (three polynomials), new ciphertext.</summary>
    Ciphertext Multiply(Ciphertext a, Ciphertext b);
    /// <summary>a², new ciphertext.</summary>
    Ciphertext Square(Ciphertext a);
    /// <summary>destination = ct relinearized to two polynomials.</summary>
    void Relinearize(Ciphertext ct, Ciphertext destination);
    /// <summary>ct · pt, new ciphertext.</summary>
    Ciphertext MultiplyPlain(Ciphertext ct, Plaintext pt);
    /// <summary>ct · c with c encoded at <paramref name="constantScale"/>, new ciphertext.</summary>
    Ciphertext MultiplyScalar(Ciphertext ct, double value, double constantScale);
    /// <summary>destination = ct · k; no level used, scale unchanged.</summary>
    void MultiplyInteger(Ciphertext ct, long value, Ciphertext destination);
    /// <summary>ct · k, new ciphertext.</summary>
    Ciphertext MultiplyInteger(Ciphertext ct, long value);
    /// <summary>destination = ct rescaled: one level down, scale divided by <see cref="RescaleFactor"/>.</summary>
    void Rescale(Ciphertext ct, Ciphertext destination);
    /// <summary>ct at a lower level, new ciphertext.</summary>
    Ciphertext DropToLevel(Ciphertext ct, int level);
    /// <summary>ct rotated by <paramref name="steps"/> slots, new ciphertext.</summary>
    Ciphertext Rotate(Ciphertext ct, int steps);
    /// <summary>destination = ct rotated by <paramref name="steps"/> slots.</summary>
    void Rotate(Ciphertext ct, int steps, Ciphertext destination);
    /// <summary>Rotations of ct by every step through one key-switching decomposition.</summary>
    Ciphertext[] RotateHoisted(Ciphertext ct, IReadOnlyList<int> steps);
    /// <summary>Per group, Σ w ⊙ Rot_step(x) with one division by P (double hoisting), not rescaled.</summary>
    void MultiplyRotationsSum(Ciphertext x, IReadOnlyList<IReadOnlyList<(int Step, LiftedPlaintext Weight)>> groups, IReadOnlyList<Ciphertext> destinations);
    /// <summary>Encodes slot values at <paramref name="scale"/> and <paramref name="level"/>.</summary>
    Plaintext Encode(ReadOnlySpan<double> values, double scale, int level);
    /// <summary>A zero ciphertext (all words zero) at the level and scale, for destinations.</summary>
    Ciphertext NewCiphertext(int level, double scale);
}

/// <summary>The CKKS implementation of <see cref="ICircuitEvaluator"/>: an evaluator and, for plaintext vectors, an encoder.</summary>
public sealed class CkksCircuitEvaluator : ICircuitEvaluator
{
    private readonly CkksEncoder? _encoder;

    /// <summary>Wraps an evaluator (and an encoder, needed only by circuits that encode vectors).</summary>
    public CkksCircuitEvaluator(CkksEvaluator evaluator, CkksEncoder? encoder = null)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        Evaluator = evaluator;
        _encoder = encoder;
    }

    /// <summary>The CKKS evaluator.</summary>
    public CkksEvaluator Evaluator { get; }

    /// <summary>The encoder, when one was given.</summary>
    public CkksEncoder? Encoder => _encoder;

    /// <summary>Whether plaintext vectors can be encoded (an encoder was given).</summary>
    public bool CanEncode => _encoder is not null;

    /// <inheritdoc/>
    public int Slots => Evaluator.Parameters.Slots;
    /// <inheritdoc/>
    public double RescaleFactor(int level) => Evaluator.Ring.Q[level];
    /// <inheritdoc/>
    public Ciphertext Add(Ciphertext a, Ciphertext b) => Evaluator.Add(a, b);
    /// <inheritdoc/>
    public void Add(Ciphertext a, Ciphertext b, Ciphertext destination) => Evaluator.Add(a, b, destination);
    /// <inheritdoc/>
    public void AddPlain(Ciphertext ct, Plaintext pt, Ciphertext destination) => Evaluator.AddPlain(ct, pt, destination);
    /// <inheritdoc/>
    public void AddScalar(Ciphertext ct, double value, Ciphertext destination) => Evaluator.AddScalar(ct, value, destination);
    /// <inheritdoc/>
    public Ciphertext Multiply(Ciphertext a, Ciphertext b) => Evaluator.Multiply(a, b);
    /// <inheritdoc/>
    public Ciphertext Square(Ciphertext a) => Evaluator.Square(a);
    /// <inheritdoc/>
    public void Relinearize(Ciphertext ct, Ciphertext destination) => Evaluator.Relinearize(ct, destination);
    /// <inheritdoc/>
    public Ciphertext MultiplyPlain(Ciphertext ct, Plaintext pt) => Evaluator.MultiplyPlain(ct, pt);
    /// <inheritdoc/>
    public Ciphertext MultiplyScalar(Ciphertext ct, double value, double constantScale) => Evaluator.MultiplyScalar(ct, value, constantScale);
    /// <inheritdoc/>
    public void MultiplyInteger(Ciphertext ct, long value, Ciphertext destination) => Evaluator.MultiplyInteger(ct, value, destination);
    /// <inheritdoc/>
    public Ciphertext MultiplyInteger(Ciphertext ct, long value) => Evaluator.MultiplyInteger(ct, value);
    /// <inheritdoc/>
    public void Rescale(Ciphertext ct, Ciphertext destination) => Evaluator.Rescale(ct, destination);
    /// <inheritdoc/>
    public Ciphertext DropToLevel(Ciphertext ct, int level) => Evaluator.DropToLevel(ct, level);
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
    /// <exception cref="InvalidOperationException">No encoder was given.</exception>
    public Plaintext Encode(ReadOnlySpan<double> values, double scale, int level) =>
        (_encoder ?? throw new InvalidOperationException("This circuit evaluator was built without an encoder.")).Encode(values, scale, level);
    /// <inheritdoc/>
    public Ciphertext NewCiphertext(int level, double scale) => Evaluator.Zero(level, scale);
}
