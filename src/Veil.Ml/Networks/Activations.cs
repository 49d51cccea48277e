using Veil.Ckks;
using Veil.Circuits;
using Veil.Rlwe;
using Veil.Serialization;

namespace Veil.Ml.Networks;

/// <summary>Reads a C × H × W input as a vector of C·H·W values (channel-major); costs nothing encrypted.</summary>
public sealed class Flatten(TensorShape input) : Layer(input, TensorShape.Vector(input.Size))
{
    /// <inheritdoc/>
    public override LayerKind Kind => LayerKind.Flatten;
    /// <inheritdoc/>
    public override int Depth => 0;
    private protected override void ForwardCore(ReadOnlySpan<double> input, Span<double> output) => input.CopyTo(output);
    /// <inheritdoc/>
    public override IEnumerable<Ciphertext> EvaluateBatched(CkksContext server, IEnumerable<Ciphertext> inputs) => inputs ?? throw new ArgumentNullException(nameof(inputs));
    /// <inheritdoc/>
    public override SingleInputStep PlanSingle(SlotLayout input, int slots) => new SlotwiseStep(input ?? throw new ArgumentNullException(nameof(input)), (_, x) => x);
    internal override int PayloadBytes => 0;
    internal override void Write(ref PayloadWriter writer) { }
}

/// <summary>x ↦ x², value by value (CryptoNets' activation): one ciphertext multiplication, one level.</summary>
public sealed class SquareActivation(TensorShape shape) : Layer(shape, shape)
{
    /// <inheritdoc/>
    public override LayerKind Kind => LayerKind.Square;
    /// <inheritdoc/>
    public override int Depth => 1;
    private protected override void ForwardCore(ReadOnlySpan<double> input, Span<double> output)
    {
        for (int i = 0; i < input.Length; i++) output[i] = input[i] * input[i];
    }
    /// <inheritdoc/>
    public override IEnumerable<Ciphertext> EvaluateBatched(CkksContext server, IEnumerable<Ciphertext> inputs)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(inputs);
        var ev = server.Evaluator;
        return inputs.Select(z => ev.MultiplyRelinearizeRescale(z, z));
    }
    /// <inheritdoc/>
    public override SingleInputStep PlanSingle(SlotLayout input, int slots) =>
        new SlotwiseStep(input ?? throw new ArgumentNullException(nameof(input)), (server, z) => server.Evaluator.MultiplyRelinearizeRescale(z, z));
    internal override int PayloadBytes => 0;
    internal override void Write(ref PayloadWriter writer) { }
}

/// <summary>
/// x ↦ c_0 + c_1·x + … + c_d·x^d, value by value (a polynomial approximation of an activation, of any degree):
/// ⌈log2(d + 1)⌉ levels through <see cref="PolynomialEvaluator"/>.
/// </summary>
public sealed class PolynomialActivation : Layer
{
    /// <summary>Largest degree accepted.</summary>
    public const int MaxDegree = 63;

    private readonly double[] _coefficients;

    /// <summary>The activation c_0 + … + c_d·x^d on <paramref name="shape"/> (trailing zero coefficients dropped).</summary>
    /// <exception cref="ArgumentException">No nonzero coefficient of degree ≥ 1, degree above <see cref="MaxDegree"/>, or a value not finite.</exception>
    public PolynomialActivation(TensorShape shape, IReadOnlyList<double> coefficients) : base(shape, shape)
    {
        ArgumentNullException.ThrowIfNull(coefficients);
        int d = coefficients.Count - 1;
        while (d > 0 && coefficients[d] == 0) d--;
        if (d < 1) throw new ArgumentException("The polynomial must have degree at least 1.", nameof(coefficients));
        if (d > MaxDegree) throw new ArgumentException($"Degree {d} is above {MaxDegree}.", nameof(coefficients));
        _coefficients = [.. coefficients.Take(d + 1)];
        CheckFinite(_coefficients, nameof(coefficients));
    }

    /// <summary>c_0 … c_d.</summary>
    public IReadOnlyList<double> Coefficients => _coefficients;
    /// <summary>d.</summary>
    public int Degree => _coefficients.Length - 1;
    /// <inheritdoc/>
    public override LayerKind Kind => LayerKind.Polynomial;
    /// <inheritdoc/>
    public override int Depth => PolynomialEvaluator.DepthOf(Degree, needsAffineMap: false);

    /// <summary>p(x) by Horner's rule.</summary>
    public double Evaluate(double x)
    {
        double y = _coefficients[^1];
        for (int k = _coefficients.Length - 2; k >= 0; k--) y = y * x + _coefficients[k];
        return y;
    }

    private protected override void ForwardCore(ReadOnlySpan<double> input, Span<double> output)
    {
        for (int i = 0; i < input.Length; i++) output[i] = Evaluate(input[i]);
    }

    /// <inheritdoc/>
    public override IEnumerable<Ciphertext> EvaluateBatched(CkksContext server, IEnumerable<Ciphertext> inputs)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(inputs);
        var polynomial = new PolynomialEvaluator(server.Evaluator, server.Encoder);
        return inputs.Select(z => polynomial.EvaluatePowerBasis(z, _coefficients));
    }

    /// <inheritdoc/>
    public override SingleInputStep PlanSingle(SlotLayout input, int slots) =>
        new SlotwiseStep(input ?? throw new ArgumentNullException(nameof(input)),
            (server, z) => new PolynomialEvaluator(server.Evaluator, server.Encoder).EvaluatePowerBasis(z, _coefficients));

    internal override int PayloadBytes => 4 + 8 * _coefficients.Length;

    internal override void Write(ref PayloadWriter writer)
    {
        writer.WriteInt32(Degree);
        foreach (double c in _coefficients) writer.WriteDouble(c);
    }

    internal static PolynomialActivation Read(ref PayloadReader reader, TensorShape input)
    {
        int degree = reader.ReadCount("polynomial.degree", 1, MaxDegree);
        var c = ReadValues(ref reader, degree + 1, "polynomial.coefficients");
        if (c[degree] == 0) throw new VeilFormatException("polynomial.coefficients", $"The leading coefficient of a degree-{degree} polynomial is 0.");
        return new PolynomialActivation(input, c);
    }
}

/// <summary>
/// x ↦ Σ c_k·T_k(t), t = (2x − a − b)/(b − a), value by value: an activation fitted on an interval (for example by
/// <c>Veil.Onnx</c> from calibration data). On [−1, 1] it costs ⌈log2(d + 1)⌉ levels; on any other interval one more
/// for the map to t (fold that map into the layer before to save it).
/// </summary>
public sealed class ChebyshevActivation : Layer
{
    /// <summary>Largest degree accepted.</summary>
    public const int MaxDegree = 63;

    /// <summary>The activation <paramref name="series"/> on <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">A degree outside 1 … <see cref="MaxDegree"/>.</exception>
    public ChebyshevActivation(TensorShape shape, ChebyshevSeries series) : base(shape, shape)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Degree < 1 || series.Degree > MaxDegree) throw new ArgumentException($"Degree {series.Degree} is outside 1 … {MaxDegree}.", nameof(series));
        Series = series;
    }

    /// <summary>The polynomial and its interval.</summary>
    public ChebyshevSeries Series { get; }
    /// <inheritdoc/>
    public override LayerKind Kind => LayerKind.Chebyshev;
    /// <inheritdoc/>
    public override int Depth => Series.Depth;

    private protected override void ForwardCore(ReadOnlySpan<double> input, Span<double> output)
    {
        for (int i = 0; i < input.Length; i++) output[i] = Series.Evaluate(input[i]);
    }

    /// <inheritdoc/>
    public override IEnumerable<Ciphertext> EvaluateBatched(CkksContext server, IEnumerable<Ciphertext> inputs)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(inputs);
        var polynomial = new PolynomialEvaluator(server.Evaluator, server.Encoder);
        return inputs.Select(z => polynomial.Evaluate(z, Series));
    }

    /// <inheritdoc/>
    public override SingleInputStep PlanSingle(SlotLayout input, int slots) =>
        new SlotwiseStep(input ?? throw new ArgumentNullException(nameof(input)),
            (server, z) => new PolynomialEvaluator(server.Evaluator, server.Encoder).Evaluate(z, Series));

    internal override int PayloadBytes => 4 + 16 + 8 * (Series.Degree + 1);

    internal override void Write(ref PayloadWriter writer)
    {
        writer.WriteInt32(Series.Degree);
        writer.WriteDouble(Series.A);
        writer.WriteDouble(Series.B);
        foreach (double c in Series.Coefficients) writer.WriteDouble(c);
    }

    internal static ChebyshevActivation Read(ref PayloadReader reader, TensorShape input)
    {
        int degree = reader.ReadCount("chebyshev.degree", 1, MaxDegree);
        double a = reader.ReadFiniteDouble("chebyshev.a"), b = reader.ReadFiniteDouble("chebyshev.b");
        if (!(a < b)) throw new VeilFormatException("chebyshev.a", $"The interval [{a}, {b}] is empty.");
        var c = ReadValues(ref reader, degree + 1, "chebyshev.coefficients");
        return new ChebyshevActivation(input, new ChebyshevSeries(c, a, b));
    }
}
