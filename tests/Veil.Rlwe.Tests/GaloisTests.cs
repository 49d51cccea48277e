using System.Numerics;

namespace Veil.Rlwe.Tests;

public class GaloisTests
{
    public static TheoryData<string, ulong> Elements()
    {
        var data = new TheoryData<string, ulong>();
        foreach (var set in new[] { "Small", "TwoSpecial" })
        {
            ulong twoN = 2UL * (ulong)TestRings.Get(set).N;
            foreach (var k in new[] { 1UL, 3UL, 5UL, 25UL, twoN - 1, twoN - 3, twoN / 2 + 1, GaloisElements.ForRotation(7, (int)(twoN / 2)) })
                data.Add(set, k);
        }
        return data;
    }

    [Theory, MemberData(nameof(Elements))]
    public void ApplyGaloisNtt_EqualsCoefficientDomainAutomorphism(string set, ulong k)
    {
        var p = TestRings.Get(set);
        int level = p.MaxLevel;
        var m = TestRings.SmallMessage(p.N, 1000, (int)k);
        var pt = TestRings.Encode(p, level, m, 1);
        var dst = new ulong[pt.Data.Length];
        KeySwitcher.ApplyGaloisNtt(p, k, pt.Data, dst, level + 1);
        var got = TestRings.DecodeCentered(p, level, dst);
        var expected = TestRings.Automorphism(m.Select(v => (BigInteger)v).ToArray(), k);
        Assert.Equal(expected, got);
    }

    [Fact]
    public void ApplyGaloisNtt_OfMonomialFollowsXToXk()
    {
        // σ_k(X) = X^k: for k = 2N − 1, X ↦ X^(2N−1) = −X^(N−1).
        var p = TestRings.Get("Small");
        var x = new long[p.N];
        x[1] = 1;
        var pt = TestRings.Encode(p, 0, x, 1);
        var dst = new ulong[p.N];
        KeySwitcher.ApplyGaloisNtt(p, 2UL * (ulong)p.N - 1, pt.Data, dst, 1);
        var got = TestRings.DecodeCentered(p, 0, dst);
        Assert.Equal(BigInteger.MinusOne, got[p.N - 1]);
        Assert.Equal(p.N - 1, got.Count(v => v.IsZero));
    }

    [Theory]
    [InlineData(5UL, 25UL)]
    [InlineData(3UL, 2047UL)]
    [InlineData(25UL, 125UL)]
    public void GaloisPermutations_ComposeAsProductOfElements(ulong a, ulong b)
    {
        var p = TestRings.Get("Small");
        ulong twoN = 2UL * (ulong)p.N;
        b %= twoN;
        var pt = TestRings.Encode(p, 1, TestRings.SmallMessage(p.N, 50, 3), 1);
        var once = new ulong[pt.Data.Length];
        var twice = new ulong[pt.Data.Length];
        var direct = new ulong[pt.Data.Length];
        KeySwitcher.ApplyGaloisNtt(p, b, pt.Data, once, 2);
        KeySwitcher.ApplyGaloisNtt(p, a, once, twice, 2);
        KeySwitcher.ApplyGaloisNtt(p, a * b % twoN, pt.Data, direct, 2);
        Assert.Equal(direct, twice);
    }

    [Fact]
    public void GaloisPermutation_IsAPermutationAndIdentityForOne()
    {
        var p = TestRings.Get("Small");
        Assert.Equal(Enumerable.Range(0, p.N), p.GaloisPermutation(1));
        foreach (ulong k in new ulong[] { 3, 5, 2047 })
            Assert.Equal(Enumerable.Range(0, p.N), p.GaloisPermutation(k).Order());
    }

    [Fact]
    public void GaloisPermutation_CallerCannotCorruptTheCachedPermutation()
    {
        // The permutation is cached and shared by every later automorphism; a caller writing into the array it
        // received must not change what ApplyGaloisNtt (and key generation) use afterwards.
        var p = TestRings.Build(10, [30], [30], SecurityLevel.InsecureNoCheck);
        var original = p.GaloisPermutation(5).ToArray();
        var received = p.GaloisPermutation(5);
        (received[0], received[1]) = (received[1], received[0]);
        Assert.Equal(original, p.GaloisPermutation(5));
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(2UL)]
    [InlineData(2048UL)]
    [InlineData(2049UL)]
    [InlineData(ulong.MaxValue)]
    public void GaloisPermutation_RejectsEvenOrTooLargeElements(ulong k)
    {
        var p = TestRings.Get("Small"); // N = 1024, 2N = 2048
        var ex = Assert.Throws<ArgumentException>(() => p.GaloisPermutation(k));
        Assert.Equal("galoisElement", ex.ParamName);
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(32768)]
    public void GaloisElements_InverseUndoesEveryElement(int n)
    {
        for (ulong k = 1; k < 2UL * (ulong)n; k += 2 + 2 * (ulong)(n / 512))
        {
            ulong inverse = GaloisElements.Inverse(k, n);
            Assert.Equal(1UL, k * inverse % (2UL * (ulong)n));
        }
        Assert.Throws<ArgumentException>(() => GaloisElements.Inverse(4, n));
        Assert.Throws<ArgumentException>(() => GaloisElements.Inverse(2UL * (ulong)n + 1, n));
    }

    [Fact]
    public void GaloisElements_RotationsAreFivePowersModTwoN()
    {
        const int n = 1024;
        Assert.Equal(1UL, GaloisElements.ForRotation(0, n));
        Assert.Equal(5UL, GaloisElements.ForRotation(1, n));
        Assert.Equal(25UL, GaloisElements.ForRotation(2, n));
        Assert.Equal(1UL, GaloisElements.ForRotation(n / 2, n));          // a full turn of the N/2 slots
        Assert.Equal(GaloisElements.ForRotation(3, n), GaloisElements.ForRotation(3 + n / 2, n));
        Assert.Equal(GaloisElements.ForRotation(n / 2 - 1, n), GaloisElements.ForRotation(-1, n));
        Assert.Equal(1UL, GaloisElements.ForRotation(-1, n) * 5 % (2 * n)); // rotation by −1 undoes rotation by 1
        for (int a = -5; a <= 5; a++)
            for (int b = -5; b <= 5; b++)
                Assert.Equal(GaloisElements.ForRotation(a + b, n), GaloisElements.ForRotation(a, n) * GaloisElements.ForRotation(b, n) % (2 * n));
        Assert.Equal(2047UL, GaloisElements.ForConjugation(n));
    }
}
