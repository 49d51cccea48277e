using System.Numerics;

namespace Veil.Rlwe.Tests;

/// <summary>
/// The scheme-independent evaluator on its own, with no encoder above it: integer polynomials m scaled by Δ, every
/// result checked coefficient by coefficient against BigInteger arithmetic (what a BFV or BGV layer would rely on).
/// </summary>
public class RlweEvaluatorTests
{
    private const long Delta = 1L << 24;
    /// <summary>Twice the fresh-encryption bound of EncryptionTests (2^12): the error of a sum of two fresh ciphertexts.</summary>
    private const int Fresh = 1 << 13;
    private static readonly Lazy<(RlweParameters P, KeyGenerator Keys, Encryptor Enc, Decryptor Dec, RlweEvaluator Ev)> Ctx = new(() =>
    {
        var p = TestRings.Get("OneSpecial");
        var keys = new KeyGenerator(p);
        var ev = new RlweEvaluator(p, keys.CreateRelinearizationKey(), keys.CreateRotationKeys([1, 2, 4], includeConjugation: true)) { MaxDegreeOfParallelism = 1 };
        return (p, keys, new Encryptor(p, keys.CreatePublicKey()), new Decryptor(p, keys.SecretKey), ev);
    });

    private static Ciphertext Encrypt(long[] m, long scale = Delta)
    {
        var (p, _, enc, _, _) = Ctx.Value;
        var ct = enc.Encrypt(TestRings.Encode(p, p.MaxLevel, m, scale));
        ct.Scale = scale;
        return ct;
    }

    private static BigInteger[] Decrypt(Ciphertext ct)
    {
        var (p, _, _, dec, _) = Ctx.Value;
        return TestRings.DecodeCentered(p, ct.Level, dec.Decrypt(ct).Data);
    }

    private static void Close(IReadOnlyList<BigInteger> expected, IReadOnlyList<BigInteger> actual, BigInteger bound) =>
        Assert.True(TestRings.MaxDistance(expected, actual) <= bound, $"error {TestRings.MaxDistance(expected, actual)} above {bound}");

    [Fact]
    public void AdditiveOperations_AndIntegerAndResidueProducts_AreExactUpToFreshNoise()
    {
        var (p, _, _, _, ev) = Ctx.Value;
        var a = TestRings.SmallMessage(p.N, 100, 1);
        var b = TestRings.SmallMessage(p.N, 100, 2);
        var ca = Encrypt(a);
        var cb = Encrypt(b);
        Close(TestRings.Scaled(a.Zip(b, (x, y) => x + y).ToArray(), Delta), Decrypt(ev.Add(ca, cb)), Fresh);
        Close(TestRings.Scaled(a.Zip(b, (x, y) => x - y).ToArray(), Delta), Decrypt(ev.Sub(ca, cb)), Fresh);
        Close(TestRings.Scaled(a.Select(x => -x).ToArray(), Delta), Decrypt(ev.Negate(ca)), Fresh);
        Close(TestRings.Scaled(a.Select(x => 7 * x).ToArray(), Delta), Decrypt(ev.MultiplyInteger(ca, 7)), 7 * Fresh);
        // A constant given by its residues, 5 here: the same as the integer product, with the scale factor it names.
        var fives = Enumerable.Range(0, p.MaxLevel + 1).Select(_ => 5UL).ToArray();
        var times5 = new Ciphertext(p, p.MaxLevel);
        ev.MultiplyByResidues(ca, fives, 2.0, times5);
        Assert.Equal(ca.Scale * 2, times5.Scale);
        Close(TestRings.Scaled(a.Select(x => 5 * x).ToArray(), Delta), Decrypt(times5), 5 * Fresh);
        var plusFive = ev.Zero(p.MaxLevel);
        ev.AddResidues(ca, fives, plusFive);
        var expected = TestRings.Scaled(a, Delta);
        expected[0] += 5;
        Close(expected, Decrypt(plusFive), Fresh);
        Assert.Throws<ArgumentException>(() => ev.AddResidues(ca, [1UL], plusFive)); // one residue per prime
    }

    [Fact]
    public void TensorRelinearizeAndModulusSwitch_GiveTheNegacyclicProduct()
    {
        var (p, _, _, _, ev) = Ctx.Value;
        var a = TestRings.SmallMessage(p.N, 8, 3);
        var b = TestRings.SmallMessage(p.N, 8, 4);
        var product = ev.Multiply(Encrypt(a), Encrypt(b));
        Assert.Equal(3, product.Size);
        Assert.Equal((double)Delta * Delta, product.Scale);
        var relinearized = ev.Relinearize(product);
        Assert.Equal(2, relinearized.Size);
        var exact = TestRings.Scaled(TestRings.NegacyclicProduct(a, b), (BigInteger)Delta * Delta);
        // Error/Δ ≈ a·e_b + b·e_a (sums of N products of |m| ≤ 8 with fresh noise) plus relinearization noise: the maximum
        // over N coefficients sits near 8N at about one run in thirty (a rehearsal saw 1.07·8N), so the bound is 32N.
        Close(exact, Decrypt(relinearized), (BigInteger)Delta * 32 * p.N);
        // Dividing by the last prime: one level down, the scale divided by it, the value divided and rounded.
        var down = ev.DivideByLastPrime(relinearized);
        Assert.Equal(relinearized.Level - 1, down.Level);
        ulong q = p.Q[relinearized.Level];
        Assert.Equal(relinearized.Scale / q, down.Scale, 6);
        var divided = exact.Select(v => BigInteger.Divide(v, q)).ToArray();
        Close(divided, Decrypt(down), 32 * p.N + Fresh);
    }

    [Fact]
    public void Automorphisms_MapMOfXToMOfXToTheK()
    {
        var (p, _, _, _, ev) = Ctx.Value;
        var a = TestRings.SmallMessage(p.N, 100, 5);
        var ca = Encrypt(a);
        foreach (ulong k in new[] { GaloisElements.ForRotation(1, p.N), GaloisElements.ForRotation(4, p.N), GaloisElements.ForConjugation(p.N) })
        {
            var rotated = new Ciphertext(p, ca.Level);
            ev.ApplyGalois(ca, k, rotated);
            Close(TestRings.Automorphism(TestRings.Scaled(a, Delta), k), Decrypt(rotated), Fresh);
        }
        // Rotation by 7 = 1 + 2 + 4, composed from the keys present; hoisted rotations equal the separate ones.
        Close(TestRings.Automorphism(TestRings.Scaled(a, Delta), GaloisElements.ForRotation(7, p.N)), Decrypt(ev.Rotate(ca, 7)), 2 * Fresh);
        var hoisted = ev.RotateHoisted(ca, [1, 4]);
        Assert.Equal(Decrypt(ev.Rotate(ca, 4)), Decrypt(hoisted[1]));
        Assert.Throws<ArgumentException>(() => ev.ApplyGalois(ca, GaloisElements.ForRotation(3, p.N), ca)); // no key of its own
    }

    [Fact]
    public void AddingCiphertextsOfDifferentScales_IsAllowedHere_TheSchemeDecides()
    {
        // Scales are metadata at this layer; CKKS refuses mismatched ones, a scheme without a scale has none to compare.
        var (p, _, _, _, ev) = Ctx.Value;
        var a = Encrypt(TestRings.SmallMessage(p.N, 10, 6), 1 << 20);
        var b = Encrypt(TestRings.SmallMessage(p.N, 10, 7), 1 << 21);
        Assert.Equal(a.Scale, ev.Add(a, b).Scale);
    }
}
