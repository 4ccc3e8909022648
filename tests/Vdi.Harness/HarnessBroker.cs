using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server;
using Vdi.Server.Desktops;

namespace Vdi.Harness;

/// <summary>
/// The real broker in this process on a loopback port with a fresh data folder, and an administrator's REST client
/// (cookie sign-in) for it. Its desktops run in sandboxed host processes of their own (the product's default) or in
/// this process (<see cref="Isolation"/>); on KVM where it works, else on the VMM's software engine.
/// </summary>
internal sealed class HarnessBroker : IAsyncDisposable
{
    public const string AdminUserName = "admin";
    public const string AdminPassword = "Harness-Admin-Pa55word";

    private readonly WebApplication _app;

    private static readonly Lock s_liveGate = new();
    private static readonly List<HarnessBroker> s_live = [];

    private HarnessBroker(WebApplication app, DesktopIsolation isolation, Uri baseAddress, string dataDirectory, CookieContainer cookies, HttpClient api)
    {
        _app = app;
        Isolation = isolation;
        BaseAddress = baseAddress;
        DataDirectory = dataDirectory;
        Cookies = cookies;
        Api = api;
    }

    public DesktopIsolation Isolation { get; }

    public Uri BaseAddress { get; }

    public string DataDirectory { get; }

    /// <summary>The administrator's sign-in cookie, for hub connections.</summary>
    public CookieContainer Cookies { get; }

    public HttpClient Api { get; }

    public DesktopPool Pool => _app.Services.GetRequiredService<DesktopPool>();

    /// <summary>The VMs running in this process, of every broker the harness runs (their vCPU threads are not the server's CPU).</summary>
    public static IReadOnlyList<Vmm.Machine.Machine> LocalMachines()
    {
        lock (s_liveGate)
            return [.. s_live.SelectMany(b => b.Pool.Hosts).Select(h => h.LocalMachine).OfType<Vmm.Machine.Machine>()];
    }

    public static async Task<HarnessBroker> StartAsync(DesktopIsolation isolation)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), $"vdi-harness-{Guid.NewGuid():N}");
        string[] args =
        [
            "--urls=http://127.0.0.1:0",
            // Serve the web client's files as `dotnet run` of the server would (the static web assets manifest
            // beside Vdi.Server.dll is found through the application name and content root).
            "--applicationName=Vdi.Server",
            $"--contentRoot={RepositoryRoot.Combine("server", "Vdi.Server")}",
            $"--Vdi:Storage:DataDirectory={dataDirectory}",
            $"--Vdi:Admin:Password={AdminPassword}",
            $"--Vdi:Desktops:Isolation={isolation}",
            // One user (the administrator) opens a session per desktop in the scale scenarios: more than the default limit.
            "--Vdi:Sessions:MaxLiveSessionsPerUser=64",
            "--Logging:LogLevel:Default=Warning",
        ];
        var app = VdiServer.Build(args);
        await app.StartAsync();
        var baseAddress = new Uri(app.Urls.Single().TrimEnd('/') + "/");
        var cookies = new CookieContainer();
#pragma warning disable CA2000 // The client owns the handler and is disposed with the broker.
        var api = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = baseAddress };
#pragma warning restore CA2000
        var signIn = await api.PostAsJsonAsync("api/auth/sign-in", new { userName = AdminUserName, password = AdminPassword });
        signIn.EnsureSuccessStatusCode();
        var broker = new HarnessBroker(app, isolation, baseAddress, dataDirectory, cookies, api);
        lock (s_liveGate)
            s_live.Add(broker);
        return broker;
    }

    /// <summary>Waits until the named desktop runs (asking the REST API every <paramref name="poll"/>, 100 ms by default); returns it.</summary>
    public async Task<DesktopSummary> RunningDesktopAsync(string name = DesktopPool.BuiltInName, TimeSpan? poll = null)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; await Task.Delay(poll ?? TimeSpan.FromMilliseconds(100)))
        {
            var desktops = await Api.GetFromJsonAsync<List<DesktopSummary>>("api/desktops");
            if (desktops!.FirstOrDefault(d => d.Name == name) is { } desktop)
            {
                if (desktop.State == "Running")
                    return desktop;
                if (desktop.State is "Failed" or "Crashed")
                    throw new InvalidOperationException($"desktop '{name}' is {desktop.State}: {desktop.StateReason}");
            }
        }
        throw new TimeoutException($"desktop '{name}' did not start within 60 s");
    }

    /// <summary>A desktop (1 vCPU, 256 MiB) created through the REST API, once it runs.</summary>
    public async Task<DesktopSummary> CreateDesktopAsync(string name, TimeSpan? poll = null)
    {
        var response = await Api.PostAsJsonAsync("api/desktops", new CreateDesktopRequest(name, 1, 256));
        response.EnsureSuccessStatusCode();
        return await RunningDesktopAsync(name, poll);
    }

    public async Task DeleteDesktopAsync(Guid id) => (await Api.DeleteAsync($"api/desktops/{id}")).EnsureSuccessStatusCode();

    /// <summary>A session that controls the desktop's display.</summary>
    public async Task<string> SessionTokenAsync(Guid desktopId, ClientDisplay display)
    {
        var response = await Api.PostAsJsonAsync("api/sessions", new CreateSessionRequest(desktopId, display, "harness"));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<CreateSessionResponse>())!.ConnectToken;
    }

    /// <summary>A shadow session: it sees the desktop and never changes its display.</summary>
    public async Task<string> ShadowTokenAsync(Guid desktopId)
    {
        var response = await Api.PostAsync($"api/desktops/{desktopId}/shadow", null);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<CreateSessionResponse>())!.ConnectToken;
    }

    /// <summary>The running desktop's host in the broker (its machine, its host process).</summary>
    public DesktopHost Host(Guid desktopId) =>
        Pool.Get(desktopId) is { Desktop: not null } host ? host : throw new InvalidOperationException($"desktop {desktopId} is not running");

    public async ValueTask DisposeAsync()
    {
        lock (s_liveGate)
            s_live.Remove(this);
        Api.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}

/// <summary>The checkout: the nearest folder above the binaries that holds Vdi.sln.</summary>
internal static class RepositoryRoot
{
    private static readonly Lazy<string> s_path = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Vdi.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no Vdi.sln above {AppContext.BaseDirectory}");
    });

    public static string Combine(params string[] parts) => Path.Combine([s_path.Value, .. parts]);
}
