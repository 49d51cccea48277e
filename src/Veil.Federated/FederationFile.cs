using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Veil.Federated;

/// <summary>How the coordinator sums the participants' vectors.</summary>
public enum AggregationMode
{
    /// <summary>Ciphertexts under one collective CKKS key; any t participants decrypt the sum together, each share flooded.</summary>
    Threshold,
    /// <summary>Vectors in the clear: the baseline, which shows every update to the coordinator.</summary>
    Plaintext,
    /// <summary>PPFLHE's scheme: Paillier (3072 bits) under one key authority, participant 0, which alone decrypts sums (no threshold: without it nothing is decrypted).</summary>
    Paillier,
}

/// <summary>The model every participant trains locally.</summary>
public enum FederatedModelKind
{
    /// <summary>Linear regression (mean squared error).</summary>
    Linear,
    /// <summary>Binary logistic regression (labels 0 and 1).</summary>
    Logistic,
    /// <summary>One logistic head per class (labels 0 … c − 1); the largest score wins.</summary>
    OneVsRest,
    /// <summary>A layered network: dense, square activation, dense, softmax over c classes (Veil.Ml's square MLP, which also runs encrypted).</summary>
    Mlp,
}

/// <summary>DP-FedAvg (McMahan et al. 2018): each update clipped to <see cref="ClipNorm"/>, the sum carrying Gaussian noise of deviation σ·C, participant-level (ε, δ).</summary>
public sealed record DifferentialPrivacySettings
{
    /// <summary>σ: the noise deviation on the sum ÷ the clip norm.</summary>
    public double NoiseMultiplier { get; init; } = 1.0;
    /// <summary>C: the L2 bound of one participant's update.</summary>
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>δ.</summary>
    public double Delta { get; init; } = 1e-5;
    /// <summary>Training stops before a round that would take ε past this (null: no budget).</summary>
    public double? EpsilonBudget { get; init; }
}

/// <summary>A participant as the federation file names it: its TLS key's pin and the P-256 key its threshold dealings are sealed for.</summary>
public sealed record FederationMember(string Name, string CertificatePin, string DealingKey);

/// <summary>
/// What every party of a federation agrees to before it starts, written once and handed to each of them out of band:
/// the members and their keys, the threshold, the model and how it is trained. The SHA-256 of the file's bytes names the
/// federation in every message, so that a party holding another file (another federation, other rules) is refused.
/// </summary>
public sealed record FederationSettings
{
    /// <summary>The federation's name (the collective key's label).</summary>
    public string Name { get; init; } = "federation";
    /// <summary>The pin of the coordinator's TLS key.</summary>
    public string CoordinatorPin { get; init; } = "";
    /// <summary>The participants, in order (participant i is index i).</summary>
    public IReadOnlyList<FederationMember> Members { get; init; } = [];
    /// <summary>t: participants needed to decrypt a sum, and to complete a round.</summary>
    public int Threshold { get; init; } = 2;
    /// <summary>How sums are formed.</summary>
    public AggregationMode Aggregation { get; init; } = AggregationMode.Threshold;
    /// <summary>The model.</summary>
    public FederatedModelKind Model { get; init; } = FederatedModelKind.Logistic;
    /// <summary>Features of every participant's rows (the target excluded).</summary>
    public int Features { get; init; }
    /// <summary>Classes (one-vs-rest); 0 otherwise.</summary>
    public int Classes { get; init; }
    /// <summary>Hidden units of an MLP (0 for other models).</summary>
    public int Hidden { get; init; }
    /// <summary>FedAvg rounds.</summary>
    public int Rounds { get; init; } = 10;
    /// <summary>Full-batch gradient steps each participant takes per round.</summary>
    public int LocalSteps { get; init; } = 5;
    /// <summary>The local learning rate.</summary>
    public double LearningRate { get; init; } = 0.5;
    /// <summary>FedProx's μ (0: plain FedAvg).</summary>
    public double ProximalMu { get; init; }
    /// <summary>SCAFFOLD (Karimireddy et al. 2020, control variates from full gradients): each round first sums the
    /// participants' gradients at the global model, and every local step is corrected by the global minus the local one,
    /// which removes the drift of many local steps on skewed splits. It costs a second secure sum per round.</summary>
    public bool Scaffold { get; init; }
    /// <summary>Without DP: the L2 bound each update is clipped to (0: none).</summary>
    public double ClipNorm { get; init; } = 100;
    /// <summary>DP-FedAvg; null trains without it (updates weighted by sample counts).</summary>
    public DifferentialPrivacySettings? Privacy { get; init; }
    /// <summary>How long the coordinator waits for one phase's answers before it goes on with those it has.</summary>
    public double PhaseTimeoutSeconds { get; init; } = 60;
    /// <summary>Attempts of one round (a new attempt when fewer than t answer) before training stops.</summary>
    public int MaxAttempts { get; init; } = 5;
    /// <summary>log2 of the ring degree of the collective key (13 or 14).</summary>
    public int LogN { get; init; } = 13;

    /// <summary>Participants.</summary>
    [JsonIgnore] public int Participants => Members.Count;

    /// <summary>Checks every field; a message names the one at fault.</summary>
    /// <exception cref="FederationConfigurationException">A field is out of range.</exception>
    public void Validate()
    {
        static void Fail(string field, string message) => throw new FederationConfigurationException(field, message);
        if (string.IsNullOrWhiteSpace(Name) || Name.Length > 200) Fail("name", "The name must be 1 to 200 characters.");
        if (Members is null || Members.Count < 2 || Members.Count > 64) Fail("members", "A federation has 2 to 64 participants.");
        var names = new HashSet<string>(StringComparer.Ordinal);
        var pins = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in Members!)
        {
            if (m is null || string.IsNullOrWhiteSpace(m.Name) || m.Name.Length > 100 || !names.Add(m.Name)) Fail("members", "Every participant needs a distinct name of 1 to 100 characters.");
            if (!IsPin(m!.CertificatePin) || !pins.Add(m.CertificatePin)) Fail("members", $"Participant {m.Name}: the certificate pin must be a distinct base64 SHA-256.");
            if (string.IsNullOrWhiteSpace(m.DealingKey) || m.DealingKey.Length > 4096) Fail("members", $"Participant {m.Name}: the dealing key must be a PEM public key.");
        }
        if (!IsPin(CoordinatorPin)) Fail("coordinatorPin", "The coordinator's pin must be a base64 SHA-256.");
        if (Threshold < 1 || Threshold > Members.Count) Fail("threshold", $"The threshold must be 1 … {Members.Count}.");
        if (!Enum.IsDefined(Aggregation)) Fail("aggregation", "Unknown aggregation mode.");
        if (!Enum.IsDefined(Model)) Fail("model", "Unknown model.");
        if (Features < 1 || Features > 100_000) Fail("features", "1 … 100,000 features.");
        if (Model is FederatedModelKind.OneVsRest or FederatedModelKind.Mlp ? Classes < 2 || Classes > 1000 : Classes != 0) Fail("classes", "One-vs-rest and MLPs take 2 … 1,000 classes; other models 0.");
        if (Model == FederatedModelKind.Mlp ? Hidden < 1 || Hidden > 1024 : Hidden != 0) Fail("hidden", "An MLP has 1 … 1,024 hidden units; other models 0.");
        if (Rounds < 1 || Rounds > 100_000) Fail("rounds", "1 … 100,000 rounds.");
        if (LocalSteps < 1 || LocalSteps > 10_000) Fail("localSteps", "1 … 10,000 local steps.");
        if (!(LearningRate > 0 && LearningRate <= 100)) Fail("learningRate", "The learning rate must be in (0, 100].");
        if (!(ProximalMu >= 0 && ProximalMu <= 100)) Fail("proximalMu", "μ must be in [0, 100].");
        if (!(ClipNorm >= 0 && ClipNorm <= 1e6)) Fail("clipNorm", "The clip norm must be in [0, 10^6].");
        if (Scaffold && Privacy is not null) Fail("scaffold", "SCAFFOLD's gradient sums are not covered by the DP accountant; use one or the other.");
        if (Privacy is { } dp)
        {
            if (!(dp.NoiseMultiplier > 0 && dp.NoiseMultiplier <= 1e4)) Fail("privacy.noiseMultiplier", "σ must be in (0, 10^4].");
            if (!(dp.ClipNorm > 0 && dp.ClipNorm <= 1e6)) Fail("privacy.clipNorm", "C must be in (0, 10^6].");
            if (!(dp.Delta > 0 && dp.Delta < 1)) Fail("privacy.delta", "δ must be in (0, 1).");
            if (dp.EpsilonBudget is { } e && !(e > 0)) Fail("privacy.epsilonBudget", "The budget must be positive.");
        }
        if (!(PhaseTimeoutSeconds >= 0.5 && PhaseTimeoutSeconds <= 86_400)) Fail("phaseTimeoutSeconds", "0.5 s … 1 day.");
        if (MaxAttempts < 1 || MaxAttempts > 100) Fail("maxAttempts", "1 … 100 attempts.");
        if (LogN is not (13 or 14)) Fail("logN", "logN is 13 or 14.");
    }

    private static bool IsPin(string? pin)
    {
        if (pin is null || pin.Length != 44) return false;
        Span<byte> b = stackalloc byte[33];
        return Convert.TryFromBase64String(pin, b, out int n) && n == 32;
    }
}

/// <summary>A federation file or setting that cannot be used; <see cref="Field"/> names what is wrong.</summary>
public sealed class FederationConfigurationException(string field, string message) : Exception($"{field}: {message}")
{
    /// <summary>The field at fault.</summary>
    public string Field { get; } = field;
}

/// <summary>Reads and writes federation files (JSON) and names a federation by the SHA-256 of its file.</summary>
public static class FederationFile
{
    /// <summary>Largest federation file read (members' keys included).</summary>
    public const int MaxBytes = 1 << 20;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        MaxDepth = 8,
    };

    /// <summary>The file's bytes for <paramref name="settings"/> (validated first).</summary>
    public static byte[] Serialize(FederationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        return JsonSerializer.SerializeToUtf8Bytes(settings, Json);
    }

    /// <summary>Parses and validates a federation file; the id is SHA-256 of exactly these bytes.</summary>
    /// <exception cref="FederationConfigurationException">Malformed JSON, an unknown field, or a field out of range.</exception>
    public static (FederationSettings Settings, byte[] Id) Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > MaxBytes) throw new FederationConfigurationException("file", $"A federation file is at most {MaxBytes} bytes; this one is {bytes.Length}.");
        FederationSettings? settings;
        try { settings = JsonSerializer.Deserialize<FederationSettings>(bytes, Json); }
        catch (JsonException e) { throw new FederationConfigurationException(e.Path ?? "file", $"Not a federation file: {e.Message}"); }
        if (settings is null) throw new FederationConfigurationException("file", "The file holds null.");
        settings.Validate();
        return (settings, SHA256.HashData(bytes));
    }

    /// <summary>Reads and parses a federation file.</summary>
    public static (FederationSettings Settings, byte[] Id) Load(string path)
    {
        var info = new FileInfo(path);
        if (info.Exists && info.Length > MaxBytes) throw new FederationConfigurationException("file", $"{path} is larger than {MaxBytes} bytes.");
        return Parse(File.ReadAllBytes(path));
    }
}
