using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Vdi.Protocol;
using Vdi.Server.Tests.Api;
using Vdi.Server.Tests.Desktops;
using Vdi.Tests.Shared;

namespace Vdi.Server.Tests.Cluster;

/// <summary>Hosts form an Orleans cluster on PostgreSQL: each lists them all, and a host killed is seen dead.</summary>
[Trait("Requires", PostgresServer.Trait)]
public sealed class ClusterMembershipTests
{
    [Fact]
    public async Task Three_hosts_see_each_other_and_a_killed_one_dead()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync();
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        var names = new[] { "host-a", "host-b", "host-c" };
        var hosts = new List<BrokerProcess>();
        try
        {
            var starting = names.Select(name => BrokerProcess.StartAsync(Path.Combine(folder, name, "data"), Path.Combine(folder, name, "hosts"),
                [.. ClusterSettings(database.ConnectionString, name), "--Vdi:Desktops:AutoStart=false"])).ToList();
            foreach (var start in starting)
                hosts.Add(await start);
            var apis = await Task.WhenAll(hosts.Select(h => h.SignedInAsync()));

            foreach (var api in apis)
            {
                var listed = await WaitForAsync(api, l => l.Count(h => h.State == "Active" && h.Load is not null) == 3, "three active hosts", hosts);
                Assert.Equal(names, listed.Select(h => h.Name));
                Assert.All(listed, h => Assert.StartsWith("127.0.0.1:", h.Address, StringComparison.Ordinal));
            }

            await hosts[2].KillAsync();
            var after = await WaitForAsync(apis[0], l => l.Single(h => h.Name == "host-c").State == "Dead", "host-c dead", hosts);
            Assert.Equal(["Active", "Active", "Dead"], after.Select(h => h.State));
            Assert.Null(after[2].Load);
        }
        finally
        {
            foreach (var host in hosts)
                await host.DisposeAsync();
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_host_without_a_cluster_lists_itself_to_administrators_only()
    {
        using var broker = new BrokerFactory(autoStart: false, settings: new Dictionary<string, string?> { ["Vdi:Cluster:HostName"] = "solo" });
        try
        {
            var admin = await broker.SignedInAsync();
            var host = Assert.Single((await admin.GetFromJsonAsync<List<HostSummary>>("/api/hosts"))!);
            Assert.Equal(("solo", "Active", (string?)null), (host.Name, host.State, host.Address));
            Assert.Empty(host.Load!.Desktops);
            Assert.True(host.Load.MaxDesktops > 0 && host.Load.MaxVcpus > 0 && host.Load.MaxMemoryMiB > 0);

            (await admin.PostAsJsonAsync("/api/users", new { userName = "grace", password = "Grace-Pa55word!" })).EnsureSuccessStatusCode();
            var user = await broker.SignedInAsync("grace", "Grace-Pa55word!");
            Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync("/api/hosts")).StatusCode);
        }
        finally
        {
            broker.Dispose();
            broker.DeleteData();
        }
    }

    /// <summary>A host of the cluster on loopback: its name, a free silo port, quick failure detection.</summary>
    internal static string[] ClusterSettings(string connectionString, string name) =>
    [
        "--Vdi:Storage:Provider=Postgres", $"--Vdi:Storage:ConnectionString={connectionString}",
        "--Vdi:Cluster:Enabled=true", $"--Vdi:Cluster:HostName={name}", $"--Vdi:Cluster:SiloPort={FreePort()}",
        "--Vdi:Cluster:AdvertisedAddress=127.0.0.1", "--Vdi:Cluster:ProbeTimeout=00:00:01", "--Vdi:Cluster:MissedProbesLimit=2",
    ];

    internal static async Task<List<HostSummary>> WaitForAsync(HttpClient api, Func<List<HostSummary>, bool> done, string what, IEnumerable<BrokerProcess> hosts)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        List<HostSummary>? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await api.GetFromJsonAsync<List<HostSummary>>("api/hosts"))!;
            if (done(last))
                return last;
            await Task.Delay(250);
        }
        throw new TimeoutException($"not {what} within 90 s; last: {string.Join(", ", last?.Select(h => $"{h.Name} {h.State}") ?? [])}\n{string.Join("\n----\n", hosts.Select(h => h.Output[^Math.Min(h.Output.Length, 3000)..]))}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
