using System.Globalization;
using System.Text.Json;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;

namespace Veil.Cli.Tests;

/// <summary>
/// The two-party workflow as separate OS processes through files: the owner's key generation and encryption, a trainer
/// given only the public context, the owner's decryption. The model must equal the in-process one.
/// </summary>
public class TwoPartyProcessTests
{
    private static string WriteDiabetesCsv(ScratchDirectory dir)
    {
        var data = BuiltinDatasets.Diabetes();
        var lines = new List<string> { string.Join(',', data.FeatureNames.Select(n => n.Replace(' ', '_')).Append("progression")) };
        for (int i = 0; i < data.Rows; i++)
            lines.Add(string.Join(',', data.Features[i].Append(data.Targets[i]).Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        string path = dir.File("diabetes.csv");
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>The owner's protection home: a passphrase keyring at the cheapest accepted Argon2id cost.</summary>
    internal static Dictionary<string, string> OwnerHome(ScratchDirectory dir)
    {
        var env = new Dictionary<string, string> { ["VEIL_HOME"] = dir.File("owner-home"), ["VEIL_PASSPHRASE"] = "owner passphrase, long enough" };
        VeilProcess.OkWith(dir.Path, env, "keys", "init", "--kdf-memory-mib", "19", "--kdf-passes", "2");
        return env;
    }

    [Fact]
    public void OwnerAndTrainer_AsSeparateProcesses_MatchTheInProcessModel()
    {
        using var dir = new ScratchDirectory();
        string csv = WriteDiabetesCsv(dir);
        string[] common = ["--target", "progression", "--model", "linear", "--iterations", "1"];
        var owner = OwnerHome(dir);

        VeilProcess.OkWith(dir.Path, owner, ["keys", "new", "--data", csv, .. common, "--out", "owner.veil", "--public", "public.veil", "--json"]);
        // The owner's file is sealed for its keyring: no secret key in the clear on disk.
        Assert.True(File.ReadAllBytes(dir.File("owner.veil")).AsSpan().StartsWith("VEILPROT"u8));
        VeilProcess.OkWith(dir.Path, owner, ["encrypt", csv, .. common, "--keys", "owner.veil", "--out", "job.veil", "--state", "state.veil", "--json"]);

        // The trainer works in its own folder with the job and the public context only.
        string trainerDir = Directory.CreateDirectory(dir.File("trainer")).FullName;
        File.Copy(dir.File("job.veil"), Path.Combine(trainerDir, "job.veil"));
        File.Copy(dir.File("public.veil"), Path.Combine(trainerDir, "public.veil"));
        VeilProcess.Ok(trainerDir, "train", "--encrypted", "job.veil", "--public-keys", "public.veil", "--out", "weights.veil", "--json");
        File.Copy(Path.Combine(trainerDir, "weights.veil"), dir.File("weights.veil"));

        using var decrypted = JsonDocument.Parse(VeilProcess.OkWith(dir.Path, owner, "decrypt", "weights.veil", "--keys", "owner.veil", "--state", "state.veil", "--test", csv, "--target", "progression", "--json"));
        double intercept = decrypted.RootElement.GetProperty("intercept").GetDouble();
        double[] weights = [.. decrypted.RootElement.GetProperty("weights").EnumerateArray().Select(w => w.GetDouble())];
        double r2 = decrypted.RootElement.GetProperty("value").GetDouble();

        var set = CsvLoader.Load(csv, "progression");
        var inProcess = new EncryptedLinearRegression(new EncryptedModelOptions { GradientDescent = EncryptedLinearRegression.DefaultGradientDescent with { Iterations = 1 } });
        inProcess.Fit(set.Features, set.Targets);
        Assert.Equal(inProcess.Weights.Length, weights.Length);
        Assert.True(Math.Abs(inProcess.Intercept - intercept) < 1e-3, $"intercept {intercept} vs {inProcess.Intercept}");
        for (int i = 0; i < weights.Length; i++) Assert.True(Math.Abs(inProcess.Weights[i] - weights[i]) < 1e-3, $"weight {i}: {weights[i]} vs {inProcess.Weights[i]}");
        Assert.True(Math.Abs(inProcess.Score(set.Features, set.Targets) - r2) < 1e-3, $"r2 {r2}");
        Assert.True(r2 > 0.3, $"one iteration should already explain part of the variance; r2 = {r2}");
    }

    [Fact]
    public void EachPartyRefusesTheOtherPartysFiles_AndDamagedFiles()
    {
        using var dir = new ScratchDirectory();
        string csv = WriteDiabetesCsv(dir);
        string[] common = ["--target", "progression", "--model", "linear", "--iterations", "1"];
        var plain = VeilProcess.RunWith(dir.Path, null, ["keys", "new", "--data", csv, .. common, "--out", "owner.veil", "--public", "public.veil", "--plaintext-secret"]);
        Assert.Equal(0, plain.ExitCode);
        Assert.Contains("warning", plain.Stderr); // a secret key in the clear is said out loud
        // Without --plaintext-secret and without a keyring, no secret file is written.
        var noKeyring = VeilProcess.Run(dir.Path, ["keys", "new", "--data", csv, .. common, "--out", "owner2.veil", "--public", "public2.veil"]);
        Assert.NotEqual(0, noKeyring.ExitCode);
        Assert.False(File.Exists(dir.File("owner2.veil")));
        VeilProcess.Ok(dir.Path, ["encrypt", csv, .. common, "--keys", "owner.veil", "--out", "job.veil", "--state", "state.veil"]);

        // The trainer must not be handed the secret key, nor the owner encrypt with public keys only.
        var secretToTrainer = VeilProcess.Run(dir.Path, "train", "--encrypted", "job.veil", "--public-keys", "owner.veil", "--out", "w.veil");
        Assert.Equal(2, secretToTrainer.ExitCode);
        Assert.Contains("secret key", secretToTrainer.Stderr);
        var publicEncrypt = VeilProcess.Run(dir.Path, ["encrypt", csv, .. common, "--keys", "public.veil", "--out", "j2.veil", "--state", "s2.veil"]);
        Assert.Equal(2, publicEncrypt.ExitCode);
        Assert.False(File.Exists(dir.File("j2.veil")));

        // A truncated job is a typed failure (exit 1) naming the problem, not a crash. (Ciphertexts carry no MAC:
        // a flipped coefficient below q is still a ciphertext; integrity in transit belongs to the protection layer.)
        byte[] job = File.ReadAllBytes(dir.File("job.veil"));
        File.WriteAllBytes(dir.File("bad.veil"), job[..(job.Length - 1000)]);
        var damaged = VeilProcess.Run(dir.Path, "train", "--encrypted", "bad.veil", "--public-keys", "public.veil", "--out", "w.veil");
        Assert.Equal(1, damaged.ExitCode);
        Assert.StartsWith("veil: ", damaged.Stderr);
        Assert.DoesNotContain("   at ", damaged.Stderr);
        Assert.False(File.Exists(dir.File("w.veil")));
    }
}
