using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;

namespace Veil.Cli;

/// <summary>
/// The two-party training workflow across separate processes, through files: the owner makes keys and encrypts, a
/// trainer holding only the public keys trains, the owner decrypts. Each command only parses, calls
/// <see cref="TwoPartyTraining"/> and prints.
/// </summary>
internal static class TwoPartyCommands
{
    /// <summary>veil keys new: the owner's keys, sized for a training job on DATA.</summary>
    public static int KeysNew(string data, string target, string model, int? iterations, double? learningRate, string ownerPath, string publicPath,
        bool plaintextSecret, string? home, string? passphraseFile, bool json)
    {
        var kind = Kind(model);
        var set = Load(data, target, kind);
        var options = Options(kind, iterations, learningRate);
        var parameters = CkksParameters.Create(TwoPartyTraining.ParametersFor(set.Rows, set.Features[0].Length, kind, options));
        // The keyring first: without one (and without --plaintext-secret) nothing is generated or written.
        using var protection = plaintextSecret ? null : ProtectionCommands.OpenHome(home, passphraseFile);
        using var owner = CkksContext.Create(parameters, TwoPartyTraining.RequiredRotations(set.Features[0].Length, parameters.Slots));
        if (protection is null)
        {
            Console.Error.WriteLine($"veil: warning: {ownerPath} holds the secret key in the clear (--plaintext-secret): anyone who reads it can decrypt everything.");
            File.WriteAllBytes(ownerPath, owner.SavePrivateUnprotected());
        }
        else File.WriteAllBytes(ownerPath, owner.SavePrivate(protection.SecretProtector));
        File.WriteAllBytes(publicPath, owner.SavePublic());
        Report(json, new { command = "keys new", owner = ownerPath, @public = publicPath, n = parameters.N, levels = parameters.MaxLevel, log_qp = parameters.Ring.LogQP,
            security_bits = (int)parameters.Ring.Security, public_bytes = new FileInfo(publicPath).Length },
            $"keys for {set.Rows} rows × {set.Features[0].Length} features, {options.Iterations} {model} iterations: N = {parameters.N}, {parameters.MaxLevel} levels, " +
            $"{(int)parameters.Ring.Security}-bit. Private context ({(plaintextSecret ? "secret key IN THE CLEAR" : "sealed for your keyring")}) → {ownerPath}; public context → {publicPath}.");
        return 0;
    }

    /// <summary>veil encrypt: the owner's data, preprocessed and encrypted into a job for the trainer, and its private state.</summary>
    public static int Encrypt(string data, string target, string model, int? iterations, double? learningRate, string keysPath, string jobPath, string statePath,
        string? home, string? passphraseFile, bool json)
    {
        var kind = Kind(model);
        var set = Load(data, target, kind);
        using var owner = LoadOwner(keysPath, home, passphraseFile);
        if (owner.IsPublic) throw new UsageException($"{keysPath} is a public context; encrypting for training needs the owner's private one.");
        var (job, state) = TwoPartyTraining.Prepare(owner, set.Features, set.Targets, kind, Options(kind, iterations, learningRate));
        File.WriteAllBytes(jobPath, job.Save());
        File.WriteAllBytes(statePath, state.Save());
        Report(json, new { command = "encrypt", job = jobPath, state = statePath, rows = set.Rows, features = set.Features[0].Length, ciphertexts = job.Data.Features.Count * 2 },
            $"{set.Rows} rows encrypted into {job.Data.Features.Count * 2} ciphertexts → {jobPath}; the preprocessing stays with you → {statePath}.");
        return 0;
    }

    /// <summary>veil train --encrypted: the trainer's step, with the public context only.</summary>
    public static int Train(string jobPath, string publicPath, string weightsPath, bool json)
    {
        var trainer = CkksContext.Load(File.ReadAllBytes(publicPath));
        if (!trainer.IsPublic) throw new UsageException($"{publicPath} holds a secret key; the trainer must get the public context only.");
        var job = TrainingJob.Load(trainer, File.ReadAllBytes(jobPath));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var weights = TwoPartyTraining.Train(trainer, job);
        File.WriteAllBytes(weightsPath, weights.Save());
        Report(json, new { command = "train", weights = weightsPath, model = job.Kind.ToString().ToLowerInvariant(), iterations = job.Options.Iterations, seconds = clock.Elapsed.TotalSeconds },
            $"trained {job.Options.Iterations} {job.Kind.ToString().ToLowerInvariant()} iterations on ciphertexts in {clock.Elapsed.TotalSeconds:F1} s → {weightsPath}.");
        return 0;
    }

    /// <summary>veil decrypt: the owner decrypts the trained model (for itself) and, given test data, scores it.</summary>
    public static int Decrypt(string weightsPath, string keysPath, string statePath, string? testData, string? target, string? home, string? passphraseFile, bool json)
    {
        using var owner = LoadOwner(keysPath, home, passphraseFile);
        if (owner.IsPublic) throw new UsageException($"{keysPath} is a public context: only the owner's private one decrypts.");
        var state = TrainingOwnerState.Load(File.ReadAllBytes(statePath));
        var model = TwoPartyTraining.Finish(owner, state, EncryptedModelWeights.Load(owner, File.ReadAllBytes(weightsPath)));
        double? metric = null;
        string metricName = state.Kind == GradientModelKind.Logistic ? "accuracy" : "r2";
        if (testData is not null)
        {
            if (target is null) throw new UsageException("--test needs --target.");
            var test = Load(testData, target, state.Kind);
            metric = model is EncryptedLogisticRegression l ? l.Score(test.Features, test.Targets) : ((EncryptedLinearRegression)model).Score(test.Features, test.Targets);
        }
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { command = "decrypt", model = state.Kind.ToString().ToLowerInvariant(), intercept = model.Intercept, weights = model.Weights, metric = metricName, value = metric }));
            return 0;
        }
        AnsiConsole.WriteLine($"{state.Kind.ToString().ToLowerInvariant()} model (standardized features): intercept {model.Intercept.ToString("G6", CultureInfo.InvariantCulture)}, " +
            $"weights [{string.Join(", ", model.Weights.Select(w => w.ToString("G4", CultureInfo.InvariantCulture)))}]");
        if (metric is { } m) AnsiConsole.WriteLine($"{metricName} on {testData}: {m.ToString("F4", CultureInfo.InvariantCulture)}");
        return 0;
    }

    /// <summary>The owner's private context: opened with the keyring when sealed, read as it is otherwise.</summary>
    private static CkksContext LoadOwner(string path, string? home, string? passphraseFile)
    {
        var bytes = File.ReadAllBytes(path);
        if (!Veil.Protection.ProtectedStream.IsProtected(bytes)) return CkksContext.Load(bytes);
        using var protection = ProtectionCommands.OpenHome(home, passphraseFile);
        return CkksContext.Load(bytes, protection.SecretProtector);
    }

    private static GradientModelKind Kind(string model) => model switch
    {
        "linear" => GradientModelKind.Linear,
        "logistic" => GradientModelKind.Logistic,
        _ => throw new UsageException($"--model must be linear or logistic for the two-party workflow; got '{model}'."),
    };

    private static GradientDescentOptions Options(GradientModelKind kind, int? iterations, double? learningRate)
    {
        var defaults = kind == GradientModelKind.Logistic ? EncryptedLogisticRegression.DefaultGradientDescent : EncryptedLinearRegression.DefaultGradientDescent;
        return defaults with { Iterations = iterations ?? defaults.Iterations, LearningRate = learningRate ?? defaults.LearningRate };
    }

    private static Dataset Load(string path, string target, GradientModelKind kind)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.");
        return kind == GradientModelKind.Logistic ? CsvLoader.LoadForClassification(path, target) : CsvLoader.Load(path, target);
    }

    private static void Report(bool json, object value, string text)
    {
        if (json) Console.WriteLine(JsonSerializer.Serialize(value));
        else AnsiConsole.WriteLine(text);
    }
}
