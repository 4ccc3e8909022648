using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Storage;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Storage;

/// <summary>The schema comes from EF Core's migrations, for a new data folder and for one made before them.</summary>
public sealed class MigrationTests
{
    [Fact]
    public void Every_change_to_the_model_has_a_migration_for_both_providers()
    {
        using var sqlite = SqliteVdiDbContext.Open("Data Source=:memory:");
        Assert.False(sqlite.Database.HasPendingModelChanges(), "the model changed: run `dotnet ef migrations add <Name> --context SqliteVdiDbContext` (docs/storage.md)");
        using var postgres = PostgresVdiDbContext.Open("Host=localhost;Database=unused");
        Assert.False(postgres.Database.HasPendingModelChanges(), "the model changed: run `dotnet ef migrations add <Name> --context PostgresVdiDbContext` (docs/storage.md)");
        // The same migrations, and on PostgreSQL the cluster's membership tables besides.
        Assert.Equal(sqlite.Database.GetMigrations().Select(Name), postgres.Database.GetMigrations().Select(Name).Where(n => n != "OrleansClustering"));
        Assert.Contains("OrleansClustering", postgres.Database.GetMigrations().Select(Name));
    }

    [Fact]
    public async Task A_new_data_folder_gets_every_migration()
    {
        using var broker = new BrokerFactory(autoStart: false);
        try
        {
            await broker.SignedInAsync();
            await using var db = SqliteVdiDbContext.Open(new StorageOptions { DataDirectory = broker.DataDirectory }.ResolveConnectionString());
            Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
            Assert.False(Directory.Exists(Path.Combine(broker.DataDirectory, "keys")), "cookie keys belong in the database");
            Assert.NotEmpty(await db.DataProtectionKeys.ToListAsync());
        }
        finally
        {
            broker.Dispose();
            broker.DeleteData();
        }
    }

    /// <summary>
    /// What a broker from before migrations left: a database made by EnsureCreated (no history, no keys table, a
    /// column missing) and its cookie keys as files. The upgraded broker keeps its desktops and its sign-ins.
    /// </summary>
    [Fact]
    public async Task A_data_folder_from_before_migrations_keeps_desktops_and_sign_ins()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        string cookie;
        using (var first = new BrokerFactory(folder, autoStart: false))
        {
            var admin = await first.SignedInAsync();
            Assert.True((await admin.PostAsJsonAsync("/api/desktops", new { name = "Old", vcpus = 1, memoryMiB = 512, integrity = "audit" })).IsSuccessStatusCode);
            cookie = await CookieAsync(first);
        }
        SqliteConnection.ClearAllPools();
        var keys = Directory.CreateDirectory(Path.Combine(folder, "keys"));
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(folder, "vdi.db")}"))
        {
            await db.OpenAsync();
            await using (var read = db.CreateCommand())
            {
                read.CommandText = "SELECT \"FriendlyName\", \"Xml\" FROM \"DataProtectionKeys\"";
                await using var rows = await read.ExecuteReaderAsync();
                while (await rows.ReadAsync())
                    await File.WriteAllTextAsync(Path.Combine(keys.FullName, rows.GetString(0) + ".xml"), rows.GetString(1));
            }
            await using var undo = db.CreateCommand();
            // Back to the schema of the last release without migrations: no history, no keys table, no HostName
            // (added with migrations), and a column that release lacked (Integrity).
            undo.CommandText = "DROP TABLE \"__EFMigrationsHistory\"; DROP TABLE \"DataProtectionKeys\"; DROP INDEX \"IX_Desktops_HostName\"; " +
                "ALTER TABLE \"Desktops\" DROP COLUMN \"HostName\"; ALTER TABLE \"Desktops\" DROP COLUMN \"Integrity\";";
            await undo.ExecuteNonQueryAsync();
        }
        SqliteConnection.ClearAllPools();

        using var upgraded = new BrokerFactory(folder, autoStart: false);
        try
        {
            var client = upgraded.CreateClient();
            client.DefaultRequestHeaders.Add("Cookie", cookie);
            var desktops = (await client.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!;
            Assert.Equal(["Built-in desktop", "Old"], desktops.Select(d => d.Name).Order());
            Assert.All(desktops, d => Assert.Equal(IntegrityLevels.Enforce, d.Integrity));
            await using var db = SqliteVdiDbContext.Open($"Data Source={Path.Combine(folder, "vdi.db")}");
            Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
        }
        finally
        {
            upgraded.Dispose();
            upgraded.DeleteData();
        }
    }

    /// <summary>The sign-in cookie of <paramref name="broker"/>'s administrator, as a Cookie header.</summary>
    internal static async Task<string> CookieAsync(BrokerFactory broker)
    {
        var response = await broker.CreateClient().PostAsJsonAsync("/api/auth/sign-in", new { userName = "admin", password = BrokerFactory.AdminPassword });
        response.EnsureSuccessStatusCode();
        return string.Join("; ", response.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
    }

    private static string Name(string migrationId) => migrationId[(migrationId.IndexOf('_') + 1)..];
}
