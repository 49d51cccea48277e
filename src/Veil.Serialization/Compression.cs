namespace Veil.Serialization;

/// <summary>How the payload of a serialized object is compressed (System.IO.Compression).</summary>
public enum Compression : byte
{
    /// <summary>Stored as is.</summary>
    None = 0,
    /// <summary>zlib (RFC 1950) through <see cref="System.IO.Compression.ZLibStream"/>.</summary>
    ZLib = 1,
    /// <summary>Brotli (RFC 7932) through <see cref="System.IO.Compression.BrotliEncoder"/> / <see cref="System.IO.Compression.BrotliDecoder"/>.</summary>
    Brotli = 2,
}
