using System.Security.Cryptography;
using Veil.Serialization;

namespace Veil.Tests.Shared;

/// <summary>A stand-in for Veil.Protection in layer tests: AES-256-GCM under a random key, bound to the object type.</summary>
internal sealed class TestProtector : ISecretProtector
{
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public byte[] Protect(ReadOnlySpan<byte> secret, ObjectType type)
    {
        var result = new byte[32 + secret.Length];
        "TPRO"u8.CopyTo(result);
        RandomNumberGenerator.Fill(result.AsSpan(4, 12));
        using var gcm = new AesGcm(_key, 16);
        gcm.Encrypt(result.AsSpan(4, 12), secret, result.AsSpan(32), result.AsSpan(16, 16), Associated(type));
        return result;
    }

    public byte[] Unprotect(ReadOnlySpan<byte> sealedBytes, ObjectType type)
    {
        if (!IsProtected(sealedBytes)) throw new CryptographicException("Not sealed by a test protector.");
        var clear = new byte[sealedBytes.Length - 32];
        using var gcm = new AesGcm(_key, 16);
        gcm.Decrypt(sealedBytes.Slice(4, 12), sealedBytes[32..], sealedBytes.Slice(16, 16), clear, Associated(type));
        return clear;
    }

    public bool IsProtected(ReadOnlySpan<byte> bytes) => bytes.Length >= 32 && bytes[..4].SequenceEqual("TPRO"u8);

    private static byte[] Associated(ObjectType type) => [(byte)type.Scheme, (byte)(type.Scheme >> 8), (byte)type.Kind, (byte)(type.Kind >> 8)];
}
