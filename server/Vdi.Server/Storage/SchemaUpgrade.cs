using Microsoft.EntityFrameworkCore;

namespace Vdi.Server.Storage;

/// <summary>
/// The database is made by <c>EnsureCreated</c> from the model, which never changes an existing one. Columns added to
/// the model since are added here to a data folder made before them, with their defaults, so an upgraded broker keeps
/// its desktops.
/// </summary>
public static class SchemaUpgrade
{
    /// <summary>Columns added after the first release: table, column, and its SQLite definition.</summary>
    private static readonly (string Table, string Column, string Definition)[] s_added =
    [
        ("Desktops", nameof(DesktopRecord.Integrity), $"TEXT NOT NULL DEFAULT '{Protocol.IntegrityLevels.Enforce}'"),
        ("Desktops", nameof(DesktopRecord.FaultTolerant), "INTEGER NOT NULL DEFAULT 0"),
    ];

    public static async Task ApplyAsync(VdiDbContext db, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(db);
        foreach (var (table, column, definition) in s_added)
        {
            var present = await db.Database.SqlQuery<int>($"SELECT COUNT(*) AS \"Value\" FROM pragma_table_info({table}) WHERE name = {column}")
                .SingleAsync(cancellationToken).ConfigureAwait(false);
            // Names and definition are the constants above, never input: DDL takes no parameters.
#pragma warning disable EF1003
            if (present == 0)
                await db.Database.ExecuteSqlRawAsync("ALTER TABLE \"" + table + "\" ADD COLUMN \"" + column + "\" " + definition, cancellationToken).ConfigureAwait(false);
#pragma warning restore EF1003
        }
    }
}
