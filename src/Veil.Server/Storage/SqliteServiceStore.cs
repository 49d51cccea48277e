using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Veil.Server.Storage;

/// <summary>The embedded default: metadata in one SQLite file (WAL), blobs as files beside it (written whole, then renamed).</summary>
public sealed class SqliteServiceStore : SqlServiceStore
{
    private readonly string _connectionString;
    private readonly string _blobDirectory;

    /// <summary>A store in <paramref name="directory"/> (created when missing): veil.db and blobs/.</summary>
    public SqliteServiceStore(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory.CreateDirectory(directory);
        _blobDirectory = Path.Combine(directory, "blobs");
        Directory.CreateDirectory(_blobDirectory);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path.Combine(directory, "veil.db"), Pooling = true, DefaultTimeout = 30 }.ToString();
    }

    /// <inheritdoc/>
    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellation)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellation).ConfigureAwait(false);
        return connection;
    }

    /// <inheritdoc/>
    protected override string BinaryType => "BLOB";

    /// <inheritdoc/>
    protected override bool IsUniqueViolation(DbException exception) => exception is SqliteException { SqliteErrorCode: 19 };

    /// <inheritdoc/>
    public override async Task InitializeAsync(CancellationToken cancellation = default)
    {
        await using (var connection = await OpenAsync(cancellation).ConfigureAwait(false))
        await using (var wal = connection.CreateCommand())
        {
            // WAL: readers never wait for the writer, and a commit survives a crash of the process.
            wal.CommandText = "PRAGMA journal_mode=WAL";
            await wal.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
        }
        await base.InitializeAsync(cancellation).ConfigureAwait(false);
        foreach (var stale in Directory.EnumerateFiles(_blobDirectory, "*.partial", SearchOption.AllDirectories)) File.Delete(stale);
    }

    private string BlobPath(string key)
    {
        if (key.Length is 0 or > 200 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '/') || key.Contains("//") || key[0] == '/')
            throw new ArgumentException($"Bad blob key '{key}'.", nameof(key));
        return Path.Combine(_blobDirectory, key.Replace('/', Path.DirectorySeparatorChar) + ".blob");
    }

    /// <inheritdoc/>
    public override async Task PutBlobAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellation = default)
    {
        string path = BlobPath(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string partial = path + "." + Guid.NewGuid().ToString("N") + ".partial";
        try
        {
            await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await file.WriteAsync(content, cancellation).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
            // The rename is the commit: a crash before it leaves only a .partial file, swept at the next start.
            File.Move(partial, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new StoreConflictException($"A blob {key} exists.");
        }
        finally
        {
            if (File.Exists(partial)) File.Delete(partial);
        }
    }

    /// <inheritdoc/>
    public override async Task<byte[]?> GetBlobAsync(string key, CancellationToken cancellation = default)
    {
        string path = BlobPath(key);
        try { return await File.ReadAllBytesAsync(path, cancellation).ConfigureAwait(false); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }

    /// <inheritdoc/>
    public override Task DeleteBlobAsync(string key, CancellationToken cancellation = default)
    {
        try { File.Delete(BlobPath(key)); }
        catch (DirectoryNotFoundException) { }
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public override Task<IReadOnlyList<string>> ListBlobsAsync(CancellationToken cancellation = default)
    {
        var keys = Directory.EnumerateFiles(_blobDirectory, "*.blob", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(_blobDirectory, f)[..^5].Replace(Path.DirectorySeparatorChar, '/')).ToArray();
        return Task.FromResult<IReadOnlyList<string>>(keys);
    }

    /// <inheritdoc/>
    public override Task<IReadOnlyList<string>> ListBlobsWrittenBeforeAsync(DateTimeOffset before, CancellationToken cancellation = default)
    {
        var keys = Directory.EnumerateFiles(_blobDirectory, "*.blob", SearchOption.AllDirectories)
            .Where(f => File.GetLastWriteTimeUtc(f) < before.UtcDateTime)
            .Select(f => Path.GetRelativePath(_blobDirectory, f)[..^5].Replace(Path.DirectorySeparatorChar, '/')).ToArray();
        return Task.FromResult<IReadOnlyList<string>>(keys);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        SqliteConnection.ClearAllPools();
        base.Dispose();
    }
}
