using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Storage;
using Vdi.Server.Tests.Api;
using Vdi.Tests.Shared;

namespace Vdi.Server.Tests.Storage;

/// <summary>Brokers on a real PostgreSQL server: migrated at start, together, sharing data and sign-ins.</summary>
[Trait("Requires", PostgresServer.Trait)]
public sealed class PostgresStorageTests
{
    /// <summary>
    /// Three broker processes start at once on a database that does not exist yet: one creates it, the schema is
    /// migrated once, and the administrator and the built-in desktop exist once.
    /// </summary>
    [Fact]
    public async Task Hosts_starting_together_on_a_new_database_migrate_and_seed_it_once()
    {
        var server = await PostgresServer.SharedAsync();
        var name = $"vdi_test_{Guid.NewGuid():N}";
        var folders = Enumerable.Range(0, 3).Select(i => Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}")).ToList();
        var hosts = new List<Desktops.BrokerProcess>();
        try
        {
            var starting = folders.Select(f => Desktops.BrokerProcess.StartAsync(Path.Combine(f, "data"), Path.Combine(f, "hosts"),
                "--Vdi:Storage:Provider=Postgres", $"--Vdi:Storage:ConnectionString={server.ConnectionStringFor(name)}", "--Vdi:Desktops:AutoStart=false")).ToList();
            foreach (var start in starting)
                hosts.Add(await start);
            foreach (var host in hosts)
            {
                var client = await host.SignedInAsync();
                Assert.Equal([DesktopPoolName], (await client.GetFromJsonAsync<List<DesktopSummary>>("api/desktops"))!.Select(d => d.Name));
            }
            await using var db = PostgresVdiDbContext.Open(server.ConnectionStringFor(name));
            Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
            Assert.Equal(1, await db.Users.CountAsync());
            Assert.Equal(2, await db.Roles.CountAsync());
        }
        finally
        {
            foreach (var host in hosts)
                await host.DisposeAsync();
            foreach (var folder in folders.Where(Directory.Exists))
                Directory.Delete(folder, recursive: true);
            Npgsql.NpgsqlConnection.ClearAllPools();
            await server.ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        }
    }

    /// <summary>Every host reads every host's cookies (the keys are in the database) and sees the same desktops.</summary>
    [Fact]
    public async Task A_sign_in_on_one_host_is_good_on_another()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync();
        using var first = new BrokerFactory(autoStart: false, settings: Settings(database.ConnectionString));
        using var second = new BrokerFactory(autoStart: false, settings: Settings(database.ConnectionString));
        try
        {
            var cookie = await MigrationTests.CookieAsync(first);
            var admin = await first.SignedInAsync();
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/desktops", new { name = "Made on the first host", vcpus = 1, memoryMiB = 512 })).StatusCode);

            var other = second.CreateClient();
            other.DefaultRequestHeaders.Add("Cookie", cookie);
            var desktops = (await other.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!;
            Assert.Equal([DesktopPoolName, "Made on the first host"], desktops.Select(d => d.Name).Order());
            var me = await other.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/auth/me");
            Assert.Equal("admin", me.GetProperty("userName").GetString());
            Assert.Equal(HttpStatusCode.Unauthorized, (await second.CreateClient().GetAsync("/api/desktops")).StatusCode);
        }
        finally
        {
            first.Dispose();
            second.Dispose();
            first.DeleteData();
            second.DeleteData();
        }
    }

    [Fact]
    public async Task A_wrong_password_is_reported_in_one_line_without_it()
    {
        var server = await PostgresServer.SharedAsync();
        await server.ExecuteAsync("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vdi_test_login') THEN CREATE ROLE vdi_test_login LOGIN PASSWORD 'right-pa55'; END IF; END $$");
        await server.ExecuteAsync("ALTER ROLE vdi_test_login PASSWORD 'right-pa55'");
        var connection = new Npgsql.NpgsqlConnectionStringBuilder(server.ConnectionStringFor("vdi_missing_" + Guid.NewGuid().ToString("N")))
        {
            Username = "vdi_test_login", Password = "wrong-pa55",
        };
        var services = new ServiceCollection()
            .AddLogging()
            .Configure<StorageOptions>(o => (o.Provider, o.ConnectionString) = (StorageOptions.Postgres, connection.ConnectionString))
            .AddDbContext<VdiDbContext, PostgresVdiDbContext>(o => o.UseNpgsql(connection.ConnectionString))
            .AddSingleton<StorageMigrator>()
            .BuildServiceProvider();
        await using (services)
        {
            var e = await Assert.ThrowsAsync<StorageException>(() => services.GetRequiredService<StorageMigrator>().RunAsync());
            Assert.Contains($"cannot use the PostgreSQL database '{connection.Database}'", e.Message, StringComparison.Ordinal);
            Assert.Contains("as 'vdi_test_login'", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("pa55", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    private const string DesktopPoolName = Vdi.Server.Desktops.DesktopPool.BuiltInName;

    private static Dictionary<string, string?> Settings(string connectionString) =>
        new() { ["Vdi:Storage:Provider"] = "Postgres", ["Vdi:Storage:ConnectionString"] = connectionString };
}
