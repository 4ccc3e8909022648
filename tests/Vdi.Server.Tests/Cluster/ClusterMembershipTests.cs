using System.Net;
using System.Net.Http.Json;
using Vdi.Protocol;
using Vdi.Server.Tests.Api;
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
        await using var cluster = new LoopbackCluster(database.ConnectionString);
        string[] names = ["host-a", "host-b", "host-c"];
        var hosts = await Task.WhenAll(names.Select(name => cluster.StartAsync(name, "--Vdi:Desktops:AutoStart=false")));
        var apis = await Task.WhenAll(hosts.Select(h => h.SignedInAsync()));

        foreach (var api in apis)
        {
            var listed = await cluster.WaitForHostsAsync(api, l => l.Count(h => h.State == "Active" && h.Load is not null) == 3, "three active hosts");
            Assert.Equal(names, listed.Select(h => h.Name));
            Assert.All(listed, h => Assert.StartsWith("127.0.0.1:", h.Address, StringComparison.Ordinal));
        }

        await hosts[2].KillAsync();
        var after = await cluster.WaitForHostsAsync(apis[0], l => l.Single(h => h.Name == "host-c").State == "Dead", "host-c dead");
        Assert.Equal(["Active", "Active", "Dead"], after.Select(h => h.State));
        Assert.Null(after[2].Load);
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
}
