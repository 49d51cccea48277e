using System.Numerics;
using Veil.Arithmetic;

namespace Veil.Rlwe.Tests;

public class EncryptionTests
{
    private const long Scale = 1L << 30;
    /// <summary>Fresh-encryption error bound: public-key error is only mod-down rounding; secret-key error is one Gaussian.</summary>
    private static readonly BigInteger MaxFreshError = 1 << 12;

    public static TheoryData<string, int> SetsAndLevels()
    {
        var data = new TheoryData<string, int>();
        foreach (var set in new[] { "Small", "OneSpecial", "TwoSpecial" })
            for (int level = 0; level <= TestRings.Get(set).MaxLevel; level++) data.Add(set, level);
        return data;
    }

    private static BigInteger RoundTripError(RlweParameters p, Encryptor encryptor, Decryptor decryptor, int level, int seed)
    {
        var m = TestRings.SmallMessage(p.N, 7, seed);
        var pt = TestRings.Encode(p, level, m, Scale);
        pt.Scale = 123.5;
        var ct = encryptor.Encrypt(pt);
        Assert.Equal(level, ct.Level);
        Assert.Equal(2, ct.Size);
        Assert.Equal(123.5, ct.Scale);
        Assert.True(ct.IsNttForm);
        var dec = decryptor.Decrypt(ct);
        Assert.Equal(level, dec.Level);
        Assert.Equal(123.5, dec.Scale);
        Assert.True(dec.IsNttForm);
        var got = TestRings.DecodeCentered(p, level, dec.Data);
        return TestRings.MaxDistance(got, TestRings.Scaled(m, Scale));
    }

    [Theory, MemberData(nameof(SetsAndLevels))]
    public void PublicKeyEncryption_DecryptsToMessageWithSmallError(string set, int level)
    {
        var p = TestRings.Get(set);
        var keygen = new KeyGenerator(p);
        var encryptor = new Encryptor(p, keygen.CreatePublicKey());
        var decryptor = new Decryptor(p, keygen.SecretKey);
        var error = RoundTripError(p, encryptor, decryptor, level, 10 + level);
        Assert.True(error < MaxFreshError, $"error {error} ≥ 2^12");
    }

    [Theory, MemberData(nameof(SetsAndLevels))]
    public void SecretKeyEncryption_DecryptsToMessageWithSmallError(string set, int level)
    {
        var p = TestRings.Get(set);
        var keygen = new KeyGenerator(p);
        var encryptor = new Encryptor(p, keygen.SecretKey);
        var decryptor = new Decryptor(p, keygen.SecretKey);
        var error = RoundTripError(p, encryptor, decryptor, level, 20 + level);
        // The secret-key error is a single Gaussian sample per coefficient.
        Assert.True(error <= 19, $"error {error} > 19");
    }

    [Theory]
    [InlineData("AnchorA")]
    [InlineData("AnchorB")]
    public void Encryption_RoundTripsAtAnchorParameters(string set)
    {
        var p = TestRings.Get(set);
        var keygen = new KeyGenerator(p);
        var decryptor = new Decryptor(p, keygen.SecretKey);
        var pk = new Encryptor(p, keygen.CreatePublicKey());
        var sk = new Encryptor(p, keygen.SecretKey);
        foreach (int level in new[] { p.MaxLevel, 0 })
        {
            Assert.True(RoundTripError(p, pk, decryptor, level, 30) < MaxFreshError);
            Assert.True(RoundTripError(p, sk, decryptor, level, 31) <= 19);
        }
    }

    [Fact]
    public void SecretKeyCiphertext_CarriesSeedThatReexpandsC1()
    {
        var p = TestRings.Get("OneSpecial");
        var keygen = new KeyGenerator(p);
        var encryptor = new Encryptor(p, keygen.SecretKey);
        foreach (int level in new[] { p.MaxLevel, 1 })
        {
            var ct = encryptor.Encrypt(TestRings.Encode(p, level, TestRings.SmallMessage(p.N, 3, 1), Scale));
            Assert.NotNull(ct.Seed);
            Assert.Equal(32, ct.Seed!.Length);
            var c1 = new ulong[ct.PolyLength];
            Encryptor.ExpandSeededC1(p, ct.Seed, level, c1);
            Assert.Equal(c1, ct.Poly(1).ToArray());
        }
    }

    [Fact]
    public void PublicKeyCiphertext_HasNoSeed()
    {
        var p = TestRings.Get("Small");
        var keygen = new KeyGenerator(p);
        var ct = new Encryptor(p, keygen.CreatePublicKey()).Encrypt(new Plaintext(p, p.MaxLevel));
        Assert.Null(ct.Seed);
    }

    [Fact]
    public void EncryptingTwice_GivesDifferentCiphertextsAndSeeds()
    {
        var p = TestRings.Get("Small");
        var keygen = new KeyGenerator(p);
        var pt = TestRings.Encode(p, p.MaxLevel, TestRings.SmallMessage(p.N, 3, 2), Scale);
        foreach (var encryptor in new[] { new Encryptor(p, keygen.SecretKey), new Encryptor(p, keygen.CreatePublicKey()) })
        {
            var a = encryptor.Encrypt(pt);
            var b = encryptor.Encrypt(pt);
            Assert.NotEqual(a.Data, b.Data);
            if (a.Seed is not null) Assert.NotEqual(a.Seed, b.Seed);
        }
    }

    [Fact]
    public void Encrypt_IntoExistingCiphertextReshapesIt()
    {
        var p = TestRings.Get("OneSpecial");
        var keygen = new KeyGenerator(p);
        var encryptor = new Encryptor(p, keygen.SecretKey);
        var decryptor = new Decryptor(p, keygen.SecretKey);
        var destination = new Ciphertext(p, p.MaxLevel, 3);
        Array.Fill(destination.Data, 5UL);
        var m = TestRings.SmallMessage(p.N, 7, 4);
        encryptor.Encrypt(TestRings.Encode(p, 1, m, Scale), destination);
        Assert.Equal(1, destination.Level);
        Assert.Equal(2, destination.Size);
        var got = TestRings.DecodeCentered(p, 1, decryptor.Decrypt(destination).Data);
        Assert.True(TestRings.MaxDistance(got, TestRings.Scaled(m, Scale)) <= 19);
    }

    [Fact]
    public void PublicKey_IsRlweSampleWithGaussianError()
    {
        // b + a·s = e with |e| ≤ 19 on every prime of Q·P.
        var p = TestRings.Get("TwoSpecial");
        var keygen = new KeyGenerator(p);
        var pk = keygen.CreatePublicKey();
        var ring = p.Ring;
        var e = new ulong[pk.B.Length];
        ring.MulPointwise(pk.A, keygen.SecretKey.Ntt, e, 0, ring.LimbCount);
        ring.Add(e, pk.B, e, 0, ring.LimbCount);
        long[]? first = null;
        for (int l = 0; l < ring.LimbCount; l++)
        {
            var limb = TestRings.CenteredLimb(p, l, e.AsSpan(l * p.N, p.N));
            Assert.All(limb, v => Assert.InRange(v, -19, 19));
            first ??= limb;
            Assert.Equal(first, limb); // the same integer error on every prime
        }
        Assert.Contains(first!, v => v != 0);
        Assert.Equal(32, pk.Seed.Length);
    }

    [Fact]
    public void SecretKey_IsTernaryAndItsNttMatchesItsCoefficients()
    {
        var p = TestRings.Get("OneSpecial");
        var sk = new KeyGenerator(p).SecretKey;
        var coeffs = sk.Coefficients.ToArray();
        Assert.Equal(p.N, coeffs.Length);
        Assert.All(coeffs, v => Assert.InRange(v, (sbyte)-1, (sbyte)1));
        // Roughly a third of each value (N = 2048; a stuck sampler would fail this).
        foreach (sbyte v in new sbyte[] { -1, 0, 1 }) Assert.InRange(coeffs.Count(c => c == v), p.N / 5, p.N / 2);
        for (int l = 0; l < p.Ring.LimbCount; l++)
        {
            var limb = TestRings.CenteredLimb(p, l, sk.Ntt.Slice(l * p.N, p.N));
            Assert.Equal(coeffs.Select(c => (long)c), limb);
        }
    }

    [Fact]
    public void KeyGenerator_FreshKeysDiffer()
    {
        var p = TestRings.Get("Small");
        var a = new KeyGenerator(p).SecretKey.Coefficients.ToArray();
        var b = new KeyGenerator(p).SecretKey.Coefficients.ToArray();
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void KeyGenerator_RejectsSecretKeyOfOtherParameters()
    {
        var sk = new KeyGenerator(TestRings.Get("Small")).SecretKey;
        Assert.Throws<ArgumentException>(() => new KeyGenerator(TestRings.Get("OneSpecial"), sk));
        var same = new KeyGenerator(TestRings.Get("Small"), sk);
        Assert.Same(sk, same.SecretKey);
    }

    [Fact]
    public void EncryptorAndDecryptor_RejectKeysOfOtherParameters()
    {
        var small = TestRings.Get("Small");
        var other = TestRings.Get("OneSpecial");
        var keygen = new KeyGenerator(small);
        Assert.Throws<ArgumentException>(() => new Encryptor(other, keygen.CreatePublicKey()));
        Assert.Throws<ArgumentException>(() => new Encryptor(other, keygen.SecretKey));
        Assert.Throws<ArgumentException>(() => new Decryptor(other, keygen.SecretKey));
    }

    [Fact]
    public void Encrypt_RejectsPlaintextOfOtherParametersOrInCoefficientForm()
    {
        var p = TestRings.Get("Small");
        var keygen = new KeyGenerator(p);
        var encryptor = new Encryptor(p, keygen.SecretKey);
        Assert.Throws<ArgumentException>(() => encryptor.Encrypt(new Plaintext(TestRings.Get("OneSpecial"), 0)));
        Assert.Throws<ArgumentException>(() => encryptor.Encrypt(new Plaintext(p, 0, isNttForm: false)));
        Assert.Throws<ArgumentNullException>(() => encryptor.Encrypt(null!));
    }

    [Fact]
    public void Decrypt_RejectsCiphertextOfOtherParametersOrInCoefficientForm()
    {
        var p = TestRings.Get("Small");
        var decryptor = new Decryptor(p, new KeyGenerator(p).SecretKey);
        Assert.Throws<ArgumentException>(() => decryptor.Decrypt(new Ciphertext(TestRings.Get("OneSpecial"), 0)));
        var coeffForm = new Ciphertext(p, 0) { IsNttForm = false };
        Assert.Throws<ArgumentException>(() => decryptor.Decrypt(coeffForm));
    }

    [Fact]
    public void Encrypt_RejectsDestinationOfOtherParameters()
    {
        var p = TestRings.Get("Small");
        var keygen = new KeyGenerator(p);
        var pt = TestRings.Encode(p, 0, TestRings.SmallMessage(p.N, 3, 8), Scale);
        var foreign = new Ciphertext(TestRings.Get("OneSpecial"), 0);
        Assert.Throws<ArgumentException>(() => new Encryptor(p, keygen.SecretKey).Encrypt(pt, foreign));
        Assert.Throws<ArgumentException>(() => new Encryptor(p, keygen.CreatePublicKey()).Encrypt(pt, foreign));
    }

    [Fact]
    public void Decrypt_RejectsDestinationOfOtherParameters()
    {
        var p = TestRings.Get("Small");
        var keygen = new KeyGenerator(p);
        var ct = new Encryptor(p, keygen.SecretKey).Encrypt(new Plaintext(p, 0));
        var foreign = new Plaintext(TestRings.Get("OneSpecial"), 0);
        Assert.Throws<ArgumentException>(() => new Decryptor(p, keygen.SecretKey).Decrypt(ct, foreign));
    }

    [Fact]
    public void Decrypt_OfSizeThreeCiphertextUsesSSquared()
    {
        // (0, 0, 1) decrypts to s².
        var p = TestRings.Get("Small");
        var keygen = new KeyGenerator(p);
        var ct = new Ciphertext(p, p.MaxLevel, 3);
        var one = TestRings.Encode(p, p.MaxLevel, Enumerable.Range(0, p.N).Select(i => i == 0 ? 1L : 0L).ToArray(), 1);
        one.Data.CopyTo(ct.Poly(2));
        var got = TestRings.DecodeCentered(p, p.MaxLevel, new Decryptor(p, keygen.SecretKey).Decrypt(ct).Data);
        var s = keygen.SecretKey.Coefficients.ToArray().Select(c => (long)c).ToArray();
        var expected = TestRings.NegacyclicProduct(s, s).Select(v => (BigInteger)v).ToArray();
        Assert.Equal(expected, got);
    }
}
