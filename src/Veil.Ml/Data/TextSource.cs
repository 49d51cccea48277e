using System.IO.Compression;
using System.Text;

namespace Veil.Ml.Data;

/// <summary>
/// Reads a text file line by line with a cap on the line length, so that a file without line breaks cannot make the
/// reader allocate without bound. Files that start with the gzip magic bytes 1F 8B are decompressed on the fly.
/// </summary>
/// <remarks>
/// Lines end at "\n", "\r\n" or "\r". <see cref="LineNumber"/> counts physical lines from 1. A corrupt gzip stream
/// surfaces as a <see cref="DataFormatException"/> at the line being read.
/// </remarks>
internal sealed class TextSource : IDisposable
{
    private const int ChunkSize = 64 * 1024;
    private readonly TextReader _reader;
    private readonly int _maxLineLength;
    private readonly char[] _chunk = new char[ChunkSize];
    private int _chunkStart;
    private int _chunkEnd;
    private char[] _line = new char[256];
    private bool _eof;
    private bool _skipLeadingLineFeed;

    private readonly long _maxCharacters;
    private long _characters;

    private TextSource(TextReader reader, string name, int maxLineLength, long maxCharacters)
    {
        _reader = reader;
        Name = name;
        _maxLineLength = maxLineLength;
        _maxCharacters = maxCharacters;
    }

    /// <summary>The default bound on the characters read from one file (after decompression): 2^30.</summary>
    public const long DefaultMaxCharacters = 1L << 30;

    /// <summary>The name used in error messages (the path as given).</summary>
    public string Name { get; }

    /// <summary>1-based number of the line last returned (0 before the first).</summary>
    public int LineNumber { get; private set; }

    /// <summary>Opens a file, gunzipping it when it starts with 1F 8B.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static TextSource Open(string path, int maxLineLength, long maxCharacters = DefaultMaxCharacters)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.SequentialScan);
        try
        {
            return FromSeekableStream(file, path, maxLineLength, maxCharacters);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Reads a seekable stream (which the source then owns), gunzipping it when it starts with 1F 8B.</summary>
    internal static TextSource FromSeekableStream(Stream stream, string name, int maxLineLength, long maxCharacters = DefaultMaxCharacters)
    {
        Span<byte> magic = stackalloc byte[2];
        int read = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Seek(0, SeekOrigin.Begin);
        Stream content = read == 2 && magic[0] == 0x1F && magic[1] == 0x8B
            ? new GZipStream(stream, CompressionMode.Decompress, leaveOpen: false)
            : stream;
        var reader = new StreamReader(content, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true, bufferSize: ChunkSize, leaveOpen: false);
        return new TextSource(reader, name, maxLineLength, maxCharacters);
    }

    /// <summary>Reads the next line into a buffer owned by this source (valid until the next call).</summary>
    /// <returns>False at the end of the file.</returns>
    /// <exception cref="DataFormatException">The line is longer than the cap, or the gzip stream is corrupt.</exception>
    public bool TryReadLine(out ReadOnlySpan<char> line)
    {
        int length = 0;
        bool any = false;
        while (true)
        {
            if (_chunkStart == _chunkEnd)
            {
                if (_eof || !Fill())
                {
                    _eof = true;
                    if (!any)
                    {
                        line = default;
                        return false;
                    }
                    LineNumber++;
                    line = _line.AsSpan(0, length);
                    return true;
                }
            }
            if (_skipLeadingLineFeed)
            {
                _skipLeadingLineFeed = false;
                if (_chunk[_chunkStart] == '\n')
                {
                    _chunkStart++;
                    continue;
                }
            }
            any = true;
            var available = _chunk.AsSpan(_chunkStart, _chunkEnd - _chunkStart);
            int end = available.IndexOfAny('\n', '\r');
            int take = end < 0 ? available.Length : end;
            Append(available[..take], ref length);
            if (end < 0)
            {
                _chunkStart = _chunkEnd;
                continue;
            }
            _chunkStart += end + 1;
            if (available[end] == '\r') _skipLeadingLineFeed = true;
            LineNumber++;
            line = _line.AsSpan(0, length);
            return true;
        }
    }

    private void Append(ReadOnlySpan<char> part, ref int length)
    {
        if (part.Length > _maxLineLength - length)
            throw new DataFormatException(Name, LineNumber + 1, null,
                $"the line is longer than {_maxLineLength} characters; lines are capped to bound memory.");
        if (length + part.Length > _line.Length)
            Array.Resize(ref _line, (int)Math.Min(Math.Max(2L * _line.Length, length + part.Length), _maxLineLength));
        part.CopyTo(_line.AsSpan(length));
        length += part.Length;
    }

    private bool Fill()
    {
        int n;
        try
        {
            n = _reader.Read(_chunk, 0, _chunk.Length);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(Name, LineNumber + 1, null, $"the gzip data is corrupt ({e.Message}).", e);
        }
        _chunkStart = 0;
        _chunkEnd = n;
        // A small gzip file can hold gigabytes of blank lines: the whole read is bounded, not only each line.
        _characters += n;
        if (_characters > _maxCharacters)
            throw new DataFormatException(Name, LineNumber + 1, null, $"the file holds more than {_maxCharacters} characters (after decompression), the limit.");
        return n > 0;
    }

    /// <inheritdoc/>
    public void Dispose() => _reader.Dispose();
}
