using Veil.Ckks;
using Veil.Ml.Models;
using Veil.Rlwe;
using Veil.Serialization;

namespace Veil.Ml.Networks;

/// <summary>A fully connected layer y = W·x + b; it reads any input shape as a flat vector.</summary>
public sealed class Dense : LinearLayer
{
    /// <summary>Largest number of weights accepted.</summary>
    public const int MaxWeights = 1 << 24;

    private readonly double[][] _weights;
    private readonly double[] _bias;

    /// <summary>A layer from W ([output][input], copied) and b.</summary>
    /// <exception cref="ArgumentException">Shapes disagree with <paramref name="input"/> or with each other, or a value is not finite.</exception>
    public Dense(TensorShape input, double[][] weights, double[] bias)
        : base(input, TensorShape.Vector(CheckShape(input, weights, bias)))
    {
        _weights = [.. weights.Select(r => r.ToArray())];
        _bias = [.. bias];
        foreach (var r in _weights) CheckFinite(r, nameof(weights));
        CheckFinite(_bias, nameof(bias));
    }

    /// <summary>A layer on a vector input.</summary>
    public Dense(double[][] weights, double[] bias) : this(TensorShape.Vector(weights is { Length: > 0 } && weights[0] is not null ? weights[0].Length : 1), weights, bias) { }

    private static int CheckShape(TensorShape input, double[][] weights, double[] bias)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(bias);
        if (weights.Length == 0 || weights.Any(r => r is null || r.Length != input.Size))
            throw new ArgumentException($"W must be outputs × {input.Size} (the input {input}).", nameof(weights));
        if (bias.Length != weights.Length) throw new ArgumentException($"One bias per output: {weights.Length} outputs, {bias.Length} biases.", nameof(bias));
        if ((long)weights.Length * input.Size > MaxWeights) throw new ArgumentException($"More than {MaxWeights} weights.", nameof(weights));
        return weights.Length;
    }

    /// <inheritdoc/>
    public override LayerKind Kind => LayerKind.Dense;

    /// <summary>Row <paramref name="output"/> of W.</summary>
    public ReadOnlySpan<double> Weights(int output) => _weights[output];

    /// <inheritdoc/>
    public override double Bias(int output) => _bias[output];

    /// <inheritdoc/>
    public override IEnumerable<(int Input, double Weight)> Row(int output)
    {
        var row = _weights[output];
        for (int i = 0; i < row.Length; i++) if (row[i] != 0) yield return (i, row[i]);
    }

    private protected override void ForwardCore(ReadOnlySpan<double> input, Span<double> output)
    {
        for (int o = 0; o < output.Length; o++) output[o] = _bias[o] + LinearAlgebra.VectorDot(_weights[o], input);
    }

    /// <inheritdoc/>
    /// <remarks>Streams: each input ciphertext is added into every output's accumulator as it arrives (outputs split
    /// across threads), so the previous layer's output is never held whole.</remarks>
    public override IEnumerable<Ciphertext> EvaluateBatched(CkksContext server, IEnumerable<Ciphertext> inputs)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(inputs);
        return Stream(server.Evaluator, inputs);
    }

    private IEnumerable<Ciphertext> Stream(CkksEvaluator ev, IEnumerable<Ciphertext> inputs)
    {
        Ciphertext[]? acc = null;
        int count = 0;
        foreach (var x in inputs)
        {
            if (count == InputShape.Size) throw new ArgumentException($"Dense expects {InputShape.Size} ciphertexts; got more.", nameof(inputs));
            if (acc is null)
            {
                acc = new Ciphertext[_weights.Length];
                for (int o = 0; o < acc.Length; o++) acc[o] = ev.WeightedSumAccumulator(x);
            }
            int i = count++;
            Veil.Arithmetic.Parallelism.For(acc.Length, ev.MaxDegreeOfParallelism, o => ev.AddWeighted(x, _weights[o][i], acc[o]));
        }
        if (count != InputShape.Size) throw new ArgumentException($"Dense expects {InputShape.Size} ciphertexts; got {count}.", nameof(inputs));
        for (int o = 0; o < acc!.Length; o++) yield return ev.FinishWeightedSum(acc[o], _bias[o]);
    }

    internal override int PayloadBytes => 4 + 8 * (_weights.Length * InputShape.Size + _bias.Length);

    internal override void Write(ref PayloadWriter writer)
    {
        writer.WriteInt32(_weights.Length);
        foreach (var row in _weights) foreach (double v in row) writer.WriteDouble(v);
        foreach (double v in _bias) writer.WriteDouble(v);
    }

    internal static Dense Read(ref PayloadReader reader, TensorShape input)
    {
        int outputs = reader.ReadCount("dense.outputs", 1, Math.Max(1, MaxWeights / input.Size));
        var flat = ReadValues(ref reader, (long)outputs * input.Size, "dense.weights");
        var weights = new double[outputs][];
        for (int o = 0; o < outputs; o++) weights[o] = flat.AsSpan(o * input.Size, input.Size).ToArray();
        return new Dense(input, weights, ReadValues(ref reader, outputs, "dense.bias"));
    }
}
