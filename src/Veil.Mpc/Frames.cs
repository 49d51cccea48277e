using System.Buffers.Binary;

namespace Veil.Mpc;

/// <summary>What a frame carries.</summary>
public enum FrameType : byte
{
    /// <summary>A party's share of values being opened.</summary>
    Open = 1,
    /// <summary>A party's request to the dealer (kind and shape of the correlated randomness).</summary>
    Request = 2,
    /// <summary>The dealer's answer: this party's shares of the requested randomness.</summary>
    Dealt = 3,
    /// <summary>A message of a two-party subprotocol (keys and ciphertexts of the Paillier triples).</summary>
    Exchange = 4,
    /// <summary>A party's private input, split: the share addressed to the receiver.</summary>
    Input = 5,
}

/// <summary>A frame that another party sent and this one refused; <see cref="Field"/> names what is wrong.</summary>
public sealed class MpcProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MpcProtocolException(string field, string message) : base(message) => Field = field;
    /// <summary>The field that was wrong ("magic", "session", "round", "length", …).</summary>
    public string Field { get; }
}

/// <summary>
/// The frame every MPC message travels in, little-endian: magic "VMPC" ‖ version u8 (2) ‖ type u8 ‖ sender u8 ‖
/// receiver u8 ‖ session (16) ‖ round u32 ‖ payload length u32 ‖ payload. A reader checks every field against what it
/// expects (type, sender, receiver, session, round, the exact length, a size limit) before it looks at the payload, so
/// a replayed, reflected, misrouted, foreign or truncated frame is refused by name. The dealer is party 255.
/// </summary>
public static class MpcFrame
{
    /// <summary>Header size.</summary>
    public const int HeaderSize = 32;
    /// <summary>The largest payload accepted by default: 64 MiB.</summary>
    public const int DefaultMaxPayload = 64 << 20;
    /// <summary>The sender or receiver number of the dealer.</summary>
    public const byte Dealer = 255;
    private const byte Version = 2;
    private static ReadOnlySpan<byte> Magic => "VMPC"u8;

    /// <summary>A frame of <paramref name="payload"/> from party <paramref name="from"/> to party <paramref name="to"/>.</summary>
    public static byte[] Write(FrameType type, ReadOnlySpan<byte> session, uint round, int from, int to, ReadOnlySpan<byte> payload)
    {
        if (session.Length != MpcSession.IdSize) throw new ArgumentException($"A session id is {MpcSession.IdSize} bytes.", nameof(session));
        CheckParty(from, nameof(from));
        CheckParty(to, nameof(to));
        var frame = new byte[HeaderSize + payload.Length];
        Magic.CopyTo(frame);
        frame[4] = Version;
        frame[5] = (byte)type;
        frame[6] = (byte)from;
        frame[7] = (byte)to;
        session.CopyTo(frame.AsSpan(8));
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(24), round);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(28), (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(HeaderSize));
        return frame;
    }

    /// <summary>A frame of elements of Z_2^64 (each little-endian).</summary>
    public static byte[] Write(FrameType type, ReadOnlySpan<byte> session, uint round, int from, int to, ReadOnlySpan<ulong> values)
    {
        if (BitConverter.IsLittleEndian) return Write(type, session, round, from, to, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
        var bytes = new byte[checked(values.Length * sizeof(ulong))];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8 * i), values[i]);
        return Write(type, session, round, from, to, bytes);
    }

    /// <summary>The payload of a frame, after checking every header field.</summary>
    /// <exception cref="MpcProtocolException">A field is wrong; <see cref="MpcProtocolException.Field"/> names it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPayload"/> is negative.</exception>
    public static ReadOnlySpan<byte> Read(ReadOnlySpan<byte> frame, FrameType expectedType, ReadOnlySpan<byte> session, uint round, int from, int to, int maxPayload = DefaultMaxPayload)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPayload);
        if (frame.Length < HeaderSize) throw new MpcProtocolException("length", $"A frame is at least {HeaderSize} bytes; got {frame.Length}.");
        if (!frame[..4].SequenceEqual(Magic)) throw new MpcProtocolException("magic", "Not an MPC frame (magic).");
        if (frame[4] != Version) throw new MpcProtocolException("version", $"Frame version {frame[4]} is not supported (expected {Version}).");
        if (frame[5] != (byte)expectedType) throw new MpcProtocolException("type", $"Expected a {expectedType} frame; got type {frame[5]}.");
        if (frame[6] != from) throw new MpcProtocolException("sender", $"Expected a frame from party {from}; it says {frame[6]}.");
        if (frame[7] != to) throw new MpcProtocolException("receiver", $"The frame is addressed to party {frame[7]}, not to {to} (reflected or misrouted).");
        if (!frame.Slice(8, MpcSession.IdSize).SequenceEqual(session)) throw new MpcProtocolException("session", "The frame belongs to another session.");
        uint r = BinaryPrimitives.ReadUInt32LittleEndian(frame[24..]);
        if (r != round) throw new MpcProtocolException("round", $"The frame is for round {r}; this party is at round {round} (a replayed or out-of-order message).");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(frame[28..]);
        if (length > (uint)maxPayload) throw new MpcProtocolException("length", $"The frame declares {length} bytes; at most {maxPayload} are accepted.");
        if (length != frame.Length - HeaderSize) throw new MpcProtocolException("length", $"The frame declares {length} bytes but carries {frame.Length - HeaderSize}.");
        return frame[HeaderSize..];
    }

    /// <summary>The payload as exactly <paramref name="count"/> elements of Z_2^64.</summary>
    /// <exception cref="MpcProtocolException">A header field is wrong, or the payload is not <paramref name="count"/> elements.</exception>
    public static ulong[] ReadValues(ReadOnlySpan<byte> frame, FrameType expectedType, ReadOnlySpan<byte> session, uint round, int from, int to, int count)
    {
        var payload = Read(frame, expectedType, session, round, from, to, checked(count * sizeof(ulong)));
        if (payload.Length != count * sizeof(ulong)) throw new MpcProtocolException("length", $"Expected {count} elements ({count * sizeof(ulong)} bytes); got {payload.Length} bytes.");
        if (BitConverter.IsLittleEndian) return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(payload).ToArray();
        var values = new ulong[count];
        for (int i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadUInt64LittleEndian(payload[(8 * i)..]);
        return values;
    }

    private static void CheckParty(int party, string name)
    {
        if ((party < 0 || party >= MpcSession.MaxParties) && party != Dealer) throw new ArgumentOutOfRangeException(name, party, $"A party is 0 … {MpcSession.MaxParties - 1}, or {Dealer} for the dealer.");
    }
}

/// <summary>A list of byte strings in one frame payload: count u32 ‖ (length u32 ‖ bytes)*, read back with every length checked against what is left.</summary>
public static class MpcPayload
{
    /// <summary>The items, length-prefixed.</summary>
    public static byte[] Pack(IReadOnlyList<byte[]> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var bytes = new byte[checked(4 + items.Sum(i => 4 + i.Length))];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, items.Count);
        int at = 4;
        foreach (var item in items)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), item.Length);
            item.CopyTo(bytes, at + 4);
            at += 4 + item.Length;
        }
        return bytes;
    }

    /// <summary>Exactly <paramref name="expected"/> items, or a refusal naming <paramref name="field"/>.</summary>
    /// <exception cref="MpcProtocolException">Another count, an item running past the end, or bytes after the last.</exception>
    public static byte[][] Unpack(byte[] bytes, int expected, string field)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 4 || BinaryPrimitives.ReadInt32LittleEndian(bytes) != expected) throw new MpcProtocolException(field, $"Expected {expected} items in the {field}.");
        var items = new byte[expected][];
        int at = 4;
        for (int i = 0; i < expected; i++)
        {
            if (at + 4 > bytes.Length) throw new MpcProtocolException(field, $"The {field} ends inside item {i}.");
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at));
            if (length < 0 || length > bytes.Length - at - 4) throw new MpcProtocolException(field, $"Item {i} of the {field} declares {length} bytes past the end.");
            items[i] = bytes.AsSpan(at + 4, length).ToArray();
            at += 4 + length;
        }
        if (at != bytes.Length) throw new MpcProtocolException(field, $"The {field} has {bytes.Length - at} bytes after its last item.");
        return items;
    }
}
