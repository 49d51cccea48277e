using Veil.Bfv;

namespace Veil.Bfv.Tests;

public class RerandomizeTests
{
    [Fact]
    public void Rerandomize_KeepsThePlaintext_ChangesEveryComponent_AndSpendsTheFloodBits()
    {
        var parameters = BfvParameters.Create(13, [60, 60, 50], [40], 1UL << 48);
        using var owner = BfvContext.Create(parameters);
        using var server = BfvContext.FromPublicKey(parameters, owner.PublicKey);
        var values = Enumerable.Range(0, 100).Select(i => (long)i * 1_000_003 - 40_000_000).ToArray();
        var ct = server.Encrypt(server.Encoder.EncodeCoefficients(values));
        var product = server.Evaluator.MultiplyScalar(ct, -3);
        int before = owner.NoiseBudget(product);
        var fresh = server.Rerandomize(product, 80);
        Assert.Equal(values.Select(v => v * -3), owner.Encoder.DecodeCoefficientsSigned(owner.DecryptPlaintext(fresh)).Take(100));
        Assert.False(fresh.Poly(0).SequenceEqual(product.Poly(0)));
        Assert.False(fresh.Poly(1).SequenceEqual(product.Poly(1))); // c1 no longer follows from the encryption's randomness
        int after = owner.NoiseBudget(fresh);
        Assert.InRange(before - after, 1, 1000);
        Assert.True(after > 0 && after <= parameters.LogQ - 48 - 80 + 2, $"budget {before} → {after}");
        Assert.Throws<ArgumentOutOfRangeException>(() => server.Rerandomize(product, 121));
    }
}
