using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe.Tests;

public class SecretProductsTests
{
    // Largest centred coefficient of a − b (NTT form in, over the first limbs primes).
    private static double MaxCentredDifference(RlweParameters p, RnsPolynomial a, RnsPolynomial b, int limbs)
    {
        var ring = p.Ring;
        var d = new ulong[limbs * p.N];
        ring.Sub(a.Data, b.Data, d, 0, limbs);
        ring.Inverse(d, 0, limbs);
        double largest = 0;
        for (int l = 0; l < limbs; l++)
        {
            ulong q = ring.Moduli[l].Value;
            for (int i = 0; i < p.N; i++)
            {
                ulong v = d[l * p.N + i];
                largest = Math.Max(largest, v > q / 2 ? q - v : v);
            }
        }
        return largest;
    }

    [Theory]
    [InlineData(3.2, 2 * 19)]
    [InlineData(1048576.0, 2 * 9 * 1048576.0)]
    public void SpanOverloads_GiveTheSameProductAsThePolynomialOnes(double sigma, double bound)
    {
        var p = TestRings.Get("OneSpecial");
        using var secret = new KeyGenerator(p).SecretKey;
        int limbs = 3;
        var x = new RnsPolynomial(p.N, limbs);
        using (var prng = new Prng(new byte[32], "test/secret-products")) Samplers.Uniform(prng, p.Ring, x.Data, 0, limbs);
        // Inside a longer buffer, as a ciphertext's c_1 sits after c_0.
        var buffer = new ulong[(limbs + 2) * p.N];
        x.Data.CopyTo(buffer, p.N);
        var viaSpan = SecretProducts.MultiplyAddNoise(secret, buffer.AsSpan(p.N, limbs * p.N), limbs, sigma);
        var viaPolynomial = SecretProducts.MultiplyAddNoise(secret, x, sigma);
        Assert.Equal(limbs, viaSpan.LimbCount);
        Assert.True(viaSpan.IsNttForm);
        // Only the two noises differ.
        double difference = MaxCentredDifference(p, viaSpan, viaPolynomial, limbs);
        Assert.InRange(difference, 1, bound);

        using var share = SecretPolynomial.Share(secret, 1, [1UL])[0]; // threshold 1: the share is s itself
        var viaSecretPolynomial = SecretProducts.MultiplyAddNoise(share, buffer.AsSpan(p.N, limbs * p.N), limbs, sigma);
        Assert.InRange(MaxCentredDifference(p, viaSecretPolynomial, viaPolynomial, limbs), 1, bound);
    }

    [Fact]
    public void ScalarOverload_IsTheProductOfTheScaledSecret()
    {
        var p = TestRings.Get("OneSpecial");
        using var secret = new KeyGenerator(p).SecretKey;
        using var share = SecretPolynomial.Share(secret, 1, [1UL])[0];
        int limbs = 2;
        var x = new RnsPolynomial(p.N, limbs);
        using (var prng = new Prng(new byte[32], "test/secret-products-scalar")) Samplers.Uniform(prng, p.Ring, x.Data, 0, limbs);
        var lambda = p.Ring.Moduli.Select((m, l) => m.Value - 3 - (ulong)l).ToArray();
        using var scaled = share.MultiplyScalar(lambda);
        var viaScalar = SecretProducts.MultiplyAddNoise(share, lambda, x.Data, limbs, 3.2);
        var viaScaledSecret = SecretProducts.MultiplyAddNoise(scaled, x.Data, limbs, 3.2);
        Assert.InRange(MaxCentredDifference(p, viaScalar, viaScaledSecret, limbs), 1, 2 * 19);
        Assert.Throws<ArgumentException>(() => SecretProducts.MultiplyAddNoise(share, lambda.AsSpan(1), x.Data, limbs, 3.2));
        lambda[1] = p.Ring.Moduli[1].Value;
        Assert.Throws<ArgumentException>(() => SecretProducts.MultiplyAddNoise(share, lambda, x.Data, limbs, 3.2));
    }

    [Fact]
    public void DifferenceOverListOfPolynomials_IsTheDifferenceTimesEach()
    {
        var p = TestRings.Get("OneSpecial");
        using var s = new KeyGenerator(p).SecretKey;
        using var t = new KeyGenerator(p).SecretKey;
        var xs = new RnsPolynomial[3];
        for (int j = 0; j < xs.Length; j++)
        {
            xs[j] = new RnsPolynomial(p.N, j + 1);
            using var prng = new Prng(new byte[32], "test/difference", j);
            Samplers.Uniform(prng, p.Ring, xs[j].Data, 0, j + 1);
        }
        var together = SecretProducts.MultiplyDifferenceAddNoise(s, t, xs);
        for (int j = 0; j < xs.Length; j++)
        {
            Assert.Equal(j + 1, together[j].LimbCount);
            var alone = SecretProducts.MultiplyDifferenceAddNoise(s, t, xs[j]);
            Assert.InRange(MaxCentredDifference(p, together[j], alone, j + 1), 1, 2 * 19);
        }
        xs[1].Data[3] = p.Ring.Moduli[0].Value; // not below its prime: refused before anything is made
        Assert.Throws<ArgumentException>(() => SecretProducts.MultiplyDifferenceAddNoise(s, t, xs));
    }

    [Fact]
    public void SpanOverload_RefusesShortUnreducedOrOversizedInput()
    {
        var p = TestRings.Get("OneSpecial");
        using var secret = new KeyGenerator(p).SecretKey;
        var x = new ulong[2 * p.N];
        Assert.Throws<ArgumentException>(() => SecretProducts.MultiplyAddNoise(secret, x.AsSpan(1), 2));
        Assert.Throws<ArgumentException>(() => SecretProducts.MultiplyAddNoise(secret, x, 0));
        Assert.Throws<ArgumentException>(() => SecretProducts.MultiplyAddNoise(secret, new ulong[(p.Ring.LimbCount + 1) * p.N], p.Ring.LimbCount + 1));
        x[p.N + 5] = p.Ring.Moduli[1].Value; // not below its prime
        var e = Assert.Throws<ArgumentException>(() => SecretProducts.MultiplyAddNoise(secret, x, 2));
        Assert.Contains("limb 1", e.Message);
    }
}
