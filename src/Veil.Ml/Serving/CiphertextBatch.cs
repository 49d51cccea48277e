using System.Buffers.Binary;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;
using Veil.Serialization;

namespace Veil.Ml.Serving;

/// <summary>
/// A list of ciphertexts under one parameter set as one Veil object (Ml, 8): count (u32) ‖ each ciphertext as its own
/// Veil object. It is how a batched request and its answer travel to and from a service.
/// </summary>
public static class CiphertextBatch
{
    /// <summary>The object type.</summary>
    public static ObjectType Type { get; } = ObjectTypes.Register(Schemes.Ml, 8, "CiphertextBatch");

    /// <summary>Most ciphertexts one batch may declare (a batched network input of 784 values is 784).</summary>
    public const int MaxCount = 1 << 16;

    /// <summary>The ciphertexts, all under <paramref name="parameters"/>, as one object.</summary>
    /// <exception cref="ArgumentException">No ciphertexts, too many, or one under other parameters.</exception>
    public static byte[] Save(RlweParameters parameters, IReadOnlyList<Ciphertext> ciphertexts, Compression compression = Compression.None)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(ciphertexts);
        if (ciphertexts.Count is 0 or > MaxCount) throw new ArgumentException($"A batch holds 1 … {MaxCount} ciphertexts; got {ciphertexts.Count}.", nameof(ciphertexts));
        using var stream = new MemoryStream();
        Span<byte> count = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(count, ciphertexts.Count);
        stream.Write(count);
        foreach (var c in ciphertexts)
        {
            ArgumentNullException.ThrowIfNull(c, nameof(ciphertexts));
            if (!c.Parameters.SameRingAs(parameters)) throw new ArgumentException("A ciphertext of the batch belongs to other parameters.", nameof(ciphertexts));
            RlweSerializer.Save(c, stream, compression);
        }
        return VeilEnvelope.Pack(Type, parameters.Hash.Span, stream.ToArray(), Compression.None);
    }

    /// <summary>Loads a batch saved under <paramref name="parameters"/>, with at most <paramref name="maxCount"/> ciphertexts.</summary>
    /// <exception cref="VeilFormatException">Malformed or truncated bytes, other parameters, a count out of range, trailing bytes, or limits exceeded.</exception>
    public static IReadOnlyList<Ciphertext> Load(ReadOnlySpan<byte> bytes, RlweParameters parameters, int maxCount = MaxCount, SerializationLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        limits ??= SerializationLimits.Default;
        var body = VeilEnvelope.Unpack(bytes, Type, parameters.Hash.Span, default, limits, limits.MaxObjectBytes, out _, out _).ToArray();
        if (body.Length < 4) throw new VeilFormatException("count", "Fewer than 4 bytes: no ciphertext count.");
        int count = BinaryPrimitives.ReadInt32LittleEndian(body);
        if (count < 1 || count > Math.Min(maxCount, MaxCount)) throw new VeilFormatException("count", $"A batch of {count} ciphertexts; 1 … {Math.Min(maxCount, MaxCount)} are accepted here.");
        // Each ciphertext takes at least a header, so a count larger than the bytes could hold is refused before any allocation.
        if ((long)count * VeilHeader.Size > body.Length - 4) throw new VeilFormatException("count", $"{count} ciphertexts cannot fit in {body.Length - 4} bytes.");
        using var stream = new MemoryStream(body, 4, body.Length - 4, writable: false);
        var result = new Ciphertext[count];
        for (int i = 0; i < count; i++) result[i] = RlweSerializer.LoadCiphertext(stream, parameters, limits);
        if (stream.Position != stream.Length) throw new VeilFormatException("trailing", $"{stream.Length - stream.Position} bytes follow the last ciphertext.");
        return result;
    }
}
