using System.Numerics;
using Veil.Arithmetic;
using Veil.Rlwe.Serialization;

namespace Veil.Rlwe.Tests;

/// <summary>Keys built from polynomials and from a common reference string: what collective (multiparty) keys are made of.</summary>
public class KeysFromPolynomialsTests
{
    private static RlweParameters P => TestRings.Get("OneSpecial");

    [Fact]
    public void CommonReferenceString_GivesEveryPartyTheSameA_AndEachPurposeItsOwn()
    {
        var crs = CommonReferenceString.Create();
        var same = new CommonReferenceString(crs.Seed.Span);
        var a1 = new KeyGenerator(P).CreatePublicKey(crs.PublicKeySeed()).GetA();
        var a2 = new KeyGenerator(P).CreatePublicKey(same.PublicKeySeed()).GetA();
        Assert.Equal(a1.Data, a2.Data);
        Assert.NotEqual(crs.PublicKeySeed(), crs.RelinearizationKeySeed());
        Assert.NotEqual(crs.GaloisKeySeed(5), crs.GaloisKeySeed(25));
        Assert.Throws<ArgumentException>(() => new CommonReferenceString(new byte[31]));
    }

    [Fact]
    public void CollectivePublicKey_FromSummedShares_EncryptsUnderTheSumOfTheSecrets()
    {
        var crs = CommonReferenceString.Create();
        var parties = Enumerable.Range(0, 3).Select(_ => new KeyGenerator(P)).ToArray();
        var ring = P.Ring;
        var b = new RnsPolynomial(P.N, ring.LimbCount);
        foreach (var party in parties)
        {
            var share = party.CreatePublicKey(crs.PublicKeySeed()).GetB(); // b_i = −a·s_i + e_i
            ring.Add(b.Data, share.Data, b.Data, 0, ring.LimbCount);
        }
        var collective = PublicKey.FromPolynomial(P, b, crs.PublicKeySeed());
        var m = TestRings.SmallMessage(P.N, 1000, 9);
        var ct = new Encryptor(P, collective).Encrypt(TestRings.Encode(P, P.MaxLevel, m, 1L << 20));
        // Decrypt with s = Σ s_i: c0 + c1·s_1 + c1·s_2 + c1·s_3, each party contributing c1·s_i.
        var c1Only = Ciphertext.FromPolynomials(P, 1.0, new RnsPolynomial(P.N, ct.Level + 1), ct.GetPolynomial(1));
        Assert.Throws<KeyMismatchException>(() => new Decryptor(P, parties[0].SecretKey).Decrypt(ct)); // no party's own key
        var unbound = Ciphertext.FromPolynomials(P, 1.0, ct.GetPolynomial(0), ct.GetPolynomial(1));
        var sum = new Decryptor(P, parties[0].SecretKey).Decrypt(unbound).Data;
        foreach (var party in parties.Skip(1))
        {
            var part = new Decryptor(P, party.SecretKey).Decrypt(c1Only).Data;
            ring.Add(sum, part, sum, 0, ct.Level + 1);
        }
        var decrypted = TestRings.DecodeCentered(P, ct.Level, sum);
        Assert.True(TestRings.MaxDistance(TestRings.Scaled(m, 1L << 20), decrypted) < 1 << 14);
    }

    [Fact]
    public void SwitchingAndGaloisKeys_RebuiltFromTheirPolynomials_AreTheSameKeys()
    {
        var keys = new KeyGenerator(P);
        var rlk = keys.CreateRelinearizationKey();
        var rebuilt = new RelinearizationKey(KeySwitchingKey.FromPolynomials(P,
            Enumerable.Range(0, rlk.Key.DigitCount).Select(rlk.Key.GetB).ToArray(), rlk.Key.Seed.Span));
        Assert.Equal(RlweSerializer.Save(rlk), RlweSerializer.Save(rebuilt));
        var gk = keys.CreateRotationKeys([1, 2]);
        var map = gk.Elements.ToDictionary(e => e, e => KeySwitchingKey.FromPolynomials(P,
            Enumerable.Range(0, gk[e].DigitCount).Select(gk[e].GetB).ToArray(), gk[e].Seed.Span));
        var gk2 = GaloisKeys.FromKeys(P, map);
        Assert.Equal(RlweSerializer.Save(gk), RlweSerializer.Save(gk2));
        // The caller's keys stay usable: FromKeys copies before storing them permuted.
        Assert.Equal(RlweSerializer.Save(gk), RlweSerializer.Save(GaloisKeys.FromKeys(P, map)));
        // Shapes and residues are checked.
        Assert.Throws<ArgumentException>(() => KeySwitchingKey.FromPolynomials(P, [rlk.Key.GetB(0)], rlk.Key.Seed.Span));
        var bad = rlk.Key.GetB(0);
        bad.Data[0] = P.Ring.Moduli[0].Value;
        Assert.Throws<ArgumentException>(() => KeySwitchingKey.FromPolynomials(P, [bad, .. Enumerable.Range(1, rlk.Key.DigitCount - 1).Select(rlk.Key.GetB)], rlk.Key.Seed.Span));
        Assert.Throws<ArgumentException>(() => GaloisKeys.FromKeys(P, new Dictionary<ulong, KeySwitchingKey> { [4] = rlk.Key }));
    }

    [Fact]
    public void KeyParts_MadeWithoutTheirUniformHalf_WorkAsTheWholeKeys()
    {
        var crs = CommonReferenceString.Create();
        var keys = new KeyGenerator(P);
        var decryptor = new Decryptor(P, keys.SecretKey);
        var m = TestRings.SmallMessage(P.N, 1000, 3);
        // Public key from b alone (a from the seed): encrypts under s.
        var pk = PublicKey.FromPolynomial(P, keys.CreatePublicKeyB(crs.PublicKeySeed()), crs.PublicKeySeed(), keys.SecretKey.Id);
        var fresh = new Encryptor(P, pk).Encrypt(TestRings.Encode(P, P.MaxLevel, m, 1L << 20));
        Assert.True(TestRings.MaxDistance(TestRings.Scaled(m, 1L << 20), TestRings.DecodeCentered(P, fresh.Level, decryptor.Decrypt(fresh).Data)) < 1 << 14);
        // Galois key from its b_i alone: rotates as the generated key does.
        ulong k = GaloisElements.ForRotation(1, P.N);
        var b = keys.CreateGaloisKeyB(k, crs.GaloisKeySeed(k));
        var rebuilt = GaloisKeys.FromKeys(P, new Dictionary<ulong, KeySwitchingKey> { [k] = KeySwitchingKey.FromPolynomials(P, b, crs.GaloisKeySeed(k)) });
        var rotated = new Ciphertext(P, fresh.Level);
        new RlweEvaluator(P, null, rebuilt).ApplyGalois(fresh, k, rotated);
        var expected = TestRings.Automorphism(TestRings.Scaled(m, 1L << 20), k);
        Assert.True(TestRings.MaxDistance(expected, TestRings.DecodeCentered(P, rotated.Level, decryptor.Decrypt(rotated).Data)) < 1 << 16);
        Assert.Throws<ArgumentException>(() => keys.CreateGaloisKeyB(4, crs.GaloisKeySeed(4)));
        // Switching-key parts: b_i + a_i·s ≈ P·g_i·target, the a_i those of the seed.
        using var target = new KeyGenerator(P).SecretKey;
        var (bs, @as) = keys.CreateSwitchingKeyParts(target, crs.RelinearizationKeySeed());
        var seeded = KeySwitchingKey.FromPolynomials(P, bs, crs.RelinearizationKeySeed());
        for (int j = 0; j < bs.Length; j++) Assert.Equal(seeded.GetA(j).Data, @as[j].Data);
        Assert.Throws<ArgumentException>(() => RnsPolynomial.Wrap(P.N, 2, new ulong[P.N]));
    }

    [Fact]
    public void SecretKey_FromCoefficients_RefusesNonTernary()
    {
        var s = new sbyte[P.N];
        s[3] = 1; s[7] = -1;
        using var key = SecretKey.FromCoefficients(P, s);
        Assert.Equal(s, key.Coefficients.ToArray());
        s[0] = 2;
        Assert.Throws<ArgumentException>(() => SecretKey.FromCoefficients(P, s));
        Assert.Throws<ArgumentException>(() => SecretKey.FromCoefficients(P, new sbyte[5]));
    }
}
