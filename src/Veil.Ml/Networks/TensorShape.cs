namespace Veil.Ml.Networks;

/// <summary>
/// The shape of a layer's input or output: channels × height × width, flattened channel-major (index
/// (c·H + y)·W + x). A plain vector of n values is n × 1 × 1.
/// </summary>
public readonly record struct TensorShape
{
    /// <summary>Largest side accepted for any dimension.</summary>
    public const int MaxSide = 1 << 16;
    /// <summary>Largest number of values accepted.</summary>
    public const int MaxSize = 1 << 22;

    /// <summary>Channels.</summary>
    public int Channels { get; }
    /// <summary>Rows.</summary>
    public int Height { get; }
    /// <summary>Columns.</summary>
    public int Width { get; }
    /// <summary>Number of values, C·H·W.</summary>
    public int Size => Channels * Height * Width;

    /// <summary>A shape; every side at least 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A side below 1 or above <see cref="MaxSide"/>, or more than <see cref="MaxSize"/> values.</exception>
    public TensorShape(int channels, int height, int width)
    {
        foreach (var (name, v) in new[] { (nameof(channels), channels), (nameof(height), height), (nameof(width), width) })
            if (v < 1 || v > MaxSide) throw new ArgumentOutOfRangeException(name, v, $"A side must be in [1, {MaxSide}].");
        if ((long)channels * height * width > MaxSize) throw new ArgumentOutOfRangeException(nameof(channels), $"{channels} × {height} × {width} exceeds {MaxSize} values.");
        Channels = channels; Height = height; Width = width;
    }

    /// <summary>A vector of <paramref name="length"/> values (length × 1 × 1).</summary>
    public static TensorShape Vector(int length) => new(length, 1, 1);

    /// <inheritdoc/>
    public override string ToString() => Height == 1 && Width == 1 ? $"{Channels}" : $"{Channels}×{Height}×{Width}";
}
