using Veil.Bfv;

namespace Veil.Bfv.Tests;

public class RerandomizeTests
{
    [Theory]
    [InlineData(40)]
    [InlineData(80)]
    [InlineData(100)] // past 64 bits: the two-word sampling path
    public void Rerandomize_KeepsThePlaintext_ChangesEveryComponent_AndSpendsTheFloodBits(int bits)
    {
        var parameters = BfvParameters.Create(13, [60, 60, 50], [40], 1UL << 48);
        using var owner = BfvContext.Create(parameters);
        using var server = BfvContext.FromPublicKey(parameters, owner.PublicKey);
        var values = Enumerable.Range(0, 100).Select(i => (long)i * 1_000_003 - 40_000_000).ToArray();
        var ct = server.Encrypt(server.Encoder.EncodeCoefficients(values));
        var product = server.Evaluator.MultiplyScalar(ct, -3);
        int before = owner.NoiseBudget(product);
        var fresh = server.Rerandomize(product, bits);
        Assert.Equal(values.Select(v => v * -3), owner.Encoder.DecodeCoefficientsSigned(owner.DecryptPlaintext(fresh)).Take(100));
        Assert.False(fresh.Poly(0).SequenceEqual(product.Poly(0)));
        Assert.False(fresh.Poly(1).SequenceEqual(product.Poly(1))); // c1 no longer follows from the encryption's randomness
        int after = owner.NoiseBudget(fresh);
        // At most what Q/t leaves above a noise of 2^b (the flood is at least as wide as asked); where the flood dominates
        // the noise already there, about that much (it is not wider either).
        Assert.True(after <= parameters.LogQ - 48 - bits + 2, $"budget {before} → {after}");
        if (bits >= 80) Assert.True(after >= parameters.LogQ - 48 - bits - 4, $"budget {before} → {after}");
        Assert.Throws<ArgumentOutOfRangeException>(() => server.Rerandomize(product, 191));
    }
}

public class RoundedScalingTests
{
    [Fact]
    public void APlaintextProduct_CarriesNoNoiseFromQModT_SoFloodingSizedForEYSuffices()
    {
        // Uniform m and y mod a 25-bit t: with Δ·m scaling the product's noise holds (Q mod t)·⌊m·y/t⌋ (measured: a
        // budget of 100 bits); rounded scaling leaves (e + δ)·y, about √N·|e|·t/2 ≈ 2^33 (measured: 115).
        var t = Veil.Arithmetic.Primes.NttPrimes(25, 13, 1)[0];
        var parameters = BfvParameters.Create(13, [60, 60, 55], [40], t);
        using var owner = BfvContext.Create(parameters, relinearization: false);
        var rng = new Random(5);
        var m = Enumerable.Range(0, parameters.N).Select(_ => (ulong)rng.NextInt64((long)t)).ToArray();
        var y = Enumerable.Range(0, parameters.N).Select(_ => (ulong)rng.NextInt64((long)t)).ToArray();
        var ct = owner.EncryptSymmetric(owner.Encoder.EncodeBatch(m));
        var product = owner.Evaluator.MultiplyPlain(ct, owner.Encoder.EncodeBatch(y), owner.Encoder);
        var decoded = owner.DecryptUnsigned(product);
        for (int i = 0; i < parameters.N; i++) Assert.Equal((ulong)((UInt128)m[i] * y[i] % t), decoded[i]);
        Assert.True(owner.NoiseBudget(product) >= 108, $"noise budget {owner.NoiseBudget(product)}: the (Q mod t) term is back");
    }

    [Fact]
    public void Rerandomize_RefusesAFloodThatDoesNotFitAtTheLevel()
    {
        var parameters = BfvParameters.Create(13, [60, 60, 50], [40], 1UL << 48);
        using var owner = BfvContext.Create(parameters, relinearization: false);
        var ct = owner.Encrypt(owner.Encoder.EncodeCoefficients([1, 2, 3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => owner.Rerandomize(ct, 121));
        Assert.Throws<ArgumentOutOfRangeException>(() => owner.Rerandomize(owner.Evaluator.ModSwitchToNext(ct), 80));
    }
}
