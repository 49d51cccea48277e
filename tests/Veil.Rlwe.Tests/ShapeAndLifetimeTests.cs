using System.Reflection;

namespace Veil.Rlwe.Tests;

public class ShapeAndLifetimeTests
{
    private static RlweParameters P => TestRings.Get("Small"); // MaxLevel 2, N = 1024

    [Theory]
    [InlineData(-1, 2)]
    [InlineData(3, 2)]
    [InlineData(0, 1)]
    [InlineData(0, 6)]
    [InlineData(2, 0)]
    public void Ciphertext_ConstructorRejectsBadLevelOrSize(int level, int size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Ciphertext(P, level, size));

    [Theory]
    [InlineData(0, 2)]
    [InlineData(2, 5)]
    public void Ciphertext_ConstructorAllocatesSizeTimesLimbsTimesN(int level, int size)
    {
        var ct = new Ciphertext(P, level, size, 3.5);
        Assert.Equal(level, ct.Level);
        Assert.Equal(size, ct.Size);
        Assert.Equal(3.5, ct.Scale);
        Assert.True(ct.IsNttForm);
        Assert.Null(ct.Seed);
        Assert.Equal((level + 1) * P.N, ct.PolyLength);
        Assert.Equal(size * (level + 1) * P.N, ct.Data.Length);
        ct.Poly(size - 1)[0] = 9;
        Assert.Equal(9UL, ct.Data[(size - 1) * ct.PolyLength]);
    }

    [Fact]
    public void A_buffer_a_ciphertext_gives_up_is_reused_and_a_new_ciphertext_from_it_is_zero()
    {
        var p = TestRings.Get("AnchorB"); // N = 2^14: buffers large enough to be shared
        CiphertextBuffers.Clear(); // room for this test's buffer whatever ran before
        var a = new Ciphertext(p, 5, 4); // a shape no other test uses, so the shared buffer is this test's
        Array.Fill(a.Data, 0xDEADBEEFUL);
        var given = a.Data;
        a.Resize(5, 2); // the size-4 buffer becomes a's spare
        a.Resize(4, 2); // a keeps the size-2 one as its spare and gives up the size-4 one
        Assert.True(CiphertextBuffers.HeldWords >= given.Length);
        Assert.NotSame(given, a.Data);
        var b = new Ciphertext(p, 5, 4);
        Assert.Same(given, b.Data);
        Assert.All(b.Data, w => Assert.Equal(0UL, w));
        // The spare comes back when the ciphertext returns to its previous shape (no shared buffer needed).
        var spare = a.Data;
        a.Resize(5, 2);
        a.Resize(4, 2);
        Assert.Same(spare, a.Data);
    }

    [Fact]
    public void Ciphertext_ConstructorRejectsNullParameters() =>
        Assert.Throws<ArgumentNullException>(() => new Ciphertext(null!, 0));

    [Theory]
    [InlineData(-1, 2)]
    [InlineData(3, 2)]
    [InlineData(1, 1)]
    [InlineData(1, 6)]
    public void Ciphertext_ResizeRejectsBadLevelOrSize(int level, int size)
    {
        var ct = new Ciphertext(P, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => ct.Resize(level, size));
        Assert.Equal(1, ct.Level);
        Assert.Equal(2, ct.Size);
    }

    [Fact]
    public void Ciphertext_ResizeReshapesAndClearsSeed()
    {
        var ct = new Ciphertext(P, 2) { Seed = new byte[32] };
        ct.Resize(0, 3);
        Assert.Equal(0, ct.Level);
        Assert.Equal(3, ct.Size);
        Assert.Equal(3 * P.N, ct.Data.Length);
        Assert.Null(ct.Seed);
    }

    [Fact]
    public void Ciphertext_CloneIsDeepAndKeepsMetadata()
    {
        var ct = new Ciphertext(P, 1, 3, 7.0) { Seed = [1, 2, 3], IsNttForm = false };
        for (int i = 0; i < ct.Data.Length; i++) ct.Data[i] = (ulong)i;
        var copy = ct.Clone();
        Assert.Equal(ct.Data, copy.Data);
        Assert.Equal((1, 3, 7.0, false), (copy.Level, copy.Size, copy.Scale, copy.IsNttForm));
        Assert.Equal(ct.Seed, copy.Seed);
        copy.Data[5] = 999;
        Assert.Equal(5UL, ct.Data[5]);
        ct.CopyFrom(ct); // self-copy is a no-op
        Assert.Equal(5UL, ct.Data[5]);
    }

    [Fact]
    public void Ciphertext_DropToKeepsLowerLimbsOfEachPolynomial()
    {
        var ct = new Ciphertext(P, 2, 2) { Seed = new byte[32] };
        for (int i = 0; i < ct.Data.Length; i++) ct.Data[i] = (ulong)i;
        int oldLen = ct.PolyLength;
        ct.DropTo(0);
        Assert.Equal(0, ct.Level);
        Assert.Equal(2 * P.N, ct.Data.Length);
        Assert.Equal(Enumerable.Range(0, P.N).Select(i => (ulong)i), ct.Poly(0).ToArray());
        Assert.Equal(Enumerable.Range(oldLen, P.N).Select(i => (ulong)i), ct.Poly(1).ToArray());
        Assert.Null(ct.Seed);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(3)]
    public void Plaintext_ConstructorRejectsBadLevel(int level)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Plaintext(P, level));
        Assert.Equal("level", ex.ParamName);
    }

    [Fact]
    public void Plaintext_ShapeCloneAndResize()
    {
        var pt = new Plaintext(P, 1, 2.0, isNttForm: false);
        Assert.Equal(2, pt.LimbCount);
        Assert.Equal(2 * P.N, pt.Data.Length);
        Assert.False(pt.IsNttForm);
        pt.Limb(1)[3] = 42;
        var copy = pt.Clone();
        Assert.Equal(42UL, copy.Data[P.N + 3]);
        copy.Data[P.N + 3] = 0;
        Assert.Equal(42UL, pt.Data[P.N + 3]);
        pt.Resize(2);
        Assert.Equal(3 * P.N, pt.Data.Length);
        Assert.Equal(42UL, pt.Data[P.N + 3]);
        pt.Resize(0);
        Assert.Equal(P.N, pt.Data.Length);
    }

    [Fact]
    public void SecretKey_AfterDisposeThrowsObjectDisposedOnUse()
    {
        var p = P;
        var keygen = new KeyGenerator(p);
        var sk = keygen.SecretKey;
        var encryptor = new Encryptor(p, sk);
        var decryptor = new Decryptor(p, sk);
        var ct = encryptor.Encrypt(new Plaintext(p, 0));
        sk.Dispose();
        sk.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => sk.Ntt.Length);
        Assert.Throws<ObjectDisposedException>(() => sk.Coefficients.Length);
        Assert.Throws<ObjectDisposedException>(() => decryptor.Decrypt(ct));
        Assert.Throws<ObjectDisposedException>(() => encryptor.Encrypt(new Plaintext(p, 0)));
        Assert.Throws<ObjectDisposedException>(() => keygen.CreatePublicKey());
        Assert.Throws<ObjectDisposedException>(() => keygen.CreateRelinearizationKey());
    }

    [Fact]
    public void SecretKey_AfterDisposeGaloisKeyGenerationThrowsObjectDisposed()
    {
        // Several elements, so that generation takes its multi-threaded path: the caller must still see
        // ObjectDisposedException, not an AggregateException wrapping it.
        var keygen = new KeyGenerator(P);
        keygen.SecretKey.Dispose();
        Assert.Throws<ObjectDisposedException>(() => keygen.CreateGaloisKeys([5]));
        Assert.Throws<ObjectDisposedException>(() => keygen.CreateGaloisKeys([5, 25, 125]));
        Assert.Throws<ObjectDisposedException>(() => keygen.CreateRotationKeys([1, 2, 3]));
        Assert.Throws<ObjectDisposedException>(() => keygen.CreatePowerOfTwoRotationKeys());
    }

    [Fact]
    public void SecretKey_DisposeZeroesTheKeyMaterial()
    {
        var sk = new KeyGenerator(P).SecretKey;
        var field = (string name) => typeof(SecretKey).GetField(name, BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(sk)!;
        var coefficients = (sbyte[])field("_coefficients");
        var ntt = (ulong[])field("_ntt");
        Assert.Contains(coefficients, v => v != 0);
        Assert.Contains(ntt, v => v != 0);
        sk.Dispose();
        Assert.All(coefficients, v => Assert.Equal(0, v));
        Assert.All(ntt, v => Assert.Equal(0UL, v));
    }
}
