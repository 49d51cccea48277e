using Npgsql;
using Veil.Federated;

namespace Veil.Cluster;

/// <summary>
/// Federation checkpoints in PostgreSQL (the service's server), so that whichever silo activates a federation's
/// coordinator resumes from the last completed round: one row per federation, one per completed round for the record.
/// </summary>
public sealed class PostgresFederationStore : IFederationStore, IDisposable
{
    private readonly NpgsqlDataSource _source;

    /// <summary>A store on the database of <paramref name="connectionString"/>; its tables are made when missing.</summary>
    /// <exception cref="ArgumentException">A malformed connection string.</exception>
    public PostgresFederationStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _source = NpgsqlDataSource.Create(connectionString);
        using var c = _source.OpenConnection();
        // Silos starting together race on CREATE TABLE IF NOT EXISTS (PostgreSQL can answer a unique violation on its catalogue): one at a time.
        using var tx = c.BeginTransaction();
        using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7469001)", c, tx)) lockCmd.ExecuteNonQuery();
        Execute(c, tx, "CREATE TABLE IF NOT EXISTS veil_federation (id BYTEA PRIMARY KEY, session BYTEA NOT NULL, public_key BYTEA NOT NULL, checkpoint TEXT NOT NULL)");
        Execute(c, tx, "CREATE TABLE IF NOT EXISTS veil_federation_round (id BYTEA NOT NULL, round INTEGER NOT NULL, report TEXT NOT NULL, model TEXT NOT NULL, PRIMARY KEY (id, round))");
        tx.Commit();
    }

    private static void Execute(NpgsqlConnection c, NpgsqlTransaction tx, string sql)
    {
        using var cmd = new NpgsqlCommand(sql, c, tx);
        cmd.ExecuteNonQuery();
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidDataException">The stored checkpoint is not readable.</exception>
    public FederationCheckpoint? Load(byte[] federationId)
    {
        ArgumentNullException.ThrowIfNull(federationId);
        using var c = _source.OpenConnection();
        using var cmd = new NpgsqlCommand("SELECT session, public_key, checkpoint FROM veil_federation WHERE id = $1", c);
        cmd.Parameters.AddWithValue(federationId);
        using var r = cmd.ExecuteReader();
        if (!r.Read()) return null;
        return FederationCheckpointJson.Read((byte[])r[0], (byte[])r[1], r.GetString(2));
    }

    /// <summary>Completed training rounds recorded for <paramref name="federationId"/>, in order (each once: the row's key is the round).</summary>
    public IReadOnlyList<int> Rounds(byte[] federationId)
    {
        ArgumentNullException.ThrowIfNull(federationId);
        using var c = _source.OpenConnection();
        using var cmd = new NpgsqlCommand("SELECT round FROM veil_federation_round WHERE id = $1 ORDER BY round", c);
        cmd.Parameters.AddWithValue(federationId);
        using var r = cmd.ExecuteReader();
        var rounds = new List<int>();
        while (r.Read()) rounds.Add(r.GetInt32(0));
        return rounds;
    }

    /// <inheritdoc/>
    public void Save(byte[] federationId, FederationCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(federationId);
        ArgumentNullException.ThrowIfNull(checkpoint);
        using var c = _source.OpenConnection();
        using var tx = c.BeginTransaction();
        using (var cmd = new NpgsqlCommand("INSERT INTO veil_federation (id, session, public_key, checkpoint) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET session = $2, public_key = $3, checkpoint = $4", c, tx))
        {
            cmd.Parameters.AddWithValue(federationId);
            cmd.Parameters.AddWithValue(checkpoint.Session);
            cmd.Parameters.AddWithValue(checkpoint.PublicKey);
            cmd.Parameters.AddWithValue(FederationCheckpointJson.Body(checkpoint));
            cmd.ExecuteNonQuery();
        }
        if (checkpoint.Round > 0 && checkpoint.Reports.Count > 0)
        {
            using var cmd = new NpgsqlCommand("INSERT INTO veil_federation_round (id, round, report, model) VALUES ($1, $2, $3, $4) ON CONFLICT (id, round) DO UPDATE SET report = $3, model = $4", c, tx);
            cmd.Parameters.AddWithValue(federationId);
            cmd.Parameters.AddWithValue(checkpoint.Round);
            cmd.Parameters.AddWithValue(FederationCheckpointJson.Of(checkpoint.Reports[^1]));
            cmd.Parameters.AddWithValue(FederationCheckpointJson.Of(checkpoint.Model));
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
    }

    /// <summary>Removes a federation's rows (tests and re-runs under one id).</summary>
    public void Delete(byte[] federationId)
    {
        using var c = _source.OpenConnection();
        foreach (var table in new[] { "veil_federation", "veil_federation_round" })
        {
            using var cmd = new NpgsqlCommand($"DELETE FROM {table} WHERE id = $1", c);
            cmd.Parameters.AddWithValue(federationId);
            cmd.ExecuteNonQuery();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _source.Dispose();
}
