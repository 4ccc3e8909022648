using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Vdi.Server.Storage;

/// <summary>
/// One host at a time migrates a shared PostgreSQL database: a session-level advisory lock, held on a connection of
/// its own from before the history is read until the last migration is in. (EF Core's own lock is taken per migration,
/// so two hosts starting together could both apply one.) The database is created first where it is missing; a host
/// that finds it created meanwhile goes on. Nothing to do on SQLite.
/// </summary>
public sealed class PostgresMigrationLock : IAsyncDisposable
{
    /// <summary>The advisory lock's key: any constant the broker alone uses in its database.</summary>
    private const long Key = 0x5644_4920_4D49_4752; // "VDI MIGR"

    private readonly NpgsqlConnection? _connection;

    private PostgresMigrationLock(NpgsqlConnection? connection) => _connection = connection;

    public static async Task<PostgresMigrationLock> TakeAsync(VdiDbContext db)
    {
        if (db is not PostgresVdiDbContext)
            return new PostgresMigrationLock(null);
        var creator = db.GetService<IRelationalDatabaseCreator>();
        if (!await creator.ExistsAsync().ConfigureAwait(false))
        {
            try
            {
                await creator.CreateAsync().ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateDatabase)
            {
                // Another host created it a moment before.
            }
        }
        var connection = new NpgsqlConnection(db.Database.GetConnectionString());
        try
        {
            await connection.OpenAsync().ConfigureAwait(false);
            await using var take = new NpgsqlCommand($"SELECT pg_advisory_lock({Key})", connection);
            await take.ExecuteNonQueryAsync().ConfigureAwait(false);
            return new PostgresMigrationLock(connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Releases the lock (the session's end releases it too, if this process dies holding it).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_connection is null)
            return;
        try
        {
            // Explicitly: a pooled connection's session outlives its Dispose.
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({Key})", _connection);
            await release.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        finally
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
