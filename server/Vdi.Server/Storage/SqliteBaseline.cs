using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Vdi.Server.Storage;

/// <summary>
/// A data folder from before migrations: its database was made by <c>EnsureCreated</c> from the model of its day,
/// with no migrations history. It is brought to the first migration's schema (the columns added to the model since
/// its day, with their defaults) and recorded as having that migration, so the later migrations apply to it as to any
/// other database and its desktops, users and sessions are kept.
/// </summary>
public static class SqliteBaseline
{
    /// <summary>Columns added to the model before migrations: table, column, and its SQLite definition.</summary>
    private static readonly (string Table, string Column, string Definition)[] s_addedBeforeMigrations =
    [
        ("Desktops", nameof(DesktopRecord.Integrity), $"TEXT NOT NULL DEFAULT '{Protocol.IntegrityLevels.Enforce}'"),
        ("Desktops", nameof(DesktopRecord.FaultTolerant), "INTEGER NOT NULL DEFAULT 0"),
    ];

    /// <summary>True when the database was baselined now; false when it is new or already has a history.</summary>
    public static async Task<bool> ApplyAsync(SqliteVdiDbContext db, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(db);
        var history = db.GetService<IHistoryRepository>();
        var tables = await db.Database.SqlQuery<string>($"SELECT name AS \"Value\" FROM sqlite_master WHERE type = 'table'")
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        if (tables.Contains("__EFMigrationsHistory") || !tables.Contains("Desktops"))
            return false;
        // Names and definitions are the constants above and EF Core's own scripts, never input: DDL takes no parameters.
#pragma warning disable EF1002, EF1003
        foreach (var (table, column, definition) in s_addedBeforeMigrations)
        {
            var present = await db.Database.SqlQuery<int>($"SELECT COUNT(*) AS \"Value\" FROM pragma_table_info({table}) WHERE name = {column}")
                .SingleAsync(cancellationToken).ConfigureAwait(false);
            if (present == 0)
                await db.Database.ExecuteSqlRawAsync("ALTER TABLE \"" + table + "\" ADD COLUMN \"" + column + "\" " + definition, cancellationToken).ConfigureAwait(false);
        }
        var initial = db.Database.GetMigrations().First();
        await db.Database.ExecuteSqlRawAsync(history.GetCreateIfNotExistsScript(), cancellationToken).ConfigureAwait(false);
        await db.Database.ExecuteSqlRawAsync(history.GetInsertScript(new HistoryRow(initial, ProductInfo.GetVersion())), cancellationToken).ConfigureAwait(false);
#pragma warning restore EF1002, EF1003
        return true;
    }
}
