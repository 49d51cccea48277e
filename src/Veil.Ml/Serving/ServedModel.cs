using System.Security.Cryptography;
using Veil.Ckks;
using Veil.Ckks.Serialization;
using Veil.Ml.Encrypted;
using Veil.Ml.Networks;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Ml.Serving;

/// <summary>A request a service must refuse, with the part of it that is wrong (for a 4xx answer).</summary>
public sealed class ServingRequestException(string field, string message) : Exception(message)
{
    /// <summary>What is wrong: "keys.parameters", "keys.rotations", "ciphertext.level", "batch.count" …</summary>
    public string Field { get; } = field;
}

/// <summary>
/// What a client must know to use a deployed model: its shapes, the CKKS parameters its keys must use, the packings it
/// accepts and the rotations the single-input one needs. The service publishes it; the client makes its keys from it.
/// </summary>
/// <param name="Name">The model's name.</param>
/// <param name="Digest">SHA-256 of the saved network (hex): the version a client checks it talks to.</param>
/// <param name="Inputs">Values per input.</param>
/// <param name="Outputs">Values per output.</param>
/// <param name="Depth">Levels the network consumes.</param>
/// <param name="Layers">One line per layer.</param>
/// <param name="Parameters">The CKKS parameters (a Veil object, base64).</param>
/// <param name="LogN">log2 N of those parameters.</param>
/// <param name="Slots">Slots per ciphertext: the largest batch.</param>
/// <param name="SecurityBits">The security level the parameters meet.</param>
/// <param name="SingleInput">Whether one input in one ciphertext is accepted (else batched only).</param>
/// <param name="Rotations">The rotation steps the single-input packing needs (its Galois keys).</param>
/// <param name="InputLayout">How one input is packed in the single-input mode (null without it).</param>
/// <param name="OutputLayout">How the outputs come back in the single-input mode (null without it).</param>
/// <param name="OutputLabels">A class label per output, for KNN references (<see cref="KnnReferences"/>); null otherwise.</param>
public sealed record InferenceManifest(string Name, string Digest, int Inputs, int Outputs, int Depth, IReadOnlyList<string> Layers,
    string Parameters, int LogN, int Slots, int SecurityBits, bool SingleInput, IReadOnlyList<int> Rotations,
    LayoutSpec? InputLayout, LayoutSpec? OutputLayout, IReadOnlyList<double>? OutputLabels = null)
{
    /// <summary>Loads the parameters through the hardened loader (128-bit minimum).</summary>
    /// <exception cref="VeilFormatException">The parameters are malformed or below 128-bit security.</exception>
    public CkksParameters LoadParameters()
    {
        byte[] bytes;
        try { bytes = Convert.FromBase64String(Parameters); }
        catch (FormatException) { throw new VeilFormatException("parameters", "The manifest's parameters are not base64."); }
        return CkksSerializer.LoadParameters(bytes);
    }
}

/// <summary>A slot layout as data (the client packs and unpacks with it; it holds no weights).</summary>
/// <param name="Kind">"prefix", "periodic" or "im2col".</param>
/// <param name="Length">Values laid out.</param>
/// <param name="Period">The period of a periodic layout.</param>
/// <param name="Channels">Input channels (im2col).</param>
/// <param name="Height">Input height (im2col).</param>
/// <param name="Width">Input width (im2col).</param>
/// <param name="Kernel">Kernel side (im2col).</param>
/// <param name="Stride">Stride (im2col).</param>
/// <param name="Padding">Zero padding on each side (im2col).</param>
public sealed record LayoutSpec(string Kind, int Length, int Period = 0, int Channels = 0, int Height = 0, int Width = 0, int Kernel = 0, int Stride = 0, int Padding = 0)
{
    /// <summary>The spec of a layout (null for null).</summary>
    /// <exception cref="ArgumentException">A layout kind without a spec.</exception>
    public static LayoutSpec? From(SlotLayout? layout) => layout switch
    {
        null => null,
        PrefixLayout p => new LayoutSpec("prefix", p.Length),
        PeriodicLayout p => new LayoutSpec("periodic", p.Length, p.Period),
        Im2ColLayout c => new LayoutSpec("im2col", c.Length, 0, c.Input.Channels, c.Input.Height, c.Input.Width, c.Kernel, c.Stride, c.Padding),
        _ => throw new ArgumentException($"No spec for layout {layout.GetType().Name}.", nameof(layout)),
    };

    /// <summary>The layout, checked against <paramref name="slots"/>.</summary>
    /// <exception cref="FormatException">An unknown kind or values out of range.</exception>
    public SlotLayout ToLayout(int slots)
    {
        if (Kind == "im2col" && (Channels < 1 || Kernel < 1 || Kernel > Conv2D.MaxKernel || Stride < 1 || Stride > Kernel || Padding < 0 || Padding >= Kernel
            || Height + 2 * Padding < Kernel || Width + 2 * Padding < Kernel || Height > TensorShape.MaxSide || Width > TensorShape.MaxSide || Channels > TensorShape.MaxSide
            || (long)Channels * Kernel * Kernel * ((Height + 2L * Padding - Kernel) / Stride + 1) * ((Width + 2L * Padding - Kernel) / Stride + 1) > slots))
            throw new FormatException($"Layout {this}: an im2col layout needs channels, kernel (at most {Conv2D.MaxKernel}) and stride (at most the kernel) of at least 1, a kernel within the padded image, and its unrolled width within {slots} slots.");
        try
        {
            SlotLayout layout = Kind switch
            {
                "prefix" => new PrefixLayout(Length),
                "periodic" => new PeriodicLayout(Period, Length),
                "im2col" => new Im2ColLayout(new TensorShape(Channels, Height, Width), Kernel, Stride, Padding),
                _ => throw new FormatException($"Unknown layout kind '{Kind}'."),
            };
            if (Length < 1 || Length > slots || layout.Length != Length || Kind == "periodic" && (Period < Length || Period > slots || slots % Period != 0)
                || layout is Im2ColLayout c && c.Width > slots)
                throw new FormatException($"Layout {this} does not fit {slots} slots.");
            return layout;
        }
        catch (ArgumentException e) { throw new FormatException($"Layout {this} is invalid: {e.Message}", e); }
    }
}

/// <summary>
/// A network deployed for encrypted inference: the plaintext weights, their CKKS parameters and both packings. The
/// service calls it with a client's public context and the bytes the client sent; it checks them and answers bytes.
/// </summary>
public sealed class ServedModel
{
    private readonly EncryptedNetworkInference _inference;

    /// <summary>The model's name.</summary>
    public string Name { get; }
    /// <summary>The network.</summary>
    public SequentialNetwork Network { get; }
    /// <summary>The parameters a client's keys must use.</summary>
    public CkksParameters Parameters { get; }
    /// <summary>What the client needs to know.</summary>
    public InferenceManifest Manifest { get; }

    /// <summary>A model from a saved network (hardened loader), with the smallest 128-bit parameters its packings fit.</summary>
    /// <exception cref="VeilFormatException">Malformed network bytes.</exception>
    /// <exception cref="ArgumentException">A bad name, or a network too deep or too wide for any supported ring.</exception>
    /// <param name="name">The model's name.</param>
    /// <param name="networkBytes">A saved <see cref="SequentialNetwork"/>.</param>
    /// <param name="limits">Loader limits.</param>
    /// <param name="outputLabels">A class label per output (KNN references), published in the manifest; null for other models.</param>
    public static ServedModel Load(string name, ReadOnlySpan<byte> networkBytes, SerializationLimits? limits = null, IReadOnlyList<double>? outputLabels = null)
    {
        var network = SequentialNetwork.Load(networkBytes, limits);
        if (outputLabels is not null && (outputLabels.Count != network.OutputShape.Size || outputLabels.Any(l => !double.IsFinite(l))))
            throw new ArgumentException($"One finite label per output: the network has {network.OutputShape.Size} outputs, {outputLabels.Count} labels were given.", nameof(outputLabels));
        return new ServedModel(name, network, Convert.ToHexStringLower(SHA256.HashData(networkBytes)), outputLabels);
    }

    private ServedModel(string name, SequentialNetwork network, string digest, IReadOnlyList<double>? outputLabels)
    {
        CheckName(name);
        Name = name;
        Network = network;
        CkksParametersLiteral literal;
        try { literal = EncryptedNetworkInference.DefaultParameters(network); }
        catch (ArgumentException)
        {
            // The single-input packing fits no ring: batched only, on the smallest ring of the network's depth.
            literal = ParameterSelector.Select(network.Depth, 1);
        }
        Parameters = CkksParameters.Create(literal);
        _inference = new EncryptedNetworkInference(network, Parameters.Slots);
        var rotations = _inference.SupportsSingleInput ? _inference.RequiredRotations : [];
        Manifest = new InferenceManifest(name, digest, network.InputShape.Size, network.OutputShape.Size, network.Depth,
            [.. network.Layers.Select(l => l.ToString() ?? "")], Convert.ToBase64String(CkksSerializer.Save(Parameters)), Parameters.LogN,
            Parameters.Slots, (int)Parameters.Ring.Security, _inference.SupportsSingleInput, rotations,
            LayoutSpec.From(_inference.InputLayout), LayoutSpec.From(_inference.OutputLayout), outputLabels is null ? null : [.. outputLabels]);
    }

    /// <summary>Model names: 1 … 64 letters, digits, '-', '_' and '.', not starting with '.'.</summary>
    /// <exception cref="ArgumentException">The name breaks that rule.</exception>
    public static void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || name[0] == '.' || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new ArgumentException("A model name is 1 … 64 ASCII letters, digits, '-', '_' or '.', not starting with '.'.", nameof(name));
    }

    /// <summary>
    /// Loads a client's public context for this model: its parameters must be this model's, with a relinearization key
    /// and every rotation the single-input packing needs; a private context (one with a secret key) is refused.
    /// </summary>
    /// <exception cref="ServingRequestException">What is wrong with the keys.</exception>
    public CkksContext LoadSession(ReadOnlySpan<byte> publicContext, SerializationLimits? limits = null, ExecutionOptions? options = null)
    {
        var context = LoadPublicContext(publicContext, limits, options);
        if (!context.Parameters.Ring.SameRingAs(Parameters.Ring) || context.Parameters.DefaultScale != Parameters.DefaultScale)
            throw new ServingRequestException("keys.parameters", $"The keys are for {context.Parameters}; model '{Name}' needs {Parameters} (see its manifest).");
        if (context.RelinearizationKey is null && Network.Layers.Any(l => l is SquareActivation or PolynomialActivation))
            throw new ServingRequestException("keys.relinearization", "The keys have no relinearization key; the network's activations need one.");
        // Keys with every rotation the single-input packing needs, or with none (a batched-only session, a far smaller upload).
        var missing = MissingRotations(context);
        if (missing.Length > 0 && missing.Length < Manifest.Rotations.Count)
            throw new ServingRequestException("keys.rotations", $"The keys lack the Galois keys of rotations {string.Join(", ", missing.Take(8))}{(missing.Length > 8 ? " …" : "")}; the single-input packing needs all {Manifest.Rotations.Count} (or none, for batched requests only).");
        return context;
    }

    /// <summary>
    /// A client's public context through the hardened loader (128-bit minimum); a context carrying a secret key is
    /// refused. The one door for keys from clients, for inference and training sessions alike.
    /// </summary>
    /// <exception cref="ServingRequestException">Malformed keys or a secret key.</exception>
    internal static CkksContext LoadPublicContext(ReadOnlySpan<byte> publicContext, SerializationLimits? limits, ExecutionOptions? options)
    {
        CkksContext context;
        try { context = CkksContext.Load(publicContext, limits, SecurityLevel.Bits128, options); }
        catch (VeilFormatException e) { throw new ServingRequestException("keys", $"The keys could not be loaded: {e.Message}"); }
        if (context.IsPublic) return context;
        context.Dispose();
        throw new ServingRequestException("keys.secret", "These keys include a secret key; send the public context only (CkksContext.SavePublic).");
    }

    private int[] MissingRotations(CkksContext context) =>
        [.. Manifest.Rotations.Where(r => context.GaloisKeys is null || !context.GaloisKeys.Contains(GaloisElements.ForRotation(r, Parameters.Ring.N)))];

    /// <summary>One input in one ciphertext (bytes of a Veil ciphertext) to its outputs, as ciphertext bytes.</summary>
    /// <exception cref="ServingRequestException">No single-input packing, or a ciphertext that is malformed, of another key, or too low.</exception>
    public byte[] PredictSingle(CkksContext session, ReadOnlySpan<byte> ciphertext, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (!_inference.SupportsSingleInput) throw new ServingRequestException("packing", $"Model '{Name}' accepts batched inputs only: {_inference.SingleInputProblem}");
        if (MissingRotations(session).Length > 0)
            throw new ServingRequestException("keys.rotations", "This session's keys have no rotation keys: it serves batched requests only (register keys made with the manifest's rotations for single inputs).");
        Ciphertext input;
        try { input = RlweSerializer.LoadCiphertext(ciphertext, Parameters.Ring, limits); }
        catch (VeilFormatException e) { throw new ServingRequestException("ciphertext", $"The ciphertext could not be loaded: {e.Message}"); }
        Check(session, input);
        return RlweSerializer.Save(_inference.EvaluateSingle(session, input));
    }

    /// <summary>
    /// A batch — one ciphertext per input value, input b in slot b (a <see cref="CiphertextBatch"/>) — to one ciphertext
    /// per output value, as a batch.
    /// </summary>
    /// <exception cref="ServingRequestException">A malformed batch, the wrong count, a ciphertext of another key or too low.</exception>
    /// <exception cref="OperationCanceledException">The session's cancellation token was signalled.</exception>
    public byte[] PredictBatch(CkksContext session, ReadOnlySpan<byte> batch, IProgress<double>? progress = null, SerializationLimits? limits = null) =>
        CiphertextBatch.Save(Parameters.Ring, _inference.EvaluateBatch(session, LoadBatch(session, batch, limits), progress));

    /// <summary>Every check <see cref="PredictBatch"/> makes, without evaluating (for a batch queued as a job).</summary>
    /// <exception cref="ServingRequestException">What is wrong with the batch.</exception>
    public void CheckBatch(CkksContext session, ReadOnlySpan<byte> batch, SerializationLimits? limits = null) => _ = LoadBatch(session, batch, limits);

    private IReadOnlyList<Ciphertext> LoadBatch(CkksContext session, ReadOnlySpan<byte> batch, SerializationLimits? limits)
    {
        ArgumentNullException.ThrowIfNull(session);
        IReadOnlyList<Ciphertext> inputs;
        try { inputs = CiphertextBatch.Load(batch, Parameters.Ring, Network.InputShape.Size, limits); }
        catch (VeilFormatException e) { throw new ServingRequestException("batch", $"The batch could not be loaded: {e.Message}"); }
        if (inputs.Count != Network.InputShape.Size)
            throw new ServingRequestException("batch.count", $"Model '{Name}' reads {Network.InputShape.Size} values per input: send that many ciphertexts (value i of every input in ciphertext i); got {inputs.Count}.");
        foreach (var c in inputs) Check(session, c);
        if (inputs.Any(c => c.Level != inputs[0].Level || c.Scale != inputs[0].Scale))
            throw new ServingRequestException("batch.level", "The batch's ciphertexts must share one level and scale.");
        return inputs;
    }

    private void Check(CkksContext session, Ciphertext input)
    {
        if (!session.Parameters.Ring.SameRingAs(Parameters.Ring)) throw new ServingRequestException("session", $"This session's keys are not for model '{Name}'.");
        // An unbound ciphertext is refused too: only a key id shows that the answer can go back to this session's owner.
        if (input.KeyId != session.PublicKey.Id)
            throw new ServingRequestException("ciphertext.key", input.KeyId.IsNone ? "The ciphertext carries no key id; encrypt it with this session's public context."
                : "The ciphertext is encrypted under another key than this session's.");
        if (!input.IsNttForm) throw new ServingRequestException("ciphertext.form", "The ciphertext must be in NTT form, as encryption leaves it.");
        if (input.Size != 2) throw new ServingRequestException("ciphertext.size", $"A fresh ciphertext has 2 polynomials; this one has {input.Size}.");
        if (input.Level < Network.Depth) throw new ServingRequestException("ciphertext.level", $"Model '{Name}' needs {Network.Depth} levels; the ciphertext has {input.Level}.");
        double expected = Parameters.DefaultScale;
        if (!(Math.Abs(input.Scale / expected - 1) < 1e-9)) throw new ServingRequestException("ciphertext.scale", $"The ciphertext's scale 2^{Math.Log2(input.Scale):F2} is not the parameters' 2^{Math.Log2(expected):F2}.");
    }
}
