using Veil.Ml.Models;

namespace Veil.Ml.Tests.Models;

public class SquareCnnTests
{
    private static double[] RandomVector(Random random, int n, double scale) =>
        [.. Enumerable.Range(0, n).Select(_ => scale * (2 * random.NextDouble() - 1))];

    private static double[][] RandomMatrix(Random random, int rows, int columns, double scale) =>
        [.. Enumerable.Range(0, rows).Select(_ => RandomVector(random, columns, scale))];

    /// <summary>A network with seeded random weights.</summary>
    private static SquareCnn RandomNet(int imageSize = 12, int kernel = 5, int stride = 2, int maps = 3, int hidden = 7, int outputs = 4, int seed = 5)
    {
        var random = new Random(seed);
        int o = (imageSize - kernel) / stride + 1;
        return new SquareCnn(imageSize, kernel, stride,
            RandomMatrix(random, maps, kernel * kernel, 0.5), RandomVector(random, maps, 0.5),
            RandomMatrix(random, hidden, maps * o * o, 0.3), RandomVector(random, hidden, 0.3),
            RandomMatrix(random, outputs, hidden, 0.3), RandomVector(random, outputs, 0.3));
    }

    private static byte[] Bytes(SquareCnn net)
    {
        using var stream = new MemoryStream();
        net.Save(stream);
        return stream.ToArray();
    }

    /// <summary>
    /// 12 × 12 images of four patterns at random places with noise: a horizontal bar, a vertical bar, a diagonal, and a
    /// 3 × 3 block.
    /// </summary>
    private static (double[][] Images, double[] Labels) Patterns(int count, int seed)
    {
        var random = new Random(seed);
        var images = new double[count][];
        var labels = new double[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % 4;
            var x = images[i] = RandomVector(random, 144, 0.1).Select(Math.Abs).ToArray();
            int a = random.Next(1, 9), b = random.Next(1, 9);
            for (int t = 0; t < 8; t++)
            {
                switch (label)
                {
                    case 0: x[a * 12 + 2 + t] = 1; break;
                    case 1: x[(2 + t) * 12 + b] = 1; break;
                    case 2: x[(2 + t) * 12 + 2 + t] = 1; break;
                }
            }
            if (label == 3)
                for (int dy = 0; dy < 3; dy++)
                    for (int dx = 0; dx < 3; dx++) x[(a + dy) * 12 + b + dx] = 1;
            labels[i] = label;
        }
        return (images, labels);
    }

    [Theory]
    [InlineData(12, 5, 2, 3)]
    [InlineData(28, 5, 2, 5)]
    [InlineData(9, 3, 1, 2)]
    [InlineData(10, 4, 3, 1)]
    public void ConvLayer_MatchesNaiveReference(int imageSize, int kernel, int stride, int maps)
    {
        var net = RandomNet(imageSize, kernel, stride, maps);
        var image = RandomVector(new Random(9), imageSize * imageSize, 1);
        int o = (imageSize - kernel) / stride + 1;
        Assert.Equal(o, net.ConvOutputSize);
        var a = net.ConvLayer(image);
        Assert.Equal(maps * o * o, a.Length);
        for (int m = 0; m < maps; m++)
            for (int oy = 0; oy < o; oy++)
                for (int ox = 0; ox < o; ox++)
                {
                    double c = net.ConvBias[m];
                    for (int ky = 0; ky < kernel; ky++)
                        for (int kx = 0; kx < kernel; kx++)
                            c += net.ConvWeights[m][ky * kernel + kx] * image[(stride * oy + ky) * imageSize + stride * ox + kx];
                    Assert.Equal(c * c, a[m * o * o + oy * o + ox], 12);
                }
    }

    [Fact]
    public void ConvOutputSize_Is12For28PixelImages()
    {
        var net = RandomNet(28, 5, 2, 5, hidden: 3, outputs: 10);
        Assert.Equal((28, 5, 2, 5, 12, 720, 3, 10), (net.ImageSize, net.KernelSize, net.Stride, net.Maps, net.ConvOutputSize, net.ConvOutputs, net.Hidden, net.Outputs));
    }

    [Theory]
    [InlineData(12, 5, 2)]
    [InlineData(9, 3, 1)]
    public void ConvAsMatrix_TimesImagePlusBiasSquared_EqualsConvLayer(int imageSize, int kernel, int stride)
    {
        var net = RandomNet(imageSize, kernel, stride);
        var image = RandomVector(new Random(11), imageSize * imageSize, 1);
        var t = net.ConvAsMatrix();
        Assert.Equal(net.ConvOutputs, t.Length);
        Assert.All(t, row => Assert.Equal(imageSize * imageSize, row.Length));
        Assert.All(t, row => Assert.True(row.Count(v => v != 0) <= kernel * kernel));
        var a = net.ConvLayer(image);
        int positions = net.ConvOutputSize * net.ConvOutputSize;
        for (int r = 0; r < t.Length; r++)
        {
            double c = net.ConvBias[r / positions];
            for (int i = 0; i < image.Length; i++) c += t[r][i] * image[i];
            Assert.Equal(c * c, a[r], 12);
        }
    }

    [Fact]
    public void Forward_IsDenseSquareDenseOfTheConvLayer()
    {
        var net = RandomNet();
        var image = RandomVector(new Random(3), 144, 1);
        var a = net.ConvLayer(image);
        var h = net.HiddenLayer(a);
        var logits = net.Forward(image);
        for (int j = 0; j < net.Hidden; j++)
        {
            double z = net.B1[j];
            for (int i = 0; i < a.Length; i++) z += net.W1[j][i] * a[i];
            Assert.Equal(z * z, h[j], 12);
        }
        for (int k = 0; k < net.Outputs; k++)
        {
            double z = net.B2[k];
            for (int j = 0; j < net.Hidden; j++) z += net.W2[k][j] * h[j];
            Assert.Equal(z, logits[k], 12);
        }
        var maxima = net.MaxAbsActivations([image]);
        Assert.Equal(net.ConvPreActivations(image).Max(Math.Abs), maxima.Conv);
        Assert.Equal(logits.Max(Math.Abs), maxima.Logits, 12);
        Assert.Throws<ArgumentException>(() => net.Forward(new double[143]));
    }

    [Fact]
    public void Gradient_MatchesFiniteDifferences()
    {
        var net = RandomNet();
        var (images, labels) = Patterns(6, 4);
        var trainer = new CnnTrainer(net.Shape, images, labels, batch: 6, seed: 1);
        var theta = net.Flatten();
        var grad = new double[theta.Length];
        int[] rows = [0, 1, 2, 3, 4, 5];
        trainer.Gradient(theta, rows, grad);
        var scratch = new double[theta.Length];
        const double h = 1e-6;
        for (int i = 0; i < theta.Length; i++)
        {
            double saved = theta[i];
            theta[i] = saved + h;
            double up = trainer.Gradient(theta, rows, scratch);
            theta[i] = saved - h;
            double down = trainer.Gradient(theta, rows, scratch);
            theta[i] = saved;
            double numeric = (up - down) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[i]) <= 1e-6 + 1e-5 * Math.Abs(numeric), $"θ[{i}]: analytic {grad[i]}, numeric {numeric}");
        }
    }

    [Fact]
    public void Train_LearnsSyntheticPatternsWithModerateActivations()
    {
        var (train, trainLabels) = Patterns(600, 1);
        var (test, testLabels) = Patterns(200, 2);
        var reports = new List<double>();
        var net = SquareCnn.Train(train, trainLabels, imageSize: 12, maps: 4, hidden: 16, epochs: 8, batch: 16, progress: new SyncProgress(reports));
        Assert.True(net.Score(test, testLabels) >= 0.95, $"accuracy {net.Score(test, testLabels)}");
        var maxima = net.MaxAbsActivations(test);
        Assert.True(maxima.Conv < 100 && maxima.Hidden < 100 && maxima.Logits < 100, $"{maxima}");
        Assert.Equal(1.0, reports[^1]);
        Assert.True(reports.Count <= 101);
    }

    [Fact]
    public void Train_IsDeterministicForASeed()
    {
        var (images, labels) = Patterns(96, 7);
        var a = SquareCnn.Train(images, labels, imageSize: 12, maps: 2, hidden: 5, epochs: 2, batch: 8, seed: 3);
        var b = SquareCnn.Train(images, labels, imageSize: 12, maps: 2, hidden: 5, epochs: 2, batch: 8, seed: 3);
        var c = SquareCnn.Train(images, labels, imageSize: 12, maps: 2, hidden: 5, epochs: 2, batch: 8, seed: 4);
        Assert.Equal(a.Flatten(), b.Flatten());
        Assert.NotEqual(a.Flatten(), c.Flatten());
    }

    [Fact]
    public void Train_RejectsBadArguments()
    {
        var (images, labels) = Patterns(8, 1);
        Assert.Throws<ArgumentException>(() => SquareCnn.Train(images, labels));
        Assert.Throws<ArgumentException>(() => SquareCnn.Train(images, labels[..7], imageSize: 12));
        Assert.Throws<ArgumentException>(() => SquareCnn.Train(images, [.. labels[..7], 0.5], imageSize: 12));
        Assert.Throws<ArgumentOutOfRangeException>(() => SquareCnn.Train(images, labels, imageSize: 12, hidden: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SquareCnn.Train(images, labels, imageSize: 12, learningRate: double.NaN));
    }

    [Fact]
    public void Constructor_RejectsInconsistentShapes()
    {
        var n = RandomNet();
        Assert.Throws<ArgumentException>(() => new SquareCnn(12, 5, 2, n.ConvWeights, n.ConvBias, [.. n.W1.Select(r => r[1..])], n.B1, n.W2, n.B2));
        Assert.Throws<ArgumentException>(() => new SquareCnn(12, 5, 2, n.ConvWeights, n.ConvBias[1..], n.W1, n.B1, n.W2, n.B2));
        Assert.Throws<ArgumentException>(() => new SquareCnn(12, 5, 2, n.ConvWeights, n.ConvBias, n.W1, n.B1, n.W2, [.. n.B2[1..], double.NaN]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SquareCnn(12, 5, 6, n.ConvWeights, n.ConvBias, n.W1, n.B1, n.W2, n.B2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SquareCnn(4, 5, 2, n.ConvWeights, n.ConvBias, n.W1, n.B1, n.W2, n.B2));
    }

    [Fact]
    public void WeightFile_RoundTripsExactly()
    {
        var net = RandomNet(28, 5, 2, 5, hidden: 6, outputs: 10);
        var bytes = Bytes(net);
        Assert.Equal(28 + 8 * (5 * 25 + 5 + 6 * 720 + 6 + 10 * 6 + 10), bytes.Length);
        Assert.Equal("VCN1"u8.ToArray(), bytes[..4]);
        var back = SquareCnn.Load(bytes);
        Assert.Equal((28, 5, 2, 5, 6, 10), (back.ImageSize, back.KernelSize, back.Stride, back.Maps, back.Hidden, back.Outputs));
        Assert.Equal(net.Flatten(), back.Flatten());
        Assert.Equal(bytes, Bytes(back));
    }

    private static byte[] WithInt(byte[] bytes, int field, int value)
    {
        var copy = (byte[])bytes.Clone();
        BitConverter.GetBytes(value).CopyTo(copy, 4 + 4 * field);
        return copy;
    }

    [Fact]
    public void Load_RejectsBadMagicAndShortHeader()
    {
        var bytes = Bytes(RandomNet());
        Assert.Contains("magic", Assert.Throws<FormatException>(() => SquareCnn.Load([.. "VNN1"u8, .. bytes[4..]])).Message);
        Assert.Contains("header", Assert.Throws<FormatException>(() => SquareCnn.Load(bytes[..27])).Message);
    }

    [Fact]
    public void Load_RejectsWrongLength()
    {
        var bytes = Bytes(RandomNet());
        Assert.Contains("expected", Assert.Throws<FormatException>(() => SquareCnn.Load(bytes[..^8])).Message);
        Assert.Contains("expected", Assert.Throws<FormatException>(() => SquareCnn.Load([.. bytes, 0])).Message);
    }

    [Theory]
    [InlineData(0, int.MaxValue, "image size")]
    [InlineData(0, -28, "image size")]
    [InlineData(3, int.MaxValue, "map count")]
    [InlineData(4, int.MaxValue, "hidden size")]
    [InlineData(5, 1 << 30, "output size")]
    [InlineData(4, 0, "hidden size")]
    public void Load_RejectsHugeOrZeroSizes(int field, int value, string name) =>
        Assert.Contains(name, Assert.Throws<FormatException>(() => SquareCnn.Load(WithInt(Bytes(RandomNet()), field, value))).Message);

    [Fact]
    public void Load_RejectsInconsistentGeometry()
    {
        var bytes = Bytes(RandomNet());
        Assert.Contains("kernel size 13", Assert.Throws<FormatException>(() => SquareCnn.Load(WithInt(bytes, 1, 13))).Message);
        Assert.Contains("stride 6", Assert.Throws<FormatException>(() => SquareCnn.Load(WithInt(bytes, 2, 6))).Message);
        Assert.Contains("stride 0", Assert.Throws<FormatException>(() => SquareCnn.Load(WithInt(bytes, 2, 0))).Message);
        // A consistent but different geometry changes the expected length.
        Assert.Contains("expected", Assert.Throws<FormatException>(() => SquareCnn.Load(WithInt(bytes, 2, 1))).Message);
        // 1024 × 1024 images with 1 × 1 kernels: a million convolution outputs per map.
        var wide = WithInt(WithInt(WithInt(bytes, 0, 1024), 1, 1), 2, 1);
        Assert.Contains("convolution outputs", Assert.Throws<FormatException>(() => SquareCnn.Load(wide)).Message);
    }

    [Theory]
    [InlineData(0, "conv weights")]
    [InlineData(75, "conv bias")]
    [InlineData(80, "W1")]
    [InlineData(453 - 1, "b2")]
    public void Load_RejectsNonFiniteValues(int index, string field)
    {
        var bytes = Bytes(RandomNet());
        Assert.Equal(28 + 8 * 453, bytes.Length);
        foreach (double bad in new[] { double.NaN, double.PositiveInfinity })
        {
            var copy = (byte[])bytes.Clone();
            BitConverter.GetBytes(bad).CopyTo(copy, 28 + 8 * index);
            Assert.Contains($"non-finite value in {field}", Assert.Throws<FormatException>(() => SquareCnn.Load(copy)).Message);
        }
    }

    /// <summary>Records reports on the calling thread (<see cref="Progress{T}"/> would post them to the thread pool).</summary>
    private sealed class SyncProgress(List<double> reports) : IProgress<double>
    {
        public void Report(double value) => reports.Add(value);
    }
}
