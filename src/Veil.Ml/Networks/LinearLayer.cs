using Veil.Ckks;
using Veil.Circuits;
using Veil.Ml.Encrypted;
using Veil.Rlwe;

namespace Veil.Ml.Networks;

/// <summary>
/// A layer y = M·x + b with public M and b (dense, convolution, pooling), described by its sparse rows. Batched: each
/// output a weighted sum of the input ciphertexts its row names. Single-input: M as diagonals — the baby-step
/// giant-step product on a <see cref="PeriodicLayout"/>, or the rectangular diagonals and a fold on any layout that
/// holds the input in its first slots.
/// </summary>
public abstract class LinearLayer : Layer
{
    private protected LinearLayer(TensorShape input, TensorShape output) : base(input, output) { }

    /// <inheritdoc/>
    public override int Depth => 1;

    /// <summary>The nonzero entries of row <paramref name="output"/> of M, as (input index, weight).</summary>
    public abstract IEnumerable<(int Input, double Weight)> Row(int output);

    /// <summary>b_<paramref name="output"/>.</summary>
    public abstract double Bias(int output);

    /// <summary>M as a dense matrix, [output][input].</summary>
    public double[][] ToMatrix()
    {
        var m = new double[OutputShape.Size][];
        for (int o = 0; o < m.Length; o++)
        {
            m[o] = new double[InputShape.Size];
            foreach (var (i, w) in Row(o)) m[o][i] += w;
        }
        return m;
    }

    private protected override void ForwardCore(ReadOnlySpan<double> input, Span<double> output)
    {
        for (int o = 0; o < output.Length; o++)
        {
            double z = Bias(o);
            foreach (var (i, w) in Row(o)) z += w * input[i];
            output[o] = z;
        }
    }

    /// <inheritdoc/>
    /// <remarks>Gathers: the inputs are held, and each output is computed, rescaled and handed on before the next (one accumulator reused).</remarks>
    public override IEnumerable<Ciphertext> EvaluateBatched(CkksContext server, IEnumerable<Ciphertext> inputs)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(inputs);
        var x = inputs as IReadOnlyList<Ciphertext> ?? inputs.ToArray();
        if (x.Count != InputShape.Size) throw new ArgumentException($"{Kind} expects {InputShape.Size} ciphertexts; got {x.Count}.", nameof(inputs));
        return Gather(server.Evaluator, x);
    }

    private IEnumerable<Ciphertext> Gather(CkksEvaluator ev, IReadOnlyList<Ciphertext> x)
    {
        Ciphertext? acc = null;
        for (int o = 0; o < OutputShape.Size; o++)
        {
            if (acc is null) acc = ev.WeightedSumAccumulator(x[0]);
            else ev.ResetWeightedSum(acc, x[0]);
            foreach (var (i, w) in Row(o)) ev.AddWeighted(x[i], w, acc);
            yield return ev.FinishWeightedSum(acc, Bias(o));
        }
    }

    /// <inheritdoc/>
    public override SingleInputStep PlanSingle(SlotLayout input, int slots)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Length != InputShape.Size) throw new ArgumentException($"{Kind} reads {InputShape.Size} values; the layout holds {input.Length}.", nameof(input));
        int rows = OutputShape.Size, cols = InputShape.Size;
        if (input is PeriodicLayout periodic && periodic.Period >= Math.Max(rows, cols))
        {
            int p = periodic.Period;
            var matrix = ToMatrix();
            var padded = new double[p][];
            for (int r = 0; r < p; r++) { padded[r] = new double[p]; if (r < rows) matrix[r].CopyTo(padded[r], 0); }
            var bias = new double[slots];
            for (int s = 0; s < slots; s++) bias[s] = s % p < rows ? Bias(s % p) : 0;
            return new PeriodicStep(new PeriodicLayout(p, rows), LinearTransform.MatrixVector(padded, slots), bias);
        }
        if (input is PrefixLayout or PeriodicLayout)
        {
            var (transform, width) = DiagonalTransform.Rectangular(ToMatrix(), slots);
            var bias = new double[slots];
            for (int r = 0; r < rows; r++) bias[r] = Bias(r);
            return new DiagonalStep(new PrefixLayout(rows), transform, width, bias, slots);
        }
        throw new ArgumentException($"{Kind} cannot read a {input.GetType().Name}.", nameof(input));
    }
}
