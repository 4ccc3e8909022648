using System.Data.Common;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Vdi.Server.Storage;

/// <summary>
/// Brings the database to the model before anything else touches it: EF Core's migrations for the configured
/// provider (<c>Storage/Migrations/Sqlite</c> or <c>…/Postgres</c>), applied at start. Hosts that share a PostgreSQL
/// database may start together: the first creates the database, and one at a time migrates it
/// (<see cref="PostgresMigrationLock"/>). A data folder from before migrations (its database made by
/// <c>EnsureCreated</c>) is baselined first (<see cref="SqliteBaseline"/>), and cookie keys kept in its keys folder are
/// copied into the database once. Runs once per process: the entry point calls it to report failure in one line, and
/// it is the first hosted service, so the test hosts run it too.
/// </summary>
public sealed class StorageMigrator(IServiceScopeFactory scopes, IOptions<StorageOptions> options, ILogger<StorageMigrator> log) : IHostedService
{
    private readonly Lazy<Task> _run = new(() => RunOnceAsync(scopes, options.Value, log));

    /// <summary>Migrates (once); fails with a <see cref="StorageException"/> that says what to fix.</summary>
    public Task RunAsync() => _run.Value;

    Task IHostedService.StartAsync(CancellationToken cancellationToken) => RunAsync().WaitAsync(cancellationToken);

    Task IHostedService.StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static async Task RunOnceAsync(IServiceScopeFactory scopes, StorageOptions options, ILogger log)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
            if (db is SqliteVdiDbContext sqlite)
                await SqliteBaseline.ApplyAsync(sqlite).ConfigureAwait(false);
            await using (await PostgresMigrationLock.TakeAsync(db).ConfigureAwait(false))
            {
                // Asked only where the history table exists: on a new database the provider would log the failed
                // query as an error before the migrations create it.
                var history = db.GetService<IHistoryRepository>();
                var pending = await history.ExistsAsync().ConfigureAwait(false)
                    ? (await db.Database.GetPendingMigrationsAsync().ConfigureAwait(false)).ToList()
                    : db.Database.GetMigrations().ToList();
                await db.Database.MigrateAsync().ConfigureAwait(false);
                if (pending.Count > 0)
                    StorageLog.Migrated(log, options.Provider, pending);
            }
            await ImportKeyFilesAsync(db, options, log).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException or IOException or UnauthorizedAccessException)
        {
            throw new StorageException(Describe(e, options), e);
        }
    }

    /// <summary>One line: which database, the provider's own reason, and the setting to fix.</summary>
    private static string Describe(Exception e, StorageOptions options)
    {
        var reason = (e.InnerException is { } inner && e is not PostgresException ? $"{e.Message} ({inner.Message})" : e.Message).ReplaceLineEndings(" ");
        if (!options.IsPostgres)
            return $"cannot open the SQLite database ({options.ResolveConnectionString()}): {reason}; check Vdi:Storage:DataDirectory or Vdi:Storage:ConnectionString";
        var where = new NpgsqlConnectionStringBuilder(options.ResolveConnectionString());
        return $"cannot use the PostgreSQL database '{where.Database}' on {where.Host}:{where.Port} as '{where.Username}': {reason}; check Vdi:Storage:ConnectionString";
    }

    /// <summary>
    /// Cookie keys were files in the data folder's keys folder before they moved into the database: each is copied in
    /// once, so sign-ins made before the upgrade still hold.
    /// </summary>
    private static async Task ImportKeyFilesAsync(VdiDbContext db, StorageOptions options, ILogger log)
    {
        var folder = Path.Combine(Path.GetFullPath(options.DataDirectory), "keys");
        if (!Directory.Exists(folder))
            return;
        var known = (await db.DataProtectionKeys.Select(k => k.FriendlyName).ToListAsync().ConfigureAwait(false)).ToHashSet();
        var imported = 0;
        foreach (var file in Directory.EnumerateFiles(folder, "key-*.xml"))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (known.Contains(name))
                continue;
            db.DataProtectionKeys.Add(new DataProtectionKey { FriendlyName = name, Xml = await File.ReadAllTextAsync(file).ConfigureAwait(false) });
            imported++;
        }
        if (imported == 0)
            return;
        await db.SaveChangesAsync().ConfigureAwait(false);
        StorageLog.KeysImported(log, imported, folder);
    }
}

internal static partial class StorageLog
{
    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "{Provider} database migrated: {Migrations}")]
    public static partial void Migrated(ILogger logger, string provider, IReadOnlyList<string> migrations);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Information, Message = "{Count} cookie keys copied into the database from {Folder}")]
    public static partial void KeysImported(ILogger logger, int count, string folder);
}
