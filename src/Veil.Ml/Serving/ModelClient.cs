using Veil.Ckks;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Ml.Serving;

/// <summary>
/// The client's side of a deployed model, from its manifest alone (no weights): keys of the right parameters and
/// rotations, encryption in the model's packing, decryption of the answers. The secret key never leaves it.
/// </summary>
public sealed class ModelClient : IDisposable
{
    private readonly Networks.SlotLayout? _input, _output;

    /// <summary>The manifest the keys were made for.</summary>
    public InferenceManifest Manifest { get; }
    /// <summary>The key owner's context.</summary>
    public CkksContext Context { get; }

    /// <summary>Fresh keys for a model: a relinearization key, and the single-input rotations unless <paramref name="batchedOnly"/> (smaller upload).</summary>
    /// <exception cref="VeilFormatException">The manifest's parameters are malformed or below 128-bit security.</exception>
    /// <exception cref="FormatException">The manifest's layouts are invalid.</exception>
    public ModelClient(InferenceManifest manifest, bool batchedOnly = false, ExecutionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        // A manifest comes from a service, so it is checked like any bytes from outside: FormatException for anything wrong.
        if (manifest.Name is null || manifest.Parameters is null || manifest.Rotations is null || manifest.Layers is null)
            throw new FormatException("The manifest lacks its name, parameters, layers or rotations.");
        Manifest = manifest;
        var parameters = manifest.LoadParameters();
        if (manifest.Rotations.Count > SerializationLimits.DefaultMaxGaloisKeys || manifest.Rotations.Distinct().Count() != manifest.Rotations.Count
            || manifest.Rotations.Any(r => r == 0 || Math.Abs(r) >= parameters.Slots))
            throw new FormatException($"The manifest asks for {manifest.Rotations.Count} rotations: at most {SerializationLimits.DefaultMaxGaloisKeys} distinct non-zero steps within the {parameters.Slots} slots.");
        if (manifest.OutputLabels is { } labels && (labels.Count != manifest.Outputs || labels.Any(l => !double.IsFinite(l))))
            throw new FormatException($"The manifest has {labels.Count} output labels for {manifest.Outputs} outputs.");
        if (manifest.Inputs < 1 || manifest.Outputs < 1 || manifest.Inputs > Networks.TensorShape.MaxSize || manifest.Outputs > Networks.TensorShape.MaxSize)
            throw new FormatException($"The manifest declares {manifest.Inputs} inputs and {manifest.Outputs} outputs.");
        bool single = manifest.SingleInput && !batchedOnly;
        if (single)
        {
            _input = (manifest.InputLayout ?? throw new FormatException("A single-input manifest without an input layout.")).ToLayout(parameters.Slots);
            _output = (manifest.OutputLayout ?? throw new FormatException("A single-input manifest without an output layout.")).ToLayout(parameters.Slots);
            if (_input.Length != manifest.Inputs || _output.Length != manifest.Outputs) throw new FormatException("The manifest's layouts disagree with its shapes.");
        }
        Context = CkksContext.Create(parameters, single ? manifest.Rotations : [], options: options);
    }

    /// <summary>Whether inputs can go one per ciphertext.</summary>
    public bool SingleInput => _input is not null;

    /// <summary>The public context to register with the service (public, relinearization and Galois keys; no secret).</summary>
    public byte[] PublicContext() => Context.SavePublic();

    /// <summary>One input in one ciphertext (under the secret key: seeded, half size), in the model's input layout.</summary>
    /// <exception cref="InvalidOperationException">Keys made batched-only, or a model without the single-input packing.</exception>
    /// <exception cref="ArgumentException">Wrong length or a non-finite value.</exception>
    public byte[] EncryptSingle(double[] input)
    {
        var layout = _input ?? throw new InvalidOperationException("These keys are for batched inputs only.");
        Check(input);
        return RlweSerializer.Save(Context.EncryptSymmetric(layout.Pack(input, Context.Parameters.Slots)));
    }

    /// <summary>The outputs of one input, from the service's answer.</summary>
    /// <exception cref="VeilFormatException">A malformed answer or one under other parameters.</exception>
    public double[] DecryptSingle(ReadOnlySpan<byte> answer)
    {
        var layout = _output ?? throw new InvalidOperationException("These keys are for batched inputs only.");
        var c = RlweSerializer.LoadCiphertext(answer, Context.Parameters.Ring);
        try { return layout.Unpack(Context.Decrypt(c)); }
        catch (ArgumentException e) { throw new VeilFormatException("answer", $"The answer does not decrypt under these keys: {e.Message}", e); }
    }

    /// <summary>Up to <see cref="CkksParameters.Slots"/> inputs as a batch: ciphertext i holds value i of every input, input b in slot b.</summary>
    /// <exception cref="ArgumentException">No inputs, too many, or one of the wrong length.</exception>
    public byte[] EncryptBatch(double[][] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        int slots = Context.Parameters.Slots;
        if (inputs.Length == 0 || inputs.Length > slots) throw new ArgumentException($"A batch holds 1 … {slots} inputs.", nameof(inputs));
        foreach (var x in inputs) Check(x);
        var column = new double[inputs.Length];
        var cts = new Ciphertext[Manifest.Inputs];
        for (int i = 0; i < cts.Length; i++)
        {
            for (int b = 0; b < inputs.Length; b++) column[b] = inputs[b][i];
            cts[i] = Context.EncryptSymmetric(column); // seeded: half the upload of a public-key ciphertext
        }
        return CiphertextBatch.Save(Context.Parameters.Ring, cts);
    }

    /// <summary>The outputs of each of the <paramref name="count"/> inputs of a batch ([input][output]).</summary>
    /// <exception cref="VeilFormatException">A malformed answer, or one with the wrong number of outputs.</exception>
    public double[][] DecryptBatch(ReadOnlySpan<byte> answer, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Context.Parameters.Slots);
        var cts = CiphertextBatch.Load(answer, Context.Parameters.Ring, Manifest.Outputs);
        if (cts.Count != Manifest.Outputs) throw new VeilFormatException("count", $"The answer has {cts.Count} ciphertexts; the model has {Manifest.Outputs} outputs.");
        double[][] values;
        try { values = [.. cts.Select(c => Context.Decrypt(c, 0, count))]; }
        catch (ArgumentException e) { throw new VeilFormatException("answer", $"The answer does not decrypt under these keys: {e.Message}", e); }
        return [.. Enumerable.Range(0, count).Select(b => values.Select(v => v[b]).ToArray())];
    }

    private void Check(double[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Length != Manifest.Inputs) throw new ArgumentException($"Model '{Manifest.Name}' reads {Manifest.Inputs} values; got {input.Length}.", nameof(input));
        if (input.Any(v => !double.IsFinite(v))) throw new ArgumentException("An input value is not finite.", nameof(input));
    }

    /// <inheritdoc/>
    public void Dispose() => Context.Dispose();
}
