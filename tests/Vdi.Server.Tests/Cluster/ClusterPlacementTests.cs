using System.Net.Http.Json;
using Vdi.Protocol;
using Vdi.Server.Cluster;
using Vdi.Server.Tests.Desktops;
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
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        var names = new[] { "host-a", "host-b", "host-c" };
        var hosts = new List<BrokerProcess>();
        try
        {
            // host-a first, so the built-in desktop (made at the first start) is placed while it is alone.
            hosts.Add(await Start(names[0]));
            var apiA = await hosts[0].SignedInAsync();
            var builtIn = await WaitForDesktopAsync(apiA, Vdi.Server.Desktops.DesktopPool.BuiltInName, d => d is { State: "Running", Host: "host-a" }, hosts);
            hosts.AddRange(await Task.WhenAll(names[1..].Select(Start)));
            var apis = await Task.WhenAll(hosts.Select(h => h.SignedInAsync()));
            await ClusterMembershipTests.WaitForAsync(apis[0], l => l.Count(h => h.State == "Active") == 3, "three active hosts", hosts);

            // Each new desktop goes where there is the most room: the two empty hosts, in name order.
            foreach (var name in new[] { "Second", "Third" })
                (await apis[1].PostAsJsonAsync("api/desktops", new { name, vcpus = 1, memoryMiB = 256 })).EnsureSuccessStatusCode();
            var second = await WaitForDesktopAsync(apis[2], "Second", d => d is { State: "Running" }, hosts);
            var third = await WaitForDesktopAsync(apis[0], "Third", d => d is { State: "Running" }, hosts);
            Assert.Equal(["host-b", "host-c"], new[] { second.Host, third.Host }.Order());
            var loads = await ClusterMembershipTests.WaitForAsync(apis[1], l => l.All(h => h.Load?.Desktops.Count == 1), "one desktop on each host", hosts);
            Assert.Equal([Vdi.Server.Desktops.DesktopPool.BuiltInName], loads.Single(h => h.Name == "host-a").Load!.Desktops);

            // host-a dies: its desktop is lost, then placed on a host that is left and running there.
            await hosts[0].KillAsync();
            var moved = await WaitForDesktopAsync(apis[1], builtIn.Name, d => d is { State: "Running" } && d.Host != "host-a", hosts, TimeSpan.FromSeconds(120));
            Assert.Contains(moved.Host, names[1..]);
            Assert.Equal(builtIn.Id, moved.Id);
            var audit = await apis[2].GetFromJsonAsync<List<AuditEntry>>("api/audit?q=restarted-elsewhere");
            Assert.Contains(audit!, a => a.Detail.Contains("its host host-a was lost", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var host in hosts)
                await host.DisposeAsync();
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }

        Task<BrokerProcess> Start(string name) => BrokerProcess.StartAsync(Path.Combine(folder, name, "data"), Path.Combine(folder, name, "hosts"),
            ClusterMembershipTests.ClusterSettings(database.ConnectionString, name));
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

    private static async Task<DesktopSummary> WaitForDesktopAsync(HttpClient api, string name, Func<DesktopSummary, bool> done, IEnumerable<BrokerProcess> hosts, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(90);
        var deadline = DateTime.UtcNow + limit;
        DesktopSummary? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = (await api.GetFromJsonAsync<List<DesktopSummary>>("api/desktops"))!.FirstOrDefault(d => d.Name == name);
            if (last is not null && done(last))
                return last;
            await Task.Delay(250);
        }
        throw new TimeoutException($"desktop {name} not as expected within {limit.TotalSeconds} s; last: {last?.State} on {last?.Host} ({last?.StateReason})\n{string.Join("\n----\n", hosts.Select(h => h.Output[^Math.Min(h.Output.Length, 3000)..]))}");
    }
}
