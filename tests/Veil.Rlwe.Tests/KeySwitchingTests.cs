using Veil.Serialization;
using System.Numerics;
using Veil.Arithmetic;

namespace Veil.Rlwe.Tests;

public class KeySwitchingTests
{
    private const long Scale = 1L << 30;
    /// <summary>
    /// Key-switching error bound. The added error is about √N·σ·(digit/P)·(primes per digit) plus mod-down rounding
    /// (≈ √N): a few hundred at N = 2^13 (measured ≤ 400); a wrong switch gives errors of the size of Q.
    /// </summary>
    private static readonly BigInteger MaxSwitchError = 1 << 12;

    public static TheoryData<string, int> SetsAndLevels()
    {
        var data = new TheoryData<string, int>();
        foreach (var set in new[] { "OneSpecial", "TwoSpecial" })
            for (int level = 0; level <= TestRings.Get(set).MaxLevel; level++) data.Add(set, level);
        return data;
    }

    /// <summary>Applies σ_k to a ciphertext and switches σ_k(s) back to s: (σ_k(c0) + r0, r1) with (r0, r1) = switch(σ_k(c1)).</summary>
    private static Ciphertext RotateAndSwitch(RlweParameters p, Ciphertext ct, ulong k, KeySwitchingKey key)
    {
        int limbs = ct.Level + 1;
        var result = new Ciphertext(p, ct.Level, 2, ct.Scale);
        var c1 = new ulong[ct.PolyLength];
        KeySwitcher.ApplyGaloisNtt(p, k, ct.Poly(0), result.Poly(0), limbs);
        KeySwitcher.ApplyGaloisNtt(p, k, ct.Poly(1), c1, limbs);
        KeySwitcher.SwitchAndAdd(p, ct.Level, c1, key, result.Poly(0), result.Poly(1));
        return result;
    }

    [Theory, MemberData(nameof(SetsAndLevels))]
    public void GaloisKeySwitch_DecryptsToAutomorphismOfMessage(string set, int level)
    {
        var p = TestRings.Get(set);
        var keygen = new KeyGenerator(p);
        ulong[] elements = [5, 25, 2UL * (ulong)p.N - 1];
        var keys = keygen.CreateGaloisKeys(elements);
        var encryptor = new Encryptor(p, keygen.CreatePublicKey());
        var decryptor = new Decryptor(p, keygen.SecretKey);
        var m = TestRings.SmallMessage(p.N, 7, 100 + level);
        var ct = encryptor.Encrypt(TestRings.Encode(p, level, m, Scale));
        foreach (var k in elements)
        {
            var rotated = RotateAndSwitch(p, ct, k, keys[k]);
            var got = TestRings.DecodeCentered(p, level, decryptor.Decrypt(rotated).Data);
            var expected = TestRings.Automorphism(TestRings.Scaled(m, Scale), k);
            var error = TestRings.MaxDistance(got, expected);
            Assert.True(error < MaxSwitchError, $"{set}, level {level}, k = {k}: error {error} ≥ 2^12");
        }
    }

    [Fact]
    public void GaloisKeys_SavedAndLoaded_StillSwitchTheAutomorphismAndSaveTheSameBytes()
    {
        // Galois keys are held pre-permuted in memory; the file holds them as generated, and loading permutes again.
        var p = TestRings.Get("TwoSpecial");
        var keygen = new KeyGenerator(p);
        ulong[] elements = [5, 2UL * (ulong)p.N - 1];
        var bytes = Veil.Rlwe.Serialization.RlweSerializer.Save(keygen.CreateGaloisKeys(elements));
        var loaded = Veil.Rlwe.Serialization.RlweSerializer.LoadGaloisKeys(bytes, p);
        Assert.Equal(bytes, Veil.Rlwe.Serialization.RlweSerializer.Save(loaded));
        var encryptor = new Encryptor(p, keygen.CreatePublicKey());
        var decryptor = new Decryptor(p, keygen.SecretKey);
        var m = TestRings.SmallMessage(p.N, 7, 99);
        var ct = encryptor.Encrypt(TestRings.Encode(p, p.MaxLevel, m, Scale));
        foreach (var k in elements)
        {
            var got = TestRings.DecodeCentered(p, p.MaxLevel, decryptor.Decrypt(RotateAndSwitch(p, ct, k, loaded[k])).Data);
            var error = TestRings.MaxDistance(got, TestRings.Automorphism(TestRings.Scaled(m, Scale), k));
            Assert.True(error < MaxSwitchError, $"k = {k}: error {error} ≥ 2^12");
        }
    }

    [Theory, MemberData(nameof(SetsAndLevels))]
    public void Relinearization_OfTensoredCiphertextsDecryptsToProduct(string set, int level)
    {
        var p = TestRings.Get(set);
        var keygen = new KeyGenerator(p);
        var rlk = keygen.CreateRelinearizationKey();
        var encryptor = new Encryptor(p, keygen.SecretKey);
        var decryptor = new Decryptor(p, keygen.SecretKey);
        const long delta = 1L << 18;
        var m1 = TestRings.SmallMessage(p.N, 3, 200 + level);
        var m2 = TestRings.SmallMessage(p.N, 3, 300 + level);
        var c = encryptor.Encrypt(TestRings.Encode(p, level, m1, delta));
        var d = encryptor.Encrypt(TestRings.Encode(p, level, m2, delta));

        // (c0·d0, c0·d1 + c1·d0, c1·d1) decrypts with (1, s, s²) to (m1 + e1)(m2 + e2).
        var ring = p.Ring;
        int limbs = level + 1;
        var tensor = new Ciphertext(p, level, 3);
        ring.MulPointwise(c.Poly(0), d.Poly(0), tensor.Poly(0), 0, limbs);
        ring.MulPointwise(c.Poly(0), d.Poly(1), tensor.Poly(1), 0, limbs);
        ring.MulPointwiseAdd(c.Poly(1), d.Poly(0), tensor.Poly(1), 0, limbs);
        ring.MulPointwise(c.Poly(1), d.Poly(1), tensor.Poly(2), 0, limbs);

        var expected = TestRings.Scaled(TestRings.NegacyclicProduct(m1, m2), (BigInteger)delta * delta);
        // The fresh errors contribute e1·m2·Δ + e2·m1·Δ: about √N·σ·|m|·Δ, far below Δ².
        BigInteger bound = (BigInteger)delta << 14;

        var size3 = TestRings.DecodeCentered(p, level, decryptor.Decrypt(tensor).Data);
        Assert.True(TestRings.MaxDistance(size3, expected) < bound, "size-3 decryption is not m1·m2");

        var relin = new Ciphertext(p, level, 2);
        tensor.Poly(0).CopyTo(relin.Poly(0));
        tensor.Poly(1).CopyTo(relin.Poly(1));
        KeySwitcher.SwitchAndAdd(p, level, tensor.Poly(2), rlk.Key, relin.Poly(0), relin.Poly(1));
        var got = TestRings.DecodeCentered(p, level, decryptor.Decrypt(relin).Data);
        var error = TestRings.MaxDistance(got, expected);
        Assert.True(error < bound, $"{set}, level {level}: relinearized error {error} ≥ Δ·2^14");
        // The switch itself adds little beyond the size-3 result.
        Assert.True(TestRings.MaxDistance(got, size3) < MaxSwitchError, "key switching added a large error");
    }

    [Fact]
    public void KeySwitch_AtAnchorSetA_RotatesAndRelinearizes()
    {
        var p = TestRings.Get("AnchorA");
        var keygen = new KeyGenerator(p);
        var gk = keygen.CreateGaloisKeys([5]);
        var rlk = keygen.CreateRelinearizationKey();
        var encryptor = new Encryptor(p, keygen.CreatePublicKey());
        var decryptor = new Decryptor(p, keygen.SecretKey);
        var m = TestRings.SmallMessage(p.N, 7, 400);
        var ct = encryptor.Encrypt(TestRings.Encode(p, p.MaxLevel, m, Scale));
        var got = TestRings.DecodeCentered(p, p.MaxLevel, decryptor.Decrypt(RotateAndSwitch(p, ct, 5, gk[5])).Data);
        Assert.True(TestRings.MaxDistance(got, TestRings.Automorphism(TestRings.Scaled(m, Scale), 5)) < MaxSwitchError);

        // The relinearization key's defining identity at the anchor set: (r0, r1) = switch(c1) has r0 + r1·s ≈ c1·s².
        var r = new Ciphertext(p, p.MaxLevel, 2);
        KeySwitcher.SwitchAndAdd(p, p.MaxLevel, ct.Poly(1), rlk.Key, r.Poly(0), r.Poly(1));
        var ring = p.Ring;
        int limbs = p.MaxLevel + 1;
        var s = keygen.SecretKey.Ntt;
        var target = new ulong[ct.PolyLength];
        ring.MulPointwise(ct.Poly(1), s, target, 0, limbs);
        ring.MulPointwise(target, s, target, 0, limbs);       // c1·s²
        var lhs = new ulong[ct.PolyLength];
        ring.MulPointwise(r.Poly(1), s, lhs, 0, limbs);
        ring.Add(lhs, r.Poly(0), lhs, 0, limbs);                 // r0 + r1·s
        ring.Sub(lhs, target, lhs, 0, limbs);
        var diff = TestRings.DecodeCentered(p, p.MaxLevel, lhs);
        Assert.True(diff.Max(BigInteger.Abs) < MaxSwitchError);
    }

    [Theory]
    [InlineData("OneSpecial")]
    [InlineData("TwoSpecial")]
    public void SwitchAndAdd_AddsIntoAccumulatorsRatherThanOverwriting(string set)
    {
        var p = TestRings.Get(set);
        var keygen = new KeyGenerator(p);
        var rlk = keygen.CreateRelinearizationKey();
        int level = p.MaxLevel, len = (level + 1) * p.N;
        var input = new ulong[len];
        var rng = new Random(5);
        for (int l = 0; l <= level; l++)
            for (int i = 0; i < p.N; i++) input[l * p.N + i] = (ulong)rng.NextInt64((long)p.Ring.Moduli[l].Value);
        var a0 = new ulong[len];
        var a1 = new ulong[len];
        KeySwitcher.SwitchAndAdd(p, level, input, rlk.Key, a0, a1);
        var b0 = TestRings.Encode(p, level, TestRings.SmallMessage(p.N, 100, 6), 1).Data;
        var b1 = TestRings.Encode(p, level, TestRings.SmallMessage(p.N, 100, 7), 1).Data;
        var s0 = (ulong[])b0.Clone();
        var s1 = (ulong[])b1.Clone();
        KeySwitcher.SwitchAndAdd(p, level, input, rlk.Key, s0, s1);
        var e0 = new ulong[len];
        var e1 = new ulong[len];
        p.Ring.Add(a0, b0, e0, 0, level + 1);
        p.Ring.Add(a1, b1, e1, 0, level + 1);
        Assert.Equal(e0, s0);
        Assert.Equal(e1, s1);
        // The input is read only.
        var again = new ulong[len];
        KeySwitcher.SwitchAndAdd(p, level, input, rlk.Key, again, new ulong[len]);
        Assert.Equal(a0, again);
    }

    [Theory]
    [InlineData("OneSpecial", 1)]
    [InlineData("TwoSpecial", 1)]
    [InlineData("OneSpecial", 4)]
    [InlineData("TwoSpecial", 4)]
    public void SwitchingKey_IsEncryptionOfPTimesDigitIndicatorTimesSPrime(string set, int threads)
    {
        // b_i + a_i·s = e_i + P·g_i·s² with |e_i| ≤ 19, g_i = 1 on the primes of digit i and 0 on the other primes.
        var p = TestRings.Get(set);
        var keygen = new KeyGenerator(p) { MaxDegreeOfParallelism = threads };
        var key = keygen.CreateRelinearizationKey().Key;
        var ring = p.Ring;
        int n = p.N, limbs = ring.LimbCount;
        Assert.Equal(p.MaxDigitCount, key.DigitCount);
        var s = keygen.SecretKey.Ntt;
        var s2 = new ulong[limbs * n];
        ring.MulPointwise(s, s, s2, 0, limbs);
        for (int d = 0; d < key.DigitCount; d++)
        {
            Assert.Equal(KeySwitchingKey.ExpandA(p, key.Seed.Span, d), key.A[d]);
            var e = new ulong[limbs * n];
            ring.MulPointwise(key.A[d], s, e, 0, limbs);
            ring.Add(e, key.B[d], e, 0, limbs);
            long[]? first = null;
            for (int j = 0; j < limbs; j++)
            {
                var m = ring.Moduli[j];
                bool inDigit = j < p.PStart && j / p.PCount == d;
                var limb = e.AsSpan(j * n, n);
                if (inDigit)
                    for (int c = 0; c < n; c++) limb[c] = m.Sub(limb[c], m.Mul(p.PModQ[j], s2[j * n + c]));
                var centered = TestRings.CenteredLimb(p, j, limb);
                Assert.All(centered, v => Assert.InRange(v, -19, 19));
                first ??= centered;
                Assert.Equal(first, centered);
            }
        }
    }

    [Fact]
    public void GaloisKeys_ListContainAndIndexTheirElements()
    {
        var p = TestRings.Get("Small");
        var keygen = new KeyGenerator(p);
        var keys = keygen.CreateGaloisKeys([25, 5, 5, 2047]);
        Assert.Equal(new ulong[] { 5, 25, 2047 }, keys.Elements);
        Assert.True(keys.Contains(25));
        Assert.False(keys.Contains(125));
        Assert.Equal(p.MaxDigitCount, keys[5].DigitCount);
        Assert.Same(p, keys.Parameters);
        Assert.Equal("galoisElement", Assert.Throws<ArgumentException>(() => keys[125]).ParamName);
        Assert.Throws<ArgumentException>(() => keygen.CreateGaloisKeys([5, 4]));
        Assert.Throws<ArgumentException>(() => keygen.CreateGaloisKeys([2049]));
    }

    [Fact]
    public void RotationKeys_CoverRequestedStepsAndConjugation()
    {
        var p = TestRings.Get("Small");
        var keygen = new KeyGenerator(p);
        var keys = keygen.CreateRotationKeys([0, 1, -1, 3], includeConjugation: true);
        var expected = new[] { GaloisElements.ForRotation(1, p.N), GaloisElements.ForRotation(-1, p.N), GaloisElements.ForRotation(3, p.N), GaloisElements.ForConjugation(p.N) }.Order();
        Assert.Equal(expected, keys.Elements);
        Assert.False(keys.Contains(1)); // a rotation by 0 needs no key

        var pow2 = keygen.CreatePowerOfTwoRotationKeys();
        var expectedPow2 = new HashSet<ulong> { GaloisElements.ForConjugation(p.N) };
        for (int s = 1; s < p.N / 2; s <<= 1)
        {
            expectedPow2.Add(GaloisElements.ForRotation(s, p.N));
            expectedPow2.Add(GaloisElements.ForRotation(-s, p.N));
        }
        Assert.Equal(expectedPow2.Order(), pow2.Elements);
    }

    [Fact]
    public void RotationKey_EndToEndRotatesByGeneratorPower()
    {
        var p = TestRings.Get("TwoSpecial");
        var keygen = new KeyGenerator(p);
        var keys = keygen.CreateRotationKeys([3]);
        ulong k = GaloisElements.ForRotation(3, p.N);
        var encryptor = new Encryptor(p, keygen.SecretKey);
        var decryptor = new Decryptor(p, keygen.SecretKey);
        var m = TestRings.SmallMessage(p.N, 7, 500);
        var ct = encryptor.Encrypt(TestRings.Encode(p, 2, m, Scale));
        var got = TestRings.DecodeCentered(p, 2, decryptor.Decrypt(RotateAndSwitch(p, ct, k, keys[k])).Data);
        Assert.True(TestRings.MaxDistance(got, TestRings.Automorphism(TestRings.Scaled(m, Scale), k)) < MaxSwitchError);
    }

    [Fact]
    public void SwitchAndAdd_RejectsKeyOfOtherParametersAndShortBuffers()
    {
        var p = TestRings.Get("Small");
        var other = TestRings.Get("OneSpecial");
        var key = new KeyGenerator(other).CreateRelinearizationKey().Key;
        int len = p.N * (p.MaxLevel + 1);
        Assert.Throws<ArgumentException>(() => KeySwitcher.SwitchAndAdd(p, p.MaxLevel, new ulong[len], key, new ulong[len], new ulong[len]));
        var own = new KeyGenerator(p).CreateRelinearizationKey().Key;
        Assert.Throws<ArgumentException>(() => KeySwitcher.SwitchAndAdd(p, p.MaxLevel, new ulong[len - 1], own, new ulong[len], new ulong[len]));
        Assert.Throws<ArgumentException>(() => KeySwitcher.SwitchAndAdd(p, p.MaxLevel, new ulong[len], own, new ulong[len], new ulong[p.N]));
    }

    [Theory]
    [InlineData("OneSpecial")]
    [InlineData("TwoSpecial")]
    public void SwitchAndAdd_GivesIdenticalResultsForAnyThreadCount(string set)
    {
        var p = TestRings.Get(set);
        var keygen = new KeyGenerator(p);
        ulong element = GaloisElements.ForRotation(3, p.N);
        // The relinearization key takes the plain path; the Galois key (stored pre-permuted) the permuted one.
        foreach (var key in new[] { keygen.CreateRelinearizationKey().Key, keygen.CreateGaloisKeys([element])[element] })
            SwitchAndAdd_IdenticalForAnyThreadCount(p, key);
    }

    private static void SwitchAndAdd_IdenticalForAnyThreadCount(RlweParameters p, KeySwitchingKey key)
    {
        var rng = new Random(8);
        foreach (int level in new[] { p.MaxLevel, 1 })
        {
            int len = (level + 1) * p.N;
            var input = new ulong[len];
            for (int l = 0; l <= level; l++)
                for (int i = 0; i < p.N; i++) input[l * p.N + i] = (ulong)rng.NextInt64((long)p.Ring.Moduli[l].Value);
            ulong[] r0 = new ulong[len], r1 = new ulong[len];
            KeySwitcher.SwitchAndAdd(p, level, input, key, r0, r1, maxDegreeOfParallelism: 1);
            foreach (int threads in new[] { 2, 3, 4 }) // 3 does not divide N: the P limbs are not sliced
            {
                ulong[] t0 = new ulong[len], t1 = new ulong[len];
                KeySwitcher.SwitchAndAdd(p, level, input, key, t0, t1, maxDegreeOfParallelism: threads);
                Assert.Equal(r0, t0);
                Assert.Equal(r1, t1);
            }
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]   // MaxLevel + 1 (added to MaxLevel below)
    [InlineData(2)]
    public void SwitchAndAdd_RejectsLevelOutsideZeroToMaxLevel(int level)
    {
        var p = TestRings.Get("TwoSpecial");
        if (level > 0) level += p.MaxLevel;
        var key = new KeyGenerator(p).CreateRelinearizationKey().Key;
        int len = p.Ring.LimbCount * p.N * 2; // long enough for any level the call could assume
        var ex = Assert.ThrowsAny<ArgumentException>(() => KeySwitcher.SwitchAndAdd(p, level, new ulong[len], key, new ulong[len], new ulong[len]));
        Assert.Equal("level", ex.ParamName);
    }

    [Fact]
    public void CreateSwitchingKey_SwitchesFromAnArbitrarySecret()
    {
        // A key from an unrelated ternary s' to s: (0, c1) under s' becomes (r0, r1) under s with r0 + r1·s ≈ c1·s'.
        var p = TestRings.Get("TwoSpecial");
        var keygen = new KeyGenerator(p);
        var otherKey = new KeyGenerator(p).SecretKey;
        var ksk = keygen.CreateSwitchingKey(otherKey.Ntt);
        var ct = new Encryptor(p, otherKey).Encrypt(TestRings.Encode(p, 3, TestRings.SmallMessage(p.N, 7, 600), Scale));
        var switched = new Ciphertext(p, 3, 2);
        ct.Poly(0).CopyTo(switched.Poly(0));
        KeySwitcher.SwitchAndAdd(p, 3, ct.Poly(1), ksk, switched.Poly(0), switched.Poly(1));
        var viaNew = TestRings.DecodeCentered(p, 3, new Decryptor(p, keygen.SecretKey).Decrypt(switched).Data);
        var viaOld = TestRings.DecodeCentered(p, 3, new Decryptor(p, otherKey).Decrypt(ct).Data);
        Assert.True(TestRings.MaxDistance(viaNew, viaOld) < MaxSwitchError);
    }
}
