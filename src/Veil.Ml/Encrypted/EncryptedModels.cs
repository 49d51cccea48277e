using Veil.Circuits;
using System.Diagnostics;
using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>What an encrypted training run used and cost.</summary>
/// <param name="Iterations">Gradient-descent iterations in all.</param>
/// <param name="Rounds">Non-interactive rounds (more than one only in refresh mode).</param>
/// <param name="N">Ring degree.</param>
/// <param name="Levels">Multiplicative levels of the chain.</param>
/// <param name="LogQP">Total modulus bits.</param>
/// <param name="SecurityBits">Security level checked (128 unless the caller opted out).</param>
/// <param name="LogScale">log2 of the scale.</param>
/// <param name="KeySeconds">Key generation (data owner).</param>
/// <param name="EncryptSeconds">Packing and encryption (data owner).</param>
/// <param name="TrainSeconds">Training on ciphertexts (trainer), refreshes included.</param>
/// <param name="DecryptSeconds">Decryption of the model (data owner).</param>
/// <param name="Bootstraps">Bootstraps the trainer ran (0 unless the iterations outgrew one chain).</param>
public sealed record EncryptedTrainingReport(int Iterations, int Rounds, int N, int Levels, int LogQP, int SecurityBits, double LogScale,
    double KeySeconds, double EncryptSeconds, double TrainSeconds, double DecryptSeconds, int Bootstraps = 0)
{
    /// <summary>All phases together.</summary>
    public double TotalSeconds => KeySeconds + EncryptSeconds + TrainSeconds + DecryptSeconds;
}

/// <summary>Settings of an encrypted (or twin) gradient-descent model.</summary>
public sealed record EncryptedModelOptions
{
    /// <summary>Gradient-descent settings shared with the twin.</summary>
    public GradientDescentOptions GradientDescent { get; init; } = new();
    /// <summary>Iterations per non-interactive round; 0 means all in one round (the chain must hold them).</summary>
    public int RefreshEvery { get; init; }
    /// <summary>Parameters to use instead of the automatic choice.</summary>
    public CkksParametersLiteral? Parameters { get; init; }
    /// <summary>
    /// The lowest security level accepted for <see cref="Parameters"/> (128-bit by default); only code that really wants
    /// tiny insecure rings (tests) lowers it, since a literal alone cannot switch the check off.
    /// </summary>
    public SecurityLevel MinimumSecurity { get; init; } = SecurityLevel.Bits128;
    /// <summary>
    /// Bootstrap instead of refreshing: the trainer refreshes the weights itself whenever the chain runs out, so the key
    /// owner decrypts only the final model. Null chooses it on its own: <see cref="BootstrappingPreset.N16"/> when the
    /// iterations do not fit one chain of the largest ring and no refresh was asked for.
    /// </summary>
    public BootstrappingPreset? Bootstrapping { get; init; }
    /// <summary>Train on ciphertexts (true) or run the plaintext twin (false).</summary>
    public bool Encrypted { get; init; } = true;
}

/// <summary>
/// Common machinery: the data owner standardizes, picks parameters, makes keys and encrypts; the trainer, holding a
/// public context only, runs gradient descent on ciphertexts; the owner decrypts the weights. In refresh mode the
/// owner decrypts and re-encrypts the weights between rounds.
/// </summary>
public abstract class EncryptedGradientModel
{
    private Standardizer? _standardizer;
    private double[]? _maxAbs;

    /// <summary>Settings.</summary>
    public EncryptedModelOptions Options { get; }
    /// <summary>Intercept in the standardized feature space.</summary>
    public double Intercept { get; private set; }
    /// <summary>Weights in the standardized feature space.</summary>
    public double[] Weights { get; private set; } = [];
    /// <summary>The last training run's report (null for the twin).</summary>
    public EncryptedTrainingReport? Report { get; private set; }

    /// <summary>Whether this is logistic regression.</summary>
    protected abstract bool Logistic { get; }

    /// <summary>Whether this is logistic regression (for the two-party steps).</summary>
    internal bool IsLogistic => Logistic;

    /// <summary>Creates the model.</summary>
    protected EncryptedGradientModel(EncryptedModelOptions? options) => Options = options ?? new EncryptedModelOptions();

    /// <summary>The plaintext twin: same preprocessing, same algorithm, in doubles.</summary>
    public abstract EncryptedGradientModel PlaintextTwin();

    /// <summary>Preprocessed features: standardized, and for logistic regression scaled into [−1, 1] (on training data),
    /// which keeps x·w inside the interval where the polynomial sigmoid holds.</summary>
    protected double[][] Prepare(double[][] x)
    {
        var z = _standardizer!.Transform(x);
        if (_maxAbs is null) return z;
        return z.Select(r => r.Select((v, c) => v / _maxAbs[c]).ToArray()).ToArray();
    }

    /// <summary>Targets as trained on (identity by default).</summary>
    protected virtual double[] PrepareTargets(double[] y) => y;

    /// <summary>Fits the model; the three roles are kept apart as described on the class.</summary>
    /// <exception cref="ArgumentException">Ragged data or mismatched lengths.</exception>
    public void Fit(double[][] x, double[] y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length == 0 || x.Length != y.Length) throw new ArgumentException("Features and targets must be non-empty and of equal length.", nameof(y));
        FitPreprocessing(x);
        var features = Prepare(x);
        var targets = PrepareTargets(y);
        var gd = Options.GradientDescent;
        if (!Options.Encrypted)
        {
            (Intercept, Weights) = EncryptedGradientDescent.FitPlaintextRounds(features, targets, Options, Logistic);
            Report = null;
            return;
        }
        (Intercept, Weights) = RunEncrypted(features, targets, gd);
    }

    private (double, double[]) RunEncrypted(double[][] features, double[] targets, GradientDescentOptions gd)
    {
        var results = RunEncryptedMany(features, [targets], gd, Logistic, Options, out var report);
        Report = report;
        return results[0];
    }

    /// <summary>
    /// Trains one model per target vector on a single key set and a single encryption of the features (the owner's
    /// work is shared; the trainer's is per target).
    /// </summary>
    internal static (double, double[])[] RunEncryptedMany(double[][] features, double[][] targetSets, GradientDescentOptions gd, bool logistic,
        EncryptedModelOptions options, out EncryptedTrainingReport report)
    {
        int f = features[0].Length;
        int perRound = options.RefreshEvery > 0 ? Math.Min(options.RefreshEvery, gd.Iterations) : gd.Iterations;
        int depth = perRound * EncryptedGradientDescent.DepthPerIteration(logistic, gd) + 1;
        var preset = options.Bootstrapping ?? AutomaticBootstrapping(options, depth, features.Length * EncryptedTrainingSet.WidthFor(f));
        if (preset is not null && options.RefreshEvery > 0) throw new ArgumentException("Choose bootstrapping or refresh rounds, not both.", nameof(options));
        if (options.Bootstrapping is not null && options.Parameters is not null) throw new ArgumentException("Bootstrapping brings its own parameters (the preset's chain); give Parameters or Bootstrapping, not both.", nameof(options));
        if (preset is not null) perRound = gd.Iterations;
        var literal = preset?.Literal ?? options.Parameters ?? ParameterSelector.Select(depth, features.Length * EncryptedTrainingSet.WidthFor(f));
        var sw = Stopwatch.StartNew();
        // Data owner: keys and encryption (and, when bootstrapping, the bootstrap's keys: its rotations, conjugation, encapsulation).
        var parameters = CkksParameters.Create(literal, options.MinimumSecurity);
        var rotations = EncryptedTrainingSet.RequiredRotations(f, parameters.Slots);
        BootstrapKit? kit = null;
        CkksContext created;
        if (preset is null) created = CkksContext.Create(parameters, rotations);
        else
        {
            // Periodic weights have coefficients as large as the weights: a wide message ratio keeps the sine linear.
            (created, kit) = BootstrapKit.CreateOwner(parameters, preset.Bootstrapping with { LogMessageRatio = Math.Max(16, preset.Bootstrapping.LogMessageRatio) }, rotations);
        }
        using var owner = created;
        double keySeconds = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var first = EncryptedTrainingSet.Encrypt(owner, features, targetSets[0]);
        var sets = targetSets.Select((y, i) => i == 0 ? first : first.WithTargets(owner, y)).ToArray();
        double encryptSeconds = sw.Elapsed.TotalSeconds;
        // Trainer: public context and ciphertexts only.
        var trainer = owner.ToPublic();
        var encryptedWeights = new Ciphertext[sets.Length];
        double trainSeconds = 0, decryptSeconds = 0;
        int rounds = 0;
        for (int done = 0; done < gd.Iterations; done += perRound)
        {
            var round = gd with { Iterations = Math.Min(perRound, gd.Iterations - done) };
            sw.Restart();
            for (int k = 0; k < sets.Length; k++)
                encryptedWeights[k] = EncryptedGradientDescent.Fit(trainer, sets[k], round, logistic, done == 0 ? null : encryptedWeights[k], kit);
            trainSeconds += sw.Elapsed.TotalSeconds;
            rounds++;
            if (done + perRound < gd.Iterations)
            {
                // Refresh: the owner decrypts the f + 1 weights (and only them) and encrypts them afresh at the top level.
                sw.Restart();
                for (int k = 0; k < sets.Length; k++)
                    encryptedWeights[k] = EncryptedGradientDescent.RefreshWeights(owner, encryptedWeights[k], f, sets[k].RowWidth);
                decryptSeconds += sw.Elapsed.TotalSeconds;
            }
        }
        sw.Restart();
        var results = encryptedWeights.Select(w => EncryptedGradientDescent.DecryptWeights(owner, w, f)).ToArray();
        decryptSeconds += sw.Elapsed.TotalSeconds;
        report = new EncryptedTrainingReport(gd.Iterations, rounds, parameters.N, parameters.MaxLevel, parameters.Ring.LogQP,
            (int)parameters.Ring.Security, literal.LogDefaultScale, keySeconds, encryptSeconds, trainSeconds, decryptSeconds, kit?.Count ?? 0);
        return results;
    }

    /// <summary>N = 2^16 bootstrapping when nothing else was asked for and the depth exceeds what one chain of the largest ring holds.</summary>
    private static BootstrappingPreset? AutomaticBootstrapping(EncryptedModelOptions options, int depth, int slots)
    {
        if (options.Parameters is not null || options.RefreshEvery > 0) return null;
        try
        {
            ParameterSelector.Select(depth, slots);
            return null;
        }
        catch (ArgumentException)
        {
            // Only the depth may be what does not fit: data too wide for every ring stays an error.
            ParameterSelector.Select(1, slots);
            return BootstrappingPreset.N16;
        }
    }

    /// <summary>Fits the preprocessing (standardizer, and the max-abs scale for logistic regression) on features.</summary>
    internal void FitPreprocessing(double[][] x)
    {
        _standardizer = new Standardizer().Fit(x);
        _maxAbs = null;
        if (Logistic)
        {
            var z = _standardizer.Transform(x);
            _maxAbs = Enumerable.Range(0, z[0].Length).Select(c => Math.Max(1e-12, z.Max(r => Math.Abs(r[c])))).ToArray();
        }
    }

    /// <summary>Features as the model trains on them.</summary>
    internal double[][] PrepareFeatures(double[][] x) => Prepare(x);

    /// <summary>The owner's private preprocessing: standardizer, max-abs scales (logistic) and target mean and scale (linear).</summary>
    internal (Standardizer Standardizer, double[]? MaxAbs, double TargetMean, double TargetScale) ExportPreprocessing() =>
        (_standardizer ?? throw new InvalidOperationException("Fit the preprocessing first."), _maxAbs, TargetMean, TargetScale);

    /// <summary>Restores preprocessing exported by <see cref="ExportPreprocessing"/> and sets the weights.</summary>
    internal void ImportState(Standardizer standardizer, double[]? maxAbs, double targetMean, double targetScale, (double Intercept, double[] Weights) weights)
    {
        _standardizer = standardizer;
        _maxAbs = maxAbs;
        SetTargetScaling(targetMean, targetScale);
        (Intercept, Weights) = weights;
    }

    /// <summary>Mean and scale of the targets as trained on (0 and 1 unless the model standardizes them).</summary>
    internal virtual double TargetMean => 0;
    internal virtual double TargetScale => 1;
    internal virtual void SetTargetScaling(double mean, double scale) { }

    /// <summary>Targets as the model trains on them (after <see cref="FitPreprocessing"/>).</summary>
    internal double[] PrepareTargetValues(double[] y) => PrepareTargets(y);

    /// <summary>Adopts another model's preprocessing and the given weights.</summary>
    internal void SetState(EncryptedGradientModel preprocessingSource, (double Intercept, double[] Weights) weights)
    {
        _standardizer = preprocessingSource._standardizer;
        _maxAbs = preprocessingSource._maxAbs;
        (Intercept, Weights) = weights;
    }

    /// <summary>
    /// The fitted model as a one-layer network on raw features, its preprocessing folded in: the output is the prediction
    /// (linear regression) or the logit (logistic regression: class 1 when positive), so that it deploys to a service.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not fitted.</exception>
    public Networks.SequentialNetwork ToNetwork()
    {
        var standardizer = _standardizer ?? throw new InvalidOperationException("Fit the model first.");
        int n = Weights.Length;
        double targetScale = TargetScale, targetMean = TargetMean;
        var dense = new Networks.Dense([Weights.Select(v => v * targetScale).ToArray()], [Intercept * targetScale + targetMean]);
        var scale = Enumerable.Range(0, n).Select(c => 1 / (standardizer.Scales[c] * (_maxAbs?[c] ?? 1))).ToArray();
        var shift = Enumerable.Range(0, n).Select(c => -standardizer.Means[c] * scale[c]).ToArray();
        return new Networks.SequentialNetwork([dense]).WithInputAffine(scale, shift);
    }

    /// <summary>x·w + b for each row, in the standardized space.</summary>
    protected double[] Scores(double[][] x)
    {
        if (_standardizer is null) throw new InvalidOperationException("Fit the model first.");
        return Prepare(x).Select(r => Intercept + r.Zip(Weights, (a, b) => a * b).Sum()).ToArray();
    }
}

/// <summary>Linear regression trained on encrypted features and targets (targets standardized by the owner).</summary>
public sealed class EncryptedLinearRegression : EncryptedGradientModel
{
    private double _yMean, _yScale = 1;

    /// <summary>Defaults: 5 iterations at learning rate 0.3 (a 16-level chain, N = 2^15, 128-bit).</summary>
    public static GradientDescentOptions DefaultGradientDescent => new() { Iterations = 5, LearningRate = 0.3 };

    /// <summary>A model with the given settings (default gradient descent: <see cref="DefaultGradientDescent"/>).</summary>
    public EncryptedLinearRegression(EncryptedModelOptions? options = null)
        : base(options ?? new EncryptedModelOptions { GradientDescent = DefaultGradientDescent }) { }

    /// <inheritdoc/>
    protected override bool Logistic => false;

    internal override double TargetMean => _yMean;
    internal override double TargetScale => _yScale;
    internal override void SetTargetScaling(double mean, double scale) => (_yMean, _yScale) = (mean, scale);

    /// <inheritdoc/>
    protected override double[] PrepareTargets(double[] y)
    {
        _yMean = y.Average();
        _yScale = Math.Sqrt(y.Average(v => (v - _yMean) * (v - _yMean)));
        if (_yScale == 0) _yScale = 1;
        return y.Select(v => (v - _yMean) / _yScale).ToArray();
    }

    /// <inheritdoc/>
    public override EncryptedGradientModel PlaintextTwin() => new EncryptedLinearRegression(Options with { Encrypted = false });

    /// <summary>Predictions in the targets' units.</summary>
    public double[] Predict(double[][] x) => Scores(x).Select(v => v * _yScale + _yMean).ToArray();

    /// <summary>R² on the given data.</summary>
    public double Score(double[][] x, double[] y) => Metrics.R2(y, Predict(x));
}

/// <summary>Binary logistic regression (labels 0/1) trained on encrypted data with a polynomial sigmoid.</summary>
public sealed class EncryptedLogisticRegression : EncryptedGradientModel
{
    /// <summary>Defaults: 5 Nesterov-accelerated iterations at learning rate 2 with the cubic σ̃(u) = 0.5 + 0.197u − 0.004u³
    /// (21 levels, N = 2^15, 128-bit).</summary>
    public static GradientDescentOptions DefaultGradientDescent => new() { Iterations = 5, LearningRate = 2.0, Nesterov = true };

    /// <summary>A model with the given settings (default gradient descent: <see cref="DefaultGradientDescent"/>).</summary>
    public EncryptedLogisticRegression(EncryptedModelOptions? options = null)
        : base(options ?? new EncryptedModelOptions { GradientDescent = DefaultGradientDescent }) { }

    /// <inheritdoc/>
    protected override bool Logistic => true;

    /// <inheritdoc/>
    public override EncryptedGradientModel PlaintextTwin() => new EncryptedLogisticRegression(Options with { Encrypted = false });

    /// <summary>P(y = 1) with the exact sigmoid of the learned linear score.</summary>
    public double[] PredictProbability(double[][] x) => Scores(x).Select(v => 1 / (1 + Math.Exp(-v))).ToArray();

    /// <summary>Class labels 0/1.</summary>
    public double[] Predict(double[][] x) => PredictProbability(x).Select(p => p >= 0.5 ? 1.0 : 0.0).ToArray();

    /// <summary>Accuracy on the given data.</summary>
    public double Score(double[][] x, double[] y) => Metrics.Accuracy(y, Predict(x));

    /// <summary>Area under the ROC curve on the given data.</summary>
    public double Auc(double[][] x, double[] y) => Metrics.Auc(y, PredictProbability(x));
}

/// <summary>K-class classification by one encrypted logistic regression per class (one against the rest).</summary>
public sealed class EncryptedOneVsRest
{
    private EncryptedLogisticRegression[] _models = [];

    /// <summary>Settings passed to each binary model.</summary>
    public EncryptedModelOptions Options { get; }


    /// <summary>A classifier with the given settings.</summary>
    public EncryptedOneVsRest(EncryptedModelOptions? options = null) =>
        Options = options ?? new EncryptedModelOptions { GradientDescent = EncryptedLogisticRegression.DefaultGradientDescent };

    /// <summary>The plaintext twin.</summary>
    public EncryptedOneVsRest PlaintextTwin() => new(Options with { Encrypted = false });

    /// <summary>Report of the shared training run (one key set, one encryption of the features, K trainings).</summary>
    public EncryptedTrainingReport? Report { get; private set; }

    /// <summary>Fits one model per class 0 … K − 1 on one key set and one encryption of the features.</summary>
    public void Fit(double[][] x, double[] y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        int classes = (int)y.Max() + 1;
        var targets = Enumerable.Range(0, classes).Select(k => y.Select(v => v == k ? 1.0 : 0.0).ToArray()).ToArray();
        _models = Enumerable.Range(0, classes).Select(_ => new EncryptedLogisticRegression(Options)).ToArray();
        // Preprocessing is fitted on the features only, so every binary model shares it; fit the first to obtain it.
        var reference = _models[0];
        reference.FitPreprocessing(x);
        var prepared = reference.PrepareFeatures(x);
        if (!Options.Encrypted)
        {
            for (int k = 0; k < classes; k++) _models[k].SetState(reference, EncryptedGradientDescent.FitPlaintextRounds(prepared, targets[k], Options, logistic: true));
            Report = null;
            return;
        }
        var results = EncryptedGradientModel.RunEncryptedMany(prepared, targets, Options.GradientDescent, logistic: true, Options, out var report);
        for (int k = 0; k < classes; k++) _models[k].SetState(reference, results[k]);
        Report = report;
    }

    /// <summary>The class whose model is most confident.</summary>
    public double[] Predict(double[][] x)
    {
        var p = _models.Select(m => m.PredictProbability(x)).ToArray();
        return Enumerable.Range(0, x.Length).Select(i => (double)Enumerable.Range(0, p.Length).MaxBy(k => p[k][i])).ToArray();
    }

    /// <summary>Accuracy on the given data.</summary>
    public double Score(double[][] x, double[] y) => Metrics.Accuracy(y, Predict(x));
}
