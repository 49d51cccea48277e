using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Veil.Arithmetic;

namespace Veil.Rlwe.Serialization;

/// <summary>
/// Sequential little-endian reader over a payload; every read is bounds-checked and a short payload is a
/// <see cref="VeilFormatException"/> naming the field being read.
/// </summary>
internal ref struct PayloadReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public PayloadReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>Bytes not yet read.</summary>
    public readonly int Remaining => _data.Length - _position;

    /// <summary>Total payload length.</summary>
    public readonly int Length => _data.Length;

    public ReadOnlySpan<byte> ReadBytes(int count, string field)
    {
        if (count < 0 || count > Remaining)
            throw new VeilFormatException(field, $"Needs {count} more bytes; only {Remaining} remain in the payload.");
        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    public byte ReadByte(string field) => ReadBytes(1, field)[0];
    public ushort ReadUInt16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2, field));
    public uint ReadUInt32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, field));
    public ulong ReadUInt64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8, field));
    public double ReadDouble(string field) => BinaryPrimitives.ReadDoubleLittleEndian(ReadBytes(8, field));

    /// <summary>
    /// Reads <paramref name="limbs"/>·N u64 coefficients into <paramref name="destination"/> (limb-major), limb l
    /// reduced modulo prime <paramref name="firstLimb"/> + l of <paramref name="ring"/>; any coefficient not below
    /// its prime is rejected.
    /// </summary>
    public void ReadCoefficients(Span<ulong> destination, RnsRing ring, int firstLimb, int limbs, string field)
    {
        int n = ring.N;
        int words = limbs * n;
        var src = ReadBytes(checked(words * sizeof(ulong)), field);
        var dst = destination[..words];
        if (BitConverter.IsLittleEndian) src.CopyTo(MemoryMarshal.AsBytes(dst));
        else for (int i = 0; i < words; i++) dst[i] = BinaryPrimitives.ReadUInt64LittleEndian(src[(i * sizeof(ulong))..]);
        for (int l = 0; l < limbs; l++)
        {
            ulong q = ring.Moduli[firstLimb + l].Value;
            var limb = dst.Slice(l * n, n);
            for (int i = 0; i < limb.Length; i++)
            {
                if (limb[i] >= q)
                    throw new VeilFormatException(field, $"Coefficient {i} of limb {firstLimb + l} is {limb[i]}, not below its prime {q}.");
            }
        }
    }

    /// <summary>Throws unless the whole payload was consumed.</summary>
    public readonly void EnsureEnd(string field)
    {
        if (Remaining != 0) throw new VeilFormatException(field, $"{Remaining} unexpected bytes remain at the end of the payload.");
    }
}

/// <summary>Sequential little-endian writer into a payload buffer sized in advance.</summary>
internal ref struct PayloadWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    public PayloadWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    private Span<byte> Take(int count)
    {
        var slice = _buffer.Slice(_position, count);
        _position += count;
        return slice;
    }

    public void WriteByte(byte value) => Take(1)[0] = value;
    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2), value);
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);
    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), value);
    public void WriteDouble(double value) => BinaryPrimitives.WriteDoubleLittleEndian(Take(8), value);
    public void WriteBytes(scoped ReadOnlySpan<byte> value) => value.CopyTo(Take(value.Length));

    public void WriteCoefficients(scoped ReadOnlySpan<ulong> values)
    {
        var dst = Take(checked(values.Length * sizeof(ulong)));
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(dst);
        else for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(dst[(i * sizeof(ulong))..], values[i]);
    }

    /// <summary>Guards the size computation of the savers: the buffer must be exactly filled.</summary>
    public readonly void EnsureFull()
    {
        if (_position != _buffer.Length)
            throw new InvalidOperationException($"Internal error: payload sized {_buffer.Length} bytes but {_position} were written.");
    }
}
