using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Rlwe.Tests;

/// <summary>Ciphertexts carry the id of the key they decrypt under; every use under another key is refused.</summary>
public class KeyIdTests
{
    private static readonly RlweParameters P = TestRings.Get("TwoSpecial");
    private const long Scale = 1L << 30;

    private sealed record Party(KeyGenerator Keys, PublicKey PublicKey, Encryptor Encryptor, Decryptor Decryptor, RlweEvaluator Evaluator);

    private static Party NewParty()
    {
        var keys = new KeyGenerator(P);
        var pk = keys.CreatePublicKey();
        var ev = new RlweEvaluator(P, keys.CreateRelinearizationKey(), keys.CreateRotationKeys([1]));
        return new Party(keys, pk, new Encryptor(P, pk), new Decryptor(P, keys.SecretKey), ev);
    }

    private static Ciphertext Encrypt(Party party, int seed) =>
        party.Encryptor.Encrypt(TestRings.Encode(P, P.MaxLevel, TestRings.SmallMessage(P.N, 5, seed), Scale));

    [Fact]
    public void Ids_AreStableForAKey_AndDifferBetweenKeys()
    {
        var a = NewParty();
        var b = NewParty();
        Assert.False(a.Keys.SecretKey.Id.IsNone);
        Assert.NotEqual(a.Keys.SecretKey.Id, b.Keys.SecretKey.Id);
        // Every public key made from a secret carries its id, whatever its seed; so do its ciphertexts.
        Assert.Equal(a.Keys.SecretKey.Id, a.PublicKey.Id);
        Assert.Equal(a.Keys.SecretKey.Id, a.Keys.CreatePublicKey().Id);
        Assert.Equal(a.Keys.SecretKey.Id, Encrypt(a, 1).KeyId);
        Assert.Equal(a.Keys.SecretKey.Id, new Encryptor(P, a.Keys.SecretKey).Encrypt(TestRings.Encode(P, 0, new long[P.N], Scale)).KeyId);
        // The id is a function of the key: the same coefficients reloaded give the same id.
        using var reloaded = RlweSerializer.LoadSecretKey(RlweSerializer.SaveUnprotected(a.Keys.SecretKey), P);
        Assert.Equal(a.Keys.SecretKey.Id, reloaded.Id);
    }

    [Fact]
    public void Decrypting_UnderAnotherKey_IsRefused()
    {
        var a = NewParty();
        var b = NewParty();
        var ct = Encrypt(a, 2);
        var ex = Assert.Throws<KeyMismatchException>(() => b.Decryptor.Decrypt(ct));
        Assert.Equal("ciphertext", ex.ParamName);
        Assert.Contains(a.Keys.SecretKey.Id.ToString(), ex.Message);
        var seeded = new Encryptor(P, a.Keys.SecretKey).Encrypt(TestRings.Encode(P, P.MaxLevel, new long[P.N], Scale));
        Assert.Throws<KeyMismatchException>(() => b.Decryptor.Decrypt(seeded));
        a.Decryptor.Decrypt(ct); // its own key still decrypts
    }

    [Fact]
    public void Operations_MixingKeys_AreRefused_AndResultsKeepTheKey()
    {
        var a = NewParty();
        var b = NewParty();
        var x = Encrypt(a, 3);
        var y = Encrypt(b, 4);
        var ev = a.Evaluator;
        Assert.Throws<KeyMismatchException>(() => ev.Add(x, y));
        Assert.Throws<KeyMismatchException>(() => ev.Sub(y, x));
        Assert.Throws<KeyMismatchException>(() => ev.Multiply(x, y));
        var product = ev.Multiply(x, Encrypt(a, 5));
        Assert.Equal(x.KeyId, product.KeyId);
        // Another party's evaluation keys do not switch this key's ciphertexts.
        Assert.Throws<KeyMismatchException>(() => b.Evaluator.Relinearize(product));
        Assert.Throws<KeyMismatchException>(() => b.Evaluator.Rotate(x, 1));
        Assert.Throws<KeyMismatchException>(() => b.Evaluator.RotateHoisted(x, [1]));
        var relinearized = ev.Relinearize(product);
        var rescaled = ev.DivideByLastPrime(relinearized);
        var rotated = ev.Rotate(rescaled, 1);
        foreach (var result in new[] { relinearized, rescaled, rotated, ev.Negate(x), ev.DropToLevel(x, 0), ev.MultiplyInteger(x, 3) })
            Assert.Equal(a.Keys.SecretKey.Id, result.KeyId);
        // An in-place destination that held another key's ciphertext takes the new result's key.
        var reused = Encrypt(b, 6);
        ev.Add(x, x, reused);
        Assert.Equal(x.KeyId, reused.KeyId);
    }

    [Fact]
    public void UnboundCiphertexts_MixWithBoundOnes_AndBindOnlyOnce()
    {
        var a = NewParty();
        var b = NewParty();
        var x = Encrypt(a, 7);
        var bare = Ciphertext.FromPolynomials(P, x.Scale, x.GetPolynomial(0), x.GetPolynomial(1));
        Assert.True(bare.KeyId.IsNone);
        Assert.Equal(x.KeyId, a.Evaluator.Add(bare, x).KeyId); // the bound operand names the key
        bare.Bind(x.KeyId);
        Assert.Throws<KeyMismatchException>(() => bare.Bind(b.Keys.SecretKey.Id));
        Assert.Throws<ArgumentException>(() => bare.Bind(KeyId.None));
    }

    [Fact]
    public void Serialization_KeepsTheIds_AndALoadedCiphertextIsStillRefusedUnderAnotherKey()
    {
        var a = NewParty();
        var b = NewParty();
        foreach (var ct in new[] { Encrypt(a, 8), new Encryptor(P, a.Keys.SecretKey).Encrypt(TestRings.Encode(P, 1, new long[P.N], Scale)) })
        {
            var loaded = RlweSerializer.LoadCiphertext(RlweSerializer.Save(ct), P);
            Assert.Equal(ct.KeyId, loaded.KeyId);
            Assert.Throws<KeyMismatchException>(() => b.Decryptor.Decrypt(loaded));
            a.Decryptor.Decrypt(loaded);
        }
        var pk = RlweSerializer.LoadPublicKey(RlweSerializer.Save(a.PublicKey), P);
        Assert.Equal(a.PublicKey.Id, pk.Id);
        Assert.Equal(a.Keys.SecretKey.Id, new Encryptor(P, pk).Encrypt(TestRings.Encode(P, 0, new long[P.N], Scale)).KeyId);
    }

    [Fact]
    public void FilesWithoutKeyIds_LoadUnbound()
    {
        var a = NewParty();
        // A ciphertext saved unbound has the layout of the files written before key ids (flags 0 or 1, no id).
        var x = Encrypt(a, 9);
        var bare = Ciphertext.FromPolynomials(P, x.Scale, x.GetPolynomial(0), x.GetPolynomial(1));
        var bytes = RlweSerializer.Save(bare);
        Assert.Equal(0, bytes[VeilHeader.Size + 3]);
        var loaded = RlweSerializer.LoadCiphertext(bytes, P);
        Assert.True(loaded.KeyId.IsNone);
        NewParty().Decryptor.Decrypt(loaded); // nothing to check against: the caller's responsibility, as before
        // A public key written before key ids: b ‖ seed, 16 bytes shorter.
        var pkBytes = RlweSerializer.Save(a.PublicKey);
        var legacy = pkBytes.AsSpan(0, pkBytes.Length - KeyId.Size).ToArray();
        long payload = legacy.Length - VeilHeader.Size;
        VeilHeader.Write(legacy, VeilHeader.Read(pkBytes, RlweObjectTypes.Of(ObjectKind.PublicKey)).Type, Compression.None, P.Hash.Span, payload, payload);
        var oldKey = RlweSerializer.LoadPublicKey(legacy, P);
        Assert.True(oldKey.Id.IsNone);
        Assert.Equal(a.PublicKey.GetB().Data, oldKey.GetB().Data);
    }

    [Fact]
    public void MalformedKeyIdFields_AreRefused()
    {
        var a = NewParty();
        var bytes = RlweSerializer.Save(Encrypt(a, 10));
        int flags = VeilHeader.Size + 3, id = VeilHeader.Size + 4 + sizeof(double);
        Assert.Equal(2, bytes[flags]);
        var unknown = (byte[])bytes.Clone();
        unknown[flags] = 6;
        Assert.Equal("flags", Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadCiphertext(unknown, P)).Field);
        var zero = (byte[])bytes.Clone();
        zero.AsSpan(id, KeyId.Size).Clear();
        Assert.Equal("keyId", Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadCiphertext(zero, P)).Field);
        var unflagged = (byte[])bytes.Clone();
        unflagged[flags] = 0; // the id is then read as coefficients: the length no longer matches
        Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadCiphertext(unflagged, P));
    }
}
