using Veil.Serialization;
using Veil.Ckks;
using Veil.Circuits;
using Veil.Ml.Encrypted;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Ml.Tests.Encrypted;

public class EncryptedTensorTests
{
    private static readonly Lazy<CkksContext> Owner = new(() =>
    {
        // N = 4096, six 40-bit levels: insecure on purpose (test only).
        var p = CkksParameters.Create(new CkksParametersLiteral
        {
            LogN = 12, LogQ = [60, 40, 40, 40, 40, 40, 40], LogP = [60], Security = SecurityLevel.InsecureNoCheck,
        }, SecurityLevel.InsecureNoCheck);
        var rotations = EncryptedVector.RequiredRotations(16)
            .Concat(LinearTransform.MatrixVector(Enumerable.Range(0, 16).Select(_ => new double[16]).ToArray(), p.Slots).RequiredRotations)
            .Concat(EncryptedMatrix.RequiredRotations(6))
            .Concat(EncryptedMatrix.ColumnSumRotations(100, 6));
        return CkksContext.Create(p, rotations);
    });

    private static double[] Values(int n, int seed) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => 2 * r.NextDouble() - 1).ToArray(); }

    private static void Close(double[] expected, double[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < tolerance, $"[{i}] {actual[i]} vs {expected[i]}");
    }

    [Fact]
    public void Arithmetic_MatchesPlaintext()
    {
        var ctx = Owner.Value;
        var a = Values(12, 1); var b = Values(12, 2);
        var ea = EncryptedVector.Encrypt(ctx, a);
        var eb = EncryptedVector.Encrypt(ctx, b);
        Assert.Equal(16, ea.Period);
        Close(a.Zip(b, (x, y) => x + y).ToArray(), ea.Add(eb).Decrypt());
        Close(a.Zip(b, (x, y) => x - y).ToArray(), ea.Sub(eb).Decrypt());
        Close(a.Zip(b, (x, y) => x * y).ToArray(), ea.Multiply(eb).Decrypt());
        Close(a.Zip(b, (x, y) => x * y).ToArray(), ea.Multiply(b).Decrypt());
        Close(a.Select(x => 2.5 * x + 1).ToArray(), ea.Multiply(2.5).Add(1.0).Decrypt());
        Close(a.Zip(b, (x, y) => x + y).ToArray(), ea.Add(b).Decrypt());
        // Operands at different levels and scales are aligned automatically.
        var product = ea.Multiply(eb);
        Close(a.Zip(b, (x, y) => x * y + x).ToArray(), product.Add(ea).Decrypt());
        Close(a.Zip(b, (x, y) => x + x * y).ToArray(), ea.Add(product).Decrypt());
    }

    [Fact]
    public void DotSumMatMulPolynomial_MatchPlaintext()
    {
        var ctx = Owner.Value;
        var a = Values(16, 3); var b = Values(16, 4);
        var ea = EncryptedVector.Encrypt(ctx, a);
        Assert.True(Math.Abs(ea.Dot(EncryptedVector.Encrypt(ctx, b)).Decrypt()[0] - a.Zip(b, (x, y) => x * y).Sum()) < 1e-4);
        Assert.True(Math.Abs(ea.Dot(b).Decrypt()[0] - a.Zip(b, (x, y) => x * y).Sum()) < 1e-4);
        Assert.True(Math.Abs(ea.Sum().Decrypt()[0] - a.Sum()) < 1e-4);
        var rng = new Random(5);
        var m = Enumerable.Range(0, 16).Select(_ => Enumerable.Range(0, 16).Select(_ => rng.NextDouble() - 0.5).ToArray()).ToArray();
        Close(m.Select(row => row.Zip(a, (x, y) => x * y).Sum()).ToArray(), ea.MatMul(m).Decrypt(), 1e-4);
        Close(a.Select(x => 0.5 + x - 0.25 * x * x * x).ToArray(), ea.Polynomial([0.5, 1.0, 0.0, -0.25]).Decrypt(), 1e-4);
        var sigmoid = Approximations.SigmoidSeries(1, 7);
        Close(a.Select(sigmoid.Evaluate).ToArray(), ea.Polynomial(new ChebyshevSeries(sigmoid.Coefficients, -1, 1)).Decrypt(), 1e-4);
    }

    [Fact]
    public void SaveLoad_RoundTrips_AndRejectsBadInput()
    {
        var ctx = Owner.Value;
        var a = Values(10, 6);
        var ea = EncryptedVector.Encrypt(ctx, a);
        var bytes = ea.Save(Compression.Brotli);
        var back = EncryptedVector.Load(ctx.ToPublic(), bytes);
        Assert.Equal(10, back.Length);
        Assert.Throws<InvalidOperationException>(() => back.Decrypt()); // a public context cannot decrypt
        Close(a, EncryptedVector.Load(ctx, bytes).Decrypt());
        var badPeriod = (byte[])bytes.Clone();
        badPeriod[VeilHeader.Size + 4] = 3;
        Assert.Equal("period", Assert.Throws<VeilFormatException>(() => EncryptedVector.Load(ctx, badPeriod)).Field);
        var badLength = (byte[])bytes.Clone();
        badLength[VeilHeader.Size] = 200;
        Assert.Equal("length", Assert.Throws<VeilFormatException>(() => EncryptedVector.Load(ctx, badLength)).Field);
        Assert.Throws<VeilFormatException>(() => EncryptedVector.Load(ctx, bytes.AsSpan(0, 5)));
        var other = CkksContext.Create(CkksParameters.Create(CkksParameters.SetA), []);
        Assert.Throws<VeilFormatException>(() => EncryptedVector.Load(other, bytes));
    }

    [Fact]
    public void Matrix_RoundTripsAndComputesRowScores()
    {
        var ctx = Owner.Value;
        var rng = new Random(7);
        var x = Enumerable.Range(0, 500).Select(_ => Enumerable.Range(0, 6).Select(_ => rng.NextDouble() - 0.5).ToArray()).ToArray();
        var w = Values(6, 8);
        var em = EncryptedMatrix.Encrypt(ctx, x);
        Assert.Equal(2, em.Blocks.Count); // 2048 slots / 8 = 256 rows a ciphertext
        var back = em.Decrypt();
        for (int r = 0; r < 500; r++) Close(x[r], back[r]);
        var expected = x.Select(row => row.Zip(w, (a, b) => a * b).Sum()).ToArray();
        Close(expected, em.DecryptRowScores(em.MatVec(w)), 1e-4);
        var ew = EncryptedVector.Encrypt(ctx, w.Concat([0.0, 0.0]).ToArray());
        Close(expected, em.DecryptRowScores(em.MatVec(ew)), 1e-4);
    }

    [Fact]
    public void ColumnMajor_WeightedColumnSumAndSaveLoad()
    {
        var ctx = Owner.Value;
        var rng = new Random(9);
        var x = Enumerable.Range(0, 100).Select(_ => Enumerable.Range(0, 6).Select(_ => rng.NextDouble() - 0.5).ToArray()).ToArray();
        var w = Values(6, 10);
        var em = EncryptedMatrix.EncryptColumns(ctx, x);
        Assert.Equal(MatrixPacking.ColumnMajor, em.Packing);
        Assert.Single(em.Blocks); // 2048 slots / 128 = 16 columns a ciphertext
        var back = em.Decrypt();
        for (int r = 0; r < 100; r++) Close(x[r], back[r]);
        var scores = em.ColumnWeightedSum(w).Decrypt();
        Close(x.Select(row => row.Zip(w, (a, b) => a * b).Sum()).ToArray(), scores, 1e-4);
        Assert.Throws<InvalidOperationException>(() => em.MatVec(w));
        var bytes = em.Save(Compression.ZLib);
        var loaded = EncryptedMatrix.Load(ctx, bytes);
        Assert.Equal(MatrixPacking.ColumnMajor, loaded.Packing);
        for (int r = 0; r < 100; r++) Close(x[r], loaded.Decrypt()[r]);
        var badBlocks = (byte[])bytes.Clone();
        badBlocks[VeilHeader.Size + 16] = 9;
        Assert.Equal("blocks", Assert.Throws<VeilFormatException>(() => EncryptedMatrix.Load(ctx, badBlocks)).Field);
        var badWidth = (byte[])bytes.Clone();
        badWidth[VeilHeader.Size + 8] = 3;
        Assert.Equal("width", Assert.Throws<VeilFormatException>(() => EncryptedMatrix.Load(ctx, badWidth)).Field);
        Assert.Throws<VeilFormatException>(() => EncryptedMatrix.Load(ctx, bytes[..^10]));
        Assert.Throws<VeilFormatException>(() => EncryptedMatrix.Load(ctx, [.. bytes, 0, 0]));
    }
}
