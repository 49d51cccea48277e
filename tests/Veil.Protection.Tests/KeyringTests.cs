namespace Veil.Protection.Tests;

/// <summary>The passphrase keyring: creation, opening, rotation, retirement, rewrapping, and its file's protection.</summary>
public class KeyringTests
{
    internal static readonly Argon2Parameters Cheap = new(1024, 1, 1);
    private const string Pass = "correct horse battery staple";

    [Fact]
    public void CreateOpen_WrongPassphrase_AndAlteredFile()
    {
        using var dir = new Scratch();
        string path = dir.File("ring.vkr");
        string id;
        using (var ring = PassphraseKeyring.Create(path, Pass, Cheap, allowWeakCost: true)) id = ring.Id;
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        using (var again = PassphraseKeyring.Open(path, Pass, allowWeakCost: true))
        {
            Assert.Equal(id, again.Id);
            Assert.Equal(1, again.Primary);
        }
        Assert.Equal(ProtectionError.WrongSecret, Assert.Throws<ProtectionException>(() => PassphraseKeyring.Open(path, "wrong passphrase!!", allowWeakCost: true)).Reason);
        var bytes = File.ReadAllBytes(path);
        bytes[^30] ^= 1;
        File.WriteAllBytes(dir.File("altered.vkr"), bytes);
        Assert.Equal(ProtectionError.WrongSecret, Assert.Throws<ProtectionException>(() => PassphraseKeyring.Open(dir.File("altered.vkr"), Pass, allowWeakCost: true)).Reason);
        // A file asking for a cost below the minimum is refused unless the caller opts out.
        Assert.Equal(ProtectionError.Format, Assert.Throws<ProtectionException>(() => PassphraseKeyring.Open(path, Pass)).Reason);
        Assert.Throws<IOException>(() => PassphraseKeyring.Create(path, Pass, Cheap, allowWeakCost: true));
        Assert.Throws<ArgumentException>(() => PassphraseKeyring.Create(dir.File("short.vkr"), "short", Cheap, allowWeakCost: true));
    }

    [Fact]
    public void Rotation_OldVersionsOpenUntilRetired_RewrapMovesToThePrimary()
    {
        using var dir = new Scratch();
        using var ring = PassphraseKeyring.Create(dir.File("ring.vkr"), Pass, Cheap, allowWeakCost: true);
        var data = new byte[10_000];
        new Random(1).NextBytes(data);
        File.WriteAllBytes(dir.File("data"), data);
        ProtectedStream.EncryptFile(dir.File("data"), dir.File("v1.vp"), [ring]);
        Assert.Equal($"{ring.Id}/v1", ProtectedStream.ReadHeader(File.OpenRead(dir.File("v1.vp"))).WrappedKeys[0].KeyId);
        Assert.Equal(2, ring.Rotate());
        ProtectedStream.EncryptFile(dir.File("data"), dir.File("v2.vp"), [ring]);
        Assert.Equal($"{ring.Id}/v2", ProtectedStream.ReadHeader(File.OpenRead(dir.File("v2.vp"))).WrappedKeys[0].KeyId);
        ProtectedStream.EncryptFile(dir.File("data"), dir.File("v1-copy.vp"), [ring]); // wrapped under v2 too; v1.vp stays on v1
        using (var reopened = PassphraseKeyring.Open(dir.File("ring.vkr"), Pass, allowWeakCost: true))
        {
            Assert.Equal(data, ProtectedStream.Unprotect(File.ReadAllBytes(dir.File("v1.vp")), reopened.Identities));
            Assert.Equal(data, ProtectedStream.Unprotect(File.ReadAllBytes(dir.File("v2.vp")), reopened.Identities));
        }
        var before = File.ReadAllBytes(dir.File("v1.vp"));
        ring.RewrapFile(dir.File("v1.vp"));
        var after = File.ReadAllBytes(dir.File("v1.vp"));
        Assert.Equal($"{ring.Id}/v2", ProtectedStream.ReadHeader(new MemoryStream(after)).WrappedKeys.Single().KeyId);
        Assert.Equal(before[^100..], after[^100..]); // chunks untouched
        Assert.Throws<ArgumentException>(() => ring.Retire(2));
        ring.Retire(1);
        // Retired: an object still wrapped only under v1 no longer opens, with a reason that says so.
        Assert.Equal(ProtectionError.KeyUnavailable, Assert.Throws<ProtectionException>(() => ProtectedStream.Unprotect(before, ring.Identities)).Reason);
        Assert.Equal(data, ProtectedStream.Unprotect(after, ring.Identities));
        using var reopened2 = PassphraseKeyring.Open(dir.File("ring.vkr"), Pass, allowWeakCost: true);
        Assert.Equal([KeyState.Retired, KeyState.Active], reopened2.Versions.Select(v => v.State));
        Assert.Equal(ProtectionError.KeyUnavailable, Assert.Throws<ProtectionException>(() => ProtectedStream.Unprotect(before, reopened2.Identities)).Reason);
    }

    [Fact]
    public void SharingWithARecipient_ByItsPublicKey()
    {
        using var dir = new Scratch();
        using var alice = PassphraseKeyring.Create(dir.File("alice.vkr"), Pass, Cheap, allowWeakCost: true);
        using var bob = PassphraseKeyring.Create(dir.File("bob.vkr"), Pass + "!", Cheap, allowWeakCost: true);
        File.WriteAllBytes(dir.File("data"), [1, 2, 3, 4]);
        ProtectedStream.EncryptFile(dir.File("data"), dir.File("data.vp"), [alice]);
        Assert.Equal(ProtectionError.NoMatchingKey, Assert.Throws<ProtectionException>(() => ProtectedStream.Unprotect(File.ReadAllBytes(dir.File("data.vp")), bob.Identities)).Reason);
        // Bob publishes his public keys; Alice wraps the file's data key for his P-256 key.
        var pem = bob.ExportPublicKeys();
        using var bobPublic = System.Security.Cryptography.ECDiffieHellman.Create();
        bobPublic.ImportFromPem(pem.Split("-----END PUBLIC KEY-----")[0] + "-----END PUBLIC KEY-----");
        alice.WrapFileFor(dir.File("data.vp"), new P256Recipient(bobPublic), "bob");
        Assert.Equal([1, 2, 3, 4], ProtectedStream.Unprotect(File.ReadAllBytes(dir.File("data.vp")), bob.Identities));
        Assert.Equal([1, 2, 3, 4], ProtectedStream.Unprotect(File.ReadAllBytes(dir.File("data.vp")), alice.Identities));
    }
}
