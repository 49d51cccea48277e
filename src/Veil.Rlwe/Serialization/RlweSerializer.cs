using System.Security.Cryptography;
using Veil.Arithmetic.Sampling;
using Veil.Serialization;

namespace Veil.Rlwe.Serialization;

/// <summary>
/// Saves and loads RLWE objects in the Veil format: a <see cref="VeilHeader"/> followed by the payload,
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
    // Ciphertext flags (byte 3): c_1 sent as its seed; a 16-byte key id follows the scale (files before key ids have 0 or 1).
    private const byte SeededFlag = 1, KeyIdFlag = 2;
    private const int PlaintextMetadataBytes = 2 + sizeof(double);
    private const int SwitchingKeyPrefixBytes = sizeof(ushort) + Prng.SeedSize;
    /// <summary>Bytes of the tag that binds a version-2 key-switching key to its kind and Galois element.</summary>
    private const int BindingTagBytes = 16;
    private const int SecretKeyBudgetBytes = 2 * sizeof(uint);

    /// <summary>The payload (decompressed when needed) after every header check, with the declared length bounded by
    /// <paramref name="maxPayload"/> — the largest this kind can be under these parameters — before anything is inflated.</summary>
    private static ReadOnlySpan<byte> Unpack(ReadOnlySpan<byte> bytes, ObjectKind kind, RlweParameters? parameters, SerializationLimits? limits,
        long maxPayload, out ushort version, out byte[]? decompressed, bool sensitive = false) =>
        VeilEnvelope.Unpack(bytes, RlweObjectTypes.Of(kind), Hash(parameters), LegacyHash(parameters), limits, maxPayload, out decompressed, out version, sensitive);

    private static byte[] Unpack(Stream stream, ObjectKind kind, RlweParameters? parameters, SerializationLimits? limits, long maxPayload,
        out ushort version, bool sensitive = false) =>
        VeilEnvelope.Unpack(stream, RlweObjectTypes.Of(kind), Hash(parameters), LegacyHash(parameters), limits, maxPayload, out version, sensitive);

    private static readonly byte[] NoHash = new byte[VeilHeader.ContextHashSize];
    private static ReadOnlySpan<byte> Hash(RlweParameters? parameters) => parameters is null ? NoHash : parameters.Hash.Span;
    private static ReadOnlySpan<byte> LegacyHash(RlweParameters? parameters) => parameters is null ? NoHash : parameters.LegacyHash.Span;

    private static byte[] Pack(ObjectKind kind, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> payload, Compression compression, bool sensitive = false) =>
        VeilEnvelope.Pack(RlweObjectTypes.Of(kind), hash, payload, compression, sensitive);

    private static void Pack(ObjectKind kind, ReadOnlySpan<byte> hash, ReadOnlySpan<byte> payload, Compression compression, Stream stream, bool sensitive = false) =>
        VeilEnvelope.Pack(RlweObjectTypes.Of(kind), hash, payload, compression, stream, sensitive);

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
        return Pack(ObjectKind.Plaintext, plaintext.Parameters.Hash.Span, payload, compression);
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
        Pack(ObjectKind.Plaintext, plaintext.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a plaintext saved under <paramref name="parameters"/>.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static Plaintext LoadPlaintext(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadPlaintext(Unpack(bytes, ObjectKind.Plaintext, parameters, limits, MaxPlaintextBytes(parameters), out _, out _), parameters);
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
        return ReadPlaintext(Unpack(stream, ObjectKind.Plaintext, parameters, limits, MaxPlaintextBytes(parameters), out _), parameters);
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

    private static long MaxPlaintextBytes(RlweParameters p) => PlaintextMetadataBytes + PolyBytes(p, p.MaxLevel + 1);

    private static Plaintext ReadPlaintext(ReadOnlySpan<byte> payload, RlweParameters parameters)
    {
        var r = new PayloadReader(payload);
        int level = ReadLevel(ref r, parameters);
        bool ntt = ReadFlag(ref r, "ntt");
        double scale = ReadScale(ref r);
        CheckPayloadLength(r.Length, () => PlaintextMetadataBytes + PolyBytes(parameters, level + 1));
        var plaintext = new Plaintext(parameters, level, scale, ntt);
        r.ReadCoefficients(plaintext.Data, parameters.PrimeValues.AsSpan(0, level + 1), parameters.N, "coefficients");
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
        return Pack(ObjectKind.Ciphertext, ciphertext.Parameters.Hash.Span, payload, compression);
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
        Pack(ObjectKind.Ciphertext, ciphertext.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a ciphertext saved under <paramref name="parameters"/>; a seeded one has c_1 re-expanded.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to; loading under other parameters is refused.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static Ciphertext LoadCiphertext(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadCiphertext(Unpack(bytes, ObjectKind.Ciphertext, parameters, limits, MaxCiphertextBytes(parameters), out _, out _), parameters);
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
        return ReadCiphertext(Unpack(stream, ObjectKind.Ciphertext, parameters, limits, MaxCiphertextBytes(parameters), out _), parameters);
    }

    private static byte[] CiphertextPayload(Ciphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        CheckScale(ciphertext.Scale, nameof(ciphertext));
        var p = ciphertext.Parameters;
        bool seeded = SeedStillValid(ciphertext), bound = !ciphertext.KeyId.IsNone;
        int polys = seeded ? 1 : ciphertext.Size;
        long length = CiphertextMetadataBytes + (bound ? KeyId.Size : 0) + polys * PolyBytes(p, ciphertext.Level + 1) + (seeded ? Prng.SeedSize : 0);
        var payload = AllocatePayload(length);
        var w = new PayloadWriter(payload);
        w.WriteByte((byte)ciphertext.Level);
        w.WriteByte((byte)ciphertext.Size);
        w.WriteByte(ciphertext.IsNttForm ? (byte)1 : (byte)0);
        w.WriteByte((byte)((seeded ? SeededFlag : 0) | (bound ? KeyIdFlag : 0)));
        w.WriteDouble(ciphertext.Scale);
        if (bound)
        {
            Span<byte> id = stackalloc byte[KeyId.Size];
            ciphertext.KeyId.Write(id);
            w.WriteBytes(id);
        }
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

    private static long MaxCiphertextBytes(RlweParameters p) => CiphertextMetadataBytes + KeyId.Size + Ciphertext.MaxSize * PolyBytes(p, p.MaxLevel + 1);

    private static Ciphertext ReadCiphertext(ReadOnlySpan<byte> payload, RlweParameters parameters)
    {
        var r = new PayloadReader(payload);
        int level = ReadLevel(ref r, parameters);
        int size = r.ReadByte("size");
        if (size < 2 || size > Ciphertext.MaxSize)
            throw new VeilFormatException("size", $"A ciphertext has 2 to {Ciphertext.MaxSize} polynomials; got {size}.");
        bool ntt = ReadFlag(ref r, "ntt");
        byte flags = r.ReadByte("flags");
        if ((flags & ~(SeededFlag | KeyIdFlag)) != 0)
            throw new VeilFormatException("flags", $"Ciphertext flags are 1 (seeded) and 2 (bound to a key); got {flags}.");
        bool seeded = (flags & SeededFlag) != 0, bound = (flags & KeyIdFlag) != 0;
        if (seeded && size != 2)
            throw new VeilFormatException("seeded", $"Only a size-2 ciphertext can be seeded; this one has size {size}.");
        if (seeded && !ntt)
            throw new VeilFormatException("seeded", "A seeded ciphertext is in NTT form.");
        double scale = ReadScale(ref r);
        int polys = seeded ? 1 : size;
        CheckPayloadLength(r.Length, () => CiphertextMetadataBytes + (bound ? KeyId.Size : 0) + polys * PolyBytes(parameters, level + 1) + (seeded ? Prng.SeedSize : 0));
        var key = bound ? KeyId.Read(r.ReadBytes(KeyId.Size, "keyId")) : KeyId.None;
        if (bound && key.IsNone) throw new VeilFormatException("keyId", "The ciphertext is flagged as bound to a key, but its key id is zero.");
        var ciphertext = new Ciphertext(parameters, level, size, scale) { IsNttForm = ntt, KeyId = key };
        for (int i = 0; i < polys; i++)
            r.ReadCoefficients(ciphertext.Poly(i), parameters.PrimeValues.AsSpan(0, level + 1), parameters.N, "coefficients");
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

    /// <summary>
    /// Serializes a secret key sealed by <paramref name="protector"/> (Veil.Protection: a keyring or recipients), the
    /// way a secret key should be stored or sent.
    /// </summary>
    /// <param name="secretKey">The key.</param>
    /// <param name="protector">Seals the serialized key, bound to its object type.</param>
    /// <param name="compression">Payload compression (before sealing).</param>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    public static byte[] Save(SecretKey secretKey, ISecretProtector protector, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(protector);
        var plain = SaveUnprotected(secretKey, compression);
        try { return protector.Protect(plain, RlweObjectTypes.Of(ObjectKind.SecretKey)); }
        finally { CryptographicOperations.ZeroMemory(plain); }
    }

    /// <summary>
    /// Serializes a secret key in the clear (N signed bytes). Whoever reads these bytes can decrypt everything under the
    /// key: store or send them only sealed (<see cref="Save(SecretKey, ISecretProtector, Compression)"/>).
    /// </summary>
    /// <param name="secretKey">The key.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] SaveUnprotected(SecretKey secretKey, Compression compression = Compression.None)
    {
        var payload = SecretKeyPayload(secretKey);
        try { return Pack(ObjectKind.SecretKey, secretKey.Parameters.Hash.Span, payload, compression, sensitive: true); }
        finally { CryptographicOperations.ZeroMemory(payload); }
    }

    /// <summary>Writes a secret key in the clear to a stream (for containers that are sealed as a whole, like a private context).</summary>
    /// <param name="secretKey">The key.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ObjectDisposedException">The key was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void SaveUnprotected(SecretKey secretKey, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = SecretKeyPayload(secretKey);
        try { Pack(ObjectKind.SecretKey, secretKey.Parameters.Hash.Span, payload, compression, stream, sensitive: true); }
        finally { CryptographicOperations.ZeroMemory(payload); }
    }

    /// <summary>Loads a sealed secret key (from <see cref="Save(SecretKey, ISecretProtector, Compression)"/>), opening it with <paramref name="protector"/>.</summary>
    /// <exception cref="System.Security.Cryptography.CryptographicException">The protector cannot open it.</exception>
    /// <exception cref="VeilFormatException">The opened bytes are malformed or belong to other parameters.</exception>
    public static SecretKey LoadSecretKey(ReadOnlySpan<byte> bytes, RlweParameters parameters, ISecretProtector protector, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(protector);
        var plain = protector.Unprotect(bytes, RlweObjectTypes.Of(ObjectKind.SecretKey));
        try { return LoadSecretKey(plain, parameters, limits); }
        finally { CryptographicOperations.ZeroMemory(plain); }
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
            var payload = Unpack(bytes, ObjectKind.SecretKey, parameters, limits, parameters.N + SecretKeyBudgetBytes, out ushort version, out decompressed, sensitive: true);
            return ReadSecretKey(payload, parameters, version);
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
        var payload = Unpack(stream, ObjectKind.SecretKey, parameters, limits, parameters.N + SecretKeyBudgetBytes, out ushort version, sensitive: true);
        try { return ReadSecretKey(payload, parameters, version); }
        finally { CryptographicOperations.ZeroMemory(payload); }
    }

    private static byte[] SecretKeyPayload(SecretKey secretKey)
    {
        ArgumentNullException.ThrowIfNull(secretKey);
        var coefficients = secretKey.Coefficients;
        var payload = GC.AllocateArray<byte>(coefficients.Length + SecretKeyBudgetBytes, pinned: true); // wiped by the caller
        for (int i = 0; i < coefficients.Length; i++) payload[i] = (byte)coefficients[i];
        var budget = secretKey.ReleaseBudget;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(coefficients.Length), (uint)budget.Limit);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(coefficients.Length + 4), (uint)budget.Used);
        return payload;
    }

    private static SecretKey ReadSecretKey(ReadOnlySpan<byte> payload, RlweParameters parameters, ushort version)
    {
        // Version 2 appends the release budget (limit, used) so that a reloaded key does not start a fresh count.
        CheckPayloadLength(payload.Length, () => parameters.N + (version >= 2 ? SecretKeyBudgetBytes : 0));
        int limit = DecryptionBudget.DefaultLimit, used = 0;
        if (version >= 2)
        {
            uint l = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(payload[parameters.N..]);
            uint u = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(payload[(parameters.N + 4)..]);
            if (l > DecryptionBudget.MaxLimit)
                throw new VeilFormatException("budgetLimit", $"The release budget is at most {DecryptionBudget.MaxLimit} decryptions; got {l}.");
            if (u > l) throw new VeilFormatException("budgetUsed", $"{u} decryptions are recorded against a budget of {l}.");
            (limit, used) = ((int)l, (int)u);
        }
        var coefficients = GC.AllocateArray<sbyte>(parameters.N, pinned: true);
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
        return new SecretKey(parameters, coefficients, new DecryptionBudget(limit, used));
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
        return Pack(ObjectKind.PublicKey, publicKey.Parameters.Hash.Span, payload, compression);
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
        Pack(ObjectKind.PublicKey, publicKey.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a public key saved under <paramref name="parameters"/>; a is re-expanded from its seed.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static PublicKey LoadPublicKey(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return ReadPublicKey(Unpack(bytes, ObjectKind.PublicKey, parameters, limits, PublicKeyBytes(parameters), out _, out _), parameters);
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
        return ReadPublicKey(Unpack(stream, ObjectKind.PublicKey, parameters, limits, PublicKeyBytes(parameters), out _), parameters);
    }

    private static byte[] PublicKeyPayload(PublicKey publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        var p = publicKey.Parameters;
        CheckSeed(publicKey.Seed.Span, nameof(publicKey));
        var payload = AllocatePayload(PublicKeyBytes(p));
        var w = new PayloadWriter(payload);
        w.WriteCoefficients(publicKey.B);
        w.WriteBytes(publicKey.Seed.Span);
        Span<byte> id = stackalloc byte[KeyId.Size];
        publicKey.Id.Write(id); // zero when the key carries none
        w.WriteBytes(id);
        w.EnsureFull();
        return payload;
    }

    /// <summary>b ‖ seed of a ‖ key id (16 bytes, zero for none); keys saved before key ids lack the id.</summary>
    private static long PublicKeyBytes(RlweParameters p) => LegacyPublicKeyBytes(p) + KeyId.Size;
    private static long LegacyPublicKeyBytes(RlweParameters p) => PolyBytes(p, p.Ring.LimbCount) + Prng.SeedSize;

    private static PublicKey ReadPublicKey(ReadOnlySpan<byte> payload, RlweParameters parameters)
    {
        var ring = parameters.Ring;
        bool withId = payload.Length != LegacyPublicKeyBytes(parameters);
        if (withId) CheckPayloadLength(payload.Length, () => PublicKeyBytes(parameters));
        var r = new PayloadReader(payload);
        var b = new ulong[ring.LimbCount * ring.N];
        r.ReadCoefficients(b, parameters.PrimeValues, parameters.N, "coefficients");
        var seed = r.ReadBytes(Prng.SeedSize, "seed").ToArray();
        var id = withId ? KeyId.Read(r.ReadBytes(KeyId.Size, "keyId")) : KeyId.None;
        r.EnsureEnd("payloadLength");
        var a = new ulong[b.Length];
        KeyGenerator.ExpandPublicA(parameters, seed, a);
        return new PublicKey(parameters, b, a, seed, id);
    }

    // ------------------------------------------------------------------ KeySwitchingKey / RelinearizationKey

    /// <summary>Serializes a key-switching key as the b_i and the seed of the a_i.</summary>
    /// <param name="key">The key.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(KeySwitchingKey key, Compression compression = Compression.None)
    {
        var payload = SwitchingKeyPayload(key, ObjectKind.KeySwitchingKey);
        return Pack(ObjectKind.KeySwitchingKey, key.Parameters.Hash.Span, payload, compression);
    }

    /// <summary>Writes a serialized key-switching key to a stream.</summary>
    /// <param name="key">The key.</param>
    /// <param name="stream">Destination.</param>
    /// <param name="compression">Payload compression.</param>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static void Save(KeySwitchingKey key, Stream stream, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var payload = SwitchingKeyPayload(key, ObjectKind.KeySwitchingKey);
        Pack(ObjectKind.KeySwitchingKey, key.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a key-switching key saved under <paramref name="parameters"/>; the a_i are re-expanded from the seed.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static KeySwitchingKey LoadKeySwitchingKey(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var payload = Unpack(bytes, ObjectKind.KeySwitchingKey, parameters, limits, SwitchingKeyBytes(parameters, 2), out ushort version, out _);
        return ReadSwitchingKeyPayload(payload, parameters, ObjectKind.KeySwitchingKey, version, limits);
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
        var payload = Unpack(stream, ObjectKind.KeySwitchingKey, parameters, limits, SwitchingKeyBytes(parameters, 2), out ushort version);
        return ReadSwitchingKeyPayload(payload, parameters, ObjectKind.KeySwitchingKey, version, limits);
    }

    /// <summary>Serializes a relinearization key (the payload of its key-switching key).</summary>
    /// <param name="key">The key.</param>
    /// <param name="compression">Payload compression.</param>
    /// <returns>Header ‖ payload.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression.</exception>
    public static byte[] Save(RelinearizationKey key, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = SwitchingKeyPayload(key.Key, ObjectKind.RelinearizationKey);
        return Pack(ObjectKind.RelinearizationKey, key.Parameters.Hash.Span, payload, compression);
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
        var payload = SwitchingKeyPayload(key.Key, ObjectKind.RelinearizationKey);
        Pack(ObjectKind.RelinearizationKey, key.Parameters.Hash.Span, payload, compression, stream);
    }

    /// <summary>Loads a relinearization key saved under <paramref name="parameters"/>.</summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="parameters">The parameters it must belong to.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, belong to other parameters, or exceed the limits.</exception>
    public static RelinearizationKey LoadRelinearizationKey(ReadOnlySpan<byte> bytes, RlweParameters parameters, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var payload = Unpack(bytes, ObjectKind.RelinearizationKey, parameters, limits, SwitchingKeyBytes(parameters, 2), out ushort version, out _);
        return new RelinearizationKey(ReadSwitchingKeyPayload(payload, parameters, ObjectKind.RelinearizationKey, version, limits));
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
        var payload = Unpack(stream, ObjectKind.RelinearizationKey, parameters, limits, SwitchingKeyBytes(parameters, 2), out ushort version);
        return new RelinearizationKey(ReadSwitchingKeyPayload(payload, parameters, ObjectKind.RelinearizationKey, version, limits));
    }

    /// <summary>Bytes of one key-switching payload in the given format version (version 2 adds the binding tag).</summary>
    private static long SwitchingKeyBytes(RlweParameters p, ushort version) =>
        checked(SwitchingKeyPrefixBytes + (version >= 2 ? BindingTagBytes : 0) + p.MaxDigitCount * PolyBytes(p, p.Ring.LimbCount));

    private static byte[] SwitchingKeyPayload(KeySwitchingKey key, ObjectKind kind)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = AllocatePayload(SwitchingKeyBytes(key.Parameters, VeilHeader.CurrentVersion));
        var w = new PayloadWriter(payload);
        WriteSwitchingKey(ref w, key, kind, 0);
        w.EnsureFull();
        return payload;
    }

    /// <summary>digit count ‖ seed ‖ binding tag ‖ b_0 … b_(d−1).</summary>
    private static void WriteSwitchingKey(ref PayloadWriter w, KeySwitchingKey key, ObjectKind kind, ulong galoisElement)
    {
        var p = key.Parameters;
        if (key.DigitCount != p.MaxDigitCount)
            throw new ArgumentException($"The key has {key.DigitCount} digits; keys of these parameters have {p.MaxDigitCount}.", nameof(key));
        CheckSeed(key.Seed.Span, nameof(key));
        w.WriteUInt16((ushort)key.DigitCount);
        w.WriteBytes(key.Seed.Span);
        Span<byte> tag = stackalloc byte[BindingTagBytes];
        BindingTag(p, kind, galoisElement, key.Seed.Span, tag);
        w.WriteBytes(tag);
        for (int i = 0; i < key.DigitCount; i++) w.WriteCoefficients(key.CanonicalB(i));
    }

    /// <summary>
    /// SHA-256("VeilKeyBinding" ‖ kind ‖ Galois element ‖ parameter fingerprint ‖ seed), first 16 bytes. The seed is
    /// fresh for every key, so a key moved to another kind or Galois element no longer matches its tag. It is a check
    /// against mislabelling, not authentication: whoever can edit the bytes can recompute it (integrity of keys from
    /// untrusted storage or networks is the job of an authenticated envelope, not of this format).
    /// </summary>
    private static void BindingTag(RlweParameters parameters, ObjectKind kind, ulong galoisElement, ReadOnlySpan<byte> seed, Span<byte> tag)
    {
        ReadOnlySpan<byte> label = "VeilKeyBinding"u8;
        Span<byte> input = stackalloc byte[label.Length + 1 + 8 + VeilHeader.ContextHashSize + Prng.SeedSize];
        label.CopyTo(input);
        int o = label.Length;
        input[o++] = (byte)kind;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(input[o..], galoisElement); o += 8;
        parameters.Hash.Span.CopyTo(input[o..]); o += VeilHeader.ContextHashSize;
        seed.CopyTo(input[o..]);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(input, digest);
        digest[..BindingTagBytes].CopyTo(tag);
    }

    private static KeySwitchingKey ReadSwitchingKeyPayload(ReadOnlySpan<byte> payload, RlweParameters parameters, ObjectKind kind,
        ushort version, SerializationLimits? limits)
    {
        CheckLegacyKeysAllowed(version, limits);
        var r = new PayloadReader(payload);
        ReadDigitCount(ref r, parameters);
        CheckPayloadLength(r.Length, () => SwitchingKeyBytes(parameters, version));
        var key = ReadSwitchingKeyBody(ref r, parameters, kind, 0, version);
        r.EnsureEnd("payloadLength");
        return key;
    }

    private static void CheckLegacyKeysAllowed(ushort version, SerializationLimits? limits)
    {
        if (version < 2 && !(limits ?? SerializationLimits.Default).AllowUnboundLegacyKeys)
            throw new VeilFormatException("version",
                "Key-switching keys in format version 1 are not bound to their kind and Galois element, so a relabelled key would load; " +
                "re-save the key with this release, or load it with SerializationLimits.AllowUnboundLegacyKeys = true if the file is trusted.");
    }

    private static void ReadDigitCount(ref PayloadReader r, RlweParameters parameters)
    {
        int digits = r.ReadUInt16("digitCount");
        if (digits != parameters.MaxDigitCount)
            throw new VeilFormatException("digitCount", $"A key-switching key of these parameters has {parameters.MaxDigitCount} digits; got {digits}.");
    }

    /// <summary>Reads the seed, the binding tag (version 2) and the b_i (the digit count already read and checked) and re-expands the a_i.</summary>
    private static KeySwitchingKey ReadSwitchingKeyBody(ref PayloadReader r, RlweParameters parameters, ObjectKind kind, ulong galoisElement, ushort version)
    {
        var ring = parameters.Ring;
        int digits = parameters.MaxDigitCount;
        var seed = r.ReadBytes(Prng.SeedSize, "seed").ToArray();
        if (version >= 2)
        {
            var stored = r.ReadBytes(BindingTagBytes, "bindingTag");
            Span<byte> expected = stackalloc byte[BindingTagBytes];
            BindingTag(parameters, kind, galoisElement, seed, expected);
            if (!CryptographicOperations.FixedTimeEquals(stored, expected))
                throw new VeilFormatException("bindingTag", kind == ObjectKind.GaloisKeys
                    ? $"The key stored for Galois element {galoisElement} was not made for that element (its binding tag differs)."
                    : $"The key was not saved as a {kind} (its binding tag differs): it was relabelled or belongs to other parameters.");
        }
        var bs = new ulong[digits][];
        for (int i = 0; i < digits; i++)
        {
            bs[i] = new ulong[ring.LimbCount * ring.N];
            r.ReadCoefficients(bs[i], parameters.PrimeValues, parameters.N, "coefficients");
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
        return Pack(ObjectKind.GaloisKeys, keys.Parameters.Hash.Span, payload, compression);
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
        Pack(ObjectKind.GaloisKeys, keys.Parameters.Hash.Span, payload, compression, stream);
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
        var payload = Unpack(bytes, ObjectKind.GaloisKeys, parameters, limits, MaxGaloisKeysBytes(parameters, limits), out ushort version, out _);
        return ReadGaloisKeys(payload, parameters, version, limits);
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
        var payload = Unpack(stream, ObjectKind.GaloisKeys, parameters, limits, MaxGaloisKeysBytes(parameters, limits), out ushort version);
        return ReadGaloisKeys(payload, parameters, version, limits);
    }

    private static byte[] GaloisKeysPayload(GaloisKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var p = keys.Parameters;
        var pairs = keys.Pairs.ToArray();
        var payload = AllocatePayload(checked(sizeof(uint) + pairs.Length * (sizeof(ulong) + SwitchingKeyBytes(p, VeilHeader.CurrentVersion))));
        var w = new PayloadWriter(payload);
        w.WriteUInt32((uint)pairs.Length);
        foreach (var (element, key) in pairs)
        {
            w.WriteUInt64(element);
            WriteSwitchingKey(ref w, key, ObjectKind.GaloisKeys, element);
        }
        w.EnsureFull();
        return payload;
    }

    /// <summary>The most Galois keys a set may hold: N distinct elements exist, and the limits may cap that lower.</summary>
    private static int MaxGaloisKeys(RlweParameters p, SerializationLimits? limits) =>
        Math.Min(p.N, (limits ?? SerializationLimits.Default).MaxGaloisKeys);

    private static long MaxGaloisKeysBytes(RlweParameters p, SerializationLimits? limits) =>
        checked(sizeof(uint) + MaxGaloisKeys(p, limits) * (sizeof(ulong) + SwitchingKeyBytes(p, 2)));

    private static GaloisKeys ReadGaloisKeys(ReadOnlySpan<byte> payload, RlweParameters parameters, ushort version, SerializationLimits? limits)
    {
        CheckLegacyKeysAllowed(version, limits);
        var r = new PayloadReader(payload);
        uint count = r.ReadUInt32("galoisCount");
        int max = MaxGaloisKeys(parameters, limits);
        if (count > (uint)max)
            throw new VeilFormatException("galoisCount", count > (uint)parameters.N
                ? $"At most N = {parameters.N} Galois keys exist; the data declare {count}."
                : $"The data declare {count} Galois keys; the limit is {max} (SerializationLimits.MaxGaloisKeys).");
        CheckPayloadLength(r.Length, () => sizeof(uint) + count * (sizeof(ulong) + SwitchingKeyBytes(parameters, version)));
        var keys = new Dictionary<ulong, KeySwitchingKey>((int)count);
        ulong twoN = 2UL * (ulong)parameters.N;
        ulong previous = 0;
        // The elements first (the length check above fixed the stride), so that a bad list is named before any key is read.
        long stride = sizeof(ulong) + SwitchingKeyBytes(parameters, version);
        for (uint k = 0; k < count; k++)
        {
            ulong element = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(payload[(int)(sizeof(uint) + k * stride)..]);
            previous = CheckGaloisElement(element, previous, twoN);
        }
        previous = 0;
        for (uint k = 0; k < count; k++)
        {
            ulong element = r.ReadUInt64("galoisElement");
            previous = CheckGaloisElement(element, previous, twoN);
            ReadDigitCount(ref r, parameters);
            keys.Add(element, ReadSwitchingKeyBody(ref r, parameters, ObjectKind.GaloisKeys, element, version));
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
        return Pack(ObjectKind.Parameters, stackalloc byte[VeilHeader.ContextHashSize], payload, compression);
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
        Pack(ObjectKind.Parameters, stackalloc byte[VeilHeader.ContextHashSize], payload, compression, stream);
    }

    /// <summary>
    /// Loads a parameter set, re-validated through <see cref="RlweParameters.Create"/> at the level it declares, which
    /// must be at least <paramref name="minimumSecurity"/>: received bytes can never lower security.
    /// </summary>
    /// <param name="bytes">Exactly one serialized object (header ‖ stored bytes), nothing after it.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <param name="minimumSecurity">The lowest security level this receiver accepts (128-bit unless the receiver,
    /// in its own code, passes <see cref="SecurityLevel.InsecureNoCheck"/> or another level).</param>
    /// <exception cref="VeilFormatException">The bytes are malformed, exceed the limits, declare a security level below
    /// <paramref name="minimumSecurity"/> (field "security"), or describe invalid parameters (field "parameters").</exception>
    public static RlweParameters LoadParameters(ReadOnlySpan<byte> bytes, SerializationLimits? limits = null,
        SecurityLevel minimumSecurity = SecurityLevel.Bits128) =>
        ReadParameters(Unpack(bytes, ObjectKind.Parameters, null, limits, MaxParametersBytes, out _, out _), limits, minimumSecurity);

    /// <summary>Reads one parameter set from a stream (header first, then exactly the stored bytes it declares).</summary>
    /// <param name="stream">Source, left just after the object.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <param name="minimumSecurity">The lowest security level this receiver accepts.</param>
    /// <exception cref="VeilFormatException">The bytes are malformed or truncated, exceed the limits, declare a security
    /// level below <paramref name="minimumSecurity"/>, or describe invalid parameters.</exception>
    public static RlweParameters LoadParameters(Stream stream, SerializationLimits? limits = null, SecurityLevel minimumSecurity = SecurityLevel.Bits128)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadParameters(Unpack(stream, ObjectKind.Parameters, null, limits, MaxParametersBytes, out _), limits, minimumSecurity);
    }

    /// <summary>The largest parameter payload: 64 primes of Q and 16 of P (and a scheme's few extra bytes).</summary>
    public const int MaxParametersBytes = 1 + 2 + 1 + 8 * 64 + 1 + 8 * 16 + 64;

    /// <summary>An odd element below 2N, above the one before it (keys are saved by increasing element); returns it.</summary>
    private static ulong CheckGaloisElement(ulong element, ulong previous, ulong twoN)
    {
        if ((element & 1) == 0 || element >= twoN)
            throw new VeilFormatException("galoisElement", $"A Galois element is odd and below 2N = {twoN}; got {element}.");
        if (element <= previous)
            throw new VeilFormatException("galoisElement", element == previous
                ? $"Galois element {element} appears twice."
                : $"Galois elements must be strictly increasing; {element} follows {previous}.");
        return element;
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

    private static RlweParameters ReadParameters(ReadOnlySpan<byte> payload, SerializationLimits? limits, SecurityLevel minimumSecurity)
    {
        var r = new PayloadReader(payload);
        var parameters = ReadParameters(ref r, limits, minimumSecurity);
        r.EnsureEnd("payloadLength");
        return parameters;
    }

    /// <summary>Bytes of an RLWE parameter encoding with the given prime counts.</summary>
    public static int ParametersPayloadBytes(int qCount, int pCount) => 1 + 2 + 1 + 8 * qCount + 1 + 8 * pCount;

    /// <summary>Writes logN u8 ‖ security u16 ‖ |Q| u8 ‖ Q ‖ |P| u8 ‖ P (for schemes embedding RLWE parameters in their own).</summary>
    /// <param name="w">The writer.</param>
    /// <param name="parameters">The parameters.</param>
    public static void WriteParameters(ref PayloadWriter w, RlweParameters parameters)
    {
        w.WriteByte((byte)parameters.LogN);
        w.WriteUInt16((ushort)parameters.Security);
        w.WriteByte((byte)parameters.Q.Count);
        foreach (var q in parameters.Q) w.WriteUInt64(q);
        w.WriteByte((byte)parameters.P.Count);
        foreach (var p in parameters.P) w.WriteUInt64(p);
    }

    /// <summary>
    /// Reads and re-validates an RLWE parameter encoding written by <see cref="WriteParameters"/>. The declared
    /// security level is a claim of the sender: it must be at least <paramref name="minimumSecurity"/>, the receiver's
    /// own choice, and the primes are then checked against it.
    /// </summary>
    /// <param name="r">The reader, at the encoding.</param>
    /// <param name="limits">Size bounds; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <param name="minimumSecurity">The lowest level the receiver accepts.</param>
    /// <exception cref="VeilFormatException">Malformed, beyond the limits, below the minimum, or invalid.</exception>
    public static RlweParameters ReadParameters(ref PayloadReader r, SerializationLimits? limits, SecurityLevel minimumSecurity)
    {
        if (!Enum.IsDefined(minimumSecurity)) throw new ArgumentOutOfRangeException(nameof(minimumSecurity), minimumSecurity, "Unknown security level.");
        limits ??= SerializationLimits.Default;
        int logN = r.ReadByte("logN");
        if (logN < RlweParameters.MinLogN || logN > RlweParameters.MaxLogN)
            throw new VeilFormatException("logN", $"logN must be in [{RlweParameters.MinLogN}, {RlweParameters.MaxLogN}]; got {logN}.");
        var security = (SecurityLevel)r.ReadUInt16("security");
        if (!Enum.IsDefined(security))
            throw new VeilFormatException("security", $"Unknown security level {(int)security}.");
        if ((int)security < (int)minimumSecurity)
            throw new VeilFormatException("security", security == SecurityLevel.InsecureNoCheck
                ? $"The parameters ask for no security check; this receiver requires {minimumSecurity}. Only the receiver can opt out, in its own code (minimumSecurity: SecurityLevel.InsecureNoCheck)."
                : $"The parameters declare {security}; this receiver requires at least {minimumSecurity}.");
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
