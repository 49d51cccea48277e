using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Veil.Federated;

/// <summary>Where a coordinator resumes from: the collective key's session and public key, the pooled statistics, and the last completed round.</summary>
/// <param name="Session">The multiparty session (empty in plaintext mode).</param>
/// <param name="PublicKey">The collective public key (empty in plaintext mode).</param>
/// <param name="Statistics">Pooled means then scales of the features and the target.</param>
/// <param name="LeastSquares">The one-shot least-squares θ, when computed.</param>
/// <param name="Round">The last completed training round (0: none yet).</param>
/// <param name="Model">θ after it.</param>
/// <param name="Rdp">The accountant's RDP per order (DP only).</param>
/// <param name="Steps">The accountant's steps.</param>
/// <param name="Reports">Every completed sum so far.</param>
/// <param name="Stop">Why training ended, once it has (a coordinator started again then only hands out the result).</param>
public sealed record FederationCheckpoint(byte[] Session, byte[] PublicKey, double[] Statistics, double[]? LeastSquares, int Round, double[] Model, double[]? Rdp, long Steps, IReadOnlyList<RoundReport> Reports, string? Stop = null);

/// <summary>A coordinator's durable state.</summary>
public interface IFederationStore
{
    /// <summary>The checkpoint of a federation, or null before its setup completed.</summary>
    FederationCheckpoint? Load(byte[] federationId);
    /// <summary>Saves a checkpoint (atomically: a crash leaves the previous one).</summary>
    void Save(byte[] federationId, FederationCheckpoint checkpoint);
}

/// <summary>A checkpoint's fields other than the session and public key, as the JSON text stores keep.</summary>
public static class FederationCheckpointJson
{
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>The JSON of <paramref name="checkpoint"/>'s statistics, model, accountant and reports.</summary>
    public static string Body(FederationCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return JsonSerializer.Serialize(new Fields(checkpoint.Statistics, checkpoint.LeastSquares, checkpoint.Round, checkpoint.Model, checkpoint.Rdp, checkpoint.Steps, [.. checkpoint.Reports], checkpoint.Stop), Json);
    }

    /// <summary>The JSON of one round's report, or of a model.</summary>
    public static string Of<T>(T value) => JsonSerializer.Serialize(value, Json);

    /// <summary>The checkpoint from its session, public key and <see cref="Body"/>.</summary>
    /// <exception cref="InvalidDataException">The body is not readable or incomplete.</exception>
    public static FederationCheckpoint Read(byte[] session, byte[] publicKey, string body)
    {
        Fields? f;
        try { f = JsonSerializer.Deserialize<Fields>(body, Json); }
        catch (JsonException e) { throw new InvalidDataException($"The stored checkpoint is not readable: {e.Message}"); }
        if (f is null || f.Statistics is null || f.Model is null || f.Reports is null) throw new InvalidDataException("The stored checkpoint is incomplete.");
        return new FederationCheckpoint(session, publicKey, f.Statistics, f.LeastSquares, f.Round, f.Model, f.Rdp, f.Steps, f.Reports, f.Stop);
    }

    private sealed record Fields(double[] Statistics, double[]? LeastSquares, int Round, double[] Model, double[]? Rdp, long Steps, RoundReport[] Reports, string? Stop = null);
}

/// <summary>The embedded default: one SQLite file (WAL), one row per federation holding its latest checkpoint, one per completed round for the record.</summary>
public sealed class SqliteFederationStore : IFederationStore
{
    private readonly string _connectionString;

    /// <summary>A store in the file <paramref name="path"/> (created when missing).</summary>
    public SqliteFederationStore(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 30 }.ToString();
        using var c = Open();
        Execute(c, "PRAGMA journal_mode=WAL");
        Execute(c, "CREATE TABLE IF NOT EXISTS federation (id BLOB PRIMARY KEY, session BLOB NOT NULL, public_key BLOB NOT NULL, checkpoint TEXT NOT NULL)");
        Execute(c, "CREATE TABLE IF NOT EXISTS round (id BLOB NOT NULL, round INTEGER NOT NULL, report TEXT NOT NULL, model TEXT NOT NULL, PRIMARY KEY (id, round))");
    }

    private SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    private static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidDataException">The stored checkpoint is not readable.</exception>
    public FederationCheckpoint? Load(byte[] federationId)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT session, public_key, checkpoint FROM federation WHERE id = $id";
        cmd.Parameters.AddWithValue("$id", federationId);
        using var r = cmd.ExecuteReader();
        if (!r.Read()) return null;
        return FederationCheckpointJson.Read((byte[])r[0], (byte[])r[1], r.GetString(2));
    }

    /// <inheritdoc/>
    public void Save(byte[] federationId, FederationCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var body = FederationCheckpointJson.Body(checkpoint);
        using var c = Open();
        using var tx = c.BeginTransaction();
        using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT INTO federation (id, session, public_key, checkpoint) VALUES ($id, $s, $p, $c) ON CONFLICT (id) DO UPDATE SET session = $s, public_key = $p, checkpoint = $c";
            cmd.Parameters.AddWithValue("$id", federationId);
            cmd.Parameters.AddWithValue("$s", checkpoint.Session);
            cmd.Parameters.AddWithValue("$p", checkpoint.PublicKey);
            cmd.Parameters.AddWithValue("$c", body);
            cmd.ExecuteNonQuery();
        }
        if (checkpoint.Round > 0 && checkpoint.Reports.Count > 0)
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "INSERT OR REPLACE INTO round (id, round, report, model) VALUES ($id, $r, $rep, $m)";
            cmd.Parameters.AddWithValue("$id", federationId);
            cmd.Parameters.AddWithValue("$r", checkpoint.Round);
            cmd.Parameters.AddWithValue("$rep", FederationCheckpointJson.Of(checkpoint.Reports[^1]));
            cmd.Parameters.AddWithValue("$m", FederationCheckpointJson.Of(checkpoint.Model));
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
    }
}
