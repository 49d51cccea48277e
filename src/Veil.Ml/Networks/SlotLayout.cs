namespace Veil.Ml.Networks;

/// <summary>
/// Where a single-input evaluation keeps a vector of <see cref="Length"/> values in the slots of one ciphertext.
/// Each layer's <see cref="SingleInputStep"/> reads one layout and leaves another; the client packs the first and
/// reads the last.
/// </summary>
public abstract record SlotLayout(int Length)
{
    /// <summary>The slot vector the client encrypts.</summary>
    /// <exception cref="ArgumentException">Wrong length, a non-finite value, or a layout wider than the slots.</exception>
    public abstract double[] Pack(ReadOnlySpan<double> values, int slots);

    /// <summary>The values back from decrypted slots.</summary>
    public virtual double[] Unpack(ReadOnlySpan<double> slots) => slots[..Length].ToArray();

    private protected void CheckValues(ReadOnlySpan<double> values)
    {
        if (values.Length != Length) throw new ArgumentException($"The layout holds {Length} values; got {values.Length}.", nameof(values));
        foreach (double v in values) if (!double.IsFinite(v)) throw new ArgumentException("Values must be finite.", nameof(values));
    }
}

/// <summary>Value i in slot i for i &lt; Length; the other slots hold anything (what a layer left there).</summary>
public sealed record PrefixLayout(int Length) : SlotLayout(Length)
{
    /// <inheritdoc/>
    public override double[] Pack(ReadOnlySpan<double> values, int slots)
    {
        CheckValues(values);
        if (Length > slots) throw new ArgumentException($"{Length} values do not fit {slots} slots.", nameof(slots));
        var packed = new double[slots];
        values.CopyTo(packed);
        return packed;
    }
}

/// <summary>
/// Value i in every slot ≡ i (mod Period) for i &lt; Length (Period a power of two dividing the slots): the packing
/// the diagonal matrix–vector product rotates over. Positions Length … Period − 1 of each period hold anything.
/// </summary>
public sealed record PeriodicLayout(int Period, int Length) : SlotLayout(Length)
{
    /// <inheritdoc/>
    public override double[] Pack(ReadOnlySpan<double> values, int slots)
    {
        CheckValues(values);
        if (Period < Length || Period > slots || slots % Period != 0) throw new ArgumentException($"Period {Period} must hold {Length} values and divide {slots} slots.", nameof(slots));
        var packed = new double[slots];
        for (int s = 0; s < slots; s++) packed[s] = s % Period < Length ? values[s % Period] : 0;
        return packed;
    }
}

/// <summary>
/// A convolution's input unrolled (im2col): with B = Oh·Ow output positions and taps t = (c·K + ky)·K + kx, slot
/// t·B + oy·Ow + ox holds pixel (c, stride·oy + ky − P, stride·ox + kx − P), 0 where that falls in the padding P.
/// The layout is public; only the client fills it.
/// </summary>
public sealed record Im2ColLayout(TensorShape Input, int Kernel, int Stride, int Padding = 0)
    : SlotLayout(Input.Size)
{
    /// <summary>Outputs per column of the convolution.</summary>
    public int OutputHeight => (Input.Height + 2 * Padding - Kernel) / Stride + 1;
    /// <summary>Outputs per row of the convolution.</summary>
    public int OutputWidth => (Input.Width + 2 * Padding - Kernel) / Stride + 1;
    /// <summary>Output positions per map, B.</summary>
    public int Block => OutputHeight * OutputWidth;
    /// <summary>Kernel taps over all input channels, C·K².</summary>
    public int Taps => Input.Channels * Kernel * Kernel;
    /// <summary>Slots the unrolled input occupies.</summary>
    public long Width => (long)Taps * Block;

    /// <inheritdoc/>
    public override double[] Pack(ReadOnlySpan<double> values, int slots)
    {
        CheckValues(values);
        if (Width > slots) throw new ArgumentException($"The im2col layout needs {Width} slots; the parameters have {slots}.", nameof(slots));
        int k = Kernel, oh = OutputHeight, ow = OutputWidth, block = Block, h = Input.Height, w = Input.Width;
        var packed = new double[slots];
        for (int c = 0; c < Input.Channels; c++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                {
                    int tap = (c * k + ky) * k + kx;
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int iy = Stride * oy + ky - Padding;
                        if (iy < 0 || iy >= h) continue;
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int ix = Stride * ox + kx - Padding;
                            if (ix >= 0 && ix < w) packed[tap * block + oy * ow + ox] = values[(c * h + iy) * w + ix];
                        }
                    }
                }
        return packed;
    }

    /// <inheritdoc/>
    public override double[] Unpack(ReadOnlySpan<double> slots) => throw new InvalidOperationException("The im2col layout is an input layout only.");
}
