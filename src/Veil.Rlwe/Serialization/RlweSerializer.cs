using System.Security.Cryptography;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe.Serialization;

/// <summary>
/// Saves and loads RLWE objects in the Veil format: a 56-byte <see cref="VeilHeader"/> followed by the payload,
/// optionally compressed. Loading treats the bytes as hostile.
/// </summary>
/// <remarks>
/// <para>Loading checks, in this order (as Microsoft SEAL's <c>ciphertext.cpp</c> does): magic, version, object kind,
/// compression; the parameter hash against <c>parameters.Hash</c>; both declared lengths against
/// <see cref="SerializationLimits.MaxObjectBytes"/>; the exact stored length (no trailing bytes); decompression to
/// exactly the declared payload length; the metadata (level ≤ L, size in [2, <see cref="Ciphertext.MaxSize"/>],
/// scale finite and positive, flags in {0, 1}, counts bounded); the payload length computed from the metadata with
/// <c>checked</c> arithmetic; finally every coefficient of limb i below prime q_i. Every failure is a
/// <see cref="VeilFormatException"/> naming the field.</para>
/// <para>Payloads (little-endian, coefficients as u64):
/// Plaintext: level u8 ‖ NTT flag u8 ‖ scale f64 ‖ (level+1)·N coefficients.
/// Ciphertext: level u8 ‖ size u8 ‖ NTT flag u8 ‖ seeded u8 ‖ scale f64 ‖ then c_0 ‖ 32-byte seed when seeded
/// (c_1 is re-expanded), else all polynomials.
/// SecretKey: N signed bytes in {−1, 0, 1}.
/// PublicKey: b over all limbs of Q·P ‖ 32-byte seed of a.
/// KeySwitchingKey and RelinearizationKey: digit count u16 ‖ 32-byte seed of the a_i ‖ b_0 … b_{d−1} over Q·P.
/// GaloisKeys: count u32 ‖ per key, ascending: Galois element u64 ‖ key-switching payload.
/// RlweParameters: logN u8 ‖ security u16 ‖ |Q| u8 ‖ Q as u64 ‖ |P| u8 ‖ P as u64 (header hash all zero).</para>
/// </remarks>
public static class RlweSerializer
{
    private const int CiphertextMetadataBytes = 4 + sizeof(double);
    private const int PlaintextMetadataBytes = 2 + sizeof(double);
    private const int SwitchingKeyPrefixBytes = sizeof(ushort) + Prng.SeedSize;

    // ------------------------------------------------------------------ Plaintext

    /// <summary>Serializes a plaintext.</summary>
    /// <param name="plaintext">The plaintext.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ArgumentException">The scale is not finite and positive.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(Plaintext plaintext, Compression compression = Compression.None)
    {
        var payload = PlaintextPayload(plaintext);
        return VeilEnvelope.Pack(ObjectKind.Plaintext, plaintext.Parameters.Hash.Span, payload, compression);
    }

    /// <summary>Writes a serialized plaintext to a stream.</summary>
    /// <param name="plaintext">The plaintext.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ArgumentException">The scale is not finite and positive.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void Save(Plaintext plaintext, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = PlaintextPayload(plaintext);
        VeilEnvelope.Pack(ObjectKind.Plaintext, plaintext.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a plaintext saved under <paramref name="parameters"/>.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static Plaintext LoadPlaintext(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadPlaintext(VeilEnvelope.Unpack(bytes, ObjectKind.Plaintext, parameters.Hash.Span, limits, out _), parameters);
    }

    /// <summary>Reads one plaintext from a stream (header first, then exactly the stored bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed or truncated, belong to other parameters, or exceed the limits.</exception>
    public static Plaintext LoadPlaintext(Stream stream, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadPlaintext(VeilEnvelope.Unpack(stream, ObjectKind.Plaintext, parameters.Hash.Span, limits), parameters);
    }

    private static byte[] PlaintextPayload(Plaintext plaintext)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        CheckScale(plaintext.Scale, nameof(plaintext));
        var payload = AllocatePayload(PlaintextMetadataBytes + PolyBytes(plaintext.Parameters, plaintext.LimbCount));
        var w = new PayloadWriter(payload);
        w.WriteByte((byte)plaintext.Level);
        w.WriteByte(plaintext.IsNttForm ? (byte)1 : (byte)0);
        w.WriteDouble(plaintext.Scale);
        w.WriteCoefficients(plaintext.Data);
        w.EnsureFull();
        return payload;
    }

    private static Plaintext ReadPlaintext(ReadOnlySpan<byte> payload, RlweParameters parameters)
    {
        var r = new PayloadReader(payload);
        int level = ReadLevel(ref r, parameters);
        bool ntt = ReadFlag(ref r, "ntt");
        double scale = ReadScale(ref r);
        CheckPayloadLength(r.Length, () => PlaintextMetadataBytes + PolyBytes(parameters, level + 1));
        var plaintext = new Plaintext(parameters, level, scale, ntt);
        r.ReadCoefficients(plaintext.Data, parameters.Ring, 0, level + 1, "coefficients");
        r.EnsureEnd("payloadLength");
        return plaintext;
    }

    // ------------------------------------------------------------------ Ciphertext

    /// <summary>Serializes a ciphertext; a fresh secret-key ciphertext is sent as c_0 and the seed of c_1 (about half the size).</summary>
    /// <param name="ciphertext">The ciphertext.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ArgumentException">The scale is not finite and positive.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(Ciphertext ciphertext, Compression compression = Compression.None)
    {
        var payload = CiphertextPayload(ciphertext);
        return VeilEnvelope.Pack(ObjectKind.Ciphertext, ciphertext.Parameters.Hash.Span, payload, compression);
    }

    /// <summary>Writes a serialized ciphertext to a stream.</summary>
    /// <param name="ciphertext">The ciphertext.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ArgumentException">The scale is not finite and positive.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void Save(Ciphertext ciphertext, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = CiphertextPayload(ciphertext);
        VeilEnvelope.Pack(ObjectKind.Ciphertext, ciphertext.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a ciphertext saved under <paramref name="parameters"/>; a seeded one has c_1 re-expanded.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to; loading under other parameters is refused.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static Ciphertext LoadCiphertext(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadCiphertext(VeilEnvelope.Unpack(bytes, ObjectKind.Ciphertext, parameters.Hash.Span, limits, out _), parameters);
    }

    /// <summary>Reads one ciphertext from a stream (header first, then exactly the stored bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed or truncated, belong to other parameters, or exceed the limits.</exception>
    public static Ciphertext LoadCiphertext(Stream stream, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadCiphertext(VeilEnvelope.Unpack(stream, ObjectKind.Ciphertext, parameters.Hash.Span, limits), parameters);
    }

    private static byte[] CiphertextPayload(Ciphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        CheckScale(ciphertext.Scale, nameof(ciphertext));
        var p = ciphertext.Parameters;
        bool seeded = SeedStillValid(ciphertext);
        int polys = seeded ? 1 : ciphertext.Size;
        long length = CiphertextMetadataBytes + polys * PolyBytes(p, ciphertext.Level + 1) + (seeded ? Prng.SeedSize : 0);
        var payload = AllocatePayload(length);
        var w = new PayloadWriter(payload);
        w.WriteByte((byte)ciphertext.Level);
        w.WriteByte((byte)ciphertext.Size);
        w.WriteByte(ciphertext.IsNttForm ? (byte)1 : (byte)0);
        w.WriteByte(seeded ? (byte)1 : (byte)0);
        w.WriteDouble(ciphertext.Scale);
        for (int i = 0; i < polys; i++) w.WriteCoefficients(ciphertext.Poly(i));
        if (seeded) w.WriteBytes(ciphertext.Seed);
        w.EnsureFull();
        return payload;
    }

    /// <summary>Whether c_1 can travel as its seed: size 2, NTT form, and the seed still reproduces c_1.</summary>
    private static bool SeedStillValid(Ciphertext ciphertext)
    {
        if (ciphertext.Seed is not { Length: Prng.SeedSize } seed || ciphertext.Size != 2 || !ciphertext.IsNttForm) return false;
        // An operation that changed c_1 but forgot to clear the seed must not produce a wrong ciphertext on load.
        var expanded = new ulong[ciphertext.PolyLength];
        Encryptor.ExpandSeededC1(ciphertext.Parameters, seed, ciphertext.Level, expanded);
        return expanded.AsSpan().SequenceEqual(ciphertext.Poly(1));
    }

    private static Ciphertext ReadCiphertext(ReadOnlySpan<byte> payload, RlweParameters parameters)
    {
        var r = new PayloadReader(payload);
        int level = ReadLevel(ref r, parameters);
        int size = r.ReadByte("size");
        if (size < 2 || size > Ciphertext.MaxSize)
            throw new VeilFormatException("size", $"A ciphertext has 2 to {Ciphertext.MaxSize} polynomials; got {size}.");
        bool ntt = ReadFlag(ref r, "ntt");
        bool seeded = ReadFlag(ref r, "seeded");
        if (seeded && size != 2)
            throw new VeilFormatException("seeded", $"Only a size-2 ciphertext can be seeded; this one has size {size}.");
        if (seeded && !ntt)
            throw new VeilFormatException("seeded", "A seeded ciphertext is in NTT form.");
        double scale = ReadScale(ref r);
        int polys = seeded ? 1 : size;
        CheckPayloadLength(r.Length, () => CiphertextMetadataBytes + polys * PolyBytes(parameters, level + 1) + (seeded ? Prng.SeedSize : 0));
        var ciphertext = new Ciphertext(parameters, level, size, scale) { IsNttForm = ntt };
        for (int i = 0; i < polys; i++)
            r.ReadCoefficients(ciphertext.Poly(i), parameters.Ring, 0, level + 1, "coefficients");
        if (seeded)
        {
            var seed = r.ReadBytes(Prng.SeedSize, "seed").ToArray();
            Encryptor.ExpandSeededC1(parameters, seed, level, ciphertext.Poly(1));
            ciphertext.Seed = seed;
        }
        r.EnsureEnd("payloadLength");
        return ciphertext;
    }

    // ------------------------------------------------------------------ SecretKey

    /// <summary>Serializes a secret key (N signed bytes). The result is secret: protect it.</summary>
    /// <param name="secretKey">The key.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(SecretKey secretKey, Compression compression = Compression.None)
    {
        var payload = SecretKeyPayload(secretKey);
        try { return VeilEnvelope.Pack(ObjectKind.SecretKey, secretKey.Parameters.Hash.Span, payload, compression, sensitive: true); }
        finally { CryptographicOperations.ZeroMemory(payload); }
    }

    /// <summary>Writes a serialized secret key to a stream. The output is secret: protect it.</summary>
    /// <param name="secretKey">The key.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void Save(SecretKey secretKey, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = SecretKeyPayload(secretKey);
        try { VeilEnvelope.Pack(ObjectKind.SecretKey, secretKey.Parameters.Hash.Span, payload, compression, stream, sensitive: true); }
        finally { CryptographicOperations.ZeroMemory(payload); }
    }

    /// <summary>Loads a secret key saved under <paramref name="parameters"/>; every coefficient must be −1, 0 or 1.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static SecretKey LoadSecretKey(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        byte[]? decompressed = null;
        try
        {
            return ReadSecretKey(VeilEnvelope.Unpack(bytes, ObjectKind.SecretKey, parameters.Hash.Span, limits, out decompressed), parameters);
        }
        finally
        {
            if (decompressed is not null) CryptographicOperations.ZeroMemory(decompressed);
        }
    }

    /// <summary>Reads one secret key from a stream (header first, then exactly the stored bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed or truncated, belong to other parameters, or exceed the limits.</exception>
    public static SecretKey LoadSecretKey(Stream stream, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(parameters);
        var payload = VeilEnvelope.Unpack(stream, ObjectKind.SecretKey, parameters.Hash.Span, limits, sensitive: true);
        try { return ReadSecretKey(payload, parameters); }
        finally { CryptographicOperations.ZeroMemory(payload); }
    }

    private static byte[] SecretKeyPayload(SecretKey secretKey)
    {
        ArgumentNullException.ThrowIfNull(secretKey);
        var coefficients = secretKey.Coefficients;
        var payload = new byte[coefficients.Length];
        for (int i = 0; i < coefficients.Length; i++) payload[i] = (byte)coefficients[i];
        return payload;
    }

    private static SecretKey ReadSecretKey(ReadOnlySpan<byte> payload, RlweParameters parameters)
    {
        CheckPayloadLength(payload.Length, () => parameters.N);
        var coefficients = new sbyte[parameters.N];
        for (int i = 0; i < coefficients.Length; i++)
        {
            var v = (sbyte)payload[i];
            if (v < -1 || v > 1)
            {
                CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(coefficients.AsSpan()));
                throw new VeilFormatException("coefficients", $"Secret-key coefficient {i} is not in {{-1, 0, 1}}.");
            }
            coefficients[i] = v;
        }
        return new SecretKey(parameters, coefficients);
    }

    // ------------------------------------------------------------------ PublicKey

    /// <summary>Serializes a public key as b and the seed of a (about half the size of (b, a)).</summary>
    /// <param name="publicKey">The key.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(PublicKey publicKey, Compression compression = Compression.None)
    {
        var payload = PublicKeyPayload(publicKey);
        return VeilEnvelope.Pack(ObjectKind.PublicKey, publicKey.Parameters.Hash.Span, payload, compression);
    }

    /// <summary>Writes a serialized public key to a stream.</summary>
    /// <param name="publicKey">The key.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void Save(PublicKey publicKey, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = PublicKeyPayload(publicKey);
        VeilEnvelope.Pack(ObjectKind.PublicKey, publicKey.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a public key saved under <paramref name="parameters"/>; a is re-expanded from its seed.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static PublicKey LoadPublicKey(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadPublicKey(VeilEnvelope.Unpack(bytes, ObjectKind.PublicKey, parameters.Hash.Span, limits, out _), parameters);
    }

    /// <summary>Reads one public key from a stream (header first, then exactly the stored bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed or truncated, belong to other parameters, or exceed the limits.</exception>
    public static PublicKey LoadPublicKey(Stream stream, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadPublicKey(VeilEnvelope.Unpack(stream, ObjectKind.PublicKey, parameters.Hash.Span, limits), parameters);
    }

    private static byte[] PublicKeyPayload(PublicKey publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        var p = publicKey.Parameters;
        CheckSeed(publicKey.Seed.Span, nameof(publicKey));
        var payload = AllocatePayload(PolyBytes(p, p.Ring.LimbCount) + Prng.SeedSize);
        var w = new PayloadWriter(payload);
        w.WriteCoefficients(publicKey.B);
        w.WriteBytes(publicKey.Seed.Span);
        w.EnsureFull();
        return payload;
    }

    private static PublicKey ReadPublicKey(ReadOnlySpan<byte> payload, RlweParameters parameters)
    {
        var ring = parameters.Ring;
        CheckPayloadLength(payload.Length, () => PolyBytes(parameters, ring.LimbCount) + Prng.SeedSize);
        var r = new PayloadReader(payload);
        var b = new ulong[ring.LimbCount * ring.N];
        r.ReadCoefficients(b, ring, 0, ring.LimbCount, "coefficients");
        var seed = r.ReadBytes(Prng.SeedSize, "seed").ToArray();
        r.EnsureEnd("payloadLength");
        var a = new ulong[b.Length];
        KeyGenerator.ExpandPublicA(parameters, seed, a);
        return new PublicKey(parameters, b, a, seed);
    }

    // ------------------------------------------------------------------ KeySwitchingKey / RelinearizationKey

    /// <summary>Serializes a key-switching key as the b_i and the seed of the a_i.</summary>
    /// <param name="key">The key.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(KeySwitchingKey key, Compression compression = Compression.None)
    {
        var payload = SwitchingKeyPayload(key);
        return VeilEnvelope.Pack(ObjectKind.KeySwitchingKey, key.Parameters.Hash.Span, payload, compression);
    }

    /// <summary>Writes a serialized key-switching key to a stream.</summary>
    /// <param name="key">The key.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void Save(KeySwitchingKey key, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = SwitchingKeyPayload(key);
        VeilEnvelope.Pack(ObjectKind.KeySwitchingKey, key.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a key-switching key saved under <paramref name="parameters"/>; the a_i are re-expanded from the seed.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static KeySwitchingKey LoadKeySwitchingKey(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadSwitchingKeyPayload(VeilEnvelope.Unpack(bytes, ObjectKind.KeySwitchingKey, parameters.Hash.Span, limits, out _), parameters);
    }

    /// <summary>Reads one key-switching key from a stream (header first, then exactly the stored bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed or truncated, belong to other parameters, or exceed the limits.</exception>
    public static KeySwitchingKey LoadKeySwitchingKey(Stream stream, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadSwitchingKeyPayload(VeilEnvelope.Unpack(stream, ObjectKind.KeySwitchingKey, parameters.Hash.Span, limits), parameters);
    }

    /// <summary>Serializes a relinearization key (the payload of its key-switching key).</summary>
    /// <param name="key">The key.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(RelinearizationKey key, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = SwitchingKeyPayload(key.Key);
        return VeilEnvelope.Pack(ObjectKind.RelinearizationKey, key.Parameters.Hash.Span, payload, compression);
    }

    /// <summary>Writes a serialized relinearization key to a stream.</summary>
    /// <param name="key">The key.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void Save(RelinearizationKey key, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(stream);
        var payload = SwitchingKeyPayload(key.Key);
        VeilEnvelope.Pack(ObjectKind.RelinearizationKey, key.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a relinearization key saved under <paramref name="parameters"/>.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static RelinearizationKey LoadRelinearizationKey(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var payload = VeilEnvelope.Unpack(bytes, ObjectKind.RelinearizationKey, parameters.Hash.Span, limits, out _);
        return new RelinearizationKey(ReadSwitchingKeyPayload(payload, parameters));
    }

    /// <summary>Reads one relinearization key from a stream (header first, then exactly the stored bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed or truncated, belong to other parameters, or exceed the limits.</exception>
    public static RelinearizationKey LoadRelinearizationKey(Stream stream, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(parameters);
        var payload = VeilEnvelope.Unpack(stream, ObjectKind.RelinearizationKey, parameters.Hash.Span, limits);
        return new RelinearizationKey(ReadSwitchingKeyPayload(payload, parameters));
    }

    private static long SwitchingKeyBytes(RlweParameters p) =>
        checked(SwitchingKeyPrefixBytes + p.MaxDigitCount * PolyBytes(p, p.Ring.LimbCount));

    private static byte[] SwitchingKeyPayload(KeySwitchingKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = AllocatePayload(SwitchingKeyBytes(key.Parameters));
        var w = new PayloadWriter(payload);
        WriteSwitchingKey(ref w, key);
        w.EnsureFull();
        return payload;
    }

    private static void WriteSwitchingKey(ref PayloadWriter w, KeySwitchingKey key)
    {
        var p = key.Parameters;
        if (key.DigitCount != p.MaxDigitCount)
            throw new ArgumentException($"The key has {key.DigitCount} digits; keys of these parameters have {p.MaxDigitCount}.", nameof(key));
        CheckSeed(key.Seed.Span, nameof(key));
        w.WriteUInt16((ushort)key.DigitCount);
        w.WriteBytes(key.Seed.Span);
        for (int i = 0; i < key.DigitCount; i++) w.WriteCoefficients(key.CanonicalB(i));
    }

    private static KeySwitchingKey ReadSwitchingKeyPayload(ReadOnlySpan<byte> payload, RlweParameters parameters)
    {
        var r = new PayloadReader(payload);
        ReadDigitCount(ref r, parameters);
        CheckPayloadLength(r.Length, () => SwitchingKeyBytes(parameters));
        var key = ReadSwitchingKeyBody(ref r, parameters);
        r.EnsureEnd("payloadLength");
        return key;
    }

    private static void ReadDigitCount(ref PayloadReader r, RlweParameters parameters)
    {
        int digits = r.ReadUInt16("digitCount");
        if (digits != parameters.MaxDigitCount)
            throw new VeilFormatException("digitCount", $"A key-switching key of these parameters has {parameters.MaxDigitCount} digits; got {digits}.");
    }

    /// <summary>Reads the seed and the b_i (the digit count already read and checked) and re-expands the a_i.</summary>
    private static KeySwitchingKey ReadSwitchingKeyBody(ref PayloadReader r, RlweParameters parameters)
    {
        var ring = parameters.Ring;
        int digits = parameters.MaxDigitCount;
        var seed = r.ReadBytes(Prng.SeedSize, "seed").ToArray();
        var bs = new ulong[digits][];
        for (int i = 0; i < digits; i++)
        {
            bs[i] = new ulong[ring.LimbCount * ring.N];
            r.ReadCoefficients(bs[i], ring, 0, ring.LimbCount, "coefficients");
        }
        var @as = new ulong[digits][];
        for (int i = 0; i < digits; i++) @as[i] = KeySwitchingKey.ExpandA(parameters, seed, i);
        return new KeySwitchingKey(parameters, bs, @as, seed);
    }

    // ------------------------------------------------------------------ GaloisKeys

    /// <summary>Serializes a set of Galois keys, in ascending order of Galois element.</summary>
    /// <param name="keys">The keys.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(GaloisKeys keys, Compression compression = Compression.None)
    {
        var payload = GaloisKeysPayload(keys);
        return VeilEnvelope.Pack(ObjectKind.GaloisKeys, keys.Parameters.Hash.Span, payload, compression);
    }

    /// <summary>Writes a serialized set of Galois keys to a stream.</summary>
    /// <param name="keys">The keys.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void Save(GaloisKeys keys, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = GaloisKeysPayload(keys);
        VeilEnvelope.Pack(ObjectKind.GaloisKeys, keys.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>
    /// Loads Galois keys saved under <paramref name="parameters"/>: at most N keys, elements odd, below 2N and
    /// strictly increasing (so never repeated).
    /// </summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static GaloisKeys LoadGaloisKeys(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadGaloisKeys(VeilEnvelope.Unpack(bytes, ObjectKind.GaloisKeys, parameters.Hash.Span, limits, out _), parameters);
    }

    /// <summary>Reads one set of Galois keys from a stream (header first, then exactly the stored bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed or truncated, belong to other parameters, or exceed the limits.</exception>
    public static GaloisKeys LoadGaloisKeys(Stream stream, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadGaloisKeys(VeilEnvelope.Unpack(stream, ObjectKind.GaloisKeys, parameters.Hash.Span, limits), parameters);
    }

    private static byte[] GaloisKeysPayload(GaloisKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var p = keys.Parameters;
        var pairs = keys.Pairs.ToArray();
        var payload = AllocatePayload(checked(sizeof(uint) + pairs.Length * (sizeof(ulong) + SwitchingKeyBytes(p))));
        var w = new PayloadWriter(payload);
        w.WriteUInt32((uint)pairs.Length);
        foreach (var (element, key) in pairs)
        {
            w.WriteUInt64(element);
            WriteSwitchingKey(ref w, key);
        }
        w.EnsureFull();
        return payload;
    }

    private static GaloisKeys ReadGaloisKeys(ReadOnlySpan<byte> payload, RlweParameters parameters)
    {
        var r = new PayloadReader(payload);
        uint count = r.ReadUInt32("galoisCount");
        if (count > (uint)parameters.N)
            throw new VeilFormatException("galoisCount", $"At most N = {parameters.N} Galois keys exist; the data declare {count}.");
        CheckPayloadLength(r.Length, () => sizeof(uint) + count * (sizeof(ulong) + SwitchingKeyBytes(parameters)));
        var keys = new Dictionary<ulong, KeySwitchingKey>((int)count);
        ulong twoN = 2UL * (ulong)parameters.N;
        ulong previous = 0;
        for (uint k = 0; k < count; k++)
        {
            ulong element = r.ReadUInt64("galoisElement");
            if ((element & 1) == 0 || element >= twoN)
                throw new VeilFormatException("galoisElement", $"A Galois element is odd and below 2N = {twoN}; got {element}.");
            if (element <= previous)
                throw new VeilFormatException("galoisElement", element == previous
                    ? $"Galois element {element} appears twice."
                    : $"Galois elements must be strictly increasing; {element} follows {previous}.");
            previous = element;
            ReadDigitCount(ref r, parameters);
            keys.Add(element, ReadSwitchingKeyBody(ref r, parameters));
        }
        r.EnsureEnd("payloadLength");
        return new GaloisKeys(parameters, keys);
    }

    // ------------------------------------------------------------------ RlweParameters

    /// <summary>Serializes a parameter set (its header carries an all-zero parameter hash).</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(RlweParameters parameters, Compression compression = Compression.None)
    {
        var payload = ParametersPayload(parameters);
        return VeilEnvelope.Pack(ObjectKind.Parameters, stackalloc byte[VeilHeader.ParameterHashSize], payload, compression);
    }

    /// <summary>Writes a serialized parameter set to a stream.</summary>
    /// <param name="parameters">The parameters.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void Save(RlweParameters parameters, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = ParametersPayload(parameters);
        VeilEnvelope.Pack(ObjectKind.Parameters, stackalloc byte[VeilHeader.ParameterHashSize], payload, compression, stream);
    }

    /// <summary>Loads a parameter set, re-validated through <see cref="RlweParameters.Create"/> (security check included).</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, exceed the limits, or describe invalid parameters (field "parameters").</exception>
    public static RlweParameters LoadParameters(ReadOnlySpan<byte> bytes, SerializationLimits? limits = null) =>
        ReadParameters(VeilEnvelope.Unpack(bytes, ObjectKind.Parameters, stackalloc byte[VeilHeader.ParameterHashSize], limits, out _), limits);

    /// <summary>Reads one parameter set from a stream (header first, then exactly the stored bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed or truncated, exceed the limits, or describe invalid parameters.</exception>
    public static RlweParameters LoadParameters(Stream stream, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadParameters(VeilEnvelope.Unpack(stream, ObjectKind.Parameters, stackalloc byte[VeilHeader.ParameterHashSize], limits), limits);
    }

    private static byte[] ParametersPayload(RlweParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var payload = new byte[ParametersPayloadBytes(parameters.Q.Count, parameters.P.Count)];
        var w = new PayloadWriter(payload);
        WriteParameters(ref w, parameters);
        w.EnsureFull();
        return payload;
    }

    private static RlweParameters ReadParameters(ReadOnlySpan<byte> payload, SerializationLimits? limits)
    {
        var r = new PayloadReader(payload);
        var parameters = ReadParameters(ref r, limits);
        r.EnsureEnd("payloadLength");
        return parameters;
    }

    /// <summary>Bytes of an RLWE parameter encoding with the given prime counts.</summary>
    internal static int ParametersPayloadBytes(int qCount, int pCount) => 1 + 2 + 1 + 8 * qCount + 1 + 8 * pCount;

    /// <summary>Writes logN u8 ‖ security u16 ‖ |Q| u8 ‖ Q ‖ |P| u8 ‖ P (for schemes embedding RLWE parameters in their own).</summary>
    internal static void WriteParameters(ref PayloadWriter w, RlweParameters parameters)
    {
        w.WriteByte((byte)parameters.LogN);
        w.WriteUInt16((ushort)parameters.Security);
        w.WriteByte((byte)parameters.Q.Count);
        foreach (var q in parameters.Q) w.WriteUInt64(q);
        w.WriteByte((byte)parameters.P.Count);
        foreach (var p in parameters.P) w.WriteUInt64(p);
    }

    /// <summary>Reads and re-validates an RLWE parameter encoding written by <see cref="WriteParameters"/>.</summary>
    internal static RlweParameters ReadParameters(ref PayloadReader r, SerializationLimits? limits = null)
    {
        limits ??= SerializationLimits.Default;
        int logN = r.ReadByte("logN");
        if (logN < RlweParameters.MinLogN || logN > RlweParameters.MaxLogN)
            throw new VeilFormatException("logN", $"logN must be in [{RlweParameters.MinLogN}, {RlweParameters.MaxLogN}]; got {logN}.");
        var security = (SecurityLevel)r.ReadUInt16("security");
        if (!Enum.IsDefined(security))
            throw new VeilFormatException("security", $"Unknown security level {(int)security}.");
        var q = ReadPrimes(ref r, "Q");
        var p = ReadPrimes(ref r, "P");
        long words = (long)(q.Length + p.Length) << logN;
        if (words > limits.MaxRingWords)
            throw new VeilFormatException("parameters", $"N·(|Q|+|P|) = {words} exceeds the limit of {limits.MaxRingWords} ring words.");
        try
        {
            return RlweParameters.Create(logN, q, p, security);
        }
        catch (ArgumentException e)
        {
            throw new VeilFormatException("parameters", e.Message, e);
        }
    }

    private static ulong[] ReadPrimes(ref PayloadReader r, string field)
    {
        int count = r.ReadByte(field + "Count");
        if (count == 0) throw new VeilFormatException(field + "Count", $"At least one prime is needed in {field}.");
        // Reads are bounds-checked, so the count cannot make us allocate beyond what the payload holds.
        var bytes = r.ReadBytes(8 * count, field);
        var primes = new ulong[count];
        for (int i = 0; i < count; i++) primes[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes[(8 * i)..]);
        return primes;
    }

    // ------------------------------------------------------------------ shared checks

    /// <summary>Bytes of <paramref name="limbs"/> limbs of one polynomial.</summary>
    private static long PolyBytes(RlweParameters p, int limbs) => checked((long)limbs * p.N * sizeof(ulong));

    private static byte[] AllocatePayload(long length)
    {
        if (length > Array.MaxLength)
            throw new InvalidOperationException($"The object needs {length} bytes, more than one array can hold ({Array.MaxLength}).");
        return new byte[length];
    }

    /// <summary>The payload length must equal what the metadata imply, computed with checked arithmetic.</summary>
    private static void CheckPayloadLength(int actual, Func<long> expected)
    {
        long value;
        try { value = checked(expected()); }
        catch (OverflowException e) { throw new VeilFormatException("payloadLength", "The metadata imply a payload size that overflows.", e); }
        if (value != actual)
            throw new VeilFormatException("payloadLength", $"The metadata imply a payload of {value} bytes; the header declares {actual}.");
    }

    private static int ReadLevel(ref PayloadReader r, RlweParameters parameters)
    {
        int level = r.ReadByte("level");
        if (level > parameters.MaxLevel)
            throw new VeilFormatException("level", $"Level must be in [0, {parameters.MaxLevel}]; got {level}.");
        return level;
    }

    private static bool ReadFlag(ref PayloadReader r, string field)
    {
        byte flag = r.ReadByte(field);
        if (flag > 1) throw new VeilFormatException(field, $"A flag is 0 or 1; got {flag}.");
        return flag == 1;
    }

    private static double ReadScale(ref PayloadReader r)
    {
        double scale = r.ReadDouble("scale");
        if (!double.IsFinite(scale) || scale <= 0)
            throw new VeilFormatException("scale", $"The scale must be finite and positive; got {scale}.");
        return scale;
    }

    private static void CheckScale(double scale, string paramName)
    {
        if (!double.IsFinite(scale) || scale <= 0)
            throw new ArgumentException($"Only a finite, positive scale can be serialized; got {scale}.", paramName);
    }

    private static void CheckSeed(ReadOnlySpan<byte> seed, string paramName)
    {
        if (seed.Length != Prng.SeedSize)
            throw new ArgumentException($"The key's seed is {seed.Length} bytes; {Prng.SeedSize} are expected.", paramName);
    }
}
