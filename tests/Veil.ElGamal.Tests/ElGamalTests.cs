using Veil.Tests.Shared;
using System.Security.Cryptography;
using Veil.Serialization;

namespace Veil.ElGamal.Tests;

/// <summary>Exponential EC-ElGamal: exact tallies, range errors, foreign keys, saved forms and fuzzed loaders.</summary>
public class ElGamalTests
{
    private static readonly Lazy<(ElGamalPublicKey Pk, ElGamalPrivateKey Sk)> Keys = new(ElGamalScheme.GenerateKeys);
    private static readonly ElGamalRange Votes = new(-(1 << 19), (1 << 19) - 1); // 2^20 values

    [Fact]
    public void EveryOperation_IsExact_OverA2To20Range_IncludingEdges()
    {
        var (pk, sk) = Keys.Value;
        long[] values = [0, 1, -1, Votes.Min, Votes.Max, 12345, -54321, 1 << 18];
        foreach (var a in values)
        {
            var ca = pk.Encrypt(a);
            Assert.Equal(a, sk.Decrypt(ca, Votes));
            Assert.Equal(a, sk.Decrypt(ElGamalScheme.Rerandomize(ca), Votes));
            Assert.Equal(-a, sk.Decrypt(ElGamalScheme.Negate(ca), new ElGamalRange(-Votes.Max, -Votes.Min)));
            var wide = new ElGamalRange(2 * Votes.Min - 1, 2 * Votes.Max + 2); // sums and differences of two votes
            foreach (var b in values.Take(4))
            {
                Assert.Equal(a + b, sk.Decrypt(ca + pk.Encrypt(b), wide));
                Assert.Equal(a - b, sk.Decrypt(ca - pk.Encrypt(b), wide));
                Assert.Equal(a + b, sk.Decrypt(ElGamalScheme.AddPlain(ca, b), wide));
            }
            Assert.Equal(a * 3, sk.Decrypt(ca * 3, new ElGamalRange(3L * Votes.Min, 3L * Votes.Max)));
        }
        Assert.NotEqual(ElGamalSerializer.Save(pk.Encrypt(5)), ElGamalSerializer.Save(pk.Encrypt(5)));
    }

    [Fact]
    public void Tally_OfManyVoters_IsExact_AndOutOfRangeIsATypedError()
    {
        var (pk, sk) = Keys.Value;
        var rng = new Random(20);
        long[] ballots = [.. Enumerable.Range(0, 400).Select(_ => (long)rng.Next(0, 2))];
        var encrypted = ElGamalScheme.EncryptVector(pk, ballots);
        var total = encrypted.Aggregate(ElGamalScheme.Add);
        Assert.Equal(ballots.Sum(), sk.Decrypt(total, new ElGamalRange(0, 1000)));
        var perCandidate = ElGamalScheme.DecryptVector(sk, ElGamalScheme.AddVectors(encrypted, encrypted), new ElGamalRange(0, 2));
        Assert.Equal(ballots.Select(b => 2 * b), perCandidate);
        var ex = Assert.Throws<ElGamalRangeException>(() => sk.Decrypt(pk.Encrypt(1001), new ElGamalRange(0, 1000)));
        Assert.Contains("[0, 1000]", ex.Message);
        Assert.Throws<ElGamalRangeException>(() => sk.Decrypt(pk.Encrypt(-1), new ElGamalRange(0, 1000)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ElGamalRange(5, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ElGamalRange(0, 1L << 50));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ElGamalRange(long.MinValue, long.MaxValue));
        Assert.True(new ElGamalRange(0, (1L << 48) - 1).BabySteps <= 1 << 16);
    }

    [Fact]
    public void ForeignCiphertexts_AreRefused_AndKeysRoundTrip()
    {
        var (pk, sk) = Keys.Value;
        var (otherPk, otherSk) = ElGamalScheme.GenerateKeys();
        var foreign = otherPk.Encrypt(3);
        Assert.Throws<ArgumentException>(() => sk.Decrypt(foreign, Votes));
        Assert.Throws<ArgumentException>(() => pk.Encrypt(1) + foreign);
        Assert.Throws<VeilFormatException>(() => ElGamalSerializer.LoadCiphertext(ElGamalSerializer.Save(foreign), pk));
        var pk2 = ElGamalSerializer.LoadPublicKey(ElGamalSerializer.Save(pk));
        Assert.Equal(pk.Fingerprint, pk2.Fingerprint);
        var c = ElGamalSerializer.LoadCiphertext(ElGamalSerializer.Save(pk2.Encrypt(-77)), pk);
        var sk2 = ElGamalSerializer.LoadPrivateKey(ElGamalSerializer.SaveUnprotected(sk));
        Assert.Equal(-77, sk2.Decrypt(c, Votes));
        var protector = new TestProtector();
        var sealedKey = ElGamalSerializer.Save(sk, protector);
        using var sk3 = ElGamalSerializer.LoadPrivateKey(sealedKey, protector);
        Assert.Equal(-77, sk3.Decrypt(c, Votes));
        Assert.ThrowsAny<CryptographicException>(() => ElGamalSerializer.LoadPrivateKey(sealedKey, new TestProtector()));
        sk3.Dispose();
        Assert.Throws<ObjectDisposedException>(() => sk3.Decrypt(c, Votes));
        otherSk.Dispose();
    }

    [Fact]
    public void Loaders_RefuseThousandsOfMutatedInputs_WithTypedErrorsOnly()
    {
        var (pk, sk) = Keys.Value;
        var rng = new Random(4);
        var samples = new (string Name, byte[] Bytes, Action<byte[]> Load)[]
        {
            ("public key", ElGamalSerializer.Save(pk), b => ElGamalSerializer.LoadPublicKey(b)),
            ("private key", ElGamalSerializer.SaveUnprotected(sk), b => ElGamalSerializer.LoadPrivateKey(b)),
            ("ciphertext", ElGamalSerializer.Save(pk.Encrypt(9)), b => ElGamalSerializer.LoadCiphertext(b, pk)),
        };
        foreach (var (name, original, load) in samples)
        {
            int accepted = 0;
            for (int t = 0; t < 2000; t++)
            {
                var b = (byte[])original.Clone();
                switch (rng.Next(4))
                {
                    case 0: b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8)); break;
                    case 1: b = b[..rng.Next(b.Length)]; break;
                    case 2: b = [.. b, .. new byte[rng.Next(1, 40)]]; break;
                    default: for (int i = 0; i < 6; i++) b[rng.Next(b.Length)] = (byte)rng.Next(256); break;
                }
                try { load(b); accepted++; }
                catch (VeilFormatException) { }
                catch (Exception e) { Assert.Fail($"{name}: {e.GetType().Name} instead of VeilFormatException: {e.Message}"); }
            }
            Assert.True(accepted < 2000, $"{name}: every mutation was accepted");
        }
        // A point off the curve: x = 0 has no square root on P-256 for this parity? Try x values until one is not on the curve.
        var bytes = ElGamalSerializer.Save(pk.Encrypt(1));
        int offset = bytes.Length - 66;
        bool refused = false;
        for (byte x = 0; x < 50 && !refused; x++)
        {
            var b = (byte[])bytes.Clone();
            b.AsSpan(offset + 1, 32).Clear();
            b[offset + 32] = x;
            try { ElGamalSerializer.LoadCiphertext(b, pk); }
            catch (VeilFormatException e) { refused = e.Field == "c1"; }
        }
        Assert.True(refused, "no x-coordinate off the curve was refused");
    }
}
