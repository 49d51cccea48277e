using Veil.Ml.Models;
using Veil.Ml.Networks;
using Veil.Serialization;

namespace Veil.Ml.Tests.Networks;

/// <summary>The layers' plaintext passes against direct formulas, the old networks as layers, and the weight file.</summary>
public class SequentialNetworkTests
{
    internal static double[][] M(Random rng, int rows, int cols, double scale) =>
        Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, cols).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray()).ToArray();

    internal static double[] V(Random rng, int n, double scale) => Enumerable.Range(0, n).Select(_ => (rng.NextDouble() * 2 - 1) * scale).ToArray();

    /// <summary>Conv (2 channels) → cubic → average pool → flatten → dense → square → dense: every layer kind.</summary>
    internal static SequentialNetwork Mixed(int seed = 1)
    {
        var rng = new Random(seed);
        var conv = new Conv2D(new TensorShape(2, 8, 8), 3, 1, M(rng, 3, 18, 0.3), V(rng, 3, 0.2));
        var poly = new PolynomialActivation(conv.OutputShape, [0.1, 0.5, 0.2, -0.05]);
        var pool = new AveragePool2D(conv.OutputShape, 2);
        var flat = new Flatten(pool.OutputShape);
        var dense1 = new Dense(flat.OutputShape, M(rng, 8, pool.OutputShape.Size, 0.3), V(rng, 8, 0.1));
        return new SequentialNetwork([conv, poly, pool, flat, dense1, new SquareActivation(dense1.OutputShape), new Dense(M(rng, 4, 8, 0.5), V(rng, 4, 0.1))]);
    }

    [Fact]
    public void Layers_MatchTheirDefinitions()
    {
        var rng = new Random(2);
        var x = V(rng, 2 * 8 * 8, 1);
        var net = Mixed();
        var conv = (Conv2D)net.Layers[0];
        var c = conv.Forward(x);
        Assert.Equal(new TensorShape(3, 6, 6), conv.OutputShape);
        for (int m = 0; m < 3; m++)
            for (int oy = 0; oy < 6; oy++)
                for (int ox = 0; ox < 6; ox++)
                {
                    double z = conv.Bias(m * 36);
                    for (int ch = 0; ch < 2; ch++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) z += conv.Kernel(m)[ch * 9 + ky * 3 + kx] * x[ch * 64 + (oy + ky) * 8 + ox + kx];
                    Assert.Equal(z, c[m * 36 + oy * 6 + ox], 12);
                }
        var p = net.Layers[1].Forward(c);
        for (int i = 0; i < c.Length; i++) Assert.Equal(0.1 + 0.5 * c[i] + 0.2 * c[i] * c[i] - 0.05 * c[i] * c[i] * c[i], p[i], 12);
        var pooled = net.Layers[2].Forward(p);
        Assert.Equal(new TensorShape(3, 3, 3), net.Layers[2].OutputShape);
        for (int m = 0; m < 3; m++)
            for (int oy = 0; oy < 3; oy++)
                for (int ox = 0; ox < 3; ox++)
                {
                    double mean = (p[m * 36 + 2 * oy * 6 + 2 * ox] + p[m * 36 + 2 * oy * 6 + 2 * ox + 1] + p[m * 36 + (2 * oy + 1) * 6 + 2 * ox] + p[m * 36 + (2 * oy + 1) * 6 + 2 * ox + 1]) / 4;
                    Assert.Equal(mean, pooled[m * 9 + oy * 3 + ox], 12);
                }
        // Every linear layer's rows are its matrix: the forward pass equals M·x + b.
        foreach (var layer in net.Layers.OfType<LinearLayer>())
        {
            var input = V(rng, layer.InputShape.Size, 1);
            var matrix = layer.ToMatrix();
            var y = layer.Forward(input);
            for (int o = 0; o < y.Length; o++) Assert.Equal(layer.Bias(o) + matrix[o].Zip(input, (a, b) => a * b).Sum(), y[o], 10);
        }
        Assert.Equal(1 + 2 + 1 + 0 + 1 + 1 + 1, net.Depth);
    }

    [Fact]
    public void TheDigitsMlpAndTheCnn_AreSequentialNetworks_WithTheSameOutputs()
    {
        var rng = new Random(3);
        var mlp = new SquareMlp(M(rng, 16, 64, 0.2), V(rng, 16, 0.1), M(rng, 10, 16, 0.3), V(rng, 10, 0.1));
        var asLayers = mlp.ToNetwork();
        Assert.Equal([LayerKind.Dense, LayerKind.Square, LayerKind.Dense], asLayers.Layers.Select(l => l.Kind));
        Assert.Equal(3, asLayers.Depth);
        for (int t = 0; t < 5; t++)
        {
            var x = V(rng, 64, 1);
            var a = mlp.Forward(x);
            var b = asLayers.Forward(x);
            for (int k = 0; k < 10; k++) Assert.Equal(a[k], b[k], 12);
        }
        var cnn = new SquareCnn(12, 5, 2, M(rng, 3, 25, 0.3), V(rng, 3, 0.1), M(rng, 7, 3 * 16, 0.2), V(rng, 7, 0.1), M(rng, 4, 7, 0.3), V(rng, 4, 0.1));
        var cnnLayers = cnn.ToNetwork();
        Assert.Equal([LayerKind.Conv2D, LayerKind.Square, LayerKind.Dense, LayerKind.Square, LayerKind.Dense], cnnLayers.Layers.Select(l => l.Kind));
        Assert.Equal(5, cnnLayers.Depth);
        for (int t = 0; t < 5; t++)
        {
            var x = V(rng, 144, 1);
            var a = cnn.Forward(x);
            var b = cnnLayers.Forward(x);
            for (int k = 0; k < 4; k++) Assert.Equal(a[k], b[k], 12);
        }
    }

    [Fact]
    public void Shapes_MustChain()
    {
        var rng = new Random(4);
        var conv = new Conv2D(new TensorShape(1, 6, 6), 3, 1, M(rng, 2, 9, 1), V(rng, 2, 1));
        // A pool must read the conv's spatial shape, not merely as many values.
        Assert.Throws<ArgumentException>(() => new SequentialNetwork([conv, new AveragePool2D(new TensorShape(1, 8, 9), 2)]));
        Assert.Throws<ArgumentException>(() => new SequentialNetwork([conv, new Dense(M(rng, 3, 31, 1), V(rng, 3, 1))]));
        Assert.Throws<ArgumentException>(() => new SequentialNetwork([]));
        _ = new SequentialNetwork([conv, new Dense(M(rng, 3, 32, 1), V(rng, 3, 1))]); // dense reads any shape of the right size
        Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(new TensorShape(1, 6, 6), 7, 1, M(rng, 1, 49, 1), [0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2D(new TensorShape(1, 6, 6), 3, 4, M(rng, 1, 9, 1), [0]));
        Assert.Throws<ArgumentException>(() => new Conv2D(new TensorShape(2, 6, 6), 3, 1, M(rng, 1, 9, 1), [0]));
        Assert.Throws<ArgumentException>(() => new Dense([[1, double.NaN]], [0]));
        Assert.Throws<ArgumentException>(() => new PolynomialActivation(TensorShape.Vector(3), [1, 0, 0]));
        Assert.Throws<ArgumentException>(() => conv.Forward(new double[35]));
    }

    [Fact]
    public void WeightFile_RoundTrips_AndOldWeightFilesLoad()
    {
        var net = Mixed();
        foreach (var compression in new[] { Compression.None, Compression.ZLib })
        {
            var back = SequentialNetwork.Load(net.Save(compression));
            Assert.Equal(net.Layers.Select(l => (l.Kind, l.InputShape, l.OutputShape)), back.Layers.Select(l => (l.Kind, l.InputShape, l.OutputShape)));
            var x = V(new Random(5), net.InputShape.Size, 1);
            Assert.Equal(net.Forward(x), back.Forward(x));
        }

        var rng = new Random(6);
        var mlp = new SquareMlp(M(rng, 5, 7, 1), V(rng, 5, 1), M(rng, 3, 5, 1), V(rng, 3, 1));
        using (var stream = new MemoryStream())
        {
            mlp.Save(stream);
            var loaded = SequentialNetwork.Load(stream.ToArray());
            var x = V(rng, 7, 1);
            var a = mlp.Forward(x);
            var b = loaded.Forward(x);
            for (int k = 0; k < 3; k++) Assert.Equal(a[k], b[k], 12);
        }
        var cnn = new SquareCnn(8, 3, 1, M(rng, 2, 9, 1), V(rng, 2, 1), M(rng, 4, 72, 1), V(rng, 4, 1), M(rng, 3, 4, 1), V(rng, 3, 1));
        using (var stream = new MemoryStream())
        {
            cnn.Save(stream);
            var loaded = SequentialNetwork.Load(stream.ToArray());
            var x = V(rng, 64, 1);
            var a = cnn.Forward(x);
            var b = loaded.Forward(x);
            for (int k = 0; k < 3; k++) Assert.Equal(a[k], b[k], 12);
        }
    }

    [Fact]
    public void WeightFile_Malformed_IsRefusedNamingTheField()
    {
        var bytes = Mixed().Save();
        const int p = VeilHeader.Size;
        Assert.Equal("storedLength", Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load(bytes[..^8])).Field);
        Assert.Equal("trailing", Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load([.. bytes, 0])).Field);
        Assert.Equal("layerCount", Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load(Patch(bytes, p + 12, 0))).Field);
        Assert.Equal("input.channels", Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load(Patch(bytes, p, 0))).Field);
        // The first layer's kind byte follows the 16-byte network header.
        var badKind = bytes.ToArray(); badKind[p + 16] = 99;
        Assert.Equal("layerKind", Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load(badKind)).Field);
        // Conv kernel 3 → 9 does not fit an 8 × 8 input.
        Assert.Equal("conv.kernel", Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load(Patch(bytes, p + 17, 9))).Field);
        // A first weight that is NaN.
        var nan = bytes.ToArray(); BitConverter.TryWriteBytes(nan.AsSpan(p + 17 + 12), double.NaN);
        Assert.Equal("conv.weights", Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load(nan)).Field);
        // A claimed count far beyond the bytes is refused before allocating.
        var dense = new SequentialNetwork([new Dense(M(new Random(1), 2, 3, 1), [0, 0])]).Save();
        Assert.Equal("dense.outputs", Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load(Patch(dense, p + 17, int.MaxValue))).Field);
        Assert.Equal("dense.weights", Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load(Patch(dense, p + 17, 1 << 20))).Field);
        Assert.Throws<VeilFormatException>(() => SequentialNetwork.Load(new SquareActivationOnly().Bytes[..20]));
    }

    private sealed class SquareActivationOnly
    {
        public byte[] Bytes { get; } = new SequentialNetwork([new SquareActivation(TensorShape.Vector(4))]).Save();
    }

    private static byte[] Patch(byte[] bytes, int offset, int value)
    {
        var copy = bytes.ToArray();
        BitConverter.TryWriteBytes(copy.AsSpan(offset), value);
        return copy;
    }

    [Fact]
    public void WeightFile_Mutations_GiveOnlyTypedErrors()
    {
        var original = Mixed().Save();
        var rng = new Random(7);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int refused = 0;
        for (int t = 0; t < 3000; t++)
        {
            var bytes = original.ToArray();
            int flips = 1 + rng.Next(4);
            for (int f = 0; f < flips; f++)
            {
                // Mostly the header and the small fields where a change means something, sometimes anywhere.
                int at = rng.Next(3) == 0 ? rng.Next(bytes.Length) : rng.Next(Math.Min(bytes.Length, VeilHeader.Size + 40));
                bytes[at] = (byte)rng.Next(256);
            }
            if (rng.Next(10) == 0) bytes = bytes[..rng.Next(bytes.Length)];
            try { SequentialNetwork.Load(bytes); }
            catch (FormatException) { refused++; }
        }
        Assert.True(refused > 1000, $"only {refused} of 3000 mutations refused");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"3000 loads took {clock.Elapsed}");
    }
}
