namespace Veil.Ml.Models;

/// <summary>
/// Mini-batch training of a <see cref="SquareCnn"/> on a flat parameter vector θ (the weight file's order, offsets in
/// <see cref="CnnShape"/>). See <see cref="SquareCnn.Train"/> for the method.
/// </summary>
/// <remarks>
/// A step runs in two parallel phases with no shared accumulator, so its result does not depend on the thread count
/// or on scheduling: (1) each image of the batch, in its own slot, goes forward and back down to the gradients of the
/// pre-activations; (2) each weight row (a hidden unit, a map, an output) sums its gradient over the batch's slots in
/// slot order. The convolution is computed from the image's patches P[k][o] = x[(s·oy + ky)·S + s·ox + kx]
/// (k = ky·K + kx, o = oy·O + ox), which turns both the forward pass (c_m = b_m + Σ_k w_m[k]·P[k]) and the kernel
/// gradient (∂L/∂w_m[k] = Σ_o ∂L/∂c_m[o]·P[k][o]) into vector operations of length O².
/// </remarks>
internal sealed class CnnTrainer
{
    /// <summary>Images used to set the initial scale of each unit.</summary>
    private const int InitializationImages = 512;
    /// <summary>Fraction of the steps over which the step size grows linearly to its peak.</summary>
    private const double WarmupFraction = 0.05;

    private readonly CnnShape _s;
    private readonly double[][] _images;
    private readonly double[] _labels;
    private readonly int _capacity;
    private readonly int _seed;
    private readonly int[] _rows;
    // Per-slot buffers, slot t at offset t·(size of one).
    private readonly double[] _patches, _conv, _act, _z1, _hidden, _logits, _delta2, _delta1, _deltaConv, _loss;

    public CnnTrainer(CnnShape shape, double[][] images, double[] labels, int batch, int seed)
    {
        _s = shape; _images = images; _labels = labels; _seed = seed;
        _capacity = Math.Min(batch, images.Length);
        _rows = new int[_capacity];
        _patches = new double[_capacity * shape.Taps * shape.Positions];
        _conv = new double[_capacity * shape.ConvOutputs];
        _act = new double[_capacity * shape.ConvOutputs];
        _deltaConv = new double[_capacity * shape.ConvOutputs];
        _z1 = new double[_capacity * shape.Hidden];
        _hidden = new double[_capacity * shape.Hidden];
        _delta1 = new double[_capacity * shape.Hidden];
        _logits = new double[_capacity * shape.Outputs];
        _delta2 = new double[_capacity * shape.Outputs];
        _loss = new double[_capacity];
    }

    /// <summary>Initialises, trains for the given epochs and returns the network.</summary>
    public SquareCnn Run(int epochs, double learningRate, IProgress<double>? progress)
    {
        var random = new Random(_seed);
        int n = _images.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        random.Shuffle(order);
        var theta = Initialize(random, order.AsSpan(0, Math.Min(n, InitializationImages)));

        var grad = new double[theta.Length];
        var velocity = new double[theta.Length];
        int stepsPerEpoch = (n + _capacity - 1) / _capacity;
        long total = (long)epochs * stepsPerEpoch, step = 0;
        long warmup = Math.Max(1, (long)(WarmupFraction * total));
        int reported = -1;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            if (epoch > 0) random.Shuffle(order);
            for (int start = 0; start < n; start += _capacity, step++)
            {
                Gradient(theta, order.AsSpan(start, Math.Min(_capacity, n - start)), grad);
                double rate = step < warmup
                    ? learningRate * (step + 1) / warmup
                    : learningRate * 0.5 * (1 + Math.Cos(Math.PI * (step - warmup) / Math.Max(1, total - warmup)));
                Update(theta, grad, velocity, rate);
                int percent = (int)(100 * (step + 1) / total);
                if (progress is not null && percent != reported) { reported = percent; progress.Report((step + 1) / (double)total); }
            }
        }
        return SquareCnn.FromFlat(_s, theta);
    }

    /// <summary>θ ← θ − η·v with v ← μ·v + clip(g + λ·w), the decay λ on weights only and the clip on the Euclidean norm.</summary>
    private void Update(double[] theta, double[] grad, double[] velocity, double rate)
    {
        foreach (var (from, to) in new[] { (_s.ConvWeightsAt, _s.ConvBiasAt), (_s.W1At, _s.B1At), (_s.W2At, _s.B2At) })
            LinearAlgebra.AddScaled(SquareCnn.WeightDecay, theta.AsSpan(from, to - from), grad.AsSpan(from, to - from));
        double norm = Math.Sqrt(LinearAlgebra.VectorDot(grad, grad));
        double scale = norm > SquareCnn.GradientClip ? SquareCnn.GradientClip / norm : 1;
        for (int i = 0; i < theta.Length; i++)
        {
            velocity[i] = SquareCnn.Momentum * velocity[i] + scale * grad[i];
            theta[i] -= rate * velocity[i];
        }
    }

    /// <summary>
    /// Seeded normal weights, then, layer by layer, each unit shifted and scaled so that its pre-activation has mean 0 and
    /// standard deviation 1 over the given images: squares neither vanish nor explode at the start.
    /// </summary>
    private double[] Initialize(Random random, ReadOnlySpan<int> sample)
    {
        var theta = new double[_s.ParameterCount];
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        void Fill(int at, int count, double std) { for (int i = 0; i < count; i++) theta[at + i] = std * Normal(); }
        Fill(_s.ConvWeightsAt, _s.Maps * _s.Taps, 1.0 / _s.Kernel);
        Fill(_s.W1At, _s.Hidden * _s.ConvOutputs, 1 / Math.Sqrt(_s.ConvOutputs));
        Fill(_s.W2At, _s.Outputs * _s.Hidden, 1 / Math.Sqrt(_s.Hidden));

        // Conv: unit m pools its O² positions; then hidden unit j; then output k. Each layer is normalised after the
        // layers below it, on their already normalised outputs.
        Normalize(theta, sample, _conv, _s.Maps, _s.Positions, _s.ConvWeightsAt, _s.Taps, _s.ConvBiasAt);
        Normalize(theta, sample, _z1, _s.Hidden, 1, _s.W1At, _s.ConvOutputs, _s.B1At);
        Normalize(theta, sample, null, _s.Outputs, 1, _s.W2At, _s.Hidden, _s.B2At);
        return theta;
    }

    private void Normalize(double[] theta, ReadOnlySpan<int> sample, double[]? buffer, int units, int positions, int weightsAt, int fanIn, int biasAt)
    {
        var sum = new double[units];
        var squares = new double[units];
        var logits = new double[_s.Outputs];
        long count = 0;
        for (int start = 0; start < sample.Length; start += _capacity)
        {
            int n = Math.Min(_capacity, sample.Length - start);
            sample.Slice(start, n).CopyTo(_rows);
            Parallel.For(0, n, t => Forward(theta, _images[_rows[t]], t));
            for (int t = 0; t < n; t++)
            {
                int width = units * positions;
                ReadOnlySpan<double> values = buffer is null ? Logits(theta, t, logits) : buffer.AsSpan(t * width, width);
                for (int u = 0; u < units; u++)
                    foreach (double v in values.Slice(u * positions, positions)) { sum[u] += v; squares[u] += v * v; }
            }
            count += n * (long)positions;
        }
        for (int u = 0; u < units; u++)
        {
            double mean = sum[u] / count, std = Math.Sqrt(Math.Max(squares[u] / count - mean * mean, 0));
            double scale = std > 1e-12 ? 1 / std : 1;
            for (int i = 0; i < fanIn; i++) theta[weightsAt + u * fanIn + i] *= scale;
            theta[biasAt + u] = (theta[biasAt + u] - mean) * scale;
        }
    }

    private double[] Logits(double[] theta, int slot, double[] logits)
    {
        var h = _hidden.AsSpan(slot * _s.Hidden, _s.Hidden);
        for (int k = 0; k < _s.Outputs; k++)
            logits[k] = theta[_s.B2At + k] + LinearAlgebra.VectorDot(theta.AsSpan(_s.W2At + k * _s.Hidden, _s.Hidden), h);
        return logits;
    }

    /// <summary>Mean loss (cross-entropy plus the logit penalty) over the given rows; <paramref name="grad"/> receives its gradient with respect to θ.</summary>
    public double Gradient(double[] theta, ReadOnlySpan<int> rows, double[] grad)
    {
        int n = rows.Length;
        rows.CopyTo(_rows);
        Parallel.For(0, n, t =>
        {
            Forward(theta, _images[_rows[t]], t);
            Backward(theta, (int)_labels[_rows[t]], t);
        });
        int hidden = _s.Hidden, d = _s.ConvOutputs, p = _s.Positions, taps = _s.Taps, outputs = _s.Outputs;
        double inverse = 1.0 / n;
        Parallel.For(0, hidden + _s.Maps + outputs, task =>
        {
            if (task < hidden)
            {
                int j = task;
                var g = grad.AsSpan(_s.W1At + j * d, d);
                g.Clear();
                double bias = 0;
                for (int t = 0; t < n; t++)
                {
                    double delta = _delta1[t * hidden + j];
                    LinearAlgebra.AddScaled(delta * inverse, _act.AsSpan(t * d, d), g);
                    bias += delta;
                }
                grad[_s.B1At + j] = bias * inverse;
            }
            else if (task < hidden + _s.Maps)
            {
                int m = task - hidden;
                for (int k = 0; k < taps; k++)
                {
                    double sum = 0;
                    for (int t = 0; t < n; t++)
                        sum += LinearAlgebra.VectorDot(_deltaConv.AsSpan(t * d + m * p, p), _patches.AsSpan((t * taps + k) * p, p));
                    grad[_s.ConvWeightsAt + m * taps + k] = sum * inverse;
                }
                double bias = 0;
                for (int t = 0; t < n; t++)
                    foreach (double v in _deltaConv.AsSpan(t * d + m * p, p)) bias += v;
                grad[_s.ConvBiasAt + m] = bias * inverse;
            }
            else
            {
                int k = task - hidden - _s.Maps;
                var g = grad.AsSpan(_s.W2At + k * hidden, hidden);
                g.Clear();
                double bias = 0;
                for (int t = 0; t < n; t++)
                {
                    double delta = _delta2[t * outputs + k];
                    LinearAlgebra.AddScaled(delta * inverse, _hidden.AsSpan(t * hidden, hidden), g);
                    bias += delta;
                }
                grad[_s.B2At + k] = bias * inverse;
            }
        });
        double loss = 0;
        for (int t = 0; t < n; t++) loss += _loss[t];
        return loss * inverse;
    }

    /// <summary>Patches, conv pre-activations c, a = c², hidden pre-activations z and h = z² of one image, into slot t.</summary>
    private void Forward(double[] theta, double[] image, int t)
    {
        int size = _s.ImageSize, o = _s.O, p = _s.Positions, taps = _s.Taps, d = _s.ConvOutputs, stride = _s.Stride;
        var patches = _patches.AsSpan(t * taps * p, taps * p);
        for (int ky = 0; ky < _s.Kernel; ky++)
            for (int kx = 0; kx < _s.Kernel; kx++)
            {
                var row = patches.Slice((ky * _s.Kernel + kx) * p, p);
                for (int oy = 0; oy < o; oy++)
                {
                    int from = (stride * oy + ky) * size + kx;
                    for (int ox = 0; ox < o; ox++) row[oy * o + ox] = image[from + stride * ox];
                }
            }
        var c = _conv.AsSpan(t * d, d);
        var a = _act.AsSpan(t * d, d);
        for (int m = 0; m < _s.Maps; m++)
        {
            var cm = c.Slice(m * p, p);
            cm.Fill(theta[_s.ConvBiasAt + m]);
            for (int k = 0; k < taps; k++) LinearAlgebra.AddScaled(theta[_s.ConvWeightsAt + m * taps + k], patches.Slice(k * p, p), cm);
        }
        for (int i = 0; i < d; i++) a[i] = c[i] * c[i];
        int hidden = _s.Hidden;
        for (int j = 0; j < hidden; j++)
        {
            double z = theta[_s.B1At + j] + LinearAlgebra.VectorDot(theta.AsSpan(_s.W1At + j * d, d), a);
            _z1[t * hidden + j] = z;
            _hidden[t * hidden + j] = z * z;
        }
    }

    /// <summary>Loss of slot t (softmax cross-entropy plus the logit penalty) and the gradients of its logits, hidden and conv pre-activations.</summary>
    private void Backward(double[] theta, int label, int t)
    {
        int hidden = _s.Hidden, outputs = _s.Outputs, d = _s.ConvOutputs;
        var h = _hidden.AsSpan(t * hidden, hidden);
        var logits = _logits.AsSpan(t * outputs, outputs);
        var delta2 = _delta2.AsSpan(t * outputs, outputs);
        double max = double.NegativeInfinity, penalty = 0;
        for (int k = 0; k < outputs; k++)
        {
            double z = logits[k] = theta[_s.B2At + k] + LinearAlgebra.VectorDot(theta.AsSpan(_s.W2At + k * hidden, hidden), h);
            max = Math.Max(max, z);
            penalty += z * z;
        }
        // L = log Σ_k e^{z_k} − z_label + (β/2) Σ_k z_k², so ∂L/∂z_k = softmax_k − [k = label] + β z_k.
        double sum = 0;
        for (int k = 0; k < outputs; k++) { delta2[k] = Math.Exp(logits[k] - max); sum += delta2[k]; }
        _loss[t] = Math.Log(sum) + max - logits[label] + 0.5 * SquareCnn.LogitPenalty * penalty;
        for (int k = 0; k < outputs; k++) delta2[k] = delta2[k] / sum + SquareCnn.LogitPenalty * logits[k];
        delta2[label] -= 1;

        // ∂L/∂z_j = 2 z_j Σ_k δ2_k W2[k][j]; ∂L/∂a = Σ_j ∂L/∂z_j W1[j]; ∂L/∂c = 2 c ∂L/∂a.
        var delta1 = _delta1.AsSpan(t * hidden, hidden);
        delta1.Clear();
        for (int k = 0; k < outputs; k++) LinearAlgebra.AddScaled(delta2[k], theta.AsSpan(_s.W2At + k * hidden, hidden), delta1);
        for (int j = 0; j < hidden; j++) delta1[j] *= 2 * _z1[t * hidden + j];
        var deltaConv = _deltaConv.AsSpan(t * d, d);
        deltaConv.Clear();
        for (int j = 0; j < hidden; j++) LinearAlgebra.AddScaled(delta1[j], theta.AsSpan(_s.W1At + j * d, d), deltaConv);
        var c = _conv.AsSpan(t * d, d);
        for (int i = 0; i < d; i++) deltaConv[i] *= 2 * c[i];
    }
}
