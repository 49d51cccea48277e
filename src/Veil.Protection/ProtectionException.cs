using System.Security.Cryptography;

namespace Veil.Protection;

/// <summary>Why protected data could not be opened.</summary>
public enum ProtectionError
{
    /// <summary>Not a protected object, or a malformed header.</summary>
    Format,
    /// <summary>A format version or algorithm this release does not read.</summary>
    Unsupported,
    /// <summary>None of the given keys can open any of the object's wrapped keys.</summary>
    NoMatchingKey,
    /// <summary>A wrapped key opened but does not match the key the object was sealed with (the key commitment failed).</summary>
    WrongKey,
    /// <summary>The header was altered.</summary>
    HeaderTampered,
    /// <summary>A chunk failed authentication: altered, reordered, or taken from another object.</summary>
    ChunkTampered,
    /// <summary>The data ends before its final chunk.</summary>
    Truncated,
    /// <summary>A passphrase, PIN or other secret was wrong.</summary>
    WrongSecret,
    /// <summary>A key version has been retired or does not exist.</summary>
    KeyUnavailable,
}

/// <summary>Protected data that could not be opened, with the reason; no plaintext of a failing part is ever returned.</summary>
public sealed class ProtectionException : CryptographicException
{
    /// <summary>Creates the exception.</summary>
    public ProtectionException(ProtectionError reason, string message, long chunk = -1, Exception? inner = null) : base(message, inner)
    {
        Reason = reason;
        Chunk = chunk;
    }

    /// <summary>What went wrong.</summary>
    public ProtectionError Reason { get; }

    /// <summary>The index of the chunk that failed, or −1.</summary>
    public long Chunk { get; }
}
