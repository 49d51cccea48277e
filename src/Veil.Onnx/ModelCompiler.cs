using System.Diagnostics;
using Veil.Ckks;
using Veil.Circuits;
using Veil.Ml.Encrypted;
using Veil.Ml.Networks;
using Veil.Rlwe;

namespace Veil.Onnx;

/// <summary>How inputs are packed into ciphertexts.</summary>
public enum Packing
{
    /// <summary>The cost model chooses: single-input when one input alone costs less than one full batch, else batched.</summary>
    Auto,
    /// <summary>One input per slot, one ciphertext per value: throughput (thousands of inputs per evaluation).</summary>
    Batched,
    /// <summary>One input in one ciphertext (diagonals, im2col): the lowest latency for a single input.</summary>
    Latency,
}

/// <summary>What the plan predicts for one layer: where it starts, what it costs.</summary>
/// <param name="Index">Position in the network.</param>
/// <param name="Layer">Kind and shapes.</param>
/// <param name="Depth">Levels it consumes.</param>
/// <param name="Level">Level of its input.</param>
/// <param name="Multiplications">Ciphertext × ciphertext products (relinearized).</param>
/// <param name="ScalarProducts">Ciphertext × constant (batched) or × plaintext vector (single input) products.</param>
/// <param name="Rotations">Rotations (single input).</param>
/// <param name="PredictedSeconds">Its share of the predicted evaluation time.</param>
public sealed record LayerPlan(int Index, string Layer, int Depth, int Level, long Multiplications, long ScalarProducts, long Rotations, double PredictedSeconds);

/// <summary>A compiled model: the network, its packing, the smallest 128-bit parameters for its depth, the keys and the predicted cost.</summary>
/// <param name="Network">The network to deploy.</param>
/// <param name="Packing">Batched or Latency.</param>
/// <param name="Parameters">The CKKS parameters (the smallest ring of 128-bit security with the levels the network needs).</param>
/// <param name="Depth">Levels the network consumes.</param>
/// <param name="Rotations">Rotation steps the server needs Galois keys for (none when batched).</param>
/// <param name="KeyBytes">Evaluation keys the client uploads (public, relinearization and Galois keys), measured.</param>
/// <param name="InputsPerEvaluation">Inputs one evaluation handles: the slots when batched, 1 otherwise.</param>
/// <param name="PredictedSeconds">Predicted server time of one evaluation (on this machine, from its own per-operation timings).</param>
/// <param name="PredictedMemoryBytes">Predicted peak memory of one evaluation: ciphertexts alive at once and the keys.</param>
/// <param name="Layers">Per-layer predictions.</param>
/// <param name="CompileSeconds">Time the compile took (import not included).</param>
/// <param name="Why">Why this packing.</param>
public sealed record CompilePlan(SequentialNetwork Network, Packing Packing, CkksParametersLiteral Parameters, int Depth, IReadOnlyList<int> Rotations, long KeyBytes,
    int InputsPerEvaluation, double PredictedSeconds, long PredictedMemoryBytes, IReadOnlyList<LayerPlan> Layers, double CompileSeconds, string Why)
{
    /// <summary>Predicted inputs per second (amortized over a full evaluation).</summary>
    public double PredictedInputsPerSecond => InputsPerEvaluation / PredictedSeconds;
}

/// <summary>
/// Chooses how to run a network encrypted: the packing (by a cost model), the parameters, the rotation keys; and
/// predicts time and memory from operation counts per layer times this machine's own timings of each operation at
/// those parameters (measured at compile time, scaled by the limbs left at each layer's level).
/// </summary>
public static class ModelCompiler
{
    /// <summary>Compiles <paramref name="network"/> for <paramref name="packing"/>.</summary>
    /// <exception cref="ArgumentException">No packing fits the network (for example a single input wider than the largest ring).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> was cancelled.</exception>
    public static CompilePlan Compile(SequentialNetwork network, Packing packing = Packing.Auto, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        var clock = Stopwatch.StartNew();
        CompilePlan? single = null, batched = null;
        string? singleProblem = null;
        if (packing is Packing.Auto or Packing.Latency)
        {
            try { single = Plan(network, Packing.Latency, cancellation); }
            catch (ArgumentException e) when (packing == Packing.Auto) { singleProblem = e.Message; }
        }
        if (packing is Packing.Auto or Packing.Batched) batched = Plan(network, Packing.Batched, cancellation);
        var chosen = packing switch
        {
            Packing.Latency => single! with { Why = "asked for (--latency)" },
            Packing.Batched => batched! with { Why = "asked for (--batched)" },
            _ when single is null => batched! with { Why = $"single-input packing does not fit ({singleProblem})" },
            _ => single.PredictedSeconds <= batched!.PredictedSeconds
                ? single with { Why = $"one input costs {single.PredictedSeconds:F3} s alone against {batched.PredictedSeconds:F1} s for a batch; batched would give {batched.PredictedInputsPerSecond:F0} inputs/s (--batched)" }
                : batched with { Why = $"a full batch costs less than one single input ({batched.PredictedSeconds:F2} s against {single.PredictedSeconds:F2} s)" },
        };
        return chosen with { CompileSeconds = clock.Elapsed.TotalSeconds };
    }

    private static CompilePlan Plan(SequentialNetwork network, Packing packing, CancellationToken cancellation)
    {
        bool batched = packing == Packing.Batched;
        var literal = batched ? ParameterSelector.Select(network.Depth, 1 << 12) : EncryptedNetworkInference.DefaultParameters(network);
        var parameters = CkksParameters.Create(literal);
        var inference = new EncryptedNetworkInference(network, parameters.Slots);
        if (!batched && !inference.SupportsSingleInput) throw new ArgumentException($"Single-input packing: {inference.SingleInputProblem}");
        var rotations = batched ? [] : inference.RequiredRotations;
        var costs = Measure(parameters, cancellation);
        int top = parameters.MaxLevel;

        var layers = new List<LayerPlan>();
        SlotLayout? layout = batched ? null : inference.InputLayout;
        int level = top;
        long widest = network.InputShape.Size;
        foreach (var (layer, index) in network.Layers.Select((l, i) => (l, i)))
        {
            cancellation.ThrowIfCancellationRequested();
            double limbs = (level + 1.0) / (top + 1); // a product's cost is linear in the limbs left
            long mults = 0, scalars = 0, rots = 0;
            if (batched)
            {
                int values = layer.OutputShape.Size;
                switch (layer)
                {
                    case LinearLayer linear:
                        for (int o = 0; o < values; o++) scalars += linear.Row(o).LongCount();
                        break;
                    case SquareActivation: mults = values; break;
                    case ChebyshevActivation c: mults = (long)values * PolynomialEvaluator.MultiplicationsOf(c.Series.Degree); scalars = (long)values * (c.Series.Degree + 1); break;
                    case PolynomialActivation p: mults = (long)values * PolynomialEvaluator.MultiplicationsOf(p.Degree); scalars = (long)values * (p.Degree + 1); break;
                }
                widest = Math.Max(widest, layer.InputShape.Size + layer.OutputShape.Size);
            }
            else
            {
                var step = layer.PlanSingle(layout!, parameters.Slots);
                layout = step.Output;
                rots = step.RotationCount.Hoisted + step.RotationCount.Plain;
                switch (layer)
                {
                    case LinearLayer: scalars = step.PlaintextProducts; break; // one plaintext product per diagonal
                    case SquareActivation: mults = 1; break;
                    case ChebyshevActivation c: mults = PolynomialEvaluator.MultiplicationsOf(c.Series.Degree); scalars = c.Series.Degree + 1; break;
                    case PolynomialActivation p: mults = PolynomialEvaluator.MultiplicationsOf(p.Degree); scalars = p.Degree + 1; break;
                }
            }
            double seconds = limbs * (mults * costs.Multiply + scalars * (batched ? costs.ScalarAdd : costs.PlainMultiply) + rots * costs.Rotate);
            layers.Add(new LayerPlan(index, layer.ToString(), layer.Depth, level, mults, scalars, rots, seconds));
            level -= layer.Depth;
        }
        long ciphertextBytes = 2L * parameters.Ring.N * (top + 1) * sizeof(ulong);
        long memory = (batched ? widest : 4 + Math.Max(8, (int)Math.Ceiling(Math.Sqrt(Math.Max(1, rotations.Count))))) * ciphertextBytes
            + costs.BaseKeyBytes + rotations.Count * costs.GaloisKeyBytes;
        return new CompilePlan(network, packing, literal, network.Depth, rotations, costs.BaseKeyBytes + rotations.Count * costs.GaloisKeyBytes,
            batched ? parameters.Slots : 1, layers.Sum(l => l.PredictedSeconds), memory, layers, 0, "");
    }

    private sealed record Costs(double ScalarAdd, double PlainMultiply, double Multiply, double Rotate, long BaseKeyBytes, long GaloisKeyBytes);

    /// <summary>Medians of this machine's timings of each operation at the top level of <paramref name="parameters"/>, and the key sizes.</summary>
    private static Costs Measure(CkksParameters parameters, CancellationToken cancellation)
    {
        using var context = CkksContext.Create(parameters, [1]);
        var ev = context.Evaluator;
        var values = Enumerable.Range(0, parameters.Slots).Select(i => Math.Sin(i)).ToArray();
        var x = context.Encrypt(values);
        var plain = context.Encoder.Encode(values);
        var accumulator = ev.WeightedSumAccumulator(x.Level, x.Scale);
        double Median(Action op, int reps)
        {
            op();
            var times = new double[reps];
            for (int i = 0; i < reps; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                long start = Stopwatch.GetTimestamp();
                op();
                times[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            Array.Sort(times);
            return times[reps / 2];
        }
        double scalar = Median(() => { for (int i = 0; i < 16; i++) ev.AddWeighted(x, 0.5, accumulator); }, 5) / 16;
        double plainMultiply = Median(() => ev.MultiplyPlain(x, plain), 5);
        double multiply = Median(() => ev.MultiplyRelinearizeRescale(x, x), 5);
        double rotate = Median(() => ev.Rotate(x, 1), 5);
        long withGalois = context.SavePublic().LongLength;
        long baseKeys = CkksContext.FromKeys(parameters, context.PublicKey, context.RelinearizationKey).SavePublic().LongLength;
        return new Costs(scalar, plainMultiply, multiply, rotate, baseKeys, withGalois - baseKeys);
    }
}
