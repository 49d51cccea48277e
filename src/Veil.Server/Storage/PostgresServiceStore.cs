using System.Data.Common;
using Npgsql;

namespace Veil.Server.Storage;

/// <summary>PostgreSQL (Npgsql): metadata and blobs (bytea) in one database that several service replicas can share.</summary>
public sealed class PostgresServiceStore : SqlServiceStore
{
    private readonly NpgsqlDataSource _source;

    /// <summary>A store on the database of <paramref name="connectionString"/> (an Npgsql connection string).</summary>
    /// <exception cref="ArgumentException">A malformed connection string.</exception>
    public PostgresServiceStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _source = NpgsqlDataSource.Create(connectionString);
    }

    /// <inheritdoc/>
    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellation) =>
        await _source.OpenConnectionAsync(cancellation).ConfigureAwait(false);

    /// <inheritdoc/>
    protected override string BinaryType => "BYTEA";

    /// <inheritdoc/>
    protected override bool IsUniqueViolation(DbException exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <inheritdoc/>
    public override void Dispose()
    {
        _source.Dispose();
        base.Dispose();
    }
}
