using System.Diagnostics;
using System.Security.Cryptography;

namespace Veil.Protection;

/// <summary>What <see cref="ProtectionSelfCheck.Run"/> measured.</summary>
public sealed record ProtectionSelfCheckResult(long Bytes, double SealMBps, double OpenMBps, int TamperCases, int TamperDetected, long AuditRecords, bool AuditIntact, double Seconds);

/// <summary>
/// A short end-to-end exercise of the protection layer for <c>veil demo</c>: a throwaway passphrase keyring, a
/// random file sealed and opened, the tampering cases (flipped header and chunk bits, a cut at a chunk boundary,
/// swapped chunks, a foreign key) each refused, and the audit log verified.
/// </summary>
public static class ProtectionSelfCheck
{
    /// <summary>Runs in a temporary folder removed afterwards.</summary>
    public static ProtectionSelfCheckResult Run(int sizeBytes = 32 << 20)
    {
        var total = Stopwatch.StartNew();
        string dir = Directory.CreateTempSubdirectory("veil-selfcheck-").FullName;
        try
        {
            using var home = ProtectionHome.InitWithPassphrase(dir, Convert.ToHexString(RandomNumberGenerator.GetBytes(16)), Argon2Parameters.Minimum);
            string plain = Path.Combine(dir, "data.bin"), sealedPath = plain + ".vp", back = Path.Combine(dir, "back.bin");
            var data = RandomNumberGenerator.GetBytes(sizeBytes);
            File.WriteAllBytes(plain, data);
            var clock = Stopwatch.StartNew();
            home.Protect(plain, sealedPath, []);
            double seal = sizeBytes / clock.Elapsed.TotalSeconds / 1e6;
            clock.Restart();
            home.Unprotect(sealedPath, back);
            double open = sizeBytes / clock.Elapsed.TotalSeconds / 1e6;
            if (!File.ReadAllBytes(back).AsSpan().SequenceEqual(data)) throw new InvalidOperationException("The round trip changed the data.");

            var bytes = File.ReadAllBytes(sealedPath);
            int header = ProtectedStream.ReadHeader(new MemoryStream(bytes)).HeaderLength, chunk = (1 << 16) + 16;
            var cases = new List<byte[]>();
            var flippedHeader = bytes.ToArray(); flippedHeader[20] ^= 1; cases.Add(flippedHeader);
            var flippedChunk = bytes.ToArray(); flippedChunk[header + chunk + 5] ^= 0x80; cases.Add(flippedChunk);
            cases.Add(bytes[..(header + 3 * chunk)]);
            var swapped = bytes.ToArray();
            bytes.AsSpan(header, chunk).CopyTo(swapped.AsSpan(header + chunk));
            bytes.AsSpan(header + chunk, chunk).CopyTo(swapped.AsSpan(header));
            cases.Add(swapped);
            int detected = 0;
            foreach (var c in cases)
            {
                try { ProtectedStream.Unprotect(c, home.Keyring.Identities); }
                catch (ProtectionException) { detected++; }
            }
            using (var stranger = new ECDiffieHellmanIdentityHolder())
            {
                try { ProtectedStream.Unprotect(bytes, [stranger.Identity]); }
                catch (ProtectionException) { detected++; }
            }
            home.Audit.Checkpoint();
            var audit = AuditLog.Verify(home.Audit.FilePath, home.Keyring.AuditSigner);
            return new ProtectionSelfCheckResult(sizeBytes, seal, open, cases.Count + 1, detected, audit.Records, audit.IsValid, total.Elapsed.TotalSeconds);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private sealed class ECDiffieHellmanIdentityHolder : IDisposable
    {
        private readonly ECDiffieHellman _key = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        public IIdentity Identity => new P256Identity(_key);
        public void Dispose() => _key.Dispose();
    }
}
