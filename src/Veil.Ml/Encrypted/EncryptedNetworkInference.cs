using Veil.Ckks;
using Veil.Ml.Networks;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// Inference of any <see cref="SequentialNetwork"/> on encrypted inputs, in two packings: batched (CryptoNets: one
/// ciphertext per input value, one input per slot, no rotations) and single-input (one ciphertext; each layer's
/// <see cref="SingleInputStep"/> planned for the layout the one before leaves).
/// </summary>
/// <remarks>
/// The client encrypts and decrypts; the server holds the plaintext weights and a public context, with Galois keys
/// for exactly <see cref="RequiredRotations"/> in the single-input mode. The single-input packing starts as the first
/// layer reads best: a convolution's <see cref="Im2ColLayout"/>; for networks of dense layers and activations only, a
/// <see cref="PeriodicLayout"/> with the period of the widest layer (the baby-step giant-step product); otherwise the
/// input in the first slots (rectangular diagonals and folds).
/// </remarks>
public sealed class EncryptedNetworkInference
{
    private readonly int _slots;
    private readonly SingleInputStep[]? _steps;
    private readonly string? _singleProblem;

    /// <summary>The network.</summary>
    public SequentialNetwork Network { get; }

    /// <summary>Levels either packing consumes.</summary>
    public int Depth => Network.Depth;

    /// <summary>Prepares both packings for parameters with <paramref name="slots"/> slots (the single-input one only if it fits).</summary>
    public EncryptedNetworkInference(SequentialNetwork network, int slots)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        Network = network;
        _slots = slots;
        try
        {
            var layout = InitialLayout(network, slots);
            InputLayout = layout;
            var steps = new SingleInputStep[network.Layers.Count];
            for (int i = 0; i < steps.Length; i++)
            {
                steps[i] = network.Layers[i].PlanSingle(layout, slots);
                layout = steps[i].Output;
            }
            _steps = steps;
            OutputLayout = layout;
        }
        catch (ArgumentException e)
        {
            _singleProblem = e.Message;
        }
    }

    private static SlotLayout InitialLayout(SequentialNetwork network, int slots)
    {
        var first = network.Layers[0];
        if (first is Conv2D conv && conv.Im2ColSlots <= slots) return conv.Im2Col;
        if (network.Layers.All(l => l is Dense or Flatten or SquareActivation or PolynomialActivation or ChebyshevActivation))
        {
            int widest = network.Layers.Max(l => Math.Max(l.InputShape.Size, l.OutputShape.Size));
            int period = EncryptedVector.PeriodFor(widest);
            if (period <= slots && slots % period == 0) return new PeriodicLayout(period, network.InputShape.Size);
        }
        return new PrefixLayout(network.InputShape.Size);
    }

    /// <summary>Whether the single-input packing fits these slots (else only the batched one is available).</summary>
    public bool SupportsSingleInput => _steps is not null;

    /// <summary>Why the single-input packing does not fit, or null.</summary>
    public string? SingleInputProblem => _singleProblem;

    /// <summary>The layout the client packs a single input in (null without single-input support).</summary>
    public SlotLayout? InputLayout { get; }

    /// <summary>The layout the result comes back in (null without single-input support).</summary>
    public SlotLayout? OutputLayout { get; }

    private SingleInputStep[] Steps => _steps ?? throw new InvalidOperationException($"The single-input packing does not fit {_slots} slots: {_singleProblem}");

    /// <summary>Rotation steps the single-input packing needs (the batched one needs none).</summary>
    /// <exception cref="InvalidOperationException">The single-input packing does not fit the slots.</exception>
    public IReadOnlyList<int> RequiredRotations => [.. Steps.SelectMany(s => s.RequiredRotations).Distinct().Order()];

    /// <summary>Rotations per single-input evaluation: hoisted baby steps and plain ones (giant steps and folds).</summary>
    public (int Hoisted, int Plain) RotationsPerInput => (Steps.Sum(s => s.RotationCount.Hoisted), Steps.Sum(s => s.RotationCount.Plain));

    /// <summary>
    /// The smallest 128-bit parameters of the network's depth whose slots hold its single-input packing (doubling the
    /// slots from <paramref name="minimumSlots"/> until the packing fits, up to 2^15 slots).
    /// </summary>
    /// <exception cref="ArgumentException">The packing fits no ring up to 2^16.</exception>
    public static CkksParametersLiteral DefaultParameters(SequentialNetwork network, int minimumSlots = 1)
    {
        ArgumentNullException.ThrowIfNull(network);
        for (int slots = Math.Max(1, minimumSlots); slots <= 1 << 15; slots *= 2)
        {
            var literal = ParameterSelector.Select(network.Depth, slots);
            if (new EncryptedNetworkInference(network, 1 << (literal.LogN - 1)).SupportsSingleInput) return literal;
        }
        throw new ArgumentException("The single-input packing of this network fits no ring up to N = 2^16.", nameof(network));
    }

    private void CheckContext(CkksContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Parameters.Slots != _slots) throw new ArgumentException($"This inference was planned for {_slots} slots; the context has {context.Parameters.Slots}.", nameof(context));
    }

    private void CheckLevel(Ciphertext x)
    {
        if (x.Level < Depth) throw new InvalidOperationException($"Inference needs {Depth} levels; the ciphertext has {x.Level}.");
    }

    // ------------------------------------------------------------------ single input

    /// <summary>The slot vector the client encrypts for one input.</summary>
    /// <exception cref="ArgumentException">Wrong length or a non-finite value.</exception>
    public double[] PackSingle(double[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (InputLayout is null) throw new InvalidOperationException($"The single-input packing does not fit {_slots} slots: {_singleProblem}");
        return InputLayout.Pack(input, _slots);
    }

    /// <summary>Client: one input in one ciphertext.</summary>
    public Ciphertext EncryptSingle(CkksContext client, double[] input)
    {
        CheckContext(client);
        return client.Encrypt(PackSingle(input));
    }

    /// <summary>Server: the outputs of one input, in <see cref="OutputLayout"/>.</summary>
    /// <exception cref="InvalidOperationException">Too few levels, a missing rotation key, or no single-input support.</exception>
    public Ciphertext EvaluateSingle(CkksContext server, Ciphertext input)
    {
        CheckContext(server);
        ArgumentNullException.ThrowIfNull(input);
        var steps = Steps;
        CheckLevel(input);
        var x = input;
        foreach (var step in steps) x = step.Apply(server, x);
        return x;
    }

    /// <summary>Client: the outputs of a single input, decrypted.</summary>
    public double[] DecryptSingle(CkksContext client, Ciphertext output)
    {
        CheckContext(client);
        ArgumentNullException.ThrowIfNull(output);
        _ = Steps;
        return OutputLayout!.Unpack(client.Decrypt(output));
    }

    // ------------------------------------------------------------------ batched

    /// <summary>Client: one ciphertext per input value, input b in slot b.</summary>
    /// <exception cref="ArgumentException">No inputs, more than the slots, or an input of the wrong size.</exception>
    public IReadOnlyList<Ciphertext> EncryptBatch(CkksContext client, double[][] inputs)
    {
        CheckContext(client);
        ArgumentNullException.ThrowIfNull(inputs);
        int size = Network.InputShape.Size;
        if (inputs.Length == 0 || inputs.Length > _slots) throw new ArgumentException($"A batch holds 1 … {_slots} inputs.", nameof(inputs));
        if (inputs.Any(x => x is null || x.Length != size)) throw new ArgumentException($"Every input has {size} values.", nameof(inputs));
        var column = new double[inputs.Length];
        var result = new Ciphertext[size];
        for (int i = 0; i < size; i++)
        {
            for (int b = 0; b < inputs.Length; b++) column[b] = inputs[b][i];
            result[i] = client.Encrypt(column);
        }
        return result;
    }

    /// <summary>Server: the outputs, one ciphertext per output value, input b in slot b.</summary>
    /// <param name="server">The server's context (relinearization key for the activations).</param>
    /// <param name="inputs">One ciphertext per input value, all at one level and scale.</param>
    /// <param name="progress">Receives the fraction of layer outputs computed.</param>
    /// <exception cref="ArgumentException">The count differs from the network's input.</exception>
    /// <exception cref="InvalidOperationException">Too few levels.</exception>
    public IReadOnlyList<Ciphertext> EvaluateBatch(CkksContext server, IReadOnlyList<Ciphertext> inputs, IProgress<double>? progress = null)
    {
        CheckContext(server);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != Network.InputShape.Size) throw new ArgumentException($"Expected {Network.InputShape.Size} input ciphertexts; got {inputs.Count}.", nameof(inputs));
        CheckLevel(inputs[0]);
        long total = Network.Layers.Sum(l => (long)l.OutputShape.Size), done = 0;
        IEnumerable<Ciphertext> stream = inputs;
        foreach (var layer in Network.Layers)
        {
            var output = layer.EvaluateBatched(server, stream);
            stream = progress is null ? output : output.Select(c => { progress.Report((double)++done / total); return c; });
        }
        return stream.ToArray();
    }

    /// <summary>Client: the outputs of each input of the batch, decrypted ([input][output]).</summary>
    public double[][] DecryptBatch(CkksContext client, IReadOnlyList<Ciphertext> outputs, int count)
    {
        CheckContext(client);
        ArgumentNullException.ThrowIfNull(outputs);
        if (count < 1 || count > _slots) throw new ArgumentOutOfRangeException(nameof(count), count, $"A batch holds 1 … {_slots} inputs.");
        var values = outputs.Select(client.Decrypt).ToArray();
        return Enumerable.Range(0, count).Select(i => values.Select(v => v[i]).ToArray()).ToArray();
    }
}
