using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Vdi.Server.Tests.Api;

/// <summary>
/// The whole broker in memory on a fresh data folder. Desktops point at a KVM device that cannot
/// exist, so they end up Failed with the same reason on every host, with or without /dev/kvm.
/// </summary>
internal sealed class BrokerFactory : WebApplicationFactory<Program>
{
    public const string AdminPassword = "Test-Admin-Pa55word";

    public BrokerFactory(string? dataDirectory = null, bool autoStart = true)
    {
        DataDirectory = dataDirectory ?? Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        AutoStart = autoStart;
    }

    public string DataDirectory { get; }

    public bool AutoStart { get; }

    public const string MissingKvm = "/nonexistent/vdi-test/kvm";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Vdi:Storage:DataDirectory", DataDirectory);
        builder.UseSetting("Vdi:Admin:Password", AdminPassword);
        builder.UseSetting("Vdi:Desktops:AutoStart", AutoStart ? "true" : "false");
        builder.UseSetting("Vdi:Desktops:KvmDevicePath", MissingKvm);
    }

    /// <summary>A client with the admin's sign-in cookie.</summary>
    public async Task<HttpClient> SignedInAsync(string userName = "admin", string password = AdminPassword)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = true });
        var response = await client.PostAsJsonAsync("/api/auth/sign-in", new { userName, password });
        response.EnsureSuccessStatusCode();
        return client;
    }

    public void DeleteData()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(DataDirectory))
            Directory.Delete(DataDirectory, recursive: true);
    }
}
