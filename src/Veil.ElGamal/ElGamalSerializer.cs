using System.Security.Cryptography;
using Veil.Serialization;
using BcInteger = Org.BouncyCastle.Math.BigInteger;

namespace Veil.ElGamal;

/// <summary>Saves and loads EC-ElGamal keys and ciphertexts; loaders check every point is on P-256 and raise only <see cref="VeilFormatException"/>.</summary>
public static class ElGamalSerializer
{
    /// <summary>A public key (one compressed point).</summary>
    public static ObjectType PublicKeyType { get; } = ObjectTypes.Register(Schemes.ElGamal, 1, "ElGamalPublicKey");
    /// <summary>A private key (the scalar; sealed unless saved clear on purpose).</summary>
    public static ObjectType PrivateKeyType { get; } = ObjectTypes.Register(Schemes.ElGamal, 2, "ElGamalPrivateKey");
    /// <summary>A ciphertext (two compressed points), bound to its key's fingerprint.</summary>
    public static ObjectType CiphertextType { get; } = ObjectTypes.Register(Schemes.ElGamal, 3, "ElGamalCiphertext");

    private const byte CurveP256 = 1;
    private static readonly byte[] NoHash = new byte[32];

    /// <summary>Curve id ‖ X.</summary>
    public static byte[] Save(ElGamalPublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = new byte[1 + Curve.PointBytes];
        payload[0] = CurveP256;
        key.Encoded.CopyTo(payload, 1);
        return VeilEnvelope.Pack(PublicKeyType, NoHash, payload, Compression.None);
    }

    /// <summary>Loads a public key.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, another curve, or a point not on P-256 (or at infinity).</exception>
    public static ElGamalPublicKey LoadPublicKey(ReadOnlySpan<byte> data, SerializationLimits? limits = null)
    {
        var payload = VeilEnvelope.Unpack(data, PublicKeyType, NoHash, default, limits, 1 + Curve.PointBytes, out _, out _);
        var r = new PayloadReader(payload);
        ReadCurve(ref r);
        var point = ReadPoint(ref r, "publicKey");
        r.EnsureEnd("publicKey");
        if (point.IsInfinity) throw new VeilFormatException("publicKey", "The public key is the point at infinity.");
        return new ElGamalPublicKey(point);
    }

    /// <summary>The private key sealed by <paramref name="protector"/>.</summary>
    public static byte[] Save(ElGamalPrivateKey key, ISecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(protector);
        var clear = SaveUnprotected(key);
        try { return protector.Protect(clear, PrivateKeyType); }
        finally { CryptographicOperations.ZeroMemory(clear); }
    }

    /// <summary>The private key in the clear (curve id ‖ 32-byte scalar). Prefer <see cref="Save(ElGamalPrivateKey, ISecretProtector)"/>.</summary>
    public static byte[] SaveUnprotected(ElGamalPrivateKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = new byte[1 + 32];
        try
        {
            payload[0] = CurveP256;
            var scalar = key.ScalarBytes;
            scalar.CopyTo(payload.AsSpan(1 + 32 - scalar.Length));
            return VeilEnvelope.Pack(PrivateKeyType, NoHash, payload, Compression.None, sensitive: true);
        }
        finally { CryptographicOperations.ZeroMemory(payload); }
    }

    /// <summary>Loads a private key, opening it with <paramref name="protector"/> when sealed.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes or a scalar outside [1, q).</exception>
    /// <exception cref="CryptographicException">The protector cannot open it.</exception>
    public static ElGamalPrivateKey LoadPrivateKey(ReadOnlySpan<byte> data, ISecretProtector? protector = null, SerializationLimits? limits = null)
    {
        byte[]? opened = null;
        try
        {
            if (protector is not null && protector.IsProtected(data)) { opened = protector.Unprotect(data, PrivateKeyType); data = opened; }
            var payload = VeilEnvelope.Unpack(data, PrivateKeyType, NoHash, default, limits, 33, out var decompressed, out _, sensitive: true);
            try
            {
            var r = new PayloadReader(payload);
            ReadCurve(ref r);
            var bytes = r.ReadBytes(32, "scalar").ToArray();
            r.EnsureEnd("privateKey");
            var x = new BcInteger(1, bytes);
            if (x.SignValue <= 0 || x.CompareTo(Curve.Order) >= 0) { CryptographicOperations.ZeroMemory(bytes); throw new VeilFormatException("scalar", "The private scalar is outside [1, q)."); }
            return new ElGamalPrivateKey(bytes, new ElGamalPublicKey(Curve.MultiplyG(x)));
            }
            finally { if (decompressed is not null) CryptographicOperations.ZeroMemory(decompressed); }
        }
        finally { if (opened is not null) CryptographicOperations.ZeroMemory(opened); }
    }

    /// <summary>C1 ‖ C2 under the key's fingerprint.</summary>
    public static byte[] Save(ElGamalCiphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        var payload = new byte[2 * Curve.PointBytes];
        Curve.Encode(ciphertext.C1, payload);
        Curve.Encode(ciphertext.C2, payload.AsSpan(Curve.PointBytes));
        return VeilEnvelope.Pack(CiphertextType, ciphertext.Key.Fingerprint, payload, Compression.None);
    }

    /// <summary>Loads a ciphertext under <paramref name="key"/>.</summary>
    /// <exception cref="VeilFormatException">Malformed bytes, another key, or points not on the curve.</exception>
    public static ElGamalCiphertext LoadCiphertext(ReadOnlySpan<byte> data, ElGamalPublicKey key, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = VeilEnvelope.Unpack(data, CiphertextType, key.Fingerprint, default, limits, 2 * Curve.PointBytes, out _, out _);
        var r = new PayloadReader(payload);
        var c1 = ReadPoint(ref r, "c1");
        var c2 = ReadPoint(ref r, "c2");
        r.EnsureEnd("ciphertext");
        return new ElGamalCiphertext(key, c1, c2);
    }

    private static void ReadCurve(ref PayloadReader r)
    {
        byte id = r.ReadByte("curve");
        if (id != CurveP256) throw new VeilFormatException("curve", $"Curve {id} is not supported (1 = P-256).");
    }

    private static Org.BouncyCastle.Math.EC.ECPoint ReadPoint(ref PayloadReader r, string field) =>
        Curve.Decode(r.ReadBytes(Curve.PointBytes, field)) ?? throw new VeilFormatException(field, "Not a compressed point on P-256.");
}
