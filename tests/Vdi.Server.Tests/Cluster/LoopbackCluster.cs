using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Vdi.Protocol;
using Vdi.Server.Tests.Desktops;

namespace Vdi.Server.Tests.Cluster;

/// <summary>
/// Broker processes on loopback ports forming one cluster on a PostgreSQL database: each host is
/// <c>dotnet Vdi.Server.dll</c> with its own data and host folders, a free silo port and quick failure detection.
/// Disposing kills every host still running and removes the folders.
/// </summary>
internal sealed class LoopbackCluster(string connectionString) : IAsyncDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
    private readonly List<BrokerProcess> _hosts = [];

    /// <summary>Starts host <paramref name="name"/> (returns once it listens).</summary>
    public async Task<BrokerProcess> StartAsync(string name, params string[] settings)
    {
        var host = await BrokerProcess.StartAsync(Path.Combine(_folder, name, "data"), Path.Combine(_folder, name, "hosts"),
        [
            "--Vdi:Storage:Provider=Postgres", $"--Vdi:Storage:ConnectionString={connectionString}",
            "--Vdi:Cluster:Enabled=true", $"--Vdi:Cluster:HostName={name}", $"--Vdi:Cluster:SiloPort={FreePort()}",
            "--Vdi:Cluster:AdvertisedAddress=127.0.0.1", "--Vdi:Cluster:MigrationPort=0", "--Vdi:Cluster:ProbeTimeout=00:00:01", "--Vdi:Cluster:MissedProbesLimit=2",
            .. settings,
        ]);
        lock (_hosts)
            _hosts.Add(host);
        return host;
    }

    /// <summary>Polls <c>GET /api/hosts</c> until <paramref name="done"/>; fails after 90 s with every host's last output.</summary>
    public async Task<List<HostSummary>> WaitForHostsAsync(HttpClient api, Func<List<HostSummary>, bool> done, string what)
    {
        List<HostSummary>? last = null;
        return await WaitAsync(async () => (last = (await api.GetFromJsonAsync<List<HostSummary>>("api/hosts"))!) is var l && done(l) ? l : null,
            TimeSpan.FromSeconds(90), () => $"not {what}; last: {string.Join(", ", last?.Select(h => $"{h.Name} {h.State}") ?? [])}");
    }

    /// <summary>Polls <c>GET /api/desktops</c> until desktop <paramref name="name"/> is as <paramref name="done"/> wants.</summary>
    public async Task<DesktopSummary> WaitForDesktopAsync(HttpClient api, string name, Func<DesktopSummary, bool> done, TimeSpan? timeout = null)
    {
        DesktopSummary? last = null;
        return await WaitAsync(async () => (last = (await api.GetFromJsonAsync<List<DesktopSummary>>("api/desktops"))!.FirstOrDefault(d => d.Name == name)) is { } d && done(d) ? d : null,
            timeout ?? TimeSpan.FromSeconds(90), () => $"desktop {name} not as expected; last: {last?.State} on {last?.Host} ({last?.StateReason})");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
            await host.DisposeAsync();
        if (Directory.Exists(_folder))
            Directory.Delete(_folder, recursive: true);
    }

    private async Task<T> WaitAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, Func<string> failure) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } done)
                return done;
            await Task.Delay(250);
        }
        string output;
        lock (_hosts)
            output = string.Join("\n----\n", _hosts.Select(h => h.Output[^Math.Min(h.Output.Length, 3000)..]));
        throw new TimeoutException($"{failure()} within {timeout.TotalSeconds} s\n{output}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
