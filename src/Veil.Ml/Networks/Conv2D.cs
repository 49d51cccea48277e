using Veil.Circuits;
using Veil.Serialization;

namespace Veil.Ml.Networks;

/// <summary>
/// A 2-D convolution with zero padding P (0 by default): output map m at (oy, ox) is
/// b_m + Σ_{c,ky,kx} w_m[(c·K + ky)·K + kx] · x[c, stride·oy + ky − P, stride·ox + kx − P], pixels outside the image 0.
/// </summary>
/// <remarks>
/// Single-input on an <see cref="Im2ColLayout"/> (the client's packing when the network starts with this layer): with
/// B output positions per map and T = C·K² taps, the convolution is Σ_δ d_δ ⊙ Rot_(δ·B)(x) over δ ∈ [−(M − 1), T − 1],
/// which leaves map m in slots [m·B, (m + 1)·B): M + T − 1 diagonals instead of one per matrix row. On other layouts
/// it runs as its (sparse) matrix.
/// </remarks>
public sealed class Conv2D : LinearLayer
{
    /// <summary>Largest number of output values accepted (maps · positions).</summary>
    public const int MaxOutputs = 1 << 16;
    /// <summary>Largest kernel side accepted.</summary>
    public const int MaxKernel = 64;

    private readonly double[][] _weights; // [map][tap]
    private readonly double[] _bias;

    /// <summary>Kernel side K.</summary>
    public int KernelSize { get; }
    /// <summary>Stride (both directions).</summary>
    public int Stride { get; }
    /// <summary>Zero padding P on each side.</summary>
    public int Padding { get; }
    /// <summary>Output maps M.</summary>
    public int Maps => _weights.Length;
    /// <summary>Taps per kernel over all input channels, C·K².</summary>
    public int Taps => InputShape.Channels * KernelSize * KernelSize;

    /// <summary>A convolution on <paramref name="input"/> (C × H × W) with M kernels of C·K² weights (copied), tap (c·K + ky)·K + kx.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Kernel or stride out of range for the input.</exception>
    /// <exception cref="ArgumentException">Shapes disagree, or a value is not finite.</exception>
    public Conv2D(TensorShape input, int kernelSize, int stride, double[][] weights, double[] bias)
        : this(input, kernelSize, stride, 0, weights, bias) { }

    /// <summary>As the unpadded constructor, with <paramref name="padding"/> zeros (0 … K − 1) around each side of every channel.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Kernel, stride or padding out of range for the input.</exception>
    /// <exception cref="ArgumentException">Shapes disagree, or a value is not finite.</exception>
    public Conv2D(TensorShape input, int kernelSize, int stride, int padding, double[][] weights, double[] bias)
        : base(input, OutputShapeOf(input, kernelSize, stride, padding, weights))
    {
        ArgumentNullException.ThrowIfNull(bias);
        int taps = input.Channels * kernelSize * kernelSize;
        if (weights.Any(k => k is null || k.Length != taps)) throw new ArgumentException($"Each kernel has {taps} weights (C·K²).", nameof(weights));
        if (bias.Length != weights.Length) throw new ArgumentException($"One bias per map: {weights.Length} maps, {bias.Length} biases.", nameof(bias));
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        _weights = [.. weights.Select(k => k.ToArray())];
        _bias = [.. bias];
        foreach (var k in _weights) CheckFinite(k, nameof(weights));
        CheckFinite(_bias, nameof(bias));
    }

    private static TensorShape OutputShapeOf(TensorShape input, int kernel, int stride, int padding, double[][] weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernel, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(padding, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(padding, kernel - 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(kernel, Math.Min(MaxKernel, Math.Min(input.Height, input.Width) + 2 * padding));
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(stride, kernel);
        if (weights.Length == 0) throw new ArgumentException("At least one kernel.", nameof(weights));
        int oh = (input.Height + 2 * padding - kernel) / stride + 1, ow = (input.Width + 2 * padding - kernel) / stride + 1;
        if ((long)weights.Length * oh * ow > MaxOutputs) throw new ArgumentException($"More than {MaxOutputs} outputs.", nameof(weights));
        return new TensorShape(weights.Length, oh, ow);
    }

    /// <inheritdoc/>
    public override LayerKind Kind => Padding == 0 ? LayerKind.Conv2D : LayerKind.PaddedConv2D;

    /// <summary>Kernel <paramref name="map"/>, tap (c·K + ky)·K + kx.</summary>
    public ReadOnlySpan<double> Kernel(int map) => _weights[map];

    /// <inheritdoc/>
    public override double Bias(int output) => _bias[output / (OutputShape.Height * OutputShape.Width)];

    /// <inheritdoc/>
    public override IEnumerable<(int Input, double Weight)> Row(int output)
    {
        int positions = OutputShape.Height * OutputShape.Width;
        int m = output / positions, oy = output % positions / OutputShape.Width, ox = output % OutputShape.Width;
        int k = KernelSize, h = InputShape.Height, w = InputShape.Width;
        var kernel = _weights[m];
        for (int c = 0; c < InputShape.Channels; c++)
            for (int ky = 0; ky < k; ky++)
            {
                int iy = Stride * oy + ky - Padding;
                if (iy < 0 || iy >= h) continue;
                for (int kx = 0; kx < k; kx++)
                {
                    int ix = Stride * ox + kx - Padding;
                    double v = kernel[(c * k + ky) * k + kx];
                    if (v != 0 && ix >= 0 && ix < w) yield return ((c * h + iy) * w + ix, v);
                }
            }
    }

    private protected override void ForwardCore(ReadOnlySpan<double> input, Span<double> output)
    {
        int k = KernelSize, h = InputShape.Height, w = InputShape.Width, oh = OutputShape.Height, ow = OutputShape.Width;
        for (int m = 0; m < Maps; m++)
        {
            var kernel = _weights[m];
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    double z = _bias[m];
                    for (int c = 0; c < InputShape.Channels; c++)
                        for (int ky = 0; ky < k; ky++)
                        {
                            int iy = Stride * oy + ky - Padding;
                            if (iy < 0 || iy >= h) continue;
                            for (int kx = 0; kx < k; kx++)
                            {
                                int ix = Stride * ox + kx - Padding;
                                if (ix >= 0 && ix < w) z += kernel[(c * k + ky) * k + kx] * input[(c * h + iy) * w + ix];
                            }
                        }
                    output[(m * oh + oy) * ow + ox] = z;
                }
        }
    }

    /// <summary>The im2col layout this layer reads as a first layer.</summary>
    public Im2ColLayout Im2Col => new(InputShape, KernelSize, Stride, Padding);

    /// <summary>Slots the im2col evaluation needs: max(C·K², M) · positions.</summary>
    public long Im2ColSlots => (long)Math.Max(Taps, Maps) * OutputShape.Height * OutputShape.Width;

    /// <inheritdoc/>
    public override SingleInputStep PlanSingle(SlotLayout input, int slots)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input is not Im2ColLayout layout) return base.PlanSingle(input, slots);
        if (layout != Im2Col) throw new ArgumentException($"The im2col layout {layout} is not this convolution's {Im2Col}.", nameof(input));
        if (Im2ColSlots > slots) throw new ArgumentException($"The im2col layout needs {Im2ColSlots} slots; the parameters have {slots}.", nameof(slots));
        int block = layout.Block, taps = Taps;
        var diagonals = new Dictionary<int, double[]>();
        for (int delta = -(Maps - 1); delta < taps; delta++)
        {
            var d = new double[slots];
            bool any = false;
            for (int m = 0; m < Maps; m++)
            {
                int tap = m + delta;
                if (tap < 0 || tap >= taps) continue;
                double w = _weights[m][tap];
                if (w == 0) continue;
                Array.Fill(d, w, m * block, block);
                any = true;
            }
            if (any) diagonals[delta * block] = d;
        }
        if (diagonals.Count == 0) diagonals[0] = new double[slots];
        var bias = new double[slots];
        for (int m = 0; m < Maps; m++) Array.Fill(bias, _bias[m], m * block, block);
        return new DiagonalStep(new PrefixLayout(OutputShape.Size), new DiagonalTransform(diagonals, slots), 0, bias, slots);
    }

    internal override int PayloadBytes => (Padding == 0 ? 12 : 16) + 8 * (Maps * Taps + Maps);

    internal override void Write(ref PayloadWriter writer)
    {
        writer.WriteInt32(KernelSize);
        writer.WriteInt32(Stride);
        if (Padding != 0) writer.WriteInt32(Padding); // kind PaddedConv2D; unpadded files keep their old bytes
        writer.WriteInt32(Maps);
        foreach (var k in _weights) foreach (double v in k) writer.WriteDouble(v);
        foreach (double v in _bias) writer.WriteDouble(v);
    }

    internal static Conv2D Read(ref PayloadReader reader, TensorShape input, bool padded)
    {
        int kernel = reader.ReadCount("conv.kernel", 1, Math.Min(MaxKernel, Math.Min(input.Height, input.Width) + (padded ? 2 * (MaxKernel - 1) : 0)));
        int stride = reader.ReadCount("conv.stride", 1, kernel);
        int padding = padded ? reader.ReadCount("conv.padding", 1, kernel - 1) : 0;
        if (kernel > Math.Min(input.Height, input.Width) + 2 * padding) throw new VeilFormatException("conv.kernel", $"A kernel of {kernel} is larger than the padded {input} input.");
        int positions = ((input.Height + 2 * padding - kernel) / stride + 1) * ((input.Width + 2 * padding - kernel) / stride + 1);
        int maps = reader.ReadCount("conv.maps", 1, Math.Max(1, MaxOutputs / positions));
        int taps = input.Channels * kernel * kernel;
        var flat = ReadValues(ref reader, (long)maps * taps, "conv.weights");
        var weights = new double[maps][];
        for (int m = 0; m < maps; m++) weights[m] = flat.AsSpan(m * taps, taps).ToArray();
        return new Conv2D(input, kernel, stride, padding, weights, ReadValues(ref reader, maps, "conv.bias"));
    }
}
