using Veil.Circuits;
using Veil.Ml.Networks;

namespace Veil.Onnx;

/// <summary>An activation of the graph that has no exact encrypted form, waiting for its polynomial.</summary>
internal sealed record Activation(string Where, string Name, Func<double, double> F, TensorShape Shape)
{
    private static double Sigmoid(double x) => Approximations.Sigmoid(x);
    private static double Softplus(double x) => Approximations.Softplus(x);
    public static double Silu(double x) => x * Sigmoid(x);

    /// <summary>The exact function of an ONNX activation with its attributes (defaults as in the operator specification).</summary>
    public static Func<double, double> Exact(string op, Func<string, Format.AttributeProto?> attribute)
    {
        double F(string name, double fallback) => attribute(name) is { } a ? a.F : fallback;
        switch (op)
        {
            case "Relu": return x => Math.Max(0, x);
            case "LeakyRelu": { double a = F("alpha", 0.01); return x => x >= 0 ? x : a * x; }
            case "Elu": { double a = F("alpha", 1); return x => x >= 0 ? x : a * (Math.Exp(x) - 1); }
            case "Sigmoid": return Sigmoid;
            case "HardSigmoid": { double a = F("alpha", 0.2), b = F("beta", 0.5); return x => Math.Clamp(a * x + b, 0, 1); }
            case "Tanh": return Math.Tanh;
            case "Softplus": return Softplus;
            case "Softsign": return x => x / (1 + Math.Abs(x));
            case "HardSwish": return x => x * Math.Clamp(x / 6 + 0.5, 0, 1);
            case "Mish": return x => x * Math.Tanh(Softplus(x));
            case "Gelu":
                return (attribute("approximate")?.S.ToStringUtf8() ?? "none") == "tanh"
                    ? x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)))
                    : x => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));
            default: throw new ArgumentException($"No exact form for {op}.", nameof(op));
        }
    }

    /// <summary>erf by Abramowitz and Stegun 7.1.26 (error below 1.5e-7: far below any fitted polynomial's).</summary>
    private static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return x >= 0 ? y : -y;
    }
}

/// <summary>
/// Replaces each activation by a Chebyshev polynomial fitted on the values it meets on calibration data (as Orion
/// does): the range measured through the exact model, widened by a margin; a weighted least-squares fit on those
/// values and on Chebyshev nodes across the interval (so the polynomial stays near f between and beyond the samples);
/// the lowest degree of 3, 7, 15, 31 (2 … 5 levels) whose network decides the calibration inputs as the exact model does
/// for the target fraction. Where a Dense or Conv comes right before, the map onto [−1, 1] folds into its weights.
/// </summary>
internal static class ActivationFit
{
    private static readonly int[] Degrees = [3, 7, 15, 31];
    private const int SamplesPerActivation = 4096;
    private const int GridPoints = 257;

    public static OnnxImportResult Build(List<object> steps, OnnxImportOptions options, long opset, int nodes)
    {
        var activations = steps.OfType<Activation>().ToArray();
        if (activations.Length == 0)
        {
            var exactNet = Network(steps.Cast<Layer>());
            return new OnnxImportResult(exactNet, [], null, opset, nodes, x => exactNet.Forward(x));
        }
        double[] Reference(double[] x)
        {
            foreach (var step in steps)
                x = step is Layer layer ? layer.Forward(x) : [.. x.Select(((Activation)step).F)];
            return x;
        }
        var calibration = options.Calibration;
        if (calibration is null || calibration.Count == 0)
            throw new OnnxImportException(activations[0].Where, $"Node {activations[0].Where}: {activations[0].Name} has no exact encrypted form; give calibration inputs (veil compile/infer --calibration, or OnnxImportOptions.Calibration) to fit a polynomial over the range it meets, or replace it by the square (x·x) in the model.");
        if (!(options.Margin >= 0 && options.Margin <= 10)) throw new ArgumentException("The margin must be in [0, 10].", nameof(options));
        if (!(options.TargetAgreement > 0 && options.TargetAgreement <= 1)) throw new ArgumentException("The target agreement must be in (0, 1].", nameof(options));
        if (options.Degree is { } fixedDegree && (fixedDegree < 1 || fixedDegree > ChebyshevActivation.MaxDegree))
            throw new ArgumentException($"The degree must be in 1 … {ChebyshevActivation.MaxDegree}.", nameof(options));
        int inputSize = steps[0] is Layer first ? first.InputShape.Size : ((Activation)steps[0]).Shape.Size;
        foreach (var row in calibration)
        {
            if (row is null || row.Any(v => !double.IsFinite(v))) throw new ArgumentException("Every calibration input must be finite values.", nameof(options));
            if (row.Length != inputSize)
                throw new OnnxImportException("graph", $"The graph reads {inputSize} values per input (flattened); a calibration input holds {row.Length}.");
        }

        // The exact model on the calibration inputs: its decisions and, per activation, the values it meets.
        var samples = activations.Select(_ => new List<double>()).ToArray();
        var low = activations.Select(_ => double.PositiveInfinity).ToArray();
        var high = activations.Select(_ => double.NegativeInfinity).ToArray();
        long[] seen = new long[activations.Length];
        var reservoir = new Random(20);
        var exact = new double[calibration.Count][];
        for (int r = 0; r < calibration.Count; r++)
        {
            var x = calibration[r];
            int a = 0;
            foreach (var step in steps)
            {
                if (step is Layer layer) { x = layer.Forward(x); continue; }
                var act = (Activation)step;
                var y = new double[x.Length];
                for (int i = 0; i < x.Length; i++)
                {
                    double v = x[i];
                    low[a] = Math.Min(low[a], v);
                    high[a] = Math.Max(high[a], v);
                    // Reservoir sampling (Algorithm R), seeded: a uniform sample over all rows and units, the same every run.
                    if (samples[a].Count < SamplesPerActivation) samples[a].Add(v);
                    else if (reservoir.NextInt64(seen[a] + 1) is var j && j < SamplesPerActivation) samples[a][(int)j] = v;
                    seen[a]++;
                    y[i] = act.F(v);
                }
                x = y;
                a++;
            }
            exact[r] = x;
        }

        var intervals = new (double Lo, double Hi)[activations.Length];
        for (int a = 0; a < activations.Length; a++)
        {
            if (!double.IsFinite(low[a]) || !double.IsFinite(high[a]) || high[a] - low[a] > 1e12)
                throw new OnnxImportException(activations[a].Where, $"Node {activations[a].Where}: on the calibration inputs its values reach [{low[a]:G4}, {high[a]:G4}]; no polynomial is fitted over that (check the weights and the inputs' scale).");
            double width = high[a] - low[a];
            // A constant pre-activation still needs an interval: half a unit (or of its size) on each side.
            double pad = width < 1e-6 ? 0.5 * Math.Max(1, Math.Abs(low[a])) : options.Margin * width;
            intervals[a] = (low[a] - pad, high[a] + pad);
        }

        // A single output squashed into (0, 1) at the end (a binary classifier's Sigmoid) is decided at ½, not at 0.
        double threshold = steps[^1] is Activation { Name: "Sigmoid" or "HardSigmoid" } ? 0.5 : 0;
        var candidates = options.Degree is { } d ? [d] : Degrees.Where(g => g <= options.MaxDegree).DefaultIfEmpty(Math.Max(1, options.MaxDegree)).ToArray();
        (SequentialNetwork Net, FittedActivation[] Fits, double Agreement)? best = null;
        foreach (int degree in candidates)
        {
            SequentialNetwork net; FittedActivation[] fits;
            try { (net, fits) = Fit(steps, activations, samples, intervals, degree); }
            catch (ArgumentException e) { throw new OnnxImportException("graph", $"No degree-{degree} fit: {e.Message}"); }
            int agree = 0;
            for (int r = 0; r < calibration.Count; r++) if (Robust(net.Forward(calibration[r]), exact[r], threshold)) agree++;
            double agreement = (double)agree / calibration.Count;
            if (best is null || agreement > best.Value.Agreement) best = (net, fits, agreement);
            if (agreement >= options.TargetAgreement) return new OnnxImportResult(net, fits, agreement, opset, nodes, Reference);
        }
        return new OnnxImportResult(best!.Value.Net, best.Value.Fits, best.Value.Agreement, opset, nodes, Reference);
    }


    /// <summary>
    /// Whether the approximation decides as the exact model and by a safe distance: its largest output error is below
    /// half the exact model's margin (top score minus runner-up, or |y − threshold| for a single output), so an input near this
    /// one is decided alike. Plain agreement on calibration inputs, which are often training rows far from the
    /// boundary, passes degrees that lose points on new data.
    /// </summary>
    private static bool Robust(double[] approx, double[] exact, double threshold)
    {
        double error = 0;
        for (int i = 0; i < exact.Length; i++) error = Math.Max(error, Math.Abs(approx[i] - exact[i]));
        if (exact.Length == 1) return (approx[0] > threshold) == (exact[0] > threshold) && error < 0.5 * Math.Abs(exact[0] - threshold);
        int best = 0;
        for (int i = 1; i < exact.Length; i++) if (exact[i] > exact[best]) best = i;
        double second = double.NegativeInfinity;
        for (int i = 0; i < exact.Length; i++) if (i != best) second = Math.Max(second, exact[i]);
        return error < 0.5 * (exact[best] - second);
    }

    private static (SequentialNetwork, FittedActivation[]) Fit(List<object> steps, Activation[] activations, List<double>[] samples, (double Lo, double Hi)[] intervals, int degree)
    {
        var layers = new List<Layer>();
        var fits = new FittedActivation[activations.Length];
        int a = 0;
        foreach (var step in steps)
        {
            if (step is Layer layer) { layers.Add(layer); continue; }
            var act = (Activation)step;
            var (lo, hi) = intervals[a];
            double alpha = 2 / (hi - lo), beta = -(hi + lo) / (hi - lo);
            bool fold = layers.Count > 0 && layers[^1] is Dense or Conv2D;
            if (fold)
            {
                // t = α·x + β inside the layer before; the polynomial then reads t ∈ [−1, 1] at no extra level.
                int outputs = layers[^1] is Conv2D c ? c.Maps : layers[^1].OutputShape.Size;
                var scale = Enumerable.Repeat(alpha, outputs).ToArray();
                var shift = Enumerable.Repeat(beta, outputs).ToArray();
                layers[^1] = layers[^1] is Conv2D conv ? OnnxImporter.ScaleMaps(conv, scale, shift, act.Where) : OnnxImporter.ScaleOutputs((Dense)layers[^1], scale, shift, act.Where);
            }
            var unit = LeastSquares(t => act.F((t - beta) / alpha), samples[a].Select(v => alpha * v + beta), degree);
            var series = fold ? unit : new ChebyshevSeries(unit.Coefficients, lo, hi);
            double maxError = unit.MaxError(t => act.F((t - beta) / alpha), 2001);
            fits[a] = new FittedActivation(act.Where, act.Name, lo, hi, degree, maxError, fold);
            layers.Add(new ChebyshevActivation(act.Shape, series));
            a++;
        }
        return (Network(layers), fits);
    }

    /// <summary>
    /// Σ c_k T_k on [−1, 1] minimising the squared error on the samples (weight 1 each) and on Chebyshev nodes of the
    /// whole interval (as much weight in all as a quarter of the samples): the data decides where it lies, the nodes
    /// keep the polynomial near f across the margin.
    /// </summary>
    private static ChebyshevSeries LeastSquares(Func<double, double> f, IEnumerable<double> samples, int degree)
    {
        int m = degree + 1;
        var normal = new double[m, m];
        var rhs = new double[m];
        var t = new double[m];
        void Add(double x, double weight)
        {
            x = Math.Clamp(x, -1, 1);
            t[0] = 1;
            if (m > 1) t[1] = x;
            for (int k = 2; k < m; k++) t[k] = 2 * x * t[k - 1] - t[k - 2];
            double y = f(x);
            for (int i = 0; i < m; i++)
            {
                rhs[i] += weight * t[i] * y;
                for (int j = 0; j < m; j++) normal[i, j] += weight * t[i] * t[j];
            }
        }
        int count = 0;
        foreach (double x in samples) { Add(x, 1); count++; }
        double gridWeight = Math.Max(1, count) * 0.25 / GridPoints;
        for (int j = 0; j < GridPoints; j++) Add(Math.Cos(Math.PI * (j + 0.5) / GridPoints), gridWeight);
        return new ChebyshevSeries(Solve(normal, rhs), -1, 1);
    }

    /// <summary>Gaussian elimination with partial pivoting (the normal matrix is small and, on Chebyshev nodes, well conditioned).</summary>
    private static double[] Solve(double[,] a, double[] b)
    {
        int n = b.Length;
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            if (pivot != col)
            {
                for (int c = 0; c < n; c++) (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
                (b[col], b[pivot]) = (b[pivot], b[col]);
            }
            double diag = a[col, col];
            if (Math.Abs(diag) < 1e-300) continue;
            for (int r = col + 1; r < n; r++)
            {
                double factor = a[r, col] / diag;
                if (factor == 0) continue;
                for (int c = col; c < n; c++) a[r, c] -= factor * a[col, c];
                b[r] -= factor * b[col];
            }
        }
        var x = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            double sum = b[r];
            for (int c = r + 1; c < n; c++) sum -= a[r, c] * x[c];
            x[r] = Math.Abs(a[r, r]) < 1e-300 ? 0 : sum / a[r, r];
        }
        return x;
    }

    private static SequentialNetwork Network(IEnumerable<Layer> layers)
    {
        try { return new SequentialNetwork(layers); }
        catch (ArgumentException e) { throw new OnnxImportException("graph", $"The layers do not form a network: {e.Message}"); }
    }
}
