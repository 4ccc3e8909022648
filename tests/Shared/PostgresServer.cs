using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Vdi.Tests.Shared;

/// <summary>
/// A real PostgreSQL server for the tests that need one (trait <c>Requires=postgres</c>). <c>VDI_TEST_POSTGRES</c>
/// names a running server (a connection string for a role that may create databases; <c>.ci/run</c> starts Debian's
/// cluster and sets it). Otherwise one is started once per test process from Debian's postgresql package (installed
/// first when missing, as root), in a temporary folder on a free loopback port, and stopped when the process exits.
/// Each test gets a database of its own (<see cref="CreateDatabaseAsync"/>). Compiled into each test project that
/// needs it.
/// </summary>
internal sealed class PostgresServer
{
    public const string Trait = "postgres";
    public const string EnvironmentVariable = "VDI_TEST_POSTGRES";

    private const string SuperuserPassword = "vdi-test-postgres";

    private static readonly Lazy<Task<PostgresServer>> s_shared = new(StartAsync);

    private PostgresServer(string adminConnectionString) => AdminConnectionString = adminConnectionString;

    /// <summary>Connects to the server's <c>postgres</c> database as a role that creates and drops databases.</summary>
    public string AdminConnectionString { get; }

    public static Task<PostgresServer> SharedAsync() => s_shared.Value;

    /// <summary>A new, empty database (dropped when the result is disposed).</summary>
    public static async Task<TestDatabase> CreateDatabaseAsync()
    {
        var server = await SharedAsync();
        var name = $"vdi_test_{Guid.NewGuid():N}";
        await server.ExecuteAsync($"CREATE DATABASE \"{name}\"");
        return new TestDatabase(server, name);
    }

    /// <summary>A connection string for <paramref name="database"/>, which need not exist yet.</summary>
    public string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database }.ConnectionString;

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<PostgresServer> StartAsync()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } configured)
            return new PostgresServer(configured);
        await DebianPackage.EnsureInstalledAsync("/usr/bin/pg_ctlcluster", "postgresql", "the storage and cluster tests run a PostgreSQL server");
        var bin = Directory.GetDirectories("/usr/lib/postgresql")
            .Select(d => Path.Combine(d, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb")))
            .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out var version) ? version : 0)
            .FirstOrDefault() ?? throw new InvalidOperationException("PostgreSQL's initdb is missing under /usr/lib/postgresql; run `sudo apt-get install -y postgresql`.");
        RemoveStoppedClusters();
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-postgres-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        // PostgreSQL refuses to run as root: as root, the cluster belongs to Debian's postgres user.
        var asRoot = Environment.UserName == "root";
        if (asRoot)
            await RunAsync("/usr/bin/chown", "postgres:postgres", folder);
        var data = Path.Combine(folder, "data");
        // Logins over TCP need a password, as on a real server; the superuser's is in a file only initdb reads.
        var passwordFile = Path.Combine(folder, "password");
        await File.WriteAllTextAsync(passwordFile, SuperuserPassword + "\n");
        if (asRoot)
            await RunAsync("/usr/bin/chown", "postgres:postgres", passwordFile);
        await RunAsync(asRoot, Path.Combine(bin, "initdb"), "-D", data, "-U", "postgres", "--pwfile", passwordFile,
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync");
        var port = FreePort();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                RunAsync(asRoot, Path.Combine(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop").Wait(TimeSpan.FromSeconds(20));
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or AggregateException or UnauthorizedAccessException)
            {
                // The temporary folder is left behind; the next run does not need it.
            }
        };
        // Durability is not what is tested: no fsync, and room for three hosts' pools.
        await RunAsync(asRoot, Path.Combine(bin, "pg_ctl"), "-D", data, "-l", Path.Combine(folder, "log"), "-w", "-t", "60", "-o",
            $"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400", "start");
        return new PostgresServer($"Host=127.0.0.1;Port={port};Username=postgres;Password={SuperuserPassword};Database=postgres");
    }

    /// <summary>Folders of earlier runs whose server is no longer running (a test process ended before removing its own).</summary>
    private static void RemoveStoppedClusters()
    {
        foreach (var old in Directory.GetDirectories(Path.GetTempPath(), "vdi-postgres-*"))
        {
            // Running, or being made right now by another test process.
            if (File.Exists(Path.Combine(old, "data", "postmaster.pid")) || Directory.GetCreationTimeUtc(old) > DateTime.UtcNow.AddMinutes(-5))
                continue;
            try
            {
                Directory.Delete(old, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another user's, or going away already.
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task RunAsync(string file, params string[] args) => RunAsync(false, file, args);

    private static async Task RunAsync(bool asPostgres, string file, params string[] args)
    {
        var info = new ProcessStartInfo(asPostgres ? "/usr/sbin/runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        if (asPostgres)
        {
            foreach (var a in new[] { "-u", "postgres", "--", file })
                info.ArgumentList.Add(a);
        }
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} failed (exit {process.ExitCode}): {(await errors).Trim()} {(await output).Trim()}");
    }
}

/// <summary>A database of one test's own on <see cref="PostgresServer"/>; dropped, with its connections, on dispose.</summary>
internal sealed class TestDatabase(PostgresServer server, string name) : IAsyncDisposable
{
    public string Name { get; } = name;

    public string ConnectionString { get; } = server.ConnectionStringFor(name);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await server.ExecuteAsync($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
    }
}
