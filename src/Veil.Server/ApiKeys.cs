using System.Security.Cryptography;
using System.Text;
using Veil.Server.Storage;

namespace Veil.Server;

/// <summary>
/// API keys "veil_ID_SECRET": ID (24 hex digits) names the key; SECRET (32 random bytes, base64url) is shown once and
/// only its SHA-256 is stored (a 256-bit random secret needs no slow hash).
/// </summary>
public static class ApiKeys
{
    /// <summary>A new key for <paramref name="tenantId"/>: the token to hand out and the record to store.</summary>
    public static (string Token, ApiKeyRecord Record) Issue(string tenantId, bool admin, DateTimeOffset? expires)
    {
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var secret = RandomNumberGenerator.GetBytes(32);
        string secretText = Base64Url(secret);
        CryptographicOperations.ZeroMemory(secret);
        return ($"veil_{id}_{secretText}", new ApiKeyRecord(id, tenantId, Hash(secretText), admin, DateTimeOffset.UtcNow, expires, false));
    }

    /// <summary>The id and secret of a token, or null when it is not shaped like one.</summary>
    public static (string Id, string Secret)? Parse(string? token)
    {
        if (token is null || token.Length != 5 + 24 + 1 + 43 || !token.StartsWith("veil_", StringComparison.Ordinal) || token[29] != '_') return null;
        string id = token.Substring(5, 24), secret = token[30..];
        if (!id.All(char.IsAsciiHexDigitLower) || !secret.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return null;
        return (id, secret);
    }

    /// <summary>Whether <paramref name="secret"/> is the record's (compared in constant time).</summary>
    public static bool Matches(ApiKeyRecord record, string secret) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(secret)), Encoding.ASCII.GetBytes(record.SecretHash));

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
