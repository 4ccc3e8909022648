using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server;
using Vdi.Server.Storage;

namespace Vdi.EndToEnd.Tests.Infrastructure;

/// <summary>
/// The real broker, started in the test process with <see cref="VdiServer.Build"/> on a free loopback
/// port and a fresh data folder, configured only through its command-line arguments.
/// </summary>
public sealed class LiveBroker : IAsyncDisposable
{
    public const string AdminUserName = "admin";
    public const string AdminPassword = "E2e-Admin-Pa55word";
    public const string BuiltInDesktop = "Built-in desktop";

    /// <summary>A KVM device that cannot exist: desktops fail with this path in their reason on every host.</summary>
    public const string MissingKvm = "/nonexistent/vdi-e2e/kvm";

    private readonly WebApplication _app;

    private LiveBroker(WebApplication app, Uri baseAddress, string dataDirectory)
    {
        _app = app;
        BaseAddress = baseAddress;
        DataDirectory = dataDirectory;
    }

    /// <summary>Where the browser reaches the broker, e.g. http://127.0.0.1:41234/.</summary>
    public Uri BaseAddress { get; }

    public string DataDirectory { get; }

    /// <param name="runningDesktops">Desktops run (KVM where it works, else the software engine); otherwise they need <see cref="MissingKvm"/> and fail.</param>
    public static async Task<LiveBroker> StartAsync(bool runningDesktops)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), $"vdi-e2e-{Guid.NewGuid():N}");
        List<string> args =
        [
            "--urls=http://127.0.0.1:0",
            // The test host is not Vdi.Server: name the application so the static web assets manifest
            // beside Vdi.Server.dll (the web client's files) is found, and root it where `dotnet run` would.
            "--applicationName=Vdi.Server",
            $"--contentRoot={RepositoryRoot.Combine("server", "Vdi.Server")}",
            $"--Vdi:Storage:DataDirectory={dataDirectory}",
            $"--Vdi:Admin:Password={AdminPassword}",
            "--Logging:LogLevel:Default=Warning",
            // The hosts power off as soon as the broker lets go: none lingers after a test.
            "--Vdi:Desktops:ReattachSeconds=0",
        ];
        // Where desktops run in this test run: VDI_TEST_ISOLATION (Process or InProcess), else the broker's default.
        if (Environment.GetEnvironmentVariable("VDI_TEST_ISOLATION") is { Length: > 0 } isolation)
            args.Add($"--Vdi:Desktops:Isolation={isolation}");
        if (!runningDesktops)
        {
            args.Add("--Vdi:Desktops:Engine=Kvm");
            args.Add($"--Vdi:Desktops:KvmDevicePath={MissingKvm}");
        }

        var app = VdiServer.Build([.. args]);
        try
        {
            await app.StartAsync();
            // Kestrel replaces port 0 with the port it bound (IServerAddressesFeature, which app.Urls reads).
            var address = app.Urls.Single();
            return new LiveBroker(app, new Uri(address.TrimEnd('/') + "/"), dataDirectory);
        }
        catch
        {
            await app.DisposeAsync();
            DeleteData(dataDirectory);
            throw;
        }
    }

    /// <summary>The broker's own database, for history no API makes quickly (hundreds of ended sessions).</summary>
    public VdiDbContext OpenDatabase() => SqliteVdiDbContext.Open(new StorageOptions { DataDirectory = DataDirectory }.ResolveConnectionString());

    /// <summary>An API client signed in as the administrator.</summary>
    public async Task<HttpClient> SignedInApiAsync()
    {
        var api = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = BaseAddress };
        var signIn = await api.PostAsJsonAsync("api/auth/sign-in", new { userName = AdminUserName, password = AdminPassword });
        signIn.EnsureSuccessStatusCode();
        return api;
    }

    /// <summary>Waits, through the REST API, until the built-in desktop is in <paramref name="state"/>.</summary>
    /// <exception cref="InvalidOperationException">The desktop failed or crashed instead; the message carries its reason.</exception>
    public async Task<DesktopSummary> WaitForBuiltInDesktopAsync(string state, TimeSpan timeout)
    {
        using var api = await SignedInApiAsync();
        var deadline = DateTime.UtcNow + timeout;
        DesktopSummary? desktop = null;
        while (DateTime.UtcNow < deadline)
        {
            var desktops = await api.GetFromJsonAsync<List<DesktopSummary>>("api/desktops");
            desktop = desktops?.SingleOrDefault(d => d.Name == BuiltInDesktop);
            if (desktop?.State == state)
                return desktop;
            if (desktop?.State is "Failed" or "Crashed")
                throw new InvalidOperationException($"the built-in desktop is {desktop.State}, not {state}: {desktop.StateReason}");
            await Task.Delay(100);
        }
        throw new TimeoutException($"the built-in desktop did not reach {state} within {timeout.TotalSeconds:0} s (last: {desktop?.State ?? "not listed"})");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        DeleteData(DataDirectory);
    }

    private static void DeleteData(string dataDirectory)
    {
        // Pooled SQLite connections keep the database file open.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(dataDirectory))
            Directory.Delete(dataDirectory, recursive: true);
    }
}
