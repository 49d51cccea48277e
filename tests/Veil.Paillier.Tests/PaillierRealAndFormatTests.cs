using Veil.Tests.Shared;
using System.Numerics;
using System.Security.Cryptography;
using Veil.Serialization;

namespace Veil.Paillier.Tests;

/// <summary>Fixed-point reals with overflow detection; saving and loading keys, ciphertexts and reals; loaders fuzzed.</summary>
public class PaillierRealAndFormatTests
{
    private static readonly Lazy<(PaillierPublicKey Pk, PaillierPrivateKey Sk)> Keys = new(() => PaillierScheme.GenerateKeys(2048, allowBelow128Bits: true));

    [Fact]
    public void Reals_AddScaleAndNegate_WithinTheEncodingResolution()
    {
        var (pk, sk) = Keys.Value;
        double[] xs = [0, 1.5, -2.25, 3.14159265358979, -1e-6, 123456.789, -98765.4321, 1e12];
        foreach (var x in xs)
        {
            var ex = pk.EncryptReal(x);
            Assert.Equal(x, sk.Decrypt(ex), Math.Abs(x) * 1e-15 + Math.Pow(16, -8));
            foreach (var y in xs.Take(4))
            {
                var ey = PaillierFixedPoint.Encrypt(pk, y, exponent: -4); // another exponent: aligned on addition
                Assert.Equal(x + y, sk.Decrypt(ex + ey), Math.Abs(x + y) * 1e-15 + Math.Pow(16, -4));
                Assert.Equal(x - y, sk.Decrypt(ex - ey), Math.Abs(x - y) * 1e-15 + Math.Pow(16, -4));
                Assert.Equal(x + y, sk.Decrypt(PaillierFixedPoint.AddPlain(ex, y)), Math.Abs(x + y) * 1e-15 + Math.Pow(16, -8));
                Assert.Equal(x * y, sk.Decrypt(ex * y), Math.Abs(x * y) * 1e-12 + Math.Abs(x) * Math.Pow(16, -8) + Math.Pow(16, -8));
            }
            Assert.Equal(-x, sk.Decrypt(-ex), Math.Abs(x) * 1e-15 + Math.Pow(16, -8));
            Assert.Equal(x * 7, sk.Decrypt(PaillierFixedPoint.MultiplyInteger(ex, 7)), Math.Abs(x) * 1e-14 + 7 * Math.Pow(16, -8));
        }
        var vs = PaillierFixedPoint.DecryptVector(sk, PaillierFixedPoint.AddVectors(PaillierFixedPoint.EncryptVector(pk, xs), PaillierFixedPoint.EncryptVector(pk, xs)));
        for (int i = 0; i < xs.Length; i++) Assert.Equal(2 * xs[i], vs[i], Math.Abs(xs[i]) * 1e-14 + 1e-9);
    }

    [Fact]
    public void Overflow_IsRefusedBeforeItWraps_NotReturnedWrapped()
    {
        // python-paillier issue 110: a product past n/3 decrypted to a wrong value with no error. Here the public bound refuses it.
        var (pk, sk) = Keys.Value;
        var big = PaillierFixedPoint.EncryptMantissa(pk, PaillierFixedPoint.MaxMagnitude(pk) / 5, 0);
        var sum = big + big; // 2/5 of the range: allowed and exact
        Assert.Equal(2 * (PaillierFixedPoint.MaxMagnitude(pk) / 5), PaillierFixedPoint.DecryptMantissa(sk, sum));
        Assert.Throws<PaillierOverflowException>(() => sum + sum + sum);
        Assert.Throws<PaillierOverflowException>(() => PaillierFixedPoint.MultiplyInteger(big, 6));
        Assert.Throws<PaillierOverflowException>(() => PaillierFixedPoint.MultiplyScalar(big, 1e30));
        // Repeated squaring of scale: each product multiplies exponents and bounds; the step that would wrap is refused.
        var x = pk.EncryptReal(3.0);
        var ex = Assert.Throws<PaillierOverflowException>(() => { for (int i = 0; i < 200; i++) x = x * 1e6; });
        Assert.Contains("wrap", ex.Message);
        // A ciphertext swapped in under a smaller bound decrypts outside it: refused, not wrapped.
        var small = pk.EncryptReal(1.0);
        var forged = new PaillierReal(big.Ciphertext, small.Exponent, small.Bound);
        Assert.Throws<PaillierOverflowException>(() => sk.Decrypt(forged));
        Assert.Throws<ArgumentOutOfRangeException>(() => pk.EncryptReal(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => pk.EncryptReal(1e300, exponent: -600));
    }

    [Fact]
    public void KeysCiphertextsAndReals_RoundTrip_AndForeignOnesAreRefused()
    {
        var (pk, sk) = Keys.Value;
        var pk2 = PaillierSerializer.LoadPublicKey(PaillierSerializer.Save(pk), allowBelow128Bits: true);
        Assert.Equal(pk.N, pk2.N);
        var c = PaillierSerializer.LoadCiphertext(PaillierSerializer.Save(pk2.Encrypt(42)), pk);
        Assert.Equal(42, sk.Decrypt(c));
        var real = PaillierSerializer.LoadReal(PaillierSerializer.Save(pk.EncryptReal(-2.5)), pk);
        Assert.Equal(-2.5, sk.Decrypt(real));
        // The 2048-bit key is refused without the receiver's opt-out.
        Assert.Equal("bits", Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadPublicKey(PaillierSerializer.Save(pk))).Field);
        var protector = new TestProtector();
        var sealedKey = PaillierSerializer.Save(sk, protector);
        Assert.DoesNotContain(Convert.ToHexString(sk.PublicKey.N.ToByteArray(true, true))[..32], Convert.ToHexString(sealedKey));
        var sk2 = PaillierSerializer.LoadPrivateKey(sealedKey, protector, allowBelow128Bits: true);
        Assert.Equal(42, sk2.Decrypt(c));
        Assert.ThrowsAny<CryptographicException>(() => PaillierSerializer.LoadPrivateKey(sealedKey, new TestProtector(), allowBelow128Bits: true));
        var sk3 = PaillierSerializer.LoadPrivateKey(PaillierSerializer.SaveUnprotected(sk), allowBelow128Bits: true);
        Assert.Equal(42, sk3.Decrypt(c));
        var (other, _) = PaillierScheme.GenerateKeys(2048, allowBelow128Bits: true);
        Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadCiphertext(PaillierSerializer.Save(c), other));
        Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadReal(PaillierSerializer.Save(real), other));
    }

    [Fact]
    public void Loaders_RefuseWeakBasesAndModuli_ThatWouldExposeCiphertexts()
    {
        var (pk, sk) = Keys.Value;
        var n = pk.N;
        byte[] WithPublic(BigInteger modulus, BigInteger hs)
        {
            var bytes = PaillierSerializer.Save(pk);
            int field = pk.Bits / 8, start = bytes.Length - 3 * field;
            modulus.ToByteArray(true, true).CopyTo(bytes.AsSpan(start + field - modulus.GetByteCount(true)));
            bytes.AsSpan(start + field, 2 * field).Clear();
            hs.ToByteArray(true, true).CopyTo(bytes.AsSpan(bytes.Length - hs.GetByteCount(true)));
            return bytes;
        }
        // h_s = −1 (order 2: DJN ciphertexts become ±(1 + m·n), readable by anyone) and h_s = 1 + n (adds α to m).
        Assert.Equal("hs", Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadPublicKey(WithPublic(n, n * n - 1), allowBelow128Bits: true)).Field);
        Assert.Equal("hs", Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadPublicKey(WithPublic(n, n + 1), allowBelow128Bits: true)).Field);
        // A prime n, a square, a small factor.
        var prime = Primes.Random(2048);
        Assert.Equal("n", Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadPublicKey(WithPublic(prime, 5), allowBelow128Bits: true)).Field);
        var p1024 = Primes.Random(1024);
        Assert.Equal("n", Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadPublicKey(WithPublic(p1024 * p1024, 5), allowBelow128Bits: true)).Field);
        var smooth = 17_383 * Primes.Random(2034);
        if (smooth.GetBitLength() == 2048)
            Assert.Equal("n", Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadPublicKey(WithPublic(smooth, 5), allowBelow128Bits: true)).Field);
        Assert.Equal(pk.N, PaillierSerializer.LoadPublicKey(PaillierSerializer.Save(pk), allowBelow128Bits: true).N);
        // The private key's h_s must be an n-th residue.
        var priv = PaillierSerializer.SaveUnprotected(sk);
        int f = pk.Bits / 4;
        (n + 1).ToByteArray(true, true).CopyTo(priv.AsSpan(priv.Length - f));
        priv.AsSpan(priv.Length - f, f - (n + 1).GetByteCount(true)).Clear();
        Assert.Equal("hs", Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadPrivateKey(priv, allowBelow128Bits: true)).Field);
    }

    [Fact]
    public void Loaders_RefuseThousandsOfMutatedInputs_WithTypedErrorsOnly()
    {
        var (pk, sk) = Keys.Value;
        var rng = new Random(14);
        var samples = new (string Name, byte[] Bytes, Action<byte[]> Load)[]
        {
            ("public key", PaillierSerializer.Save(pk), b => PaillierSerializer.LoadPublicKey(b, allowBelow128Bits: true)),
            ("private key", PaillierSerializer.SaveUnprotected(sk), b => PaillierSerializer.LoadPrivateKey(b, allowBelow128Bits: true)),
            ("ciphertext", PaillierSerializer.Save(pk.Encrypt(7)), b => PaillierSerializer.LoadCiphertext(b, pk)),
            ("real", PaillierSerializer.Save(pk.EncryptReal(7.5)), b => PaillierSerializer.LoadReal(b, pk)),
        };
        foreach (var (name, original, load) in samples)
        {
            load(original);
            int accepted = 0;
            for (int t = 0; t < 1500; t++)
            {
                var mutated = Mutate(original, rng);
                try { load(mutated); accepted++; }
                catch (VeilFormatException) { }
                catch (Exception e) { Assert.Fail($"{name}: {e.GetType().Name} instead of VeilFormatException: {e.Message}"); }
            }
            // Flips inside a ciphertext's value can leave a valid unit: those load (and decrypt to garbage) by design.
            Assert.True(accepted < 1500, $"{name}: every mutation was accepted");
        }
        // Structured attacks: a composite-free n with a tiny factor, an h_s of 1, a ciphertext of 0 and of n.
        var zero = PaillierSerializer.Save(pk.Encrypt(1));
        zero.AsSpan(^(pk.Bits / 4)..).Clear();
        Assert.Equal("ciphertext", Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadCiphertext(zero, pk)).Field);
        var nAsCiphertext = PaillierSerializer.Save(pk.Encrypt(1));
        pk.N.ToByteArray(true, true).CopyTo(nAsCiphertext.AsSpan(nAsCiphertext.Length - pk.Bits / 8));
        nAsCiphertext.AsSpan(nAsCiphertext.Length - pk.Bits / 4, pk.Bits / 8).Clear();
        Assert.Equal("ciphertext", Assert.Throws<VeilFormatException>(() => PaillierSerializer.LoadCiphertext(nAsCiphertext, pk)).Field);
    }

    private static byte[] Mutate(byte[] original, Random rng)
    {
        var b = (byte[])original.Clone();
        switch (rng.Next(5))
        {
            case 0: b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8)); break;
            case 1: return b[..rng.Next(b.Length)];
            case 2: return [.. b, .. new byte[rng.Next(1, 64)]];
            case 3: b[rng.Next(Math.Min(b.Length, 64))] = (byte)rng.Next(256); break; // the header
            default: for (int i = 0; i < 8; i++) b[rng.Next(b.Length)] = (byte)rng.Next(256); break;
        }
        return b;
    }
}
