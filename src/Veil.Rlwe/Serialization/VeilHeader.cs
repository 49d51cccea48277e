using System.Buffers.Binary;

namespace Veil.Rlwe.Serialization;

/// <summary>The fields of a serialized object's header, as read and validated by <see cref="VeilHeader.Read(ReadOnlySpan{byte}, ObjectKind, SerializationLimits?)"/>.</summary>
public readonly struct VeilHeaderInfo
{
    internal VeilHeaderInfo(ushort version, ObjectKind kind, Compression compression, byte[] parameterHash, long payloadLength, long storedLength)
    {
        Version = version;
        Kind = kind;
        Compression = compression;
        ParameterHash = parameterHash;
        PayloadLength = payloadLength;
        StoredLength = storedLength;
    }

    /// <summary>Format version.</summary>
    public ushort Version { get; }
    /// <summary>The object type.</summary>
    public ObjectKind Kind { get; }
    /// <summary>How the payload is compressed.</summary>
    public Compression Compression { get; }
    /// <summary>The <see cref="RlweParameters.Hash"/> the object belongs to; all zero when it carries its parameters itself.</summary>
    public ReadOnlyMemory<byte> ParameterHash { get; }
    /// <summary>Payload length after decompression, in bytes (at most the limit it was read under).</summary>
    public long PayloadLength { get; }
    /// <summary>Bytes following the header (at most the limit it was read under).</summary>
    public long StoredLength { get; }
}

/// <summary>
/// The fixed 56-byte header that starts every serialized Veil object, little-endian:
/// magic "VEIL" (4) ‖ version u16 ‖ kind u8 ‖ compression u8 ‖ parameter hash (32) ‖ payload length u64 ‖ stored length u64.
/// </summary>
/// <remarks>
/// The payload length is the uncompressed size; the stored length is the number of bytes that follow the header.
/// Reading checks, in this order: magic, version, kind, compression, parameter hash (when one is expected), then
/// both declared lengths against <see cref="SerializationLimits.MaxObjectBytes"/>, so a hostile length is refused
/// before anything is allocated for it.
/// </remarks>
public static class VeilHeader
{
    /// <summary>Header size in bytes.</summary>
    public const int Size = 56;
    /// <summary>
    /// The format version written. Version 2 fingerprints parameters with their security level and binds every
    /// key-switching key to its kind and Galois element; version 1 (earlier releases) is still read.
    /// </summary>
    public const ushort CurrentVersion = 2;
    /// <summary>The oldest version read.</summary>
    public const ushort MinimumVersion = 1;
    /// <summary>Length of the parameter hash field.</summary>
    public const int ParameterHashSize = 32;

    private const int VersionOffset = 4, KindOffset = 6, CompressionOffset = 7, HashOffset = 8;
    private const int PayloadLengthOffset = 40, StoredLengthOffset = 48;

    /// <summary>The four magic bytes "VEIL".</summary>
    public static ReadOnlySpan<byte> Magic => "VEIL"u8;

    /// <summary>Writes a header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    /// <param name="destination">At least <see cref="Size"/> bytes.</param>
    /// <param name="kind">The object type.</param>
    /// <param name="compression">How the payload that follows is compressed.</param>
    /// <param name="parameterHash">32 bytes: <see cref="RlweParameters.Hash"/>, or zeros for an object carrying its own parameters.</param>
    /// <param name="payloadLength">Uncompressed payload length.</param>
    /// <param name="storedLength">Bytes that will follow the header (equal to <paramref name="payloadLength"/> without compression).</param>
    /// <exception cref="ArgumentException">The destination is too short, the hash is not 32 bytes, or the lengths are inconsistent.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Unknown kind or compression, or a negative length.</exception>
    public static void Write(Span<byte> destination, ObjectKind kind, Compression compression, ReadOnlySpan<byte> parameterHash,
        long payloadLength, long storedLength)
    {
        if (destination.Length < Size) throw new ArgumentException($"A header needs {Size} bytes; got {destination.Length}.", nameof(destination));
        if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown object kind.");
        if (!Enum.IsDefined(compression)) throw new ArgumentOutOfRangeException(nameof(compression), compression, "Unknown compression.");
        if (parameterHash.Length != ParameterHashSize)
            throw new ArgumentException($"The parameter hash is {ParameterHashSize} bytes; got {parameterHash.Length}.", nameof(parameterHash));
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        ArgumentOutOfRangeException.ThrowIfNegative(storedLength);
        if (compression == Compression.None && storedLength != payloadLength)
            throw new ArgumentException("Without compression the stored length equals the payload length.", nameof(storedLength));
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[VersionOffset..], CurrentVersion);
        destination[KindOffset] = (byte)kind;
        destination[CompressionOffset] = (byte)compression;
        parameterHash.CopyTo(destination[HashOffset..]);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[PayloadLengthOffset..], (ulong)payloadLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[StoredLengthOffset..], (ulong)storedLength);
    }

    /// <summary>
    /// Reads and validates a header: magic, version, kind, compression, and both lengths against the limit.
    /// The parameter hash is returned, not checked; use the overload taking an expected hash to check it.
    /// </summary>
    /// <param name="source">The serialized bytes (at least the header).</param>
    /// <param name="expectedKind">The object type the caller is loading.</param>
    /// <param name="limits">Bounds on the declared lengths; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">Any field is wrong; <see cref="VeilFormatException.Field"/> names it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="expectedKind"/> is not a defined kind.</exception>
    public static VeilHeaderInfo Read(ReadOnlySpan<byte> source, ObjectKind expectedKind, SerializationLimits? limits = null) =>
        ReadCore(source, expectedKind, default, checkHash: false, limits ?? SerializationLimits.Default);

    /// <summary>
    /// Reads and validates a header: magic, version, kind, compression, the parameter hash against
    /// <paramref name="expectedParameterHash"/>, and both lengths against the limit.
    /// </summary>
    /// <param name="source">The serialized bytes (at least the header).</param>
    /// <param name="expectedKind">The object type the caller is loading.</param>
    /// <param name="expectedParameterHash">32 bytes: the loading parameters' <see cref="RlweParameters.Hash"/>, or zeros for an object carrying its own parameters.</param>
    /// <param name="limits">Bounds on the declared lengths; <see cref="SerializationLimits.Default"/> when null.</param>
    /// <exception cref="VeilFormatException">Any field is wrong; <see cref="VeilFormatException.Field"/> names it
    /// ("parameters" when the object belongs to other parameters).</exception>
    /// <exception cref="ArgumentException"><paramref name="expectedParameterHash"/> is not 32 bytes, or the kind is undefined.</exception>
    public static VeilHeaderInfo Read(ReadOnlySpan<byte> source, ObjectKind expectedKind, ReadOnlySpan<byte> expectedParameterHash,
        SerializationLimits? limits = null)
    {
        if (expectedParameterHash.Length != ParameterHashSize)
            throw new ArgumentException($"The parameter hash is {ParameterHashSize} bytes; got {expectedParameterHash.Length}.", nameof(expectedParameterHash));
        return ReadCore(source, expectedKind, expectedParameterHash, checkHash: true, limits ?? SerializationLimits.Default);
    }

    /// <summary>
    /// Reads a header of an object that belongs to <paramref name="parameters"/> (null: one that carries its own, with
    /// an all-zero hash); version-1 objects are checked against the fingerprint of that version.
    /// </summary>
    internal static VeilHeaderInfo Read(ReadOnlySpan<byte> source, ObjectKind expectedKind, RlweParameters? parameters, SerializationLimits limits)
    {
        Span<byte> zero = stackalloc byte[ParameterHashSize];
        zero.Clear();
        if (parameters is null) return ReadCore(source, expectedKind, zero, checkHash: true, limits);
        bool legacy = source.Length >= Size && source[..4].SequenceEqual(Magic) &&
                      BinaryPrimitives.ReadUInt16LittleEndian(source[VersionOffset..]) == 1;
        return ReadCore(source, expectedKind, (legacy ? parameters.LegacyHash : parameters.Hash).Span, checkHash: true, limits);
    }

    private static VeilHeaderInfo ReadCore(ReadOnlySpan<byte> source, ObjectKind expectedKind, ReadOnlySpan<byte> expectedHash,
        bool checkHash, SerializationLimits limits)
    {
        if (!Enum.IsDefined(expectedKind)) throw new ArgumentOutOfRangeException(nameof(expectedKind), expectedKind, "Unknown object kind.");
        if (source.Length < Size)
            throw new VeilFormatException("header", $"A header is {Size} bytes; only {source.Length} are present.");
        if (!source[..4].SequenceEqual(Magic))
            throw new VeilFormatException("magic", $"Expected \"VEIL\" (56 45 49 4C); found {Convert.ToHexString(source[..4])}.");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(source[VersionOffset..]);
        if (version < MinimumVersion || version > CurrentVersion)
            throw new VeilFormatException("version", $"Version {version} is not supported; this library reads versions {MinimumVersion} to {CurrentVersion}.");
        var kind = (ObjectKind)source[KindOffset];
        if (kind != expectedKind)
            throw new VeilFormatException("kind", Enum.IsDefined(kind)
                ? $"The data holds a {kind}, not a {expectedKind}."
                : $"Unknown object kind {(byte)kind}; expected {expectedKind}.");
        var compression = (Compression)source[CompressionOffset];
        if (!Enum.IsDefined(compression))
            throw new VeilFormatException("compression", $"Unknown compression {(byte)compression}.");
        var hash = source.Slice(HashOffset, ParameterHashSize);
        if (checkHash && !hash.SequenceEqual(expectedHash))
            throw new VeilFormatException("parameters", expectedHash.IndexOfAnyExcept((byte)0) < 0
                ? "This object type carries its own parameters, so its parameter hash must be zero."
                : "The object was saved under other parameters (the parameter hashes differ); it cannot be loaded under these.");
        ulong payloadLength = BinaryPrimitives.ReadUInt64LittleEndian(source[PayloadLengthOffset..]);
        ulong storedLength = BinaryPrimitives.ReadUInt64LittleEndian(source[StoredLengthOffset..]);
        ulong max = (ulong)limits.MaxObjectBytes;
        if (payloadLength > max)
            throw new VeilFormatException("payloadLength", $"Declared payload of {payloadLength} bytes exceeds the limit of {max} bytes.");
        if (storedLength > max)
            throw new VeilFormatException("storedLength", $"Declared stored length of {storedLength} bytes exceeds the limit of {max} bytes.");
        if (compression == Compression.None && storedLength != payloadLength)
            throw new VeilFormatException("storedLength", $"Without compression the stored length ({storedLength}) must equal the payload length ({payloadLength}).");
        return new VeilHeaderInfo(version, kind, compression, hash.ToArray(), (long)payloadLength, (long)storedLength);
    }
}
