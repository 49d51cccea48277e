using Veil.Serialization;

namespace Veil.Ml.Networks;

/// <summary>Average pooling per channel over P × P windows with a stride, no padding (a linear layer with weights 1/P²).</summary>
public sealed class AveragePool2D : LinearLayer
{
    /// <summary>Window side P.</summary>
    public int PoolSize { get; }
    /// <summary>Stride.</summary>
    public int Stride { get; }

    /// <summary>Pooling on <paramref name="input"/> (C × H × W).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The window is larger than the input, or the stride is not in [1, P].</exception>
    public AveragePool2D(TensorShape input, int poolSize, int stride)
        : base(input, OutputShapeOf(input, poolSize, stride))
    {
        PoolSize = poolSize;
        Stride = stride;
    }

    /// <summary>Non-overlapping P × P windows.</summary>
    public AveragePool2D(TensorShape input, int poolSize) : this(input, poolSize, poolSize) { }

    private static TensorShape OutputShapeOf(TensorShape input, int pool, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pool, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pool, Math.Min(input.Height, input.Width));
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(stride, pool);
        return new TensorShape(input.Channels, (input.Height - pool) / stride + 1, (input.Width - pool) / stride + 1);
    }

    /// <inheritdoc/>
    public override LayerKind Kind => LayerKind.AveragePool2D;

    /// <inheritdoc/>
    public override double Bias(int output) => 0;

    /// <inheritdoc/>
    public override IEnumerable<(int Input, double Weight)> Row(int output)
    {
        int oh = OutputShape.Height, ow = OutputShape.Width, h = InputShape.Height, w = InputShape.Width;
        int c = output / (oh * ow), oy = output % (oh * ow) / ow, ox = output % ow;
        double weight = 1.0 / (PoolSize * PoolSize);
        for (int py = 0; py < PoolSize; py++)
            for (int px = 0; px < PoolSize; px++)
                yield return ((c * h + Stride * oy + py) * w + Stride * ox + px, weight);
    }

    internal override int PayloadBytes => 8;

    internal override void Write(ref PayloadWriter writer)
    {
        writer.WriteInt32(PoolSize);
        writer.WriteInt32(Stride);
    }

    internal static AveragePool2D Read(ref PayloadReader reader, TensorShape input)
    {
        int pool = reader.ReadCount("pool.size", 1, Math.Min(input.Height, input.Width));
        int stride = reader.ReadCount("pool.stride", 1, pool);
        return new AveragePool2D(input, pool, stride);
    }
}
