using System.Net.Http.Json;
using Vdi.Protocol;
using Vdi.Server.Cluster;
using Vdi.Server.Desktops;
using Vdi.Tests.Shared;

namespace Vdi.Server.Tests.Cluster;

/// <summary>
/// Desktops of a three-host cluster: each placed on the host with the most room and running there, seen from any host,
/// and a desktop whose host is killed restarted on another.
/// </summary>
[Trait("Requires", PostgresServer.Trait)]
public sealed class ClusterPlacementTests
{
    [Fact]
    public async Task Desktops_spread_over_the_hosts_and_a_dead_hosts_desktop_runs_again_elsewhere()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync();
        await using var cluster = new LoopbackCluster(database.ConnectionString);
        // host-a first, so the built-in desktop (made at the first start) is placed while it is alone.
        var a = await cluster.StartAsync("host-a");
        var apiA = await a.SignedInAsync();
        var builtIn = await cluster.WaitForDesktopAsync(apiA, DesktopPool.BuiltInName, d => d is { State: "Running", Host: "host-a" });
        var others = await Task.WhenAll(cluster.StartAsync("host-b"), cluster.StartAsync("host-c"));
        var (apiB, apiC) = (await others[0].SignedInAsync(), await others[1].SignedInAsync());
        await cluster.WaitForHostsAsync(apiA, l => l.Count(h => h.State == "Active") == 3, "three active hosts");

        // Each new desktop goes where there is the most room: the two empty hosts.
        foreach (var name in new[] { "Second", "Third" })
            (await apiB.PostAsJsonAsync("api/desktops", new { name, vcpus = 1, memoryMiB = 256 })).EnsureSuccessStatusCode();
        var second = await cluster.WaitForDesktopAsync(apiC, "Second", d => d is { State: "Running" });
        var third = await cluster.WaitForDesktopAsync(apiA, "Third", d => d is { State: "Running" });
        Assert.Equal(["host-b", "host-c"], new[] { second.Host, third.Host }.Order());
        var loads = await cluster.WaitForHostsAsync(apiB, l => l.All(h => h.Load?.Desktops.Count == 1), "one desktop on each host");
        Assert.Equal([DesktopPool.BuiltInName], loads.Single(h => h.Name == "host-a").Load!.Desktops);

        // host-a dies: its desktop is lost, then placed on a host that is left and running there.
        await a.KillAsync();
        var moved = await cluster.WaitForDesktopAsync(apiB, builtIn.Name, d => d is { State: "Running" } && d.Host != "host-a", TimeSpan.FromSeconds(120));
        Assert.True(moved.Host is "host-b" or "host-c", $"moved to {moved.Host}");
        Assert.Equal(builtIn.Id, moved.Id);
        var audit = await apiC.GetFromJsonAsync<List<AuditEntry>>("api/audit?q=restarted-elsewhere");
        Assert.Contains(audit!, e => e.Detail.Contains("its host host-a was lost", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0, 0, 0, "a")] // all empty: the first name
    [InlineData(1, 0, 0, "b")]
    [InlineData(1, 1, 0, "c")]
    public void A_desktop_goes_to_the_host_with_the_most_room(int onA, int onB, int onC, string expected)
    {
        static (string, HostLoadReport) Host(string name, int desktops) =>
            (name, new HostLoadReport([.. Enumerable.Range(0, desktops).Select(i => $"d{i}")], desktops, desktops * 512, 10, 8, 8192));
        Assert.Equal(expected, Placement.Choose([Host("a", onA), Host("b", onB), Host("c", onC)], vcpus: 1, memoryMiB: 512));
    }

    [Fact]
    public void A_desktop_too_big_for_every_host_is_not_placed_and_the_scarcest_resource_decides()
    {
        var roomy = ("roomy", new HostLoadReport([], 0, 7000, 10, 8, 8192)); // little memory left
        var busy = ("busy", new HostLoadReport(["x", "y"], 2, 1024, 10, 8, 8192));
        Assert.Null(Placement.Choose([roomy, busy], vcpus: 16, memoryMiB: 512));
        Assert.Equal("busy", Placement.Choose([roomy, busy], vcpus: 1, memoryMiB: 512));
        Assert.Null(Placement.Choose([], vcpus: 1, memoryMiB: 512));
    }
}
