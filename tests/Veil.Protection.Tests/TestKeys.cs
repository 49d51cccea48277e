using System.Security.Cryptography;

namespace Veil.Protection.Tests;

/// <summary>Keys shared by the tests (RSA-3072 generation is slow enough to do once).</summary>
internal static class TestKeys
{
    public static readonly Lazy<RSA> Rsa = new(() => RSA.Create(3072));
    public static readonly Lazy<ECDiffieHellman> P256 = new(() => ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256));

    /// <summary>A symmetric in-memory KMS for tests of the envelope (stands in for a keyring).</summary>
    public sealed class TestKms : IKeyEncryptionKey
    {
        private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
        public string KeyId { get; } = "test-kms/" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        public byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> context)
        {
            var body = new byte[12 + dataKey.Length + 16];
            RandomNumberGenerator.Fill(body.AsSpan(0, 12));
            using var gcm = new AesGcm(_key, 16);
            gcm.Encrypt(body.AsSpan(0, 12), dataKey, body.AsSpan(12, dataKey.Length), body.AsSpan(12 + dataKey.Length), context);
            return body;
        }
        public byte[] Unwrap(ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> context)
        {
            var plain = new byte[wrapped.Length - 28];
            using var gcm = new AesGcm(_key, 16);
            gcm.Decrypt(wrapped[..12], wrapped[12..^16], wrapped[^16..], plain, context);
            return plain;
        }
    }
}

/// <summary>A scratch folder removed after the test.</summary>
internal sealed class Scratch : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("veil-prot-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
