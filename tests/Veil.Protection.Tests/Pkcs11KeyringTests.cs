using System.Diagnostics;

namespace Veil.Protection.Tests;

/// <summary>
/// A SoftHSM2 token of its own in a scratch folder (softhsm2-util --init-token), or the reason it cannot be made:
/// without the module the PKCS#11 tests are reported as skipped, with that reason, never passed.
/// </summary>
public sealed class SoftHsmToken : IDisposable
{
    public const string Pin = "123456", Label = "veil-test";
    public static readonly string[] Modules = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"];
    private readonly string _dir = Directory.CreateTempSubdirectory("veil-softhsm-").FullName;

    public SoftHsmToken()
    {
        Module = Modules.FirstOrDefault(System.IO.File.Exists);
        if (Module is null) { Problem = "SoftHSM2 is not installed (apt-get install softhsm2); the PKCS#11 keyring tests did not run."; return; }
        Directory.CreateDirectory(Path.Combine(_dir, "tokens"));
        string conf = Path.Combine(_dir, "softhsm2.conf");
        System.IO.File.WriteAllText(conf, $"directories.tokendir = {Path.Combine(_dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n");
        // The module reads its configuration from the native environment when it is initialised, in this process too
        // (Environment.SetEnvironmentVariable changes only the managed copy on Unix).
        if (setenv("SOFTHSM2_CONF", conf, 1) != 0) { Problem = "setenv(SOFTHSM2_CONF) failed."; return; }
        var start = new ProcessStartInfo("softhsm2-util", ["--init-token", "--free", "--label", Label, "--pin", Pin, "--so-pin", "654321"])
        { RedirectStandardOutput = true, RedirectStandardError = true, Environment = { ["SOFTHSM2_CONF"] = conf } };
        try
        {
            using var p = Process.Start(start)!;
            string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) Problem = $"softhsm2-util --init-token failed: {err}";
        }
        catch (System.ComponentModel.Win32Exception e) { Problem = $"softhsm2-util is missing: {e.Message}"; }
    }

    [System.Runtime.InteropServices.DllImport("libc", CharSet = System.Runtime.InteropServices.CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);

    public string? Module { get; }
    public string? Problem { get; }
    public string File(string name) => Path.Combine(_dir, name);
    public void Dispose() { try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } }
}

/// <summary>The HSM-backed keyring against a real PKCS#11 module (SoftHSM2).</summary>
public class Pkcs11KeyringTests(SoftHsmToken token) : IClassFixture<SoftHsmToken>
{
    [SkippableFact]
    public void CreateWrapUnwrapRotate_WithKeysThatNeverLeaveTheToken()
    {
        // CI sets VEIL_REQUIRE_SOFTHSM: there a missing module is a failure, not a skip.
        if (token.Problem is not null && Environment.GetEnvironmentVariable("VEIL_REQUIRE_SOFTHSM") == "1") Assert.Fail(token.Problem);
        Skip.If(token.Problem is not null, token.Problem);
        string path = token.File($"ring-{Guid.NewGuid():N}.vkr");
        var data = new byte[70_000];
        new Random(1).NextBytes(data);
        byte[] v1Sealed, v2Sealed;
        using (var ring = Pkcs11Keyring.Create(path, token.Module!, SoftHsmToken.Label, SoftHsmToken.Pin))
        {
            Assert.True(ring.IsKeyProtectedOnToken(1));
            v1Sealed = ProtectedStream.Protect(data, [ring]);
            Assert.Equal(data, ProtectedStream.Unprotect(v1Sealed, ring.Identities));
            Assert.Equal(2, ring.Rotate());
            Assert.True(ring.IsKeyProtectedOnToken(2));
            v2Sealed = ProtectedStream.Protect(data, [ring]);
        }
        using (var reopened = Pkcs11Keyring.Open(path, SoftHsmToken.Pin))
        {
            Assert.Equal(2, reopened.Primary);
            Assert.Equal(data, ProtectedStream.Unprotect(v1Sealed, reopened.Identities));
            Assert.Equal(data, ProtectedStream.Unprotect(v2Sealed, reopened.Identities));
            File.WriteAllBytes(token.File("v1.vp"), v1Sealed);
            reopened.RewrapFile(token.File("v1.vp"));
            reopened.Retire(1);
            Assert.Equal(ProtectionError.KeyUnavailable, Assert.Throws<ProtectionException>(() => ProtectedStream.Unprotect(v1Sealed, reopened.Identities)).Reason);
            Assert.Equal(data, ProtectedStream.Unprotect(File.ReadAllBytes(token.File("v1.vp")), reopened.Identities));
        }
        Assert.Equal(ProtectionError.WrongSecret, Assert.Throws<ProtectionException>(() => Pkcs11Keyring.Open(path, "000000")).Reason);
        var altered = File.ReadAllBytes(path);
        altered[^5] ^= 1;
        File.WriteAllBytes(path + ".bad", altered);
        Assert.Equal(ProtectionError.HeaderTampered, Assert.Throws<ProtectionException>(() => Pkcs11Keyring.Open(path + ".bad", SoftHsmToken.Pin)).Reason);
    }
}
