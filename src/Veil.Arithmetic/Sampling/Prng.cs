using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Veil.Arithmetic.Sampling;

/// <summary>A source of random bytes for the samplers.</summary>
public abstract class RandomSource
{
    /// <summary>Fills the destination with random bytes.</summary>
    public abstract void NextBytes(Span<byte> destination);
}

/// <summary>
/// The operating system's cryptographic generator (<see cref="RandomNumberGenerator"/>) as a <see cref="RandomSource"/>:
/// fresh randomness on every call and no state of its own in this process, for the noise of encryptions.
/// </summary>
public sealed class SystemRandom : RandomSource
{
    /// <summary>The single instance (it holds no state).</summary>
    public static SystemRandom Instance { get; } = new();

    private SystemRandom() { }

    /// <inheritdoc/>
    public override void NextBytes(Span<byte> destination) => RandomNumberGenerator.Fill(destination);
}

/// <summary>
/// A deterministic random stream expanded from a 256-bit seed with AES-256 in counter mode.
/// The same (seed, domain) always gives the same stream, which is what lets a key or ciphertext
/// travel as a seed in place of its uniform polynomial.
/// </summary>
/// <remarks>
/// The AES key is SHAKE256(seed ‖ domain) so that streams for different purposes are independent.
/// AES-CTR is used for bulk output because this platform's OpenSSL (3.0) cannot squeeze SHAKE
/// incrementally, and AES-NI makes it several times faster anyway.
/// </remarks>
public sealed class Prng : RandomSource, IDisposable
{
    /// <summary>Seed length in bytes.</summary>
    public const int SeedSize = 32;
    private const int BlockBytes = 32768;

    private readonly Aes _aes;
    private readonly ICryptoTransform _ecb; // one native context for the stream's life: EncryptEcb would set one up per refill
    private readonly byte[] _counterBlocks = new byte[BlockBytes];
    private readonly byte[] _buffer = new byte[BlockBytes];
    private ulong _counter;
    private int _position = BlockBytes;
    private bool _disposed;

    /// <summary>Creates the stream for a seed and a domain-separation label.</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public Prng(ReadOnlySpan<byte> seed, ReadOnlySpan<byte> domain)
    {
        if (seed.Length != SeedSize) ThrowHelper.Argument(nameof(seed), $"A seed is {SeedSize} bytes; got {seed.Length}.");
        Span<byte> input = stackalloc byte[SeedSize + domain.Length];
        seed.CopyTo(input);
        domain.CopyTo(input[SeedSize..]);
        Span<byte> key = stackalloc byte[32];
        Shake256.HashData(input, key);
        CryptographicOperations.ZeroMemory(input);
        _aes = Aes.Create();
        // SetKey copies the span into the algorithm object (wiped when it is disposed): no other managed copy is made.
        _aes.SetKey(key);
        CryptographicOperations.ZeroMemory(key);
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        _ecb = _aes.CreateEncryptor();
    }

    /// <summary>Creates a stream with a domain given as a tag and an index (e.g. key-switching digit i).</summary>
    public Prng(ReadOnlySpan<byte> seed, string tag, int index = 0)
        : this(seed, DomainBytes(tag, index)) { }

    private static byte[] DomainBytes(string tag, int index)
    {
        var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(tag) + 4];
        int n = System.Text.Encoding.UTF8.GetBytes(tag, bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(n), index);
        return bytes;
    }

    /// <summary>A fresh seed from the operating system's cryptographic generator.</summary>
    public static byte[] NewSeed() => RandomNumberGenerator.GetBytes(SeedSize);

    /// <summary>Fills the destination with stream bytes.</summary>
    public override void NextBytes(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (destination.Length > 0)
        {
            if (_position == BlockBytes) Refill();
            int take = Math.Min(destination.Length, BlockBytes - _position);
            _buffer.AsSpan(_position, take).CopyTo(destination);
            _position += take;
            destination = destination[take..];
        }
    }

    /// <summary>The next 64 stream bits.</summary>
    public ulong NextUInt64()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_position > BlockBytes - 8) Refill();
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(_buffer.AsSpan(_position));
        _position += 8;
        return v;
    }

    private void Refill()
    {
        // Counter blocks: a 64-bit little-endian counter in the first half of each 16-byte block.
        // (The second halves stay zero.) Written as words: a bounds-checked write per block cost a fifth of the stream's time.
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(_counterBlocks.AsSpan());
        ulong counter = _counter;
        for (int w = 0; w < words.Length; w += 2, counter++)
            words[w] = BitConverter.IsLittleEndian ? counter : BinaryPrimitives.ReverseEndianness(counter);
        _counter = counter;
        _ecb.TransformBlock(_counterBlocks, 0, BlockBytes, _buffer, 0);
        _position = 0;
    }

    /// <summary>Clears the buffered stream and releases the cipher.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CryptographicOperations.ZeroMemory(_buffer);
        _ecb.Dispose();
        _aes.Dispose();
    }
}
