using System.Collections.Immutable;
using Microsoft.ML;
using Microsoft.ML.Calibrators;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms;
using Veil.Ml.Networks;

namespace Veil.MlNet;

/// <summary>
/// Reads linear models trained with ML.NET into a <see cref="SequentialNetwork"/> of one dense layer, which Veil
/// evaluates on ciphertexts: binary classifiers (<see cref="LinearBinaryModelParameters"/>, alone or calibrated),
/// linear regressions (<see cref="RegressionModelParameters"/> except Poisson) and multiclass classifiers
/// (<see cref="MaximumEntropyModelParameters"/>, <see cref="LinearMulticlassModelParameters"/>). The network's outputs
/// are the raw scores; sigmoid, softmax and argmax are the client's, after decryption.
/// </summary>
/// <remarks>
/// A whole model (a transformer chain) may hold, before its one predictor, affine normalizers of the feature vector
/// (min-max, mean-variance, robust scaling: folded into the dense layer), column copies, concatenations and selections,
/// and transforms of other columns that the predictor does not read (mapping the label to a key, converting its type,
/// normalizing it); after the predictor, key-to-value mapping, copies and selections. Anything else is refused by name.
/// ML.NET's own loader is not hardened against hostile files: import only models you trust; what it yields is still
/// checked here (sizes bounded, every value finite).
/// </remarks>
public static class MlNetImporter
{
    /// <summary>Largest model file accepted (bytes).</summary>
    public const long MaxFileBytes = 256L << 20;

    /// <summary>Reads a model saved by ML.NET (<c>MLContext.Model.Save</c> with its input schema).</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="MlNetImportException">The file is too large or not an ML.NET model, or the model is not one Veil runs: the message says what to change.</exception>
    public static MlNetModel ImportFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"No ML.NET model at '{path}'.", path);
        if (info.Length > MaxFileBytes) throw new MlNetImportException("file", $"The model file has {info.Length} bytes; at most {MaxFileBytes} are read.");
        using var stream = info.OpenRead();
        return Import(stream);
    }

    /// <summary>Reads a model saved by ML.NET from a stream (at most <see cref="MaxFileBytes"/> are read).</summary>
    /// <exception cref="MlNetImportException">Too many bytes, not an ML.NET model, or a model that is not one Veil runs.</exception>
    public static MlNetModel Import(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        // ML.NET's loader needs a seekable stream; copying into memory also enforces the size bound on any stream.
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > MaxFileBytes) throw new MlNetImportException("file", $"The model has more than {MaxFileBytes} bytes.");
            buffer.Write(chunk, 0, read);
        }
        buffer.Position = 0;
        ITransformer model;
        DataViewSchema schema;
        try { model = new MLContext().Model.Load(buffer, out schema); }
        catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidDataException or ArgumentException or NotSupportedException or IOException or InvalidCastException)
        {
            throw new MlNetImportException("file", $"Not a model ML.NET can load: {e.Message}");
        }
        using (model as IDisposable) return Import(model, schema);
    }

    /// <summary>
    /// Reads a trained model: a transformer chain as <c>Fit</c> or <c>MLContext.Model.Load</c> returns it, or a
    /// prediction transformer alone.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="inputSchema">The schema of the data the model reads (from <c>Load</c>, or the training data's); needed
    /// unless <paramref name="model"/> is a prediction transformer alone.</param>
    /// <exception cref="MlNetImportException">The chain holds a transformer Veil does not run, no or several predictors,
    /// a model that is not linear, or values that are not finite or too many.</exception>
    public static MlNetModel Import(ITransformer model, DataViewSchema? inputSchema = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var steps = new List<ITransformer>();
        Flatten(model, steps);
        var predictors = steps.Select((t, i) => (t, i)).Where(p => p.t is ISingleFeaturePredictionTransformer<object>).ToList();
        if (predictors.Count == 0)
            throw new MlNetImportException("model", "The model has no predictor: pass the chain that ends in a trainer's prediction transformer.");
        if (predictors.Count > 1)
            throw new MlNetImportException(Name(predictors[1].t.GetType()), $"The model has {predictors.Count} predictors; Veil runs chains with exactly one.");
        int at = predictors[0].i;
        var predictor = (ISingleFeaturePredictionTransformer<object>)steps[at];
        if (inputSchema is null && steps.Count > 1)
            throw new MlNetImportException("schema", "A chain is read against its input schema: pass the schema MLContext.Model.Load returned (or the training data's).");

        var schemas = new DataViewSchema[steps.Count + 1];
        if (inputSchema is not null)
        {
            schemas[0] = inputSchema;
            for (int i = 0; i < steps.Count; i++)
            {
                try { schemas[i + 1] = steps[i].GetOutputSchema(schemas[i]); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    throw new MlNetImportException(Name(steps[i].GetType()), $"Step {i} ({Name(steps[i].GetType())}) does not accept the schema before it: {e.Message}");
                }
            }
        }

        int features = FeatureCount(predictor);
        var result = FromModelParameters(predictor.Model, features);
        if (result.Task == MlNetModel.Multiclass && inputSchema is not null)
            result = result with { ClassNames = SlotNames(schemas[at + 1], result.Network.OutputShape.Size) };

        for (int i = at + 1; i < steps.Count; i++) CheckAfterPredictor(steps[i], schemas[i], schemas[i + 1]);

        // Walk back from the predictor along the columns its feature vector is computed from.
        var path = new HashSet<string>(StringComparer.Ordinal) { predictor.FeatureColumnName };
        string? single = predictor.FeatureColumnName; // the one column the vector is a copy or affine map of; null once concatenated
        string inputColumn = predictor.FeatureColumnName;
        var affines = new List<(double[] Scale, double[] Shift)>();
        for (int i = at - 1; i >= 0; i--)
        {
            var step = steps[i];
            string name = Name(step.GetType());
            var written = path.Where(c => Count(schemas[i + 1], c) > Count(schemas[i], c)).ToList();
            if (!IsKnown(step))
                throw new MlNetImportException(name, $"Step {i} ({name}) is not one Veil runs: before the predictor a chain may hold affine normalizers " +
                    "(NormalizeMinMax, NormalizeMeanVariance, NormalizeRobustScaling), Concatenate, CopyColumns, Select/DropColumns, and conversions " +
                    $"or key mappings of columns the model does not read. {Advice(step)}");
            if (written.Count == 0) continue;
            switch (step)
            {
                case ColumnCopyingTransformer or ColumnConcatenatingTransformer:
                    {
                        var sources = Dependencies(step, schemas[i], written);
                        foreach (var c in written) path.Remove(c);
                        foreach (var c in sources) path.Add(c.Name);
                        var writtenType = schemas[i + 1][written[0]].Type;
                        if (single is not null && written.Count == 1 && sources.Count == 1 && sources[0].Type.Equals(writtenType))
                            inputColumn = single = sources[0].Name;
                        else single = null;
                        break;
                    }
                case NormalizingTransformer normalizer:
                    {
                        if (single is null || written[0] != single)
                            throw new MlNetImportException(name, $"Step {i} ({name}) normalizes '{string.Join("', '", written)}' before it is concatenated into the features: " +
                                $"normalize the concatenated vector '{inputColumn}' instead, in a step of its own.");
                        int columns = schemas[i + 1].Count - schemas[i].Count;
                        if (columns != 1)
                            throw new MlNetImportException(name, $"Step {i} ({name}) normalizes {columns} columns at once; normalize the feature vector '{single}' in a step of its own.");
                        affines.Add(Affine(normalizer, name, i, features));
                        var sources = Dependencies(step, schemas[i], written);
                        path.Remove(single);
                        inputColumn = single = sources.Single().Name;
                        path.Add(single);
                        break;
                    }
                default:
                    throw new MlNetImportException(name, $"Step {i} ({name}) changes '{string.Join("', '", written)}', which the predictor reads: " +
                        "Veil runs the feature vector as the predictor receives it, through affine normalizers only; remove the step or give the predictor a vector of numbers.");
            }
        }

        var network = result.Network;
        try
        {
            // The normalizer nearest the predictor is folded first, so that the earliest one ends up applied first.
            foreach (var (scale, shift) in affines) network = network.WithInputAffine(scale, shift);
        }
        catch (ArgumentException e)
        {
            throw new MlNetImportException("model", $"Folding the normalizer into the weights gives values that are not finite: {e.Message}");
        }
        return result with { Network = network, FeatureColumn = inputColumn };
    }

    /// <summary>
    /// Reads a trained predictor's parameters (a prediction transformer's <c>Model</c>): binary, calibrated binary,
    /// linear regression or linear multiclass.
    /// </summary>
    /// <param name="parameters">The model parameters.</param>
    /// <param name="featureCount">The feature vector's length, when known, which the weights must match.</param>
    /// <exception cref="MlNetImportException">Parameters of a model that is not linear (Poisson regression, trees …),
    /// values that are not finite, or more weights than a dense layer takes.</exception>
    public static MlNetModel FromModelParameters(object parameters, int? featureCount = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        string name = Name(parameters.GetType());
        switch (parameters)
        {
            case PoissonRegressionModelParameters:
                throw new MlNetImportException(name, "A Poisson regression predicts exp(w·x + b), which is not linear: train a linear regression " +
                    "(Sdca, OnlineGradientDescent), or one on a log-transformed label and take exp of the decrypted value on the client.");
            case CalibratedModelParametersBase calibrated:
                {
                    if (calibrated.SubModel is not LinearBinaryModelParameters sub)
                        throw new MlNetImportException(Name(calibrated.SubModel.GetType()), $"The calibrated model's predictor is a {Name(calibrated.SubModel.GetType())}, not a linear one.");
                    // Any ML.NET calibrator is monotone and PredictedLabel thresholds the raw score, so the margin decides.
                    var model = Linear(sub, MlNetModel.Binary, featureCount);
                    if (calibrated.Calibrator is not PlattCalibrator platt) return model;
                    if (!double.IsFinite(platt.Slope) || !double.IsFinite(platt.Offset))
                        throw new MlNetImportException(name, $"The Platt calibrator's slope ({platt.Slope}) or offset ({platt.Offset}) is not finite.");
                    return model with { PlattSlope = platt.Slope, PlattOffset = platt.Offset };
                }
            case LinearBinaryModelParameters binary:
                return Linear(binary, MlNetModel.Binary, featureCount);
            case RegressionModelParameters regression:
                return Linear(regression, MlNetModel.Regression, featureCount);
            case LinearMulticlassModelParametersBase multiclass:
                {
                    VBuffer<float>[] weights = [];
                    multiclass.GetWeights(ref weights, out int classes);
                    var biases = multiclass.GetBiases().ToArray();
                    if (classes < 2 || weights is null || weights.Length != classes || biases.Length != classes)
                        throw new MlNetImportException(name, $"The model reports {classes} classes but holds {weights?.Length ?? 0} weight vectors and {biases.Length} biases.");
                    int n = featureCount ?? weights[0].Length;
                    CheckSize(name, n, classes);
                    var rows = new double[classes][];
                    for (int k = 0; k < classes; k++)
                    {
                        if (weights[k].Length != n)
                            throw new MlNetImportException(name, $"Class {k} has {weights[k].Length} weights; the features have {n}.");
                        rows[k] = ToFinite(weights[k].DenseValues(), n, name, $"class {k}");
                    }
                    var model = Build(name, MlNetModel.Multiclass, rows, ToFinite(biases, classes, name, "the biases"));
                    return model with { SoftmaxScores = multiclass is MaximumEntropyModelParameters };
                }
            default:
                throw new MlNetImportException(name, $"{name} is not a linear model Veil can run: train a linear one (SdcaLogisticRegression, LbfgsLogisticRegression, " +
                    "AveragedPerceptron, LinearSvm, SdcaNonCalibrated; Sdca or OnlineGradientDescent regression; SdcaMaximumEntropy, LbfgsMaximumEntropy).");
        }
    }

    /// <summary>Builds a model from weights and biases read elsewhere, checking sizes and values as the importer does.</summary>
    internal static MlNetModel Build(string source, string task, double[][] weights, double[] bias)
    {
        CheckSize(source, weights[0].Length, weights.Length);
        for (int o = 0; o < weights.Length; o++) CheckFinite(weights[o], source, $"output {o}");
        CheckFinite(bias, source, "the biases");
        return new MlNetModel(new SequentialNetwork([new Dense(weights, bias)]), task, null, null);
    }

    private static MlNetModel Linear(LinearModelParameters model, string task, int? featureCount)
    {
        string name = Name(model.GetType());
        var weights = model.Weights;
        int n = featureCount ?? weights.Count;
        CheckSize(name, n, 1);
        if (weights.Count != n) throw new MlNetImportException(name, $"The model has {weights.Count} weights; the features have {n}.");
        return Build(name, task, [ToFinite(weights, n, name, "the weights")], ToFinite([model.Bias], 1, name, "the bias"));
    }

    private static int FeatureCount(ISingleFeaturePredictionTransformer<object> predictor)
    {
        string name = Name(predictor.GetType());
        if (predictor.FeatureColumnType is not VectorDataViewType { IsKnownSize: true } vector || vector.ItemType != NumberDataViewType.Single)
            throw new MlNetImportException(name, $"The predictor reads '{predictor.FeatureColumnName}' of type {predictor.FeatureColumnType}: Veil needs a vector of Single of known length.");
        CheckSize(name, vector.Size, 1);
        return vector.Size;
    }

    private static void CheckSize(string source, int features, int outputs)
    {
        if (features < 1 || outputs < 1 || (long)features * outputs > Dense.MaxWeights)
            throw new MlNetImportException(source, $"{outputs} outputs × {features} features: a dense layer holds 1 … {Dense.MaxWeights} weights.");
    }

    private static double[] ToFinite(IEnumerable<float> values, int count, string source, string what)
    {
        var result = new double[count];
        int i = 0;
        foreach (float v in values)
        {
            if (i == count) throw new MlNetImportException(source, $"More than {count} values in {what}.");
            result[i++] = v;
        }
        if (i != count) throw new MlNetImportException(source, $"{i} values in {what}; expected {count}.");
        CheckFinite(result, source, what);
        return result;
    }

    private static void CheckFinite(double[] values, string source, string what)
    {
        for (int i = 0; i < values.Length; i++)
            if (!double.IsFinite(values[i])) throw new MlNetImportException(source, $"Value {i} of {what} is {values[i]}: every weight must be finite.");
    }

    /// <summary>ML.NET's affine normalizer y = (x − offset)·scale as Veil's f(scale ∘ x + shift).</summary>
    private static (double[] Scale, double[] Shift) Affine(NormalizingTransformer normalizer, string name, int step, int features)
    {
        var parameters = normalizer.GetNormalizerModelParameters(0);
        if (parameters is not NormalizingTransformer.AffineNormalizerModelParameters<ImmutableArray<float>> affine)
            throw new MlNetImportException(Name(parameters.GetType()), $"Step {step} ({name}) is a {Name(parameters.GetType())} normalizer, which is not affine: " +
                "use NormalizeMinMax, NormalizeMeanVariance (without useCdf) or NormalizeRobustScaling.");
        var scale = affine.Scale;
        var offset = affine.Offset;
        if (scale.IsDefault || scale.Length != features || (!offset.IsDefaultOrEmpty && offset.Length != features))
            throw new MlNetImportException(name, $"Step {step} ({name}) has {(scale.IsDefault ? 0 : scale.Length)} scales and {(offset.IsDefault ? 0 : offset.Length)} offsets for {features} features.");
        var s = new double[features];
        var shift = new double[features];
        for (int i = 0; i < features; i++)
        {
            s[i] = scale[i];
            shift[i] = offset.IsDefaultOrEmpty ? 0 : -(double)offset[i] * scale[i];
        }
        CheckFinite(s, name, $"step {step}'s scales");
        CheckFinite(shift, name, $"step {step}'s offsets");
        return (s, shift);
    }

    private static void CheckAfterPredictor(ITransformer step, DataViewSchema before, DataViewSchema after)
    {
        string name = Name(step.GetType());
        if (step is not (KeyToValueMappingTransformer or ColumnCopyingTransformer or ColumnSelectingTransformer))
            throw new MlNetImportException(name, $"After the predictor Veil accepts only MapKeyToValue, CopyColumns and Select/DropColumns; {name} changes what the " +
                $"predictor wrote. {Advice(step)}");
        if (Count(after, "Score") > Count(before, "Score"))
            throw new MlNetImportException(name, $"{name} after the predictor overwrites its Score column.");
    }

    private static bool IsKnown(ITransformer step) => step is NormalizingTransformer or ColumnCopyingTransformer or ColumnConcatenatingTransformer
        or ColumnSelectingTransformer or ValueToKeyMappingTransformer or KeyToValueMappingTransformer or TypeConvertingTransformer;

    private static string Advice(ITransformer step) => step.GetType().FullName?.Contains(".Text.", StringComparison.Ordinal) == true
        ? "Text featurization has no encrypted form: featurize on the client and train on the numeric vector it yields."
        : "Compute it on the client before encryption and train on its output, or remove it.";

    private static List<DataViewSchema.Column> Dependencies(ITransformer step, DataViewSchema input, List<string> written)
    {
        try
        {
            var mapper = step.GetRowToRowMapper(input);
            return [.. mapper.GetDependencies(written.Select(c => mapper.OutputSchema[c]))];
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new MlNetImportException(Name(step.GetType()), $"Cannot tell which columns {Name(step.GetType())} reads: {e.Message}");
        }
    }

    private static IReadOnlyList<string>? SlotNames(DataViewSchema schema, int classes)
    {
        var score = schema.GetColumnOrNull("Score");
        if (score is not { } column || !column.HasSlotNames()) return null;
        VBuffer<ReadOnlyMemory<char>> names = default;
        column.GetSlotNames(ref names);
        return names.Length == classes ? [.. names.DenseValues().Select(n => n.ToString())] : null;
    }

    // A transformer writes a column when its output has more columns of that name (the old one stays, hidden).
    private static int Count(DataViewSchema schema, string column) => schema.Count(c => c.Name == column);

    private static void Flatten(ITransformer model, List<ITransformer> steps)
    {
        if (model is IEnumerable<ITransformer> chain)
            foreach (var t in chain) Flatten(t, steps);
        else steps.Add(model);
    }

    /// <summary>A type's name as C# writes it, without namespaces (the names ML.NET's documentation uses).</summary>
    private static string Name(Type type)
    {
        string name = type.Name;
        int tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        int outerArguments = 0;
        if (type.IsNested && type.DeclaringType is { } outer)
        {
            name = Name(outer) + "." + name;
            outerArguments = outer.GetGenericArguments().Length;
        }
        var arguments = type.GetGenericArguments()[outerArguments..];
        return arguments.Length == 0 ? name : $"{name}<{string.Join(", ", arguments.Select(Name))}>";
    }
}
