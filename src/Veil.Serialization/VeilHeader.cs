using System.Buffers.Binary;

namespace Veil.Serialization;

/// <summary>The fields of a serialized object's header, as read and validated by <see cref="VeilHeader"/>.</summary>
public readonly struct VeilHeaderInfo
{
    internal VeilHeaderInfo(ushort version, ObjectType type, Compression compression, byte[] contextHash, long payloadLength, long storedLength)
    {
        Version = version;
        Type = type;
        Compression = compression;
        ContextHash = contextHash;
        PayloadLength = payloadLength;
        StoredLength = storedLength;
    }

    /// <summary>Format version (1 or 2).</summary>
    public ushort Version { get; }
    /// <summary>The object type (scheme and kind; version-1 objects are all of scheme <see cref="Schemes.Rlwe"/>).</summary>
    public ObjectType Type { get; }
    /// <summary>How the payload is compressed.</summary>
    public Compression Compression { get; }
    /// <summary>The fingerprint of the parameters the object belongs to; all zero when it carries its own.</summary>
    public ReadOnlyMemory<byte> ContextHash { get; }
    /// <summary>Payload length after decompression, in bytes (at most the limit it was read under).</summary>
    public long PayloadLength { get; }
    /// <summary>Bytes following the header (at most the limit it was read under).</summary>
    public long StoredLength { get; }
    /// <summary>Size of this header: <see cref="VeilHeader.Size"/>, or <see cref="VeilHeader.Version1Size"/> for version 1.</summary>
    public int HeaderSize => Version == 1 ? VeilHeader.Version1Size : VeilHeader.Size;
}

/// <summary>
/// The header that starts every serialized Veil object. Version 2 (written), 64 bytes, little-endian:
/// magic "VEIL" (4) ‖ version u16 ‖ scheme u16 ‖ kind u16 ‖ compression u8 ‖ reserved (5 zero bytes) ‖ context hash (32)
/// ‖ payload length u64 ‖ stored length u64. Version 1 (still read), 56 bytes: magic ‖ version u16 ‖ kind u8 ‖
/// compression u8 ‖ hash (32) ‖ payload length ‖ stored length, its kinds those of scheme <see cref="Schemes.Rlwe"/>.
/// </summary>
/// <remarks>
/// The payload length is the uncompressed size; the stored length is the number of bytes that follow the header.
/// Reading checks, in this order: magic, version, scheme and kind, compression, reserved bytes, context hash (when one
/// is expected), then both declared lengths against <see cref="SerializationLimits.MaxObjectBytes"/>, so a hostile
/// length is refused before anything is allocated for it.
/// </remarks>
public static class VeilHeader
{
    /// <summary>Size of a version-2 header in bytes.</summary>
    public const int Size = 64;
    /// <summary>Size of a version-1 header in bytes.</summary>
    public const int Version1Size = 56;
    /// <summary>
    /// The format version written. Version 2 names the scheme beside the kind, fingerprints parameters with their
    /// security level and binds every key-switching key to its kind and Galois element; version 1 is still read.
    /// </summary>
    public const ushort CurrentVersion = 2;
    /// <summary>The oldest version read.</summary>
    public const ushort MinimumVersion = 1;
    /// <summary>Length of the context hash field.</summary>
    public const int ContextHashSize = 32;

    private const int VersionOffset = 4, SchemeOffset = 6, KindOffset = 8, CompressionOffset = 10, ReservedOffset = 11, HashOffset = 16;
    private const int PayloadLengthOffset = 48, StoredLengthOffset = 56;
    private const int V1KindOffset = 6, V1CompressionOffset = 7, V1HashOffset = 8, V1PayloadLengthOffset = 40, V1StoredLengthOffset = 48;

    /// <summary>The four magic bytes "VEIL".</summary>
    public static ReadOnlySpan<byte> Magic => "VEIL"u8;

    /// <summary>Writes a version-2 header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    /// <param name="destination">At least <see cref="Size"/> bytes.</param>
    /// <param name="type">The object type.</param>
    /// <param name="compression">How the payload that follows is compressed.</param>
    /// <param name="contextHash">32 bytes: the fingerprint of the parameters, or zeros for an object carrying its own.</param>
    /// <param name="payloadLength">Uncompressed payload length.</param>
    /// <param name="storedLength">Bytes that will follow the header (equal to <paramref name="payloadLength"/> without compression).</param>
    /// <exception cref="ArgumentException">The destination is too short, the hash is not 32 bytes, the type is not
    /// registered, or the lengths are inconsistent.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown compression, or a negative length.</exception>
    public static void Write(Span<byte> destination, ObjectType type, Compression compression, ReadOnlySpan<byte> contextHash,
        long payloadLength, long storedLength)
    {
        if (destination.Length < Size) throw new ArgumentException($"A header needs {Size} bytes; got {destination.Length}.", nameof(destination));
        if (!ObjectTypes.IsRegistered(type)) throw new ArgumentException($"Object type {type} is not registered.", nameof(type));
        if (!Enum.IsDefined(compression)) throw new ArgumentOutOfRangeException(nameof(compression), compression, "Unknown compression.");
        if (contextHash.Length != ContextHashSize)
            throw new ArgumentException($"The context hash is {ContextHashSize} bytes; got {contextHash.Length}.", nameof(contextHash));
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        ArgumentOutOfRangeException.ThrowIfNegative(storedLength);
        if (compression == Compression.None && storedLength != payloadLength)
            throw new ArgumentException("Without compression the stored length equals the payload length.", nameof(storedLength));
        destination[..Size].Clear();
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[VersionOffset..], CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[SchemeOffset..], type.Scheme);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[KindOffset..], type.Kind);
        destination[CompressionOffset] = (byte)compression;
        contextHash.CopyTo(destination[HashOffset..]);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[PayloadLengthOffset..], (ulong)payloadLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[StoredLengthOffset..], (ulong)storedLength);
    }

    /// <summary>
    /// The header length the bytes announce: <see cref="Version1Size"/> for a version-1 object, else <see cref="Size"/>
    /// (the bytes may be too short for either; reading says so).
    /// </summary>
    public static int SizeOf(ReadOnlySpan<byte> source) =>
        source.Length >= 6 && source[..4].SequenceEqual(Magic) && BinaryPrimitives.ReadUInt16LittleEndian(source[VersionOffset..]) == 1 ? Version1Size : Size;

    /// <summary>
    /// Reads and validates a header: magic, version, type, compression and both lengths against the limit. The context
    /// hash is returned, not checked.
    /// </summary>
    /// <exception cref="VeilFormatException">Any field is wrong; <see cref="VeilFormatException.Field"/> names it.</exception>
    public static VeilHeaderInfo Read(ReadOnlySpan<byte> source, ObjectType expectedType, SerializationLimits? limits = null) =>
        ReadCore(source, expectedType, default, default, checkHash: false, limits ?? SerializationLimits.Default);

    /// <summary>
    /// Reads and validates a header, the context hash included: against <paramref name="expectedHash"/> for version 2,
    /// against <paramref name="expectedVersion1Hash"/> (or the same, when empty) for version 1.
    /// </summary>
    /// <param name="source">The serialized bytes (at least the header).</param>
    /// <param name="expectedType">The object type the caller is loading.</param>
    /// <param name="expectedHash">32 bytes: the parameters' fingerprint, or zeros for an object carrying its own.</param>
    /// <param name="expectedVersion1Hash">The fingerprint version 1 used for the same parameters; empty when it is the same.</param>
    /// <param name="limits">Bounds on the declared lengths; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">Any field is wrong ("parameters" when the object belongs to other parameters).</exception>
    /// <exception cref="ArgumentException">A hash is not 32 bytes.</exception>
    public static VeilHeaderInfo Read(ReadOnlySpan<byte> source, ObjectType expectedType, ReadOnlySpan<byte> expectedHash,
        ReadOnlySpan<byte> expectedVersion1Hash = default, SerializationLimits? limits = null)
    {
        if (expectedHash.Length != ContextHashSize)
            throw new ArgumentException($"The context hash is {ContextHashSize} bytes; got {expectedHash.Length}.", nameof(expectedHash));
        if (!expectedVersion1Hash.IsEmpty && expectedVersion1Hash.Length != ContextHashSize)
            throw new ArgumentException($"The version-1 hash is {ContextHashSize} bytes; got {expectedVersion1Hash.Length}.", nameof(expectedVersion1Hash));
        return ReadCore(source, expectedType, expectedHash, expectedVersion1Hash.IsEmpty ? expectedHash : expectedVersion1Hash,
            checkHash: true, limits ?? SerializationLimits.Default);
    }

    private static VeilHeaderInfo ReadCore(ReadOnlySpan<byte> source, ObjectType expectedType, ReadOnlySpan<byte> expectedHash,
        ReadOnlySpan<byte> expectedV1Hash, bool checkHash, SerializationLimits limits)
    {
        if (source.Length < 6)
            throw new VeilFormatException("header", $"A header is {Size} bytes ({Version1Size} in version 1); only {source.Length} are present.");
        if (!source[..4].SequenceEqual(Magic))
            throw new VeilFormatException("magic", $"Expected \"VEIL\" (56 45 49 4C); found {Convert.ToHexString(source[..4])}.");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(source[VersionOffset..]);
        if (version < MinimumVersion || version > CurrentVersion)
            throw new VeilFormatException("version", $"Version {version} is not supported; this library reads versions {MinimumVersion} to {CurrentVersion}.");
        int size = version == 1 ? Version1Size : Size;
        if (source.Length < size)
            throw new VeilFormatException("header", $"A version-{version} header is {size} bytes; only {source.Length} are present.");
        ObjectType type;
        Compression compression;
        ReadOnlySpan<byte> hash;
        ulong payloadLength, storedLength;
        if (version == 1)
        {
            type = new ObjectType(Schemes.Rlwe, source[V1KindOffset]);
            compression = (Compression)source[V1CompressionOffset];
            hash = source.Slice(V1HashOffset, ContextHashSize);
            payloadLength = BinaryPrimitives.ReadUInt64LittleEndian(source[V1PayloadLengthOffset..]);
            storedLength = BinaryPrimitives.ReadUInt64LittleEndian(source[V1StoredLengthOffset..]);
        }
        else
        {
            type = new ObjectType(BinaryPrimitives.ReadUInt16LittleEndian(source[SchemeOffset..]), BinaryPrimitives.ReadUInt16LittleEndian(source[KindOffset..]));
            compression = (Compression)source[CompressionOffset];
            hash = source.Slice(HashOffset, ContextHashSize);
            payloadLength = BinaryPrimitives.ReadUInt64LittleEndian(source[PayloadLengthOffset..]);
            storedLength = BinaryPrimitives.ReadUInt64LittleEndian(source[StoredLengthOffset..]);
        }
        // Version 1 wrote CKKS parameters as RLWE parameters with a scheme byte in front: the loader sorts that out.
        var expected = version == 1 && expectedType.Scheme != Schemes.Rlwe && expectedType.Kind == 1 ? new ObjectType(Schemes.Rlwe, 1) : expectedType;
        if (type != expected)
            throw new VeilFormatException("kind", ObjectTypes.IsRegistered(type)
                ? $"The data holds a {type}, not a {expectedType}."
                : $"Unknown object type {type}; expected {expectedType}.");
        if (!Enum.IsDefined(compression))
            throw new VeilFormatException("compression", $"Unknown compression {(byte)compression}.");
        if (version >= 2 && source.Slice(ReservedOffset, HashOffset - ReservedOffset).IndexOfAnyExcept((byte)0) >= 0)
            throw new VeilFormatException("reserved", "The reserved header bytes must be zero.");
        if (checkHash && !hash.SequenceEqual(version == 1 ? expectedV1Hash : expectedHash))
            throw new VeilFormatException("parameters", expectedHash.IndexOfAnyExcept((byte)0) < 0
                ? "This object type carries its own parameters, so its context hash must be zero."
                : "The object was saved under other parameters (the fingerprints differ); it cannot be loaded under these.");
        ulong max = (ulong)limits.MaxObjectBytes;
        if (payloadLength > max)
            throw new VeilFormatException("payloadLength", $"Declared payload of {payloadLength} bytes exceeds the limit of {max} bytes.");
        if (storedLength > max)
            throw new VeilFormatException("storedLength", $"Declared stored length of {storedLength} bytes exceeds the limit of {max} bytes.");
        if (compression == Compression.None && storedLength != payloadLength)
            throw new VeilFormatException("storedLength", $"Without compression the stored length ({storedLength}) must equal the payload length ({payloadLength}).");
        return new VeilHeaderInfo(version, type, compression, hash.ToArray(), (long)payloadLength, (long)storedLength);
    }
}
