using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Ml.Encrypted;

/// <summary>The gradient-descent models that train on ciphertexts.</summary>
public enum GradientModelKind : byte
{
    /// <summary><see cref="EncryptedLinearRegression"/>.</summary>
    Linear = 1,
    /// <summary><see cref="EncryptedLogisticRegression"/>.</summary>
    Logistic = 2,
}

/// <summary>
/// The data owner's message to the trainer: the encrypted training set and the hyper-parameters to train with. A Veil
/// object of type (Ml, 3) under the owner's parameters.
/// </summary>
/// <param name="Kind">The model.</param>
/// <param name="Options">Gradient-descent settings (iterations, learning rate, sigmoid, Nesterov).</param>
/// <param name="Data">The encrypted, packed training set.</param>
public sealed record TrainingJob(GradientModelKind Kind, GradientDescentOptions Options, EncryptedTrainingSet Data)
{
    /// <summary>The object type.</summary>
    public static ObjectType Type { get; } = ObjectTypes.Register(Schemes.Ml, 3, "TrainingJob");

    private const int MaxIterations = 10_000, MaxSigmoidCoefficients = 64;

    /// <summary>Serializes the job: kind u8 ‖ iterations u32 ‖ learning rate f64 ‖ Nesterov u8 ‖ sigmoid count u8 ‖
    /// coefficients f64 ‖ the training set (a Veil object).</summary>
    public byte[] Save(Compression compression = Compression.None)
    {
        var set = Data.Save(compression);
        var c = Options.SigmoidCoefficients;
        var payload = new byte[1 + 4 + 8 + 1 + 1 + 8 * c.Length + set.Length];
        var w = new PayloadWriter(payload);
        w.WriteByte((byte)Kind);
        w.WriteInt32(Options.Iterations);
        w.WriteDouble(Options.LearningRate);
        w.WriteByte(Options.Nesterov ? (byte)1 : (byte)0);
        w.WriteByte((byte)c.Length);
        foreach (double v in c) w.WriteDouble(v);
        w.WriteBytes(set);
        w.EnsureFull();
        return VeilEnvelope.Pack(Type, Data.Features[0].Parameters.Hash.Span, payload, Compression.None);
    }

    /// <summary>Loads a job made under <paramref name="context"/>'s parameters; every field is checked.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, other parameters, or out-of-range settings.</exception>
    public static TrainingJob Load(CkksContext context, ReadOnlySpan<byte> bytes, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        limits ??= SerializationLimits.Default;
        var body = VeilEnvelope.Unpack(bytes, Type, context.Parameters.Ring.Hash.Span, default, limits, limits.MaxObjectBytes, out _, out _);
        var r = new PayloadReader(body);
        byte kind = r.ReadByte("kind");
        if (kind is not ((byte)GradientModelKind.Linear or (byte)GradientModelKind.Logistic)) throw new VeilFormatException("kind", $"Unknown model kind {kind}.");
        int iterations = r.ReadCount("iterations", 1, MaxIterations);
        double rate = r.ReadFiniteDouble("learningRate");
        if (!(rate > 0)) throw new VeilFormatException("learningRate", $"The learning rate must be positive; got {rate}.");
        byte nesterov = r.ReadByte("nesterov");
        if (nesterov > 1) throw new VeilFormatException("nesterov", $"A flag is 0 or 1; got {nesterov}.");
        int count = r.ReadByte("sigmoidCount");
        if (count < 1 || count > MaxSigmoidCoefficients) throw new VeilFormatException("sigmoidCount", $"1 to {MaxSigmoidCoefficients} coefficients; got {count}.");
        var coefficients = new double[count];
        for (int i = 0; i < count; i++) coefficients[i] = r.ReadFiniteDouble("sigmoid");
        var set = EncryptedTrainingSet.Load(context, body[(body.Length - r.Remaining)..], limits);
        var options = new GradientDescentOptions { Iterations = iterations, LearningRate = rate, Nesterov = nesterov == 1, SigmoidCoefficients = coefficients };
        return new TrainingJob((GradientModelKind)kind, options, set);
    }
}

/// <summary>The trainer's answer: the encrypted weights (intercept in slot 0, feature j in slot j + 1). Type (Ml, 4).</summary>
/// <param name="Weights">The encrypted weight vector, repeated over the row blocks.</param>
/// <param name="FeatureCount">Number of features.</param>
/// <param name="RowWidth">Slots per row block.</param>
public sealed record EncryptedModelWeights(Ciphertext Weights, int FeatureCount, int RowWidth)
{
    /// <summary>The object type.</summary>
    public static ObjectType Type { get; } = ObjectTypes.Register(Schemes.Ml, 4, "EncryptedModelWeights");

    /// <summary>Serializes: features u32 ‖ row width u32 ‖ the ciphertext (a Veil object).</summary>
    public byte[] Save(Compression compression = Compression.None)
    {
        var ct = RlweSerializer.Save(Weights, compression);
        var payload = new byte[8 + ct.Length];
        var w = new PayloadWriter(payload);
        w.WriteInt32(FeatureCount);
        w.WriteInt32(RowWidth);
        w.WriteBytes(ct);
        w.EnsureFull();
        return VeilEnvelope.Pack(Type, Weights.Parameters.Hash.Span, payload, Compression.None);
    }

    /// <summary>Loads weights made under <paramref name="context"/>'s parameters.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, other parameters, or a shape that does not fit the slots.</exception>
    public static EncryptedModelWeights Load(CkksContext context, ReadOnlySpan<byte> bytes, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        limits ??= SerializationLimits.Default;
        var body = VeilEnvelope.Unpack(bytes, Type, context.Parameters.Ring.Hash.Span, default, limits, limits.MaxObjectBytes, out _, out _);
        var r = new PayloadReader(body);
        int slots = context.Parameters.Slots;
        int features = r.ReadCount("featureCount", 1, slots - 1);
        int width = r.ReadCount("rowWidth", 2, slots);
        if (width != EncryptedTrainingSet.WidthFor(features)) throw new VeilFormatException("rowWidth", $"{features} features are packed {EncryptedTrainingSet.WidthFor(features)} slots wide; got {width}.");
        var ct = RlweSerializer.LoadCiphertext(body[8..], context.Parameters.Ring, limits);
        return new EncryptedModelWeights(ct, features, width);
    }
}

/// <summary>
/// What the data owner keeps between encrypting its data and decrypting the trained model: the model kind and the
/// preprocessing fitted on its data (standardization, the logistic max-abs scaling, the linear target scaling). Type
/// (Ml, 5). It summarizes the owner's data (column means and spreads) and stays with the owner.
/// </summary>
public sealed class TrainingOwnerState
{
    /// <summary>The object type.</summary>
    public static ObjectType Type { get; } = ObjectTypes.Register(Schemes.Ml, 5, "TrainingOwnerState");

    private const int MaxFeatures = 1 << 16;

    internal TrainingOwnerState(GradientModelKind kind, Standardizer standardizer, double[]? maxAbs, double targetMean, double targetScale)
    {
        Kind = kind;
        Standardizer = standardizer;
        MaxAbs = maxAbs;
        TargetMean = targetMean;
        TargetScale = targetScale;
    }

    /// <summary>The model.</summary>
    public GradientModelKind Kind { get; }
    internal Standardizer Standardizer { get; }
    internal double[]? MaxAbs { get; }
    internal double TargetMean { get; }
    internal double TargetScale { get; }
    /// <summary>Number of features.</summary>
    public int FeatureCount => Standardizer.Means.Count;

    /// <summary>Serializes: kind u8 ‖ features u32 ‖ means ‖ scales ‖ has max-abs u8 ‖ max-abs ‖ target mean ‖ target scale (f64).</summary>
    public byte[] Save()
    {
        int f = FeatureCount;
        var payload = new byte[1 + 4 + 16 * f + 1 + (MaxAbs is null ? 0 : 8 * f) + 16];
        var w = new PayloadWriter(payload);
        w.WriteByte((byte)Kind);
        w.WriteInt32(f);
        foreach (double v in Standardizer.Means) w.WriteDouble(v);
        foreach (double v in Standardizer.Scales) w.WriteDouble(v);
        w.WriteByte(MaxAbs is null ? (byte)0 : (byte)1);
        if (MaxAbs is not null) foreach (double v in MaxAbs) w.WriteDouble(v);
        w.WriteDouble(TargetMean);
        w.WriteDouble(TargetScale);
        w.EnsureFull();
        return VeilEnvelope.Pack(Type, new byte[VeilHeader.ContextHashSize], payload, Compression.None);
    }

    /// <summary>Loads a saved state; every value is checked.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes or values out of range.</exception>
    public static TrainingOwnerState Load(ReadOnlySpan<byte> bytes)
    {
        var body = VeilEnvelope.Unpack(bytes, Type, new byte[VeilHeader.ContextHashSize], default, null, 64 + 24L * MaxFeatures, out _, out _);
        var r = new PayloadReader(body);
        byte kind = r.ReadByte("kind");
        if (kind is not ((byte)GradientModelKind.Linear or (byte)GradientModelKind.Logistic)) throw new VeilFormatException("kind", $"Unknown model kind {kind}.");
        int f = r.ReadCount("featureCount", 1, MaxFeatures);
        var means = new double[f];
        var scales = new double[f];
        for (int i = 0; i < f; i++) means[i] = r.ReadFiniteDouble("means");
        for (int i = 0; i < f; i++)
        {
            scales[i] = r.ReadFiniteDouble("scales");
            if (!(scales[i] > 0)) throw new VeilFormatException("scales", $"Scale {i} must be positive; got {scales[i]}.");
        }
        byte hasMaxAbs = r.ReadByte("maxAbs");
        if (hasMaxAbs > 1) throw new VeilFormatException("maxAbs", $"A flag is 0 or 1; got {hasMaxAbs}.");
        double[]? maxAbs = null;
        if (hasMaxAbs == 1)
        {
            maxAbs = new double[f];
            for (int i = 0; i < f; i++)
            {
                maxAbs[i] = r.ReadFiniteDouble("maxAbs");
                if (!(maxAbs[i] > 0)) throw new VeilFormatException("maxAbs", $"Scale {i} must be positive; got {maxAbs[i]}.");
            }
        }
        double mean = r.ReadFiniteDouble("targetMean"), scale = r.ReadFiniteDouble("targetScale");
        if (!(scale > 0)) throw new VeilFormatException("targetScale", $"The target scale must be positive; got {scale}.");
        r.EnsureEnd("payloadLength");
        return new TrainingOwnerState((GradientModelKind)kind, Standardizer.FromStatistics(means, scales), maxAbs, mean, scale);
    }
}

/// <summary>
/// Encrypted training split into its two parties' steps, for parties in different processes exchanging files or
/// messages: the owner prepares (<see cref="Prepare"/>), the trainer trains with public keys only (<see cref="Train"/>),
/// the owner finishes (<see cref="Finish"/>). <see cref="EncryptedLinearRegression"/> and
/// <see cref="EncryptedLogisticRegression"/> run the same steps in one process.
/// </summary>
/// <remarks>
/// What each party learns: the trainer, the shape (rows, padded width), the hyper-parameters and ciphertexts; the owner,
/// its own data and the model. The decrypted weights stay with the owner (plain decryption); handing the model to
/// someone else is a release (see <see cref="CkksContext.Release"/>).
/// </remarks>
public static class TwoPartyTraining
{
    /// <summary>The parameters a job of this size needs: the smallest 128-bit ring holding its depth and rows.</summary>
    public static CkksParametersLiteral ParametersFor(int rows, int features, GradientModelKind kind, GradientDescentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int depth = options.Iterations * EncryptedGradientDescent.DepthPerIteration(kind == GradientModelKind.Logistic, options) + 1;
        return ParameterSelector.Select(depth, rows * EncryptedTrainingSet.WidthFor(features));
    }

    /// <summary>The rotations the trainer's keys must cover for this many features.</summary>
    public static IReadOnlyList<int> RequiredRotations(int features, int slots) => EncryptedTrainingSet.RequiredRotations(features, slots);

    /// <summary>
    /// The owner's first step: fits the preprocessing on its rows, prepares features and targets exactly as the
    /// in-process models do, and encrypts them under its context.
    /// </summary>
    /// <exception cref="ArgumentException">Empty, ragged or mismatched data, or more rows or features than the context holds.</exception>
    public static (TrainingJob Job, TrainingOwnerState State) Prepare(CkksContext owner, double[][] x, double[] y, GradientModelKind kind, GradientDescentOptions options)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(options);
        if (x.Length == 0 || x.Length != y.Length) throw new ArgumentException("Features and targets must be non-empty and of equal length.", nameof(y));
        EncryptedGradientModel model = kind == GradientModelKind.Logistic ? new EncryptedLogisticRegression() : new EncryptedLinearRegression();
        model.FitPreprocessing(x);
        var features = model.PrepareFeatures(x);
        var targets = model.PrepareTargetValues(y);
        var (standardizer, maxAbs, mean, scale) = model.ExportPreprocessing();
        var set = EncryptedTrainingSet.Encrypt(owner, features, targets);
        return (new TrainingJob(kind, options, set), new TrainingOwnerState(kind, standardizer, maxAbs, mean, scale));
    }

    /// <summary>The trainer's step: gradient descent on the ciphertexts, with the public context only.</summary>
    /// <exception cref="InvalidOperationException">The parameters have too few levels for the iterations.</exception>
    public static EncryptedModelWeights Train(CkksContext trainer, TrainingJob job)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        ArgumentNullException.ThrowIfNull(job);
        var weights = EncryptedGradientDescent.Fit(trainer, job.Data, job.Options, job.Kind == GradientModelKind.Logistic);
        return new EncryptedModelWeights(weights, job.Data.FeatureCount, job.Data.RowWidth);
    }

    /// <summary>The owner's last step: decrypts the weights (for its own use) and returns the model, ready to predict.</summary>
    /// <exception cref="ArgumentException">The weights were trained for another number of features.</exception>
    public static EncryptedGradientModel Finish(CkksContext owner, TrainingOwnerState state, EncryptedModelWeights weights)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.FeatureCount != state.FeatureCount) throw new ArgumentException($"The weights are for {weights.FeatureCount} features; the data had {state.FeatureCount}.", nameof(weights));
        EncryptedGradientModel model = state.Kind == GradientModelKind.Logistic ? new EncryptedLogisticRegression() : new EncryptedLinearRegression();
        model.ImportState(state.Standardizer, state.MaxAbs, state.TargetMean, state.TargetScale,
            EncryptedGradientDescent.DecryptWeights(owner, weights.Weights, weights.FeatureCount));
        return model;
    }
}
