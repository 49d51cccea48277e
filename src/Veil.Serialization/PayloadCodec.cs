using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Veil.Serialization;

/// <summary>
/// Sequential little-endian reader over a payload; every read is bounds-checked and a short payload is a
/// <see cref="VeilFormatException"/> naming the field being read.
/// </summary>
public ref struct PayloadReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    /// <summary>A reader at the start of <paramref name="data"/>.</summary>
    public PayloadReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>Bytes not yet read.</summary>
    public readonly int Remaining => _data.Length - _position;

    /// <summary>Total payload length.</summary>
    public readonly int Length => _data.Length;

    /// <summary>The next <paramref name="count"/> bytes.</summary>
    /// <exception cref="VeilFormatException">Fewer remain (field <paramref name="field"/>).</exception>
    public ReadOnlySpan<byte> ReadBytes(int count, string field)
    {
        if (count < 0 || count > Remaining)
            throw new VeilFormatException(field, $"Needs {count} more bytes; only {Remaining} remain in the payload.");
        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    /// <summary>A byte.</summary>
    public byte ReadByte(string field) => ReadBytes(1, field)[0];
    /// <summary>A little-endian u16.</summary>
    public ushort ReadUInt16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2, field));
    /// <summary>A little-endian u32.</summary>
    public uint ReadUInt32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4, field));
    /// <summary>A little-endian i32.</summary>
    public int ReadInt32(string field) => BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4, field));
    /// <summary>A little-endian u64.</summary>
    public ulong ReadUInt64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(ReadBytes(8, field));
    /// <summary>A little-endian f64.</summary>
    public double ReadDouble(string field) => BinaryPrimitives.ReadDoubleLittleEndian(ReadBytes(8, field));

    /// <summary>A u32 count that must lie in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <exception cref="VeilFormatException">The count is outside the range.</exception>
    public int ReadCount(string field, int min, int max)
    {
        uint value = ReadUInt32(field);
        if (value < (uint)min || value > (uint)max)
            throw new VeilFormatException(field, $"{field} must be in [{min}, {max}]; got {value}.");
        return (int)value;
    }

    /// <summary>A finite f64.</summary>
    /// <exception cref="VeilFormatException">The value is NaN or infinite.</exception>
    public double ReadFiniteDouble(string field)
    {
        double value = ReadDouble(field);
        if (!double.IsFinite(value)) throw new VeilFormatException(field, $"{field} must be finite; got {value}.");
        return value;
    }

    /// <summary>A UTF-8 string of at most <paramref name="maxBytes"/> bytes, prefixed by its u16 byte length.</summary>
    /// <exception cref="VeilFormatException">Too long, or not valid UTF-8.</exception>
    public string ReadString(string field, int maxBytes)
    {
        int length = ReadUInt16(field);
        if (length > maxBytes) throw new VeilFormatException(field, $"{field} is at most {maxBytes} bytes; got {length}.");
        try { return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(ReadBytes(length, field)); }
        catch (System.Text.DecoderFallbackException e) { throw new VeilFormatException(field, $"{field} is not valid UTF-8.", e); }
    }

    /// <summary>
    /// Reads moduli.Length·<paramref name="n"/> u64 coefficients into <paramref name="destination"/> (limb-major), limb l
    /// reduced modulo <paramref name="moduli"/>[l]; any coefficient not below its modulus is rejected.
    /// </summary>
    /// <exception cref="VeilFormatException">Too few bytes, or a coefficient not below its modulus.</exception>
    public void ReadCoefficients(Span<ulong> destination, ReadOnlySpan<ulong> moduli, int n, string field)
    {
        int limbs = moduli.Length;
        int words = limbs * n;
        var src = ReadBytes(checked(words * sizeof(ulong)), field);
        var dst = destination[..words];
        if (BitConverter.IsLittleEndian) src.CopyTo(MemoryMarshal.AsBytes(dst));
        else for (int i = 0; i < words; i++) dst[i] = BinaryPrimitives.ReadUInt64LittleEndian(src[(i * sizeof(ulong))..]);
        for (int l = 0; l < limbs; l++)
        {
            ulong q = moduli[l];
            var limb = dst.Slice(l * n, n);
            for (int i = 0; i < limb.Length; i++)
            {
                if (limb[i] >= q)
                    throw new VeilFormatException(field, $"Coefficient {i} of limb {l} is {limb[i]}, not below its modulus {q}.");
            }
        }
    }

    /// <summary>
    /// Reads residues packed by <see cref="PayloadWriter.WritePackedResidues"/>: limb l's <paramref name="n"/> values at
    /// <see cref="ResiduePacking.Width"/>(<paramref name="moduli"/>[l]) bits each; any value not below its modulus is rejected.
    /// </summary>
    /// <exception cref="VeilFormatException">Too few bytes, or a value not below its modulus.</exception>
    public void ReadPackedResidues(Span<ulong> destination, ReadOnlySpan<ulong> moduli, int n, string field)
    {
        var src = ReadBytes(checked((int)ResiduePacking.Bytes(moduli, n)), field);
        int position = 0;
        UInt128 acc = 0;
        int bits = 0;
        for (int l = 0; l < moduli.Length; l++)
        {
            ulong q = moduli[l];
            int w = ResiduePacking.Width(q);
            ulong mask = (1UL << w) - 1;
            var limb = destination.Slice(l * n, n);
            for (int i = 0; i < limb.Length; i++)
            {
                if (bits < w)
                {
                    // Refill a word at a time; the last few bytes of the stream one at a time.
                    if (position + 8 <= src.Length) { acc |= (UInt128)BinaryPrimitives.ReadUInt64LittleEndian(src[position..]) << bits; position += 8; bits += 64; }
                    else while (bits < w) { acc |= (UInt128)src[position++] << bits; bits += 8; }
                }
                ulong v = (ulong)acc & mask;
                acc >>= w;
                bits -= w;
                if (v >= q) throw new VeilFormatException(field, $"Coefficient {i} of limb {l} is {v}, not below its modulus {q}.");
                limb[i] = v;
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
public ref struct PayloadWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    /// <summary>A writer at the start of <paramref name="buffer"/>.</summary>
    public PayloadWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Position => _position;

    private Span<byte> Take(int count)
    {
        var slice = _buffer.Slice(_position, count);
        _position += count;
        return slice;
    }

    /// <summary>A byte.</summary>
    public void WriteByte(byte value) => Take(1)[0] = value;
    /// <summary>A little-endian u16.</summary>
    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2), value);
    /// <summary>A little-endian u32.</summary>
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);
    /// <summary>A little-endian i32.</summary>
    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), value);
    /// <summary>A little-endian u64.</summary>
    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), value);
    /// <summary>A little-endian f64.</summary>
    public void WriteDouble(double value) => BinaryPrimitives.WriteDoubleLittleEndian(Take(8), value);
    /// <summary>Raw bytes.</summary>
    public void WriteBytes(scoped ReadOnlySpan<byte> value) => value.CopyTo(Take(value.Length));
    /// <summary>A UTF-8 string prefixed by its u16 byte length.</summary>
    public void WriteString(string value)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        if (bytes.Length > ushort.MaxValue) throw new ArgumentException("The string is longer than 65,535 UTF-8 bytes.", nameof(value));
        WriteUInt16((ushort)bytes.Length);
        WriteBytes(bytes);
    }

    /// <summary>Bytes <see cref="WriteString"/> takes for <paramref name="value"/>.</summary>
    public static int StringBytes(string value) => 2 + System.Text.Encoding.UTF8.GetByteCount(value);

    /// <summary>u64 words, little-endian.</summary>
    public void WriteCoefficients(scoped ReadOnlySpan<ulong> values)
    {
        var dst = Take(checked(values.Length * sizeof(ulong)));
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(dst);
        else for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(dst[(i * sizeof(ulong))..], values[i]);
    }

    /// <summary>
    /// Residues of moduli.Length limbs of <paramref name="n"/> values (limb-major), each at its modulus's bit width
    /// (<see cref="ResiduePacking.Width"/>), least significant bit first: uniform residues cannot be stored in fewer
    /// bits without loss, and 40-bit primes take 5 bytes instead of 8.
    /// </summary>
    /// <exception cref="ArgumentException">A value does not fit its modulus's width, or n is not a multiple of 8.</exception>
    public void WritePackedResidues(scoped ReadOnlySpan<ulong> values, ReadOnlySpan<ulong> moduli, int n)
    {
        var dst = Take(checked((int)ResiduePacking.Bytes(moduli, n)));
        if (values.Length < moduli.Length * n) throw new ArgumentException($"{moduli.Length} limbs of {n} values need {moduli.Length * n} words; got {values.Length}.", nameof(values));
        int position = 0;
        UInt128 acc = 0;
        int bits = 0;
        for (int l = 0; l < moduli.Length; l++)
        {
            int w = ResiduePacking.Width(moduli[l]);
            var limb = values.Slice(l * n, n);
            for (int i = 0; i < limb.Length; i++)
            {
                ulong v = limb[i];
                if ((v >> w) != 0) throw new ArgumentException($"Value {i} of limb {l} ({v}) does not fit in {w} bits.", nameof(values));
                acc |= (UInt128)v << bits;
                bits += w;
                if (bits >= 64)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(dst[position..], (ulong)acc);
                    position += 8;
                    acc >>= 64;
                    bits -= 64;
                }
            }
        }
        for (; bits > 0; bits -= 8) { dst[position++] = (byte)acc; acc >>= 8; } // n·width is a multiple of 8: whole bytes
    }

    /// <summary>Guards the size computation of the savers: the buffer must be exactly filled.</summary>
    public readonly void EnsureFull()
    {
        if (_position != _buffer.Length)
            throw new InvalidOperationException($"Internal error: payload sized {_buffer.Length} bytes but {_position} were written.");
    }
}

/// <summary>Sizes of residues packed at their moduli's bit widths (<see cref="PayloadWriter.WritePackedResidues"/>).</summary>
public static class ResiduePacking
{
    /// <summary>Bits per residue of <paramref name="modulus"/>: the bit length of q − 1 (values are below q).</summary>
    /// <exception cref="ArgumentException">The modulus is below 2 or above 2^62.</exception>
    public static int Width(ulong modulus)
    {
        if (modulus < 2 || modulus > 1UL << 62) throw new ArgumentException($"Modulus {modulus} is outside 2 … 2^62.", nameof(modulus));
        return 64 - System.Numerics.BitOperations.LeadingZeroCount(modulus - 1);
    }

    /// <summary>Bytes of moduli.Length limbs of <paramref name="n"/> packed residues.</summary>
    /// <exception cref="ArgumentException"><paramref name="n"/> is not a positive multiple of 8, or a modulus is out of range.</exception>
    public static long Bytes(ReadOnlySpan<ulong> moduli, int n)
    {
        if (n <= 0 || n % 8 != 0) throw new ArgumentException($"A limb of {n} values does not pack into whole bytes; n must be a positive multiple of 8.", nameof(n));
        long bits = 0;
        foreach (ulong q in moduli) bits += (long)Width(q) * n;
        return bits / 8;
    }
}
