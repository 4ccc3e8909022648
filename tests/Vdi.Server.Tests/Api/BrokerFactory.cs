using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Server.Hubs;

namespace Vdi.Server.Tests.Api;

/// <summary>
/// The whole broker in memory on a fresh data folder. Unless asked for running desktops, desktops must
/// use a KVM device that cannot exist, so they end up Failed with the same reason on every host; running
/// desktops use KVM where it works and the VMM's software engine elsewhere.
/// </summary>
internal sealed class BrokerFactory : WebApplicationFactory<Program>
{
    public const string AdminPassword = "Test-Admin-Pa55word";

    private readonly IReadOnlyDictionary<string, string?> _settings;

    /// <param name="settings">Configuration on top of the defaults below (e.g. "Vdi:SignIn:AttemptsPerAddress").</param>
    public BrokerFactory(string? dataDirectory = null, bool autoStart = true, bool runningDesktops = false, IReadOnlyDictionary<string, string?>? settings = null)
    {
        _settings = settings ?? new Dictionary<string, string?>();
        RunningDesktops = runningDesktops;
        DataDirectory = dataDirectory ?? Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        AutoStart = autoStart;
    }

    public string DataDirectory { get; }

    public bool AutoStart { get; }

    /// <summary>Desktops run (engine Auto); otherwise they need a KVM device that cannot exist.</summary>
    public bool RunningDesktops { get; }

    public const string MissingKvm = "/nonexistent/vdi-test/kvm";

    /// <summary>
    /// Where desktops run in this test run: <c>VDI_TEST_ISOLATION</c> (<c>Process</c> or <c>InProcess</c>), else the
    /// broker's default. A test's own settings win.
    /// </summary>
    public static string? Isolation => Environment.GetEnvironmentVariable("VDI_TEST_ISOLATION") is { Length: > 0 } i ? i : null;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Vdi:Storage:DataDirectory", DataDirectory);
        builder.UseSetting("Vdi:Admin:Password", AdminPassword);
        builder.UseSetting("Vdi:Desktops:AutoStart", AutoStart ? "true" : "false");
        // A test's hosts power off as soon as its broker lets go: none lingers for a broker that will not come back.
        builder.UseSetting("Vdi:Desktops:ReattachSeconds", "0");
        if (Isolation is { } isolation)
            builder.UseSetting("Vdi:Desktops:Isolation", isolation);
        if (!RunningDesktops)
        {
            builder.UseSetting("Vdi:Desktops:Engine", "Kvm");
            builder.UseSetting("Vdi:Desktops:KvmDevicePath", MissingKvm);
        }
        foreach (var (key, value) in _settings)
            builder.UseSetting(key, value);
    }

    /// <summary>A client with the admin's sign-in cookie.</summary>
    public async Task<HttpClient> SignedInAsync(string userName = "admin", string password = AdminPassword)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = true });
        var response = await client.PostAsJsonAsync("/api/auth/sign-in", new { userName, password });
        response.EnsureSuccessStatusCode();
        return client;
    }

    /// <summary>A desktop-hub connection (official .NET client, MessagePack, long polling over the in-memory server), not yet started.</summary>
    public async Task<HubConnection> HubAsync(bool signedIn = true)
    {
        string? cookie = null;
        if (signedIn)
        {
            var response = await CreateClient().PostAsJsonAsync("/api/auth/sign-in", new { userName = "admin", password = AdminPassword });
            response.EnsureSuccessStatusCode();
            cookie = string.Join("; ", response.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
        }
        return new HubConnectionBuilder()
            .WithUrl(new Uri(Server.BaseAddress, DesktopHub.Path), o =>
            {
                o.Transports = HttpTransportType.LongPolling;
                o.HttpMessageHandlerFactory = _ => Server.CreateHandler();
                if (cookie is not null)
                    o.Headers["Cookie"] = cookie;
            })
            .AddMessagePackProtocol()
            .Build();
    }

    public void DeleteData()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(DataDirectory))
            Directory.Delete(DataDirectory, recursive: true);
    }
}
