using System.Numerics;
using System.Security.Cryptography;
using Veil.Serialization;

namespace Veil.Paillier;

/// <summary>
/// Saves and loads Paillier keys, ciphertexts and encrypted reals in the Veil envelope. Loaders take untrusted bytes:
/// every field is bounded and validated, and bad bytes raise only <see cref="VeilFormatException"/>.
/// </summary>
public static class PaillierSerializer
{
    /// <summary>A public key.</summary>
    public static ObjectType PublicKeyType { get; } = ObjectTypes.Register(Schemes.Paillier, 1, "PaillierPublicKey");
    /// <summary>A private key (sealed by an <see cref="ISecretProtector"/> unless saved clear on purpose).</summary>
    public static ObjectType PrivateKeyType { get; } = ObjectTypes.Register(Schemes.Paillier, 2, "PaillierPrivateKey");
    /// <summary>A ciphertext, bound to its key's fingerprint.</summary>
    public static ObjectType CiphertextType { get; } = ObjectTypes.Register(Schemes.Paillier, 3, "PaillierCiphertext");
    /// <summary>An encrypted real (ciphertext, exponent, bound).</summary>
    public static ObjectType RealType { get; } = ObjectTypes.Register(Schemes.Paillier, 4, "PaillierReal");

    private const int MaxBits = 8192;
    private static readonly byte[] NoHash = new byte[32];

    /// <summary>The public key: its bit length, n and h_s.</summary>
    public static byte[] Save(PaillierPublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int bytes = key.Bits / 8;
        var payload = new byte[2 + bytes + 2 * bytes];
        var w = new PayloadWriter(payload);
        w.WriteUInt16((ushort)key.Bits);
        WriteFixed(ref w, key.N, bytes);
        WriteFixed(ref w, key.Hs, 2 * bytes);
        w.EnsureFull();
        return VeilEnvelope.Pack(PublicKeyType, NoHash, payload, Compression.None);
    }

    /// <summary>Loads a public key, refusing keys below 3072 bits unless <paramref name="allowBelow128Bits"/>.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, a key that cannot be a Paillier modulus, or one below the security floor.</exception>
    public static PaillierPublicKey LoadPublicKey(ReadOnlySpan<byte> data, bool allowBelow128Bits = false, SerializationLimits? limits = null)
    {
        var payload = VeilEnvelope.Unpack(data, PublicKeyType, NoHash, default, limits, 2 + 3 * (MaxBits / 8), out _, out _);
        var r = new PayloadReader(payload);
        int bits = ReadBits(ref r, allowBelow128Bits);
        var n = ReadFixed(ref r, bits / 8, "n");
        var hs = ReadFixed(ref r, bits / 4, "hs");
        r.EnsureEnd("publicKey");
        CheckModulus(n, bits);
        CheckBase(hs, n);
        return new PaillierPublicKey(n, hs);
    }

    /// <summary>The private key sealed by <paramref name="protector"/>.</summary>
    public static byte[] Save(PaillierPrivateKey key, ISecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(protector);
        var clear = SaveUnprotected(key);
        try { return protector.Protect(clear, PrivateKeyType); }
        finally { CryptographicOperations.ZeroMemory(clear); }
    }

    /// <summary>The private key in the clear: p, q and h_s. Anyone with these bytes can decrypt; prefer <see cref="Save(PaillierPrivateKey, ISecretProtector)"/>.</summary>
    public static byte[] SaveUnprotected(PaillierPrivateKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int bits = key.PublicKey.Bits, half = bits / 16;
        var payload = new byte[2 + 2 * half + bits / 4];
        try
        {
            var w = new PayloadWriter(payload);
            w.WriteUInt16((ushort)bits);
            WriteFixed(ref w, key.P, half);
            WriteFixed(ref w, key.Q, half);
            WriteFixed(ref w, key.PublicKey.Hs, bits / 4);
            w.EnsureFull();
            return VeilEnvelope.Pack(PrivateKeyType, NoHash, payload, Compression.None, sensitive: true);
        }
        finally { CryptographicOperations.ZeroMemory(payload); }
    }

    /// <summary>Loads a private key, opening it with <paramref name="protector"/> when it is sealed (a clear key needs <paramref name="protector"/> null).</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, factors that are not primes of the declared size, or a sealed key without a protector.</exception>
    /// <exception cref="CryptographicException">The protector cannot open it.</exception>
    public static PaillierPrivateKey LoadPrivateKey(ReadOnlySpan<byte> data, ISecretProtector? protector = null, bool allowBelow128Bits = false, SerializationLimits? limits = null)
    {
        byte[]? opened = null;
        try
        {
            if (protector is not null && protector.IsProtected(data)) { opened = protector.Unprotect(data, PrivateKeyType); data = opened; }
            var payload = VeilEnvelope.Unpack(data, PrivateKeyType, NoHash, default, limits, 2 + 2 * (MaxBits / 8), out var decompressed, out _, sensitive: true);
            try
            {
                var r = new PayloadReader(payload);
                int bits = ReadBits(ref r, allowBelow128Bits);
                var p = ReadFixed(ref r, bits / 16, "p");
                var q = ReadFixed(ref r, bits / 16, "q");
                var hs = ReadFixed(ref r, bits / 4, "hs");
                r.EnsureEnd("privateKey");
                var n = p * q;
                if (p == q || n.GetBitLength() != bits || p.GetBitLength() != bits / 2 || q.GetBitLength() != bits / 2)
                    throw new VeilFormatException("factors", "p and q must be distinct and of half the key's bits each.");
                if (!Primes.IsProbablePrime(p, 24) || !Primes.IsProbablePrime(q, 24)) throw new VeilFormatException("factors", "p or q is not prime.");
                if (!BigInteger.GreatestCommonDivisor(n, (p - 1) * (q - 1)).IsOne) throw new VeilFormatException("factors", "gcd(n, φ(n)) ≠ 1.");
                CheckBase(hs, n);
                // The owner can check what an encryptor cannot: h_s is an n-th residue (order dividing p − 1 mod p², q − 1 mod q²)
                // whose parts modulo p and q are not ±1 (elements of tiny order would let anyone read DJN ciphertexts).
                var p2 = p * p;
                var q2 = q * q;
                if (!BigInteger.ModPow(hs, p - 1, p2).IsOne || !BigInteger.ModPow(hs, q - 1, q2).IsOne)
                    throw new VeilFormatException("hs", "The DJN base is not an n-th residue modulo n².");
                var hp = hs % p;
                var hq = hs % q;
                if (hp.IsOne || hp == p - 1 || hq.IsOne || hq == q - 1) throw new VeilFormatException("hs", "The DJN base has a part of order 1 or 2.");
                return new PaillierPrivateKey(new PaillierPublicKey(n, hs), p, q);
            }
            finally { if (decompressed is not null) CryptographicOperations.ZeroMemory(decompressed); }
        }
        finally { if (opened is not null) CryptographicOperations.ZeroMemory(opened); }
    }

    /// <summary>A ciphertext: c in 2·|n| bits, under the key's fingerprint.</summary>
    public static byte[] Save(PaillierCiphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        int bytes = ciphertext.Key.Bits / 4;
        var payload = new byte[bytes];
        var w = new PayloadWriter(payload);
        WriteFixed(ref w, ciphertext.Value, bytes);
        return VeilEnvelope.Pack(CiphertextType, ciphertext.Key.Fingerprint, payload, Compression.None);
    }

    /// <summary>Loads a ciphertext under <paramref name="key"/>.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, another key's fingerprint, or a value that is not a unit modulo n².</exception>
    public static PaillierCiphertext LoadCiphertext(ReadOnlySpan<byte> data, PaillierPublicKey key, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = VeilEnvelope.Unpack(data, CiphertextType, key.Fingerprint, default, limits, key.Bits / 4, out _, out _);
        var r = new PayloadReader(payload);
        var c = ReadCiphertextValue(ref r, key);
        r.EnsureEnd("ciphertext");
        return new PaillierCiphertext(key, c);
    }

    /// <summary>An encrypted real: exponent, bound and ciphertext.</summary>
    public static byte[] Save(PaillierReal real)
    {
        ArgumentNullException.ThrowIfNull(real);
        int bytes = real.Key.Bits / 4, boundBytes = real.Key.Bits / 8;
        var payload = new byte[4 + boundBytes + bytes];
        var w = new PayloadWriter(payload);
        w.WriteInt32(real.Exponent);
        WriteFixed(ref w, real.Bound, boundBytes);
        WriteFixed(ref w, real.Ciphertext.Value, bytes);
        return VeilEnvelope.Pack(RealType, real.Key.Fingerprint, payload, Compression.None);
    }

    /// <summary>Loads an encrypted real under <paramref name="key"/>.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, another key, an exponent outside ±MaxExponent or a bound past the key's range.</exception>
    public static PaillierReal LoadReal(ReadOnlySpan<byte> data, PaillierPublicKey key, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = VeilEnvelope.Unpack(data, RealType, key.Fingerprint, default, limits, 4 + key.Bits / 8 + key.Bits / 4, out _, out _);
        var r = new PayloadReader(payload);
        int exponent = r.ReadInt32("exponent");
        if (exponent < -PaillierFixedPoint.MaxExponent || exponent > PaillierFixedPoint.MaxExponent) throw new VeilFormatException("exponent", $"Exponent {exponent} is outside ±{PaillierFixedPoint.MaxExponent}.");
        var bound = ReadFixed(ref r, key.Bits / 8, "bound");
        if (bound >= PaillierFixedPoint.MaxMagnitude(key)) throw new VeilFormatException("bound", "The bound is past the key's range (n/3).");
        var c = ReadCiphertextValue(ref r, key);
        r.EnsureEnd("real");
        return new PaillierReal(new PaillierCiphertext(key, c), exponent, bound);
    }

    private static BigInteger ReadCiphertextValue(ref PayloadReader r, PaillierPublicKey key)
    {
        var c = ReadFixed(ref r, key.Bits / 4, "ciphertext");
        if (c.IsZero || c >= key.NSquared || !BigInteger.GreatestCommonDivisor(c, key.N).IsOne) throw new VeilFormatException("ciphertext", "The value is not a unit modulo n².");
        return c;
    }

    private static int ReadBits(ref PayloadReader r, bool allowBelow128Bits)
    {
        int bits = r.ReadUInt16("bits");
        if (bits < 2048 || bits > MaxBits || bits % 64 != 0) throw new VeilFormatException("bits", $"{bits}-bit keys are not supported (2048 … 8192, a multiple of 64).");
        if (bits < PaillierScheme.DefaultBits && !allowBelow128Bits) throw new VeilFormatException("bits", $"A {bits}-bit key gives less than 128-bit security; the receiver must opt out explicitly (allowBelow128Bits).");
        return bits;
    }

    // What a public key's holder can check of n without its factors: size, odd, no factor below 17,389, not prime, not a
    // square. A full proof that n is a product of two large primes needs a zero-knowledge proof from the owner (not here).
    private static void CheckModulus(BigInteger n, int bits)
    {
        if (n.GetBitLength() != bits) throw new VeilFormatException("n", $"n has {n.GetBitLength()} bits, not the declared {bits}.");
        if (n.IsEven) throw new VeilFormatException("n", "n is even.");
        foreach (int s in Primes.SmallPrimes)
            if ((n % s).IsZero) throw new VeilFormatException("n", $"n has the small factor {s}.");
        var root = Sqrt(n);
        if (root * root == n) throw new VeilFormatException("n", "n is a square.");
        if (Primes.IsProbablePrime(n, 8)) throw new VeilFormatException("n", "n is prime.");
    }

    // h_s must be a unit other than ±1 whose square is not 1 modulo n² (order 1 or 2 would expose DJN ciphertexts).
    private static void CheckBase(BigInteger hs, BigInteger n)
    {
        var n2 = n * n;
        if (hs <= 1 || hs >= n2 || !BigInteger.GreatestCommonDivisor(hs, n).IsOne) throw new VeilFormatException("hs", "The DJN base is not a unit modulo n² other than 1.");
        if ((hs * hs % n2).IsOne) throw new VeilFormatException("hs", "The DJN base has order 2.");
        if ((hs % n).IsOne) throw new VeilFormatException("hs", "The DJN base is 1 modulo n (it would add its exponent to the message).");
    }

    private static BigInteger Sqrt(BigInteger n)
    {
        var x = BigInteger.One << (int)((n.GetBitLength() + 1) / 2);
        while (true)
        {
            var y = (x + n / x) >> 1;
            if (y >= x) return x;
            x = y;
        }
    }

    private static void WriteFixed(ref PayloadWriter w, BigInteger value, int bytes)
    {
        Span<byte> buffer = stackalloc byte[bytes];
        buffer.Clear();
        if (!value.TryWriteBytes(buffer, out _, isUnsigned: true, isBigEndian: true)) throw new ArgumentException("The value does not fit its field.", nameof(value));
        // TryWriteBytes writes the minimal form at the start; move it to the end (big-endian, fixed width).
        int used = value.GetByteCount(isUnsigned: true);
        if (used < bytes) { buffer[..used].CopyTo(buffer[(bytes - used)..]); buffer[..(bytes - used)].Clear(); }
        w.WriteBytes(buffer);
        buffer.Clear();
    }

    private static BigInteger ReadFixed(ref PayloadReader r, int bytes, string field) => new(r.ReadBytes(bytes, field), isUnsigned: true, isBigEndian: true);
}
