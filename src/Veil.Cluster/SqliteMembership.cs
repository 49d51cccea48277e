using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;
using Orleans.Serialization;

namespace Veil.Cluster;

/// <summary>Where the SQLite membership file is (the embedded default: one machine, no server).</summary>
public sealed class SqliteMembershipOptions
{
    /// <summary>The file every silo and client of the cluster opens.</summary>
    public string Path { get; set; } = "";
}

/// <summary>
/// Orleans's membership table in one SQLite file (WAL, every write a BEGIN IMMEDIATE transaction), for clusters of
/// processes on one machine without Redis or a database server: `--cluster sqlite:FILE`. A write that changes the
/// membership commits only when the table's version is the one the caller read (Orleans's optimistic protocol), and a
/// row's update only when its etag is unchanged.
/// </summary>
internal sealed class SqliteMembershipTable(IOptions<SqliteMembershipOptions> options, IOptions<ClusterOptions> cluster, Serializer<MembershipEntry> serializer) : IMembershipTable
{
    private readonly string _connectionString = new SqliteConnectionStringBuilder { DataSource = options.Value.Path, Pooling = false, DefaultTimeout = 30 }.ToString();
    private readonly string _cluster = cluster.Value.ClusterId;

    private SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        using var pragma = c.CreateCommand();
        pragma.CommandText = "PRAGMA busy_timeout = 30000";
        pragma.ExecuteNonQuery();
        return c;
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? tx, string sql, params (string Name, object Value)[] parameters)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
        return cmd;
    }

    private static SqliteTransaction Immediate(SqliteConnection c) => c.BeginTransaction(deferred: false);

    public Task InitializeMembershipTable(bool tryInitTableVersion)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(options.Value.Path))!);
        using var c = Open();
        using (var wal = Command(c, null, "PRAGMA journal_mode=WAL")) wal.ExecuteNonQuery();
        using var tx = Immediate(c);
        using (var t = Command(c, tx, "CREATE TABLE IF NOT EXISTS orleans_membership_version (cluster TEXT PRIMARY KEY, version INTEGER NOT NULL)")) t.ExecuteNonQuery();
        using (var t = Command(c, tx, "CREATE TABLE IF NOT EXISTS orleans_membership (cluster TEXT NOT NULL, silo TEXT NOT NULL, etag INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (cluster, silo))")) t.ExecuteNonQuery();
        if (tryInitTableVersion)
            using (var v = Command(c, tx, "INSERT OR IGNORE INTO orleans_membership_version (cluster, version) VALUES ($c, 0)", ("$c", _cluster))) v.ExecuteNonQuery();
        tx.Commit();
        return Task.CompletedTask;
    }

    public Task DeleteMembershipTableEntries(string clusterId)
    {
        using var c = Open();
        using var tx = Immediate(c);
        using (var d = Command(c, tx, "DELETE FROM orleans_membership WHERE cluster = $c", ("$c", clusterId))) d.ExecuteNonQuery();
        using (var d = Command(c, tx, "DELETE FROM orleans_membership_version WHERE cluster = $c", ("$c", clusterId))) d.ExecuteNonQuery();
        tx.Commit();
        return Task.CompletedTask;
    }

    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate)
    {
        using var c = Open();
        using var tx = Immediate(c);
        var defunct = Rows(c, tx, null).Where(r => r.Entry.Status == SiloStatus.Dead && new DateTimeOffset(r.Entry.IAmAliveTime, TimeSpan.Zero) < beforeDate).ToList();
        foreach (var (entry, _) in defunct)
            using (var d = Command(c, tx, "DELETE FROM orleans_membership WHERE cluster = $c AND silo = $s", ("$c", _cluster), ("$s", entry.SiloAddress.ToParsableString()))) d.ExecuteNonQuery();
        tx.Commit();
        return Task.CompletedTask;
    }

    public Task<MembershipTableData> ReadRow(SiloAddress key) => Task.FromResult(Read(key));

    public Task<MembershipTableData> ReadAll() => Task.FromResult(Read(null));

    private MembershipTableData Read(SiloAddress? key)
    {
        using var c = Open();
        using var tx = c.BeginTransaction(deferred: true);
        var rows = Rows(c, tx, key).Select(r => Tuple.Create(r.Entry, r.Etag.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        int version = Version(c, tx);
        return new MembershipTableData(rows, new TableVersion(version, version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    private List<(MembershipEntry Entry, long Etag)> Rows(SqliteConnection c, SqliteTransaction tx, SiloAddress? key)
    {
        using var q = key is null
            ? Command(c, tx, "SELECT entry, etag FROM orleans_membership WHERE cluster = $c", ("$c", _cluster))
            : Command(c, tx, "SELECT entry, etag FROM orleans_membership WHERE cluster = $c AND silo = $s", ("$c", _cluster), ("$s", key.ToParsableString()));
        using var r = q.ExecuteReader();
        var rows = new List<(MembershipEntry, long)>();
        while (r.Read()) rows.Add((serializer.Deserialize((byte[])r[0])!, r.GetInt64(1)));
        return rows;
    }

    private int Version(SqliteConnection c, SqliteTransaction tx)
    {
        using var q = Command(c, tx, "SELECT version FROM orleans_membership_version WHERE cluster = $c", ("$c", _cluster));
        return q.ExecuteScalar() is long v ? (int)v : 0;
    }

    // The membership changes only from the version the writer read: tableVersion is that version plus one.
    private bool BumpVersion(SqliteConnection c, SqliteTransaction tx, TableVersion tableVersion)
    {
        using var u = Command(c, tx, "UPDATE orleans_membership_version SET version = $new WHERE cluster = $c AND version = $old",
            ("$c", _cluster), ("$new", tableVersion.Version), ("$old", tableVersion.Version - 1));
        return u.ExecuteNonQuery() == 1;
    }

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion)
    {
        using var c = Open();
        using var tx = Immediate(c);
        if (!BumpVersion(c, tx, tableVersion)) return Task.FromResult(false);
        using var i = Command(c, tx, "INSERT OR IGNORE INTO orleans_membership (cluster, silo, etag, entry) VALUES ($c, $s, 1, $e)",
            ("$c", _cluster), ("$s", entry.SiloAddress.ToParsableString()), ("$e", serializer.SerializeToArray(entry)));
        if (i.ExecuteNonQuery() != 1) return Task.FromResult(false); // the row exists: rolled back with the version
        tx.Commit();
        return Task.FromResult(true);
    }

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion)
    {
        if (!long.TryParse(etag, System.Globalization.CultureInfo.InvariantCulture, out long expected)) return Task.FromResult(false);
        using var c = Open();
        using var tx = Immediate(c);
        if (!BumpVersion(c, tx, tableVersion)) return Task.FromResult(false);
        using var u = Command(c, tx, "UPDATE orleans_membership SET entry = $e, etag = etag + 1 WHERE cluster = $c AND silo = $s AND etag = $etag",
            ("$c", _cluster), ("$s", entry.SiloAddress.ToParsableString()), ("$e", serializer.SerializeToArray(entry)), ("$etag", expected));
        if (u.ExecuteNonQuery() != 1) return Task.FromResult(false);
        tx.Commit();
        return Task.FromResult(true);
    }

    public Task UpdateIAmAlive(MembershipEntry entry)
    {
        using var c = Open();
        using var tx = Immediate(c);
        var row = Rows(c, tx, entry.SiloAddress).FirstOrDefault();
        if (row.Entry is null) return Task.CompletedTask;
        row.Entry.IAmAliveTime = entry.IAmAliveTime;
        using var u = Command(c, tx, "UPDATE orleans_membership SET entry = $e WHERE cluster = $c AND silo = $s",
            ("$c", _cluster), ("$s", entry.SiloAddress.ToParsableString()), ("$e", serializer.SerializeToArray(row.Entry)));
        u.ExecuteNonQuery();
        tx.Commit();
        return Task.CompletedTask;
    }
}

/// <summary>A client's list of gateways, from the SQLite membership file: the active silos' gateway endpoints.</summary>
internal sealed class SqliteGatewayListProvider(IOptions<SqliteMembershipOptions> options, IOptions<ClusterOptions> cluster, Serializer<MembershipEntry> serializer) : IGatewayListProvider
{
    public TimeSpan MaxStaleness => TimeSpan.FromSeconds(5);
    public bool IsUpdatable => true;
    public Task InitializeGatewayListProvider() => Task.CompletedTask;

    public Task<IList<Uri>> GetGateways()
    {
        var connection = new SqliteConnectionStringBuilder { DataSource = options.Value.Path, Pooling = false, DefaultTimeout = 30, Mode = SqliteOpenMode.ReadWrite }.ToString();
        using var c = new SqliteConnection(connection);
        c.Open();
        using var q = c.CreateCommand();
        q.CommandText = "SELECT entry FROM orleans_membership WHERE cluster = $c";
        q.Parameters.AddWithValue("$c", cluster.Value.ClusterId);
        using var r = q.ExecuteReader();
        var gateways = new List<Uri>();
        while (r.Read())
        {
            var entry = serializer.Deserialize((byte[])r[0])!;
            if (entry.Status == SiloStatus.Active && entry.ProxyPort > 0)
                gateways.Add(SiloAddress.New(entry.SiloAddress.Endpoint.Address, entry.ProxyPort, entry.SiloAddress.Generation).ToGatewayUri());
        }
        return Task.FromResult<IList<Uri>>(gateways);
    }
}
