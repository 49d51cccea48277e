using Veil.Serialization;
using Veil.Rlwe.Serialization;
using Veil.Ckks;
using Veil.Circuits;
using Veil.Rlwe;

namespace Veil.Ml.Encrypted;

/// <summary>
/// A training set packed for encrypted gradient descent: rows [1, x_1 … x_f] padded to F = 2^k slots, S/F rows per
/// ciphertext (S slots), and the targets repeated over the F slots of their row.
/// </summary>
public sealed class EncryptedTrainingSet
{
    /// <summary>Encrypted feature blocks.</summary>
    public IReadOnlyList<Ciphertext> Features { get; }
    /// <summary>Encrypted target blocks, aligned with <see cref="Features"/>.</summary>
    public IReadOnlyList<Ciphertext> Targets { get; }
    /// <summary>Number of samples.</summary>
    public int Rows { get; }
    /// <summary>Number of features (without the intercept).</summary>
    public int FeatureCount { get; }
    /// <summary>Slots per row, a power of two ≥ features + 1.</summary>
    public int RowWidth { get; }

    private EncryptedTrainingSet(Ciphertext[] features, Ciphertext[] targets, int rows, int featureCount, int width)
    {
        Features = features;
        Targets = targets;
        Rows = rows;
        FeatureCount = featureCount;
        RowWidth = width;
    }

    /// <summary>The same encrypted features with other targets (one-vs-rest trains K models on one encryption of X).</summary>
    public EncryptedTrainingSet WithTargets(CkksContext context, double[] y)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(y);
        if (y.Length != Rows) throw new ArgumentException($"Expected {Rows} targets; got {y.Length}.", nameof(y));
        int slots = context.Parameters.Slots, perCt = slots / RowWidth;
        var ts = new Ciphertext[Features.Count];
        for (int b = 0; b < ts.Length; b++)
        {
            var zt = new double[slots];
            for (int r = b * perCt; r < Math.Min(Rows, (b + 1) * perCt); r++)
                for (int c = 0; c < RowWidth; c++) zt[(r - b * perCt) * RowWidth + c] = y[r];
            ts[b] = context.Encrypt(zt);
        }
        return new EncryptedTrainingSet(Features.ToArray(), ts, Rows, FeatureCount, RowWidth);
    }

    /// <summary>The object type of a saved training set.</summary>
    public static ObjectType Type { get; } = ObjectTypes.Register(Schemes.Ml, 6, "EncryptedTrainingSet");

    /// <summary>
    /// Serializes as a Veil object of type (Ml, 6): rows ‖ features ‖ row width ‖ blocks (u32 each) ‖ the feature blocks ‖
    /// the target blocks, each a Veil ciphertext object (compressed as asked).
    /// </summary>
    public byte[] Save(Compression compression = Compression.None)
    {
        using var stream = new MemoryStream();
        Span<byte> header = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header, Rows);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header[4..], FeatureCount);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header[8..], RowWidth);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header[12..], Features.Count);
        stream.Write(header);
        foreach (var ct in Features) RlweSerializer.Save(ct, stream, compression);
        foreach (var ct in Targets) RlweSerializer.Save(ct, stream, compression);
        return VeilEnvelope.Pack(Type, Features[0].Parameters.Hash.Span, stream.ToArray(), Compression.None);
    }

    /// <summary>Loads a training set saved under <paramref name="context"/>'s parameters; every count is checked before use.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, other parameters, or an inconsistent shape.</exception>
    public static EncryptedTrainingSet Load(CkksContext context, ReadOnlySpan<byte> bytes, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        limits ??= SerializationLimits.Default;
        var body = VeilEnvelope.Unpack(bytes, Type, context.Parameters.Ring.Hash.Span, default, limits, limits.MaxObjectBytes, out _, out _);
        var r = new PayloadReader(body);
        int slots = context.Parameters.Slots;
        int rows = r.ReadCount("rows", 1, 1 << 30);
        int features = r.ReadCount("featureCount", 1, slots - 1);
        int width = r.ReadCount("rowWidth", 2, slots);
        if (width != WidthFor(features)) throw new VeilFormatException("rowWidth", $"{features} features are packed {WidthFor(features)} slots wide; got {width}.");
        int perCt = slots / width;
        long expected = ((long)rows + perCt - 1) / perCt;
        int blocks = r.ReadCount("blocks", 1, 1 << 20);
        if (blocks != expected) throw new VeilFormatException("blocks", $"{rows} rows of width {width} fill {expected} ciphertexts; got {blocks}.");
        using var stream = new MemoryStream(body[16..].ToArray(), writable: false);
        var fs = new Ciphertext[blocks];
        var ts = new Ciphertext[blocks];
        for (int b = 0; b < blocks; b++) fs[b] = RlweSerializer.LoadCiphertext(stream, context.Parameters.Ring, limits);
        for (int b = 0; b < blocks; b++) ts[b] = RlweSerializer.LoadCiphertext(stream, context.Parameters.Ring, limits);
        if (stream.Position != stream.Length) throw new VeilFormatException("trailing", $"{stream.Length - stream.Position} bytes follow the last block.");
        return new EncryptedTrainingSet(fs, ts, rows, features, width);
    }

    /// <summary>Slots per row for a feature count.</summary>
    public static int WidthFor(int featureCount) => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(featureCount + 1));

    /// <summary>The data owner's step: pack and encrypt standardized features and targets.</summary>
    /// <exception cref="ArgumentException">Ragged or empty data, or rows wider than the slots.</exception>
    public static EncryptedTrainingSet Encrypt(CkksContext context, double[][] x, double[] y)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Length == 0 || x.Length != y.Length) throw new ArgumentException("Features and targets must be non-empty and of equal length.", nameof(y));
        int f = x[0].Length;
        if (x.Any(r => r.Length != f)) throw new ArgumentException("All rows must have the same number of features.", nameof(x));
        int width = WidthFor(f), slots = context.Parameters.Slots;
        if (width > slots) throw new ArgumentException($"{f} features do not fit {slots} slots.", nameof(x));
        int perCt = slots / width, blocks = (x.Length + perCt - 1) / perCt;
        var fs = new Ciphertext[blocks];
        var ts = new Ciphertext[blocks];
        for (int b = 0; b < blocks; b++)
        {
            var zf = new double[slots];
            var zt = new double[slots];
            for (int r = b * perCt; r < Math.Min(x.Length, (b + 1) * perCt); r++)
            {
                int o = (r - b * perCt) * width;
                zf[o] = 1;
                for (int c = 0; c < f; c++) zf[o + 1 + c] = x[r][c];
                for (int c = 0; c < width; c++) zt[o + c] = y[r];
            }
            fs[b] = context.Encrypt(zf);
            ts[b] = context.Encrypt(zt);
        }
        return new EncryptedTrainingSet(fs, ts, x.Length, f, width);
    }

    /// <summary>The rotations training needs: sums within a row and across the rows of a ciphertext.</summary>
    public static IReadOnlyList<int> RequiredRotations(int featureCount, int slots)
    {
        int width = WidthFor(featureCount);
        var within = SlotOperations.SumRotations(width);
        return within.Concat(within.Select(s => -s)).Concat(Enumerable.Range(0, 32).Select(k => width << k).TakeWhile(s => s < slots)).ToArray();
    }
}

/// <summary>Hyper-parameters shared by an encrypted model and its plaintext twin.</summary>
public sealed record GradientDescentOptions
{
    /// <summary>Iterations of (full-batch) gradient descent.</summary>
    public int Iterations { get; init; } = 5;
    /// <summary>Learning rate η (the step is η/n times the summed gradient).</summary>
    public double LearningRate { get; init; } = 1.0;
    /// <summary>Power-basis coefficients of the polynomial sigmoid (logistic only), ascending.</summary>
    public double[] SigmoidCoefficients { get; init; } = [0.5, 0.197, 0, -0.004];

    /// <summary>
    /// Nesterov acceleration as in Kim, Song, Kim, Lee, Cheon (2018): v_(t+1) = w_t − (η/n)·∇(w_t),
    /// w_(t+1) = (1 − γ_t)·v_(t+1) + γ_t·v_t with γ_t = (1 − λ_t)/λ_(t+1), λ_0 = 0, λ_(t+1) = (1 + √(1 + 4λ_t²))/2;
    /// the model is v_T. It costs no level on the main path.
    /// </summary>
    public bool Nesterov { get; init; }
}

/// <summary>
/// Linear and logistic regression trained by full-batch gradient descent on encrypted data. The trainer holds only
/// the public context; the result is the encrypted weight vector, which only the key owner can decrypt.
/// </summary>
/// <remarks>
/// Per iteration, with Z the rows [1, x] and W the weights repeated per row:
/// u = Σ_row(Z ⊙ W) (1 level); r = (η/n)·(u − y) for linear, or (η/n)·(σ̃(u) − y) for logistic with σ̃ the
/// polynomial sigmoid (η/n folded into its coefficients: 1 level for linear, ⌈log2(d + 1)⌉ for degree d), computed at
/// each row's first slot and copied over the row; g = Σ_rows(Z ⊙ r) (1 level);
/// W ← W − g (or the Nesterov update, see <see cref="GradientDescentOptions.Nesterov"/>). Linear: 3 levels an iteration;
/// logistic with a cubic: 4.
/// The plaintext twin (<see cref="FitPlaintext(double[][], double[], GradientDescentOptions, bool, ValueTuple{double, double[]}?)"/>) runs exactly these steps in doubles.
/// </remarks>
public static class EncryptedGradientDescent
{
    /// <summary>Levels one iteration consumes on the main path (W needs one more before the first iteration's update).</summary>
    public static int DepthPerIteration(bool logistic, GradientDescentOptions options) =>
        1 + (logistic ? Math.Max(1, PolynomialEvaluator.DepthOf(options.SigmoidCoefficients.Length - 1, false)) : 1) + 1;

    /// <summary>Trains on ciphertexts; returns the encrypted weights (intercept in slot 0, feature j in slot j + 1).</summary>
    /// <param name="context">The trainer's (public) context.</param>
    /// <param name="data">The encrypted training set.</param>
    /// <param name="options">The hyper-parameters.</param>
    /// <param name="logistic">Logistic (true) or linear regression.</param>
    /// <param name="initialWeights">Where a previous round left the weights (refresh mode); zeros when null.</param>
    /// <param name="bootstrap">When given, the weights are bootstrapped whenever they have too few levels left for the
    /// next iteration, so any number of iterations runs without the key owner.</param>
    /// <exception cref="InvalidOperationException">The parameters have too few levels for the iterations asked (or a
    /// bootstrap leaves too few for one iteration).</exception>
    public static Ciphertext Fit(CkksContext context, EncryptedTrainingSet data, GradientDescentOptions options, bool logistic, Ciphertext? initialWeights = null,
        BootstrapKit? bootstrap = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var ev = context.Evaluator;
        int slots = context.Parameters.Slots, width = data.RowWidth;
        int depth = DepthPerIteration(logistic, options), needed = options.Iterations * depth;
        // Nesterov's v sits one level below w.
        int wants = depth + (options.Nesterov ? 1 : 0);
        if (bootstrap is not null && bootstrap.OutputLevel < wants)
            throw new InvalidOperationException($"A bootstrap leaves {bootstrap.OutputLevel} levels; one iteration needs {wants}. Use a preset with more levels left.");
        if (bootstrap is null && needed > context.Parameters.MaxLevel)
            throw new InvalidOperationException($"{options.Iterations} iterations need {needed} levels; the parameters have {context.Parameters.MaxLevel}. Use fewer iterations, larger parameters, or refresh mode.");
        double step = options.LearningRate / data.Rows;
        var poly = new PolynomialEvaluator(ev, context.Encoder);
        // Rotate-and-add leaves a row's inner product only in the row's first slot: the residual is computed there (mask
        // folded into the polynomial's coefficients, no extra level) and then copied over the row.
        var rowStarts = SlotOperations.BlockStarts(slots, width);
        // Weights start at zero (an encryption of zeros), or where a previous round left them (refresh mode).
        // With bootstrapping they start at the bootstrap's output level: the levels above belong to the bootstrap
        // itself, whose primes are not the scale's size.
        // Weights handed in above the bootstrap's output level are dropped to it, for the same reason.
        if (initialWeights is not null && bootstrap is not null && initialWeights.Level > bootstrap.OutputLevel)
            initialWeights = context.Evaluator.DropToLevel(initialWeights, bootstrap.OutputLevel);
        Ciphertext w = initialWeights ?? (bootstrap is null
            ? context.Encrypt(new double[slots])
            : context.Encryptor.Encrypt(context.Encoder.Encode(new double[slots], context.Parameters.DefaultScale, bootstrap.OutputLevel)));
        Ciphertext? v = null; // v_t (Nesterov only)
        var gammas = options.Nesterov ? Veil.Ml.Models.LogisticRegressionGd.MomentumSchedule(options.Iterations) : new double[options.Iterations];
        for (int it = 0; it < options.Iterations; it++)
        {
            // Nesterov folds (1 − γ_t) into the step, so the gradient g' below is (1 − γ_t)·(η/n)·∇.
            if (bootstrap is not null)
            {
                if (w.Level < wants) w = bootstrap.Bootstrap(context, w);
                // Nesterov mixes v in above the gradient's level, w.Level − depth — except after the last
                // iteration, whose mix is not returned (the model is v_T), so v is not bootstrapped for it.
                if (v is not null && it < options.Iterations - 1 && v.Level <= w.Level - depth) v = bootstrap.Bootstrap(context, v);
            }
            double gamma = gammas[it], keep = 1 - gamma;
            double iterationStep = step * keep;
            Ciphertext? gradient = null;
            for (int b = 0; b < data.Features.Count; b++)
            {
                var z = data.Features[b];
                var u = ev.MultiplyRelinearizeRescale(z, w);
                u = SlotOperations.SumWithinBlocks(ev, u, width);
                double[] coefficients = logistic ? options.SigmoidCoefficients.Select(c => c * iterationStep).ToArray() : [0, iterationStep];
                var r = poly.EvaluatePowerBasis(u, coefficients, rowStarts);
                // − (η/n)·y on the row starts, put at r's level and scale with one rescale on y's side (y has levels to spare).
                var y = data.Targets[b];
                var scaledY = ev.MultiplyValuesTo(y, rowStarts.Select(m => -iterationStep * m).ToArray(), r, context.Encoder);
                ev.Add(r, scaledY, r);
                for (int k = 1; k < width; k <<= 1) ev.Add(r, ev.Rotate(r, -k), r);
                var g = ev.MultiplyRelinearizeRescale(ev.DropToLevel(z, r.Level), r);
                if (gradient is null) gradient = g; else ev.Add(gradient, g, gradient);
            }
            // Sum over the rows of each ciphertext: slot j of every row then holds Σ_i r_i·z_ij.
            for (int s = width; s < slots; s <<= 1) ev.Add(gradient!, ev.Rotate(gradient!, s), gradient!);
            if (!options.Nesterov)
            {
                w = ev.Sub(ev.BringTo(w, gradient!), gradient!);
                continue;
            }
            // v_(t+1) = w_t − g'/(1 − γ): one rescale on g''s copy, one level below it.
            var plainStep = ev.MultiplyScalarRescale(gradient!, 1 / keep);
            var nextV = ev.Sub(ev.BringTo(w, plainStep), plainStep);
            if (it == options.Iterations - 1)
            {
                v = nextV; // the model; w_(T+1) is not needed
                break;
            }
            // w_(t+1) = (1 − γ)·w_t − g' + γ·v_t; the scalar factors ride on the alignments, on branches with levels to spare.
            var next = ev.Sub(ev.MultiplyScalarTo(w, keep, gradient!), gradient!);
            if (v is not null && gamma != 0) ev.Add(next, ev.MultiplyScalarTo(v, gamma, gradient!), next);
            v = nextV;
            w = next;
        }
        return options.Nesterov ? v! : w;
    }

    /// <summary>Decrypts the weights (key owner only): intercept, then one weight per feature; no other slot is returned.</summary>
    public static (double Intercept, double[] Weights) DecryptWeights(CkksContext context, Ciphertext weights, int featureCount)
    {
        ArgumentNullException.ThrowIfNull(context);
        var v = context.Decrypt(weights, 0, featureCount + 1);
        return (v[0], v[1..]);
    }

    /// <summary>
    /// Refresh mode's owner step: decrypts the f + 1 weights of the first row block — nothing else — and encrypts them
    /// afresh at the top level, repeated over every row block of width <paramref name="rowWidth"/> with zero padding.
    /// </summary>
    /// <exception cref="ArgumentException">The row width is not a power of two above the feature count, or exceeds the slots.</exception>
    public static Ciphertext RefreshWeights(CkksContext owner, Ciphertext weights, int featureCount, int rowWidth)
    {
        ArgumentNullException.ThrowIfNull(owner);
        int slots = owner.Parameters.Slots;
        if (rowWidth <= featureCount || rowWidth > slots || (rowWidth & (rowWidth - 1)) != 0)
            throw new ArgumentException($"The row width must be a power of two in ({featureCount}, {slots}]; got {rowWidth}.", nameof(rowWidth));
        var (intercept, w) = DecryptWeights(owner, weights, featureCount);
        var layout = new double[slots];
        for (int block = 0; block < slots; block += rowWidth)
        {
            layout[block] = intercept;
            w.CopyTo(layout, block + 1);
        }
        return owner.Encrypt(layout);
    }

    /// <summary>The twin of a (possibly refreshed) encrypted run: the same rounds of iterations in doubles.</summary>
    public static (double Intercept, double[] Weights) FitPlaintextRounds(double[][] x, double[] y, EncryptedModelOptions options, bool logistic)
    {
        ArgumentNullException.ThrowIfNull(options);
        var gd = options.GradientDescent;
        int perRound = options.RefreshEvery > 0 ? options.RefreshEvery : gd.Iterations;
        (double, double[])? state = null;
        for (int done = 0; done < gd.Iterations; done += perRound)
            state = FitPlaintext(x, y, gd with { Iterations = Math.Min(perRound, gd.Iterations - done) }, logistic, state);
        return state!.Value;
    }

    /// <summary>The plaintext twin: the same iterations in doubles, from zero or from given weights.</summary>
    public static (double Intercept, double[] Weights) FitPlaintext(double[][] x, double[] y, GradientDescentOptions options, bool logistic,
        (double Intercept, double[] Weights)? start = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        int n = x.Length, f = x[0].Length;
        double step = options.LearningRate / n;
        var w = new double[f + 1];
        if (start is { } s0) { w[0] = s0.Intercept; s0.Weights.CopyTo(w, 1); }
        var v = (double[])w.Clone();
        var gammas = options.Nesterov ? Veil.Ml.Models.LogisticRegressionGd.MomentumSchedule(options.Iterations) : new double[options.Iterations];
        for (int it = 0; it < options.Iterations; it++)
        {
            var g = new double[f + 1];
            for (int i = 0; i < n; i++)
            {
                double u = w[0];
                for (int c = 0; c < f; c++) u += w[c + 1] * x[i][c];
                double r;
                if (logistic)
                {
                    double p = 0, power = 1;
                    foreach (double coefficient in options.SigmoidCoefficients) { p += coefficient * power; power *= u; }
                    r = step * (p - y[i]);
                }
                else r = step * (u - y[i]);
                g[0] += r;
                for (int c = 0; c < f; c++) g[c + 1] += r * x[i][c];
            }
            if (!options.Nesterov)
            {
                for (int c = 0; c <= f; c++) w[c] -= g[c];
                continue;
            }
            double gamma = gammas[it];
            for (int c = 0; c <= f; c++)
            {
                double vNext = w[c] - g[c];
                w[c] = (1 - gamma) * vNext + gamma * v[c];
                v[c] = vNext;
            }
        }
        return options.Nesterov ? (v[0], v[1..]) : (w[0], w[1..]);
    }
}
