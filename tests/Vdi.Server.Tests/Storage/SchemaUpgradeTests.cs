using System.Net.Http.Json;
using Microsoft.Data.Sqlite;
using Vdi.Protocol;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Storage;

/// <summary>A data folder made before a column existed keeps its desktops and gets the column with its default.</summary>
public sealed class SchemaUpgradeTests
{
    [Fact]
    public async Task A_database_without_the_integrity_column_gets_it_and_keeps_its_desktops()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        using (var first = new BrokerFactory(folder, autoStart: false))
        {
            var admin = await first.SignedInAsync();
            Assert.True((await admin.PostAsJsonAsync("/api/desktops", new { name = "Old", vcpus = 1, memoryMiB = 512, integrity = "audit" })).IsSuccessStatusCode);
        }
        SqliteConnection.ClearAllPools();
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(folder, "vdi.db")}"))
        {
            await db.OpenAsync();
            await using var drop = db.CreateCommand();
            drop.CommandText = "ALTER TABLE \"Desktops\" DROP COLUMN \"Integrity\"";
            await drop.ExecuteNonQueryAsync();
        }
        SqliteConnection.ClearAllPools();

        using var upgraded = new BrokerFactory(folder, autoStart: false);
        try
        {
            var admin = await upgraded.SignedInAsync();
            var desktops = (await admin.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!;
            Assert.Equal(["Built-in desktop", "Old"], desktops.Select(d => d.Name).Order());
            Assert.All(desktops, d => Assert.Equal(IntegrityLevels.Enforce, d.Integrity));
        }
        finally
        {
            upgraded.Dispose();
            upgraded.DeleteData();
        }
    }
}
