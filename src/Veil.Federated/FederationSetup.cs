using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Veil.Ml.Data;
using Veil.Protection;

namespace Veil.Federated;

/// <summary>How rows are dealt to participants.</summary>
public enum SplitKind
{
    /// <summary>Shuffled, equal shares.</summary>
    Iid,
    /// <summary>Sorted by label (by target for regression), then cut into contiguous shares: each participant sees few labels.</summary>
    LabelSkew,
}

/// <summary>
/// Sets a federation up in one folder, as the members would each on their own machine: a keyring (passphrase,
/// Argon2id) and a TLS certificate per participant, a certificate for the coordinator, and the federation file that
/// lists their pins and dealing keys. <c>participant-i/</c> holds what participant i keeps; <c>coordinator/</c> the
/// coordinator's; <c>federation.json</c> is what they all share.
/// </summary>
public static class FederationSetup
{
    /// <summary>The federation file's name in the folder.</summary>
    public const string FileName = "federation.json";

    /// <summary>Folder of participant <paramref name="index"/>.</summary>
    public static string ParticipantDirectory(string directory, int index) => Path.Combine(directory, $"participant-{index}");
    /// <summary>Folder of the coordinator.</summary>
    public static string CoordinatorDirectory(string directory) => Path.Combine(directory, "coordinator");

    /// <summary>Creates the members' keys and certificates and writes the federation file from <paramref name="template"/> (its members and coordinator pin are filled in).</summary>
    /// <param name="directory">An empty or missing folder.</param>
    /// <param name="template">The settings; <see cref="FederationSettings.Members"/> and <see cref="FederationSettings.CoordinatorPin"/> are replaced.</param>
    /// <param name="participants">n.</param>
    /// <param name="passphrase">Participant i's keyring and certificate file open with this passphrase and "-i".</param>
    /// <param name="cost">Argon2id cost of the keyrings (tests and demos pass the minimum with <paramref name="allowWeakCost"/>).</param>
    /// <param name="allowWeakCost">Allows a cost below the default, visibly.</param>
    public static (FederationSettings Settings, byte[] Id) Create(string directory, FederationSettings template, int participants, string passphrase, Argon2Parameters? cost = null, bool allowWeakCost = false)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentException.ThrowIfNullOrWhiteSpace(passphrase);
        if (participants < 2 || participants > 64) throw new ArgumentOutOfRangeException(nameof(participants), "2 … 64 participants.");
        Directory.CreateDirectory(directory);
        var members = new List<FederationMember>();
        for (int i = 0; i < participants; i++)
        {
            string dir = ParticipantDirectory(directory, i);
            Directory.CreateDirectory(dir);
            string pass = PassphraseOf(passphrase, i);
            using var keyring = PassphraseKeyring.Create(Path.Combine(dir, "keyring.vkr"), pass, cost, allowWeakCost);
            using var cert = Tls.CreateDevelopmentCertificate($"veil-participant-{i}");
            File.WriteAllBytes(Path.Combine(dir, "tls.pfx"), cert.Export(X509ContentType.Pkcs12, pass));
            members.Add(new FederationMember($"participant-{i}", Tls.Pin(cert), FederationParticipant.DealingKeyOf(keyring)));
        }
        string cdir = CoordinatorDirectory(directory);
        Directory.CreateDirectory(cdir);
        using var coordinatorCert = Tls.CreateDevelopmentCertificate("veil-coordinator");
        File.WriteAllBytes(Path.Combine(cdir, "tls.pfx"), coordinatorCert.Export(X509ContentType.Pkcs12, passphrase));
        var settings = template with { Members = members, CoordinatorPin = Tls.Pin(coordinatorCert) };
        var bytes = FederationFile.Serialize(settings);
        File.WriteAllBytes(Path.Combine(directory, FileName), bytes);
        return FederationFile.Parse(bytes);
    }

    /// <summary>Participant i's passphrase from the setup's.</summary>
    public static string PassphraseOf(string passphrase, int index) => $"{passphrase}-{index}";

    /// <summary>A certificate with its private key from a PKCS#12 file.</summary>
    public static X509Certificate2 LoadCertificate(string path, string password) => X509CertificateLoader.LoadPkcs12FromFile(path, password);

    /// <summary>Participant i's keyring.</summary>
    public static PassphraseKeyring OpenKeyring(string directory, int index, string passphrase, bool allowWeakCost = false) =>
        PassphraseKeyring.Open(Path.Combine(ParticipantDirectory(directory, index), "keyring.vkr"), PassphraseOf(passphrase, index), allowWeakCost);

    /// <summary>Rows dealt to <paramref name="participants"/> (every share non-empty).</summary>
    public static Dataset[] Split(Dataset data, int participants, SplitKind kind, int seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (participants < 1 || participants > data.Rows) throw new ArgumentOutOfRangeException(nameof(participants), "Each participant needs at least one row.");
        var order = Enumerable.Range(0, data.Rows).ToArray();
        new Random(seed).Shuffle(order);
        if (kind == SplitKind.LabelSkew) order = [.. order.OrderBy(i => data.Targets[i])];
        var result = new Dataset[participants];
        for (int p = 0; p < participants; p++)
        {
            int from = (int)((long)data.Rows * p / participants), to = (int)((long)data.Rows * (p + 1) / participants);
            result[p] = data.Subset(order.AsSpan(from, to - from));
        }
        return result;
    }

    /// <summary>Writes rows as CSV (header: the feature names, then the target's), numbers in invariant culture, round-trip precision.</summary>
    public static void WriteCsv(Dataset data, string path)
    {
        ArgumentNullException.ThrowIfNull(data);
        var sb = new StringBuilder();
        sb.AppendJoin(',', data.FeatureNames.Append(data.TargetName).Select(Quote)).Append('\n');
        for (int i = 0; i < data.Rows; i++)
        {
            sb.AppendJoin(',', data.Features[i].Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
            sb.Append(',').Append(data.Targets[i].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
        File.WriteAllText(path, sb.ToString());
    }

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}
