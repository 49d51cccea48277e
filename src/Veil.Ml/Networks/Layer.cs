using Veil.Ckks;
using Veil.Rlwe;
using Veil.Serialization;

namespace Veil.Ml.Networks;

/// <summary>The layer kinds a <see cref="SequentialNetwork"/> holds; the byte each is saved as.</summary>
public enum LayerKind : byte
{
    /// <summary><see cref="Networks.Dense"/>.</summary>
    Dense = 1,
    /// <summary><see cref="Networks.Conv2D"/>.</summary>
    Conv2D = 2,
    /// <summary><see cref="Networks.AveragePool2D"/>.</summary>
    AveragePool2D = 3,
    /// <summary><see cref="Networks.Flatten"/>.</summary>
    Flatten = 4,
    /// <summary><see cref="Networks.SquareActivation"/>.</summary>
    Square = 5,
    /// <summary><see cref="Networks.PolynomialActivation"/>.</summary>
    Polynomial = 6,
    /// <summary><see cref="Networks.Conv2D"/> with zero padding (its padding saved after the stride).</summary>
    PaddedConv2D = 7,
    /// <summary><see cref="Networks.ChebyshevActivation"/>.</summary>
    Chebyshev = 8,
}

/// <summary>
/// One layer of a <see cref="SequentialNetwork"/>: its plaintext forward pass, the levels it consumes, and its
/// encrypted evaluation in both packings — batched (one ciphertext per value, one input per slot) and single-input
/// (one ciphertext holding the whole input in a <see cref="SlotLayout"/>).
/// </summary>
/// <remarks>Layers are immutable. The set is closed so that every network can be saved and loaded.</remarks>
public abstract class Layer
{
    private protected Layer(TensorShape input, TensorShape output)
    {
        InputShape = input;
        OutputShape = output;
    }

    /// <summary>What the layer is (and how it is saved).</summary>
    public abstract LayerKind Kind { get; }

    /// <summary>The shape it reads.</summary>
    public TensorShape InputShape { get; }

    /// <summary>The shape it writes.</summary>
    public TensorShape OutputShape { get; }

    /// <summary>Levels (rescales) its encrypted evaluation consumes, in either packing.</summary>
    public abstract int Depth { get; }

    /// <summary>The plaintext forward pass into <paramref name="output"/> (<see cref="OutputShape"/> values).</summary>
    /// <exception cref="ArgumentException">A span of the wrong length.</exception>
    public void Forward(ReadOnlySpan<double> input, Span<double> output)
    {
        if (input.Length != InputShape.Size) throw new ArgumentException($"{Kind} expects {InputShape.Size} inputs ({InputShape}); got {input.Length}.", nameof(input));
        if (output.Length != OutputShape.Size) throw new ArgumentException($"{Kind} writes {OutputShape.Size} outputs ({OutputShape}); got room for {output.Length}.", nameof(output));
        ForwardCore(input, output);
    }

    /// <summary>The plaintext forward pass.</summary>
    /// <exception cref="ArgumentException">The input has the wrong length.</exception>
    public double[] Forward(ReadOnlySpan<double> input)
    {
        var output = new double[OutputShape.Size];
        Forward(input, output);
        return output;
    }

    private protected abstract void ForwardCore(ReadOnlySpan<double> input, Span<double> output);

    /// <summary>
    /// Batched evaluation: <see cref="InputShape"/> ciphertexts in, <see cref="OutputShape"/> out, input i of the batch in
    /// slot i of each. The result is lazy: a following layer that consumes it one ciphertext at a time (dense layers do)
    /// never holds this layer's whole output.
    /// </summary>
    /// <param name="server">A context with the relinearization key (activations).</param>
    /// <param name="inputs">The previous layer's ciphertexts, all at one level and scale.</param>
    /// <exception cref="ArgumentException">A count other than <see cref="InputShape"/>'s size (when enumerated).</exception>
    public abstract IEnumerable<Ciphertext> EvaluateBatched(CkksContext server, IEnumerable<Ciphertext> inputs);

    /// <summary>Plans the single-input evaluation for an input held in <paramref name="input"/>.</summary>
    /// <param name="input">How the previous step leaves the values in the slots.</param>
    /// <param name="slots">The parameters' slot count.</param>
    /// <exception cref="ArgumentException">The layout does not suit the layer, or its transform does not fit the slots.</exception>
    public abstract SingleInputStep PlanSingle(SlotLayout input, int slots);

    /// <summary>Bytes of <see cref="Write"/>.</summary>
    internal abstract int PayloadBytes { get; }

    /// <summary>Writes the layer's hyperparameters and weights (the input shape is the previous layer's output).</summary>
    internal abstract void Write(ref PayloadWriter writer);

    /// <summary>Reads a layer of <paramref name="kind"/> on <paramref name="input"/>; every size and value is checked before use.</summary>
    internal static Layer Read(ref PayloadReader reader, LayerKind kind, TensorShape input) => kind switch
    {
        LayerKind.Dense => Dense.Read(ref reader, input),
        LayerKind.Conv2D => Conv2D.Read(ref reader, input, padded: false),
        LayerKind.PaddedConv2D => Conv2D.Read(ref reader, input, padded: true),
        LayerKind.AveragePool2D => AveragePool2D.Read(ref reader, input),
        LayerKind.Flatten => new Flatten(input),
        LayerKind.Square => new SquareActivation(input),
        LayerKind.Polynomial => PolynomialActivation.Read(ref reader, input),
        LayerKind.Chebyshev => ChebyshevActivation.Read(ref reader, input),
        _ => throw new VeilFormatException("layerKind", $"Unknown layer kind {(byte)kind}."),
    };

    /// <summary>Reads <paramref name="count"/> finite doubles after checking that the payload holds them (no allocation before).</summary>
    private protected static double[] ReadValues(ref PayloadReader reader, long count, string field)
    {
        if (count > reader.Remaining / 8) throw new VeilFormatException(field, $"{field}: {count} values declared but only {reader.Remaining} bytes remain.");
        var values = new double[count];
        for (int i = 0; i < values.Length; i++) values[i] = reader.ReadFiniteDouble(field);
        return values;
    }

    private protected static void CheckFinite(ReadOnlySpan<double> values, string name)
    {
        foreach (double v in values) if (!double.IsFinite(v)) throw new ArgumentException($"{name} must be finite.", name);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Kind} {InputShape} → {OutputShape}";
}
