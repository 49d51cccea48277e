using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Veil.Protection;

/// <summary>Where security events go: key creation, rotation, wrapping for a recipient, decryption, deployment.</summary>
public interface IAuditSink
{
    /// <summary>Records one event.</summary>
    /// <param name="action">What happened ("key.create", "data.protect", "secret.open", …).</param>
    /// <param name="subject">What it happened to (a keyring, a file, a model).</param>
    /// <param name="details">Further fields (no secrets).</param>
    void Record(string action, string subject, Dictionary<string, string>? details = null);
}

/// <summary>One record of an <see cref="AuditLog"/>.</summary>
public sealed record AuditRecord(long Sequence, DateTimeOffset Time, string Actor, string Action, string Subject,
    IReadOnlyDictionary<string, string> Details, string PreviousHash, string Hash);

/// <summary>What <see cref="AuditLog.Verify"/> found.</summary>
/// <param name="Records">Records read.</param>
/// <param name="SignedThrough">Sequence number of the last record covered by a valid signed checkpoint, or −1.</param>
/// <param name="Problem">The first problem found (the record number and what is wrong), or null when the log is intact.</param>
public sealed record AuditVerification(long Records, long SignedThrough, string? Problem)
{
    /// <summary>No edited, deleted, reordered or inserted record and every checkpoint signature valid.</summary>
    public bool IsValid => Problem is null;
}

/// <summary>
/// An append-only, hash-chained log of security events in a file (JSON Lines), with signed checkpoints.
/// </summary>
/// <remarks>
/// <para>Record n: {"seq", "time", "actor", "action", "subject", "details", "prev", "hash"} with prev the hash of record
/// n − 1 (64 zeros for the first) and hash = SHA-256 of the record's canonical JSON without "hash". Editing a record
/// breaks its hash, deleting one breaks the next record's prev, reordering breaks the sequence. Every
/// <see cref="CheckpointInterval"/> records (and on <see cref="Checkpoint"/>) an "audit.checkpoint" record carries an
/// ECDSA P-256 signature over "veil-audit/checkpoint/v1" ‖ prev ‖ seq, so that rewriting the whole chain needs the
/// signing key. A cut after the last checkpoint leaves a valid shorter log: keep <see cref="Head"/> elsewhere (or
/// checkpoint after each session) to detect it.</para>
/// <para>Appends from several processes are serialized by an exclusive open of the file.</para>
/// </remarks>
public sealed class AuditLog : IAuditSink
{
    private static readonly string Zero = new('0', 64);
    private readonly string _path;
    private readonly ECDsa? _signer;
    private readonly Lock _gate = new();
    private long _sinceCheckpoint;

    /// <summary>A log in <paramref name="path"/> (created when missing), signing checkpoints with <paramref name="signer"/> when given.</summary>
    public AuditLog(string path, ECDsa? signer = null, string? actor = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        _path = Path.GetFullPath(path);
        _signer = signer;
        Actor = actor ?? Environment.UserName;
    }

    /// <summary>Who the records name as acting.</summary>
    public string Actor { get; }

    /// <summary>Records between automatic checkpoints (default 64).</summary>
    public int CheckpointInterval { get; init; } = 64;

    /// <summary>The file.</summary>
    public string FilePath => _path;

    /// <inheritdoc/>
    public void Record(string action, string subject, Dictionary<string, string>? details = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(action);
        ArgumentNullException.ThrowIfNull(subject);
        lock (_gate)
        {
            Append(action, subject, details ?? []);
            if (_signer is not null && ++_sinceCheckpoint >= CheckpointInterval) Checkpoint();
        }
    }

    /// <summary>Appends a signed checkpoint covering every record so far (no-op without a signer).</summary>
    public void Checkpoint()
    {
        if (_signer is null) return;
        lock (_gate)
        {
            Append("audit.checkpoint", "audit-log", null);
            _sinceCheckpoint = 0;
        }
    }

    /// <summary>The sequence number and hash of the last record (keep them elsewhere to detect a cut tail).</summary>
    public (long Sequence, string Hash) Head()
    {
        using var file = OpenExclusive(FileMode.OpenOrCreate, FileAccess.Read);
        return LastRecord(file);
    }

    private void Append(string action, string subject, Dictionary<string, string>? details)
    {
        using var file = OpenExclusive(FileMode.OpenOrCreate, FileAccess.ReadWrite);
        var (lastSeq, lastHash) = LastRecord(file);
        long seq = lastSeq + 1;
        var time = DateTimeOffset.UtcNow;
        if (details is null)
        {
            // A checkpoint: the signature covers the chain head it follows and its own sequence number.
            var message = Encoding.ASCII.GetBytes($"veil-audit/checkpoint/v1\n{lastHash}\n{seq}");
            details = new()
            {
                ["signer"] = Convert.ToHexStringLower(SHA256.HashData(_signer!.ExportSubjectPublicKeyInfo())[..16]),
                ["signature"] = Convert.ToBase64String(_signer.SignData(message, HashAlgorithmName.SHA256)),
            };
        }
        var body = Canonical(seq, time, Actor, action, subject, details, lastHash);
        string hash = Convert.ToHexStringLower(SHA256.HashData(body));
        var line = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body)[..^1] + ",\"hash\":\"" + hash + "\"}\n");
        file.Seek(0, SeekOrigin.End);
        file.Write(line);
        file.Flush(flushToDisk: true);
    }

    private FileStream OpenExclusive(FileMode mode, FileAccess access)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        for (int attempt = 0; ; attempt++)
        {
            try { return new FileStream(_path, mode, access, FileShare.None); }
            catch (IOException) when (attempt < 200) { Thread.Sleep(10); }
        }
    }

    /// <summary>The last record's sequence and hash (−1 and zeros for an empty log), read from the end of the file.</summary>
    private static (long, string) LastRecord(FileStream file)
    {
        if (file.Length == 0) return (-1, Zero);
        int window = (int)Math.Min(file.Length, 1 << 16);
        var tail = new byte[window];
        file.Seek(-window, SeekOrigin.End);
        file.ReadExactly(tail);
        int end = tail.Length - 1;
        while (end >= 0 && tail[end] == '\n') end--;
        int start = Array.LastIndexOf(tail, (byte)'\n', Math.Max(end, 0)) + 1;
        var record = Parse(Encoding.UTF8.GetString(tail, start, end - start + 1), -1);
        return (record.Sequence, record.Hash);
    }

    private static byte[] Canonical(long seq, DateTimeOffset time, string actor, string action, string subject, IReadOnlyDictionary<string, string> details, string prev)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", seq);
            w.WriteString("time", time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteString("actor", actor);
            w.WriteString("action", action);
            w.WriteString("subject", subject);
            w.WriteStartObject("details");
            foreach (var (k, v) in details.OrderBy(p => p.Key, StringComparer.Ordinal)) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteString("prev", prev);
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    private static AuditRecord Parse(string line, long lineNumber)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            var details = r.GetProperty("details").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
            return new AuditRecord(r.GetProperty("seq").GetInt64(),
                DateTimeOffset.Parse(r.GetProperty("time").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
                r.GetProperty("actor").GetString()!, r.GetProperty("action").GetString()!, r.GetProperty("subject").GetString()!,
                details, r.GetProperty("prev").GetString()!, r.GetProperty("hash").GetString()!);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ProtectionException(ProtectionError.Format, $"Audit record {(lineNumber >= 0 ? lineNumber : "(last)")}: not a record ({e.Message}).");
        }
    }

    /// <summary>Reads every record (without verifying).</summary>
    public static IEnumerable<AuditRecord> Read(string path)
    {
        long n = 0;
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            yield return Parse(line, n++);
        }
    }

    /// <summary>
    /// Checks the chain: consecutive sequence numbers from 0, each prev equal to the previous hash, each hash
    /// recomputed, and (given <paramref name="verifier"/>) every checkpoint's signature.
    /// </summary>
    /// <param name="path">The log.</param>
    /// <param name="verifier">The audit public key (<see cref="Keyring.ExportAuditPublicKey"/>); null skips signatures.</param>
    /// <param name="expectedHead">A head kept elsewhere: the log must contain it.</param>
    public static AuditVerification Verify(string path, ECDsa? verifier = null, (long Sequence, string Hash)? expectedHead = null)
    {
        long count = 0, signedThrough = -1;
        string prev = Zero;
        string? verifierId = verifier is null ? null : Convert.ToHexStringLower(SHA256.HashData(verifier.ExportSubjectPublicKeyInfo())[..16]);
        bool headSeen = expectedHead is null;
        try
        {
            foreach (var record in Read(path))
            {
                if (record.Sequence != count) return new(count, signedThrough, $"record {count}: sequence number {record.Sequence} (a record was deleted, inserted or moved).");
                if (record.PreviousHash != prev) return new(count, signedThrough, $"record {count}: its prev does not match record {count - 1}'s hash (a record before it was deleted or altered).");
                var expected = Convert.ToHexStringLower(SHA256.HashData(Canonical(record.Sequence, record.Time, record.Actor, record.Action, record.Subject, record.Details, record.PreviousHash)));
                if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(record.Hash)))
                    return new(count, signedThrough, $"record {count}: its content does not match its hash (it was edited).");
                if (record.Action == "audit.checkpoint" && verifier is not null)
                {
                    var message = Encoding.ASCII.GetBytes($"veil-audit/checkpoint/v1\n{record.PreviousHash}\n{record.Sequence}");
                    if (!record.Details.TryGetValue("signature", out var sig) || record.Details.GetValueOrDefault("signer") != verifierId)
                        return new(count, signedThrough, $"record {count}: a checkpoint signed by another key.");
                    byte[] signature;
                    try { signature = Convert.FromBase64String(sig); }
                    catch (FormatException) { return new(count, signedThrough, $"record {count}: a malformed checkpoint signature."); }
                    if (!verifier.VerifyData(message, signature, HashAlgorithmName.SHA256))
                        return new(count, signedThrough, $"record {count}: the checkpoint signature does not verify (the chain was rewritten).");
                    signedThrough = record.Sequence;
                }
                if (expectedHead is { } head && head.Sequence == record.Sequence)
                {
                    if (head.Hash != record.Hash) return new(count + 1, signedThrough, $"record {count}: not the head kept elsewhere (the log was rewritten from here).");
                    headSeen = true;
                }
                prev = record.Hash;
                count++;
            }
        }
        catch (ProtectionException e) { return new(count, signedThrough, e.Message); }
        if (!headSeen) return new(count, signedThrough, $"the log ends at record {count - 1}, before the head kept elsewhere ({expectedHead!.Value.Sequence}): records were cut.");
        return new(count, signedThrough, null);
    }

    /// <summary>
    /// Records of processing (GDPR Art. 30): per subject (key, data set, model), who acted on it, which actions how
    /// often, first and last time.
    /// </summary>
    public static IReadOnlyList<AuditSubjectReport> Report(string path) =>
        [.. Read(path).Where(r => r.Action != "audit.checkpoint").GroupBy(r => r.Subject).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new AuditSubjectReport(g.Key, [.. g.Select(r => r.Actor).Distinct().Order(StringComparer.Ordinal)],
                g.GroupBy(r => r.Action).OrderBy(a => a.Key, StringComparer.Ordinal).ToDictionary(a => a.Key, a => a.Count()),
                g.Min(r => r.Time), g.Max(r => r.Time)))];
}

/// <summary>One subject's line of <see cref="AuditLog.Report"/>.</summary>
public sealed record AuditSubjectReport(string Subject, IReadOnlyList<string> Actors, IReadOnlyDictionary<string, int> Actions, DateTimeOffset First, DateTimeOffset Last);
