using Veil.Serialization;
using Veil.Arithmetic;
using Veil.Rlwe.Serialization;

namespace Veil.Rlwe.Tests.Serialization;

/// <summary>Small parameters (N = 2^10, two 40-bit Q primes, one 50-bit P prime), keys and sample objects shared by the serialization tests.</summary>
public sealed class SerializationFixture
{
    public const int Log2Delta = 20;

    public SerializationFixture()
    {
        var q = Primes.NttPrimes(40, 10, 2);
        var p = Primes.NttPrimes(50, 10, 1);
        Assert.Empty(q.Intersect(p));
        Parameters = RlweParameters.Create(10, q, p, SecurityLevel.InsecureNoCheck);

        var q2 = Primes.NttPrimes(45, 10, 2);
        var p2 = Primes.NttPrimes(55, 10, 1);
        Assert.Empty(q2.Intersect(p2));
        OtherParameters = RlweParameters.Create(10, q2, p2, SecurityLevel.InsecureNoCheck);

        KeyGenerator = new KeyGenerator(Parameters);
        SecretKey = KeyGenerator.SecretKey;
        PublicKey = KeyGenerator.CreatePublicKey();
        RelinearizationKey = KeyGenerator.CreateRelinearizationKey();
        int n = Parameters.N;
        GaloisKeys = KeyGenerator.CreateGaloisKeys([GaloisElements.ForRotation(1, n), GaloisElements.ForConjugation(n)]);
        using var other = new KeyGenerator(Parameters).SecretKey;
        SwitchingKey = KeyGenerator.CreateSwitchingKey(other.Ntt);

        var rng = new Random(20240601);
        Message = new long[n];
        for (int i = 0; i < n; i++) Message[i] = rng.Next(-1000, 1001) * (1L << Log2Delta);
        Plaintext = Encode(Message, Parameters.MaxLevel);

        PublicCiphertext = new Encryptor(Parameters, PublicKey).Encrypt(Plaintext);
        SymmetricCiphertext = new Encryptor(Parameters, SecretKey).Encrypt(Plaintext);

        // A size-3, level-0 ciphertext of random (reduced) coefficients and an unusual scale.
        Size3Ciphertext = new Ciphertext(Parameters, 0, 3, Math.Pow(2, 33.5));
        FillRandom(Size3Ciphertext.Data, 1, rng);
        // A coefficient-form plaintext at level 0.
        CoefficientPlaintext = new Plaintext(Parameters, 0, 3.0, isNttForm: false);
        FillRandom(CoefficientPlaintext.Data, 1, rng);
    }

    public RlweParameters Parameters { get; }
    public RlweParameters OtherParameters { get; }
    public KeyGenerator KeyGenerator { get; }
    public SecretKey SecretKey { get; }
    public PublicKey PublicKey { get; }
    public RelinearizationKey RelinearizationKey { get; }
    public GaloisKeys GaloisKeys { get; }
    public KeySwitchingKey SwitchingKey { get; }
    public long[] Message { get; }
    public Plaintext Plaintext { get; }
    public Plaintext CoefficientPlaintext { get; }
    public Ciphertext PublicCiphertext { get; }
    public Ciphertext SymmetricCiphertext { get; }
    public Ciphertext Size3Ciphertext { get; }

    /// <summary>The NTT-form plaintext of a signed coefficient vector at the given level.</summary>
    public Plaintext Encode(long[] message, int level)
    {
        var ring = Parameters.Ring;
        int n = Parameters.N;
        var pt = new Plaintext(Parameters, level, Math.Pow(2, Log2Delta), isNttForm: true);
        for (int l = 0; l <= level; l++)
        {
            var m = ring.Moduli[l];
            for (int i = 0; i < n; i++) pt.Data[l * n + i] = m.FromSigned(message[i]);
        }
        ring.Forward(pt.Data, 0, level + 1);
        return pt;
    }

    /// <summary>Largest |decrypt(ct) − message| over every coefficient and limb, centred.</summary>
    public long MaxError(Ciphertext ciphertext, SecretKey secretKey)
    {
        var pt = new Decryptor(Parameters, secretKey).Decrypt(ciphertext);
        var ring = Parameters.Ring;
        int n = Parameters.N;
        var data = pt.Data.ToArray();
        ring.Inverse(data, 0, pt.LimbCount);
        long max = 0;
        for (int l = 0; l < pt.LimbCount; l++)
        {
            var m = ring.Moduli[l];
            for (int i = 0; i < n; i++)
            {
                ulong d = m.Sub(data[l * n + i], m.FromSigned(Message[i]));
                long centred = d > m.Value / 2 ? (long)d - (long)m.Value : (long)d;
                max = Math.Max(max, Math.Abs(centred));
            }
        }
        return max;
    }

    private void FillRandom(ulong[] data, int limbsPerPoly, Random rng)
    {
        int n = Parameters.N;
        for (int i = 0; i < data.Length; i++)
        {
            int limb = (i / n) % limbsPerPoly;
            data[i] = (ulong)rng.NextInt64(0, (long)Parameters.Ring.Moduli[limb].Value);
        }
    }

    /// <summary>Every object kind under test: a name, an object, a span loader and a stream loader.</summary>
    public IReadOnlyList<SerializationTarget> Targets => _targets ??= BuildTargets();
    private IReadOnlyList<SerializationTarget>? _targets;

    private IReadOnlyList<SerializationTarget> BuildTargets()
    {
        var p = Parameters;
        return
        [
            new("Plaintext", c => RlweSerializer.Save(Plaintext, c), b => RlweSerializer.LoadPlaintext(b, p), s => RlweSerializer.LoadPlaintext(s, p)),
            new("CoefficientPlaintext", c => RlweSerializer.Save(CoefficientPlaintext, c), b => RlweSerializer.LoadPlaintext(b, p), s => RlweSerializer.LoadPlaintext(s, p)),
            new("PublicCiphertext", c => RlweSerializer.Save(PublicCiphertext, c), b => RlweSerializer.LoadCiphertext(b, p), s => RlweSerializer.LoadCiphertext(s, p)),
            new("SymmetricCiphertext", c => RlweSerializer.Save(SymmetricCiphertext, c), b => RlweSerializer.LoadCiphertext(b, p), s => RlweSerializer.LoadCiphertext(s, p)),
            new("Size3Ciphertext", c => RlweSerializer.Save(Size3Ciphertext, c), b => RlweSerializer.LoadCiphertext(b, p), s => RlweSerializer.LoadCiphertext(s, p)),
            new("SecretKey", c => RlweSerializer.SaveUnprotected(SecretKey, c), b => RlweSerializer.LoadSecretKey(b, p), s => RlweSerializer.LoadSecretKey(s, p)),
            new("PublicKey", c => RlweSerializer.Save(PublicKey, c), b => RlweSerializer.LoadPublicKey(b, p), s => RlweSerializer.LoadPublicKey(s, p)),
            new("RelinearizationKey", c => RlweSerializer.Save(RelinearizationKey, c), b => RlweSerializer.LoadRelinearizationKey(b, p), s => RlweSerializer.LoadRelinearizationKey(s, p)),
            new("GaloisKeys", c => RlweSerializer.Save(GaloisKeys, c), b => RlweSerializer.LoadGaloisKeys(b, p), s => RlweSerializer.LoadGaloisKeys(s, p)),
            new("KeySwitchingKey", c => RlweSerializer.Save(SwitchingKey, c), b => RlweSerializer.LoadKeySwitchingKey(b, p), s => RlweSerializer.LoadKeySwitchingKey(s, p)),
            new("Parameters", c => RlweSerializer.Save(Parameters, c), b => RlweSerializer.LoadParameters(b, minimumSecurity: SecurityLevel.InsecureNoCheck), s => RlweSerializer.LoadParameters(s, minimumSecurity: SecurityLevel.InsecureNoCheck)),
        ];
    }
}

public sealed record SerializationTarget(string Name, Func<Compression, byte[]> Save, Func<byte[], object> Load, Func<Stream, object> LoadStream);

/// <summary>A read-only stream that cannot seek and returns short reads, like a network stream.</summary>
public sealed class NonSeekableStream(byte[] data, int maxChunk = 997) : Stream
{
    private int _position;
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = Math.Min(Math.Min(count, maxChunk), data.Length - _position);
        Array.Copy(data, _position, buffer, offset, n);
        _position += n;
        return n;
    }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
