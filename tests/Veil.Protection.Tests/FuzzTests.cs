using System.Security.Cryptography;

namespace Veil.Protection.Tests;

/// <summary>Every reader of outside bytes — protected objects, keyring files, audit logs — answers mutations with its typed error.</summary>
public class FuzzTests
{
    private static byte[] Mutate(byte[] original, Random rng)
    {
        var bytes = original.ToArray();
        switch (rng.Next(4))
        {
            case 0: // a few random bytes, mostly in the header
                for (int i = 0, n = 1 + rng.Next(4); i < n; i++) bytes[rng.Next(Math.Min(bytes.Length, rng.Next(2) == 0 ? 200 : bytes.Length))] = (byte)rng.Next(256);
                return bytes;
            case 1: return bytes[..rng.Next(bytes.Length)];
            case 2: return [.. bytes, .. RandomNumberGenerator.GetBytes(1 + rng.Next(100))];
            default: // a length or count field set to an extreme
                int at = 80 + rng.Next(Math.Min(40, bytes.Length - 82));
                bytes[at] = 0xFF; bytes[at + 1] = 0xFF;
                return bytes;
        }
    }

    [Fact]
    public void ProtectedObjects_Mutated_GiveOnlyProtectionExceptions_Quickly()
    {
        var kms = new KmsRecipient(new TestKeys.TestKms());
        var p256 = new P256Recipient(TestKeys.P256.Value);
        var original = ProtectedStream.Protect(RandomNumberGenerator.GetBytes(9000), [kms, p256], new ProtectionOptions { ChunkSizeLog2 = 12 });
        var rng = new Random(5);
        var identities = new IIdentity[] { kms, new P256Identity(TestKeys.P256.Value) };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int t = 0; t < 4000; t++)
        {
            var bytes = Mutate(original, rng);
            var started = clock.Elapsed;
            try { ProtectedStream.Unprotect(bytes, identities); }
            catch (ProtectionException) { }
            Assert.True(clock.Elapsed - started < TimeSpan.FromSeconds(1), "one input took over a second");
        }
    }

    [Fact]
    public void KeyringFiles_Mutated_AreRefusedWithProtectionExceptions()
    {
        using var dir = new Scratch();
        string path = dir.File("ring.vkr");
        PassphraseKeyring.Create(path, "fuzzing passphrase 123", KeyringTests.Cheap, allowWeakCost: true).Dispose();
        var original = File.ReadAllBytes(path);
        var rng = new Random(6);
        for (int t = 0; t < 150; t++)
        {
            var bytes = original.ToArray();
            if (rng.Next(3) == 0) bytes = bytes[..rng.Next(bytes.Length)];
            else bytes[rng.Next(bytes.Length)] ^= (byte)(1 + rng.Next(255));
            // The cost fields are read before anything is derived: keep mutations from asking for gigabytes here.
            File.WriteAllBytes(dir.File("m.vkr"), bytes);
            try { PassphraseKeyring.Open(dir.File("m.vkr"), "fuzzing passphrase 123", allowWeakCost: true).Dispose(); }
            catch (ProtectionException) { }
        }
    }

    [Fact]
    public void AuditLogs_Mutated_NeverVerify_AndNeverThrow()
    {
        using var dir = new Scratch();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var log = new AuditLog(dir.File("a.log"), key) { CheckpointInterval = 3 };
        for (int i = 0; i < 10; i++) log.Record("data.protect", $"f{i}");
        log.Checkpoint();
        var original = File.ReadAllBytes(log.FilePath);
        var rng = new Random(7);
        int caught = 0;
        for (int t = 0; t < 500; t++)
        {
            var bytes = original.ToArray();
            int at = rng.Next(bytes.Length);
            byte replacement = (byte)rng.Next(32, 127);
            if (bytes[at] == replacement || bytes[at] == '\n') continue;
            bytes[at] = replacement;
            File.WriteAllBytes(dir.File("m.log"), bytes);
            var result = AuditLog.Verify(dir.File("m.log"), key);
            if (!result.IsValid) caught++;
        }
        // Every change to a record's bytes is caught except those JSON reads the same way (whitespace is not present, so none).
        Assert.True(caught >= 480, $"{caught} of the mutations caught");
    }
}
