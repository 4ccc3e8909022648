using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Vdi.Protocol;
using Vdi.Server.Cluster;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Hubs;
using Vdi.Tests.Shared;

namespace Vdi.Server.Tests.Cluster;

/// <summary>
/// Draining a host of a three-host cluster: its desktops move to the other hosts by live migration while a viewer
/// watches through a third host and follows its desktop there, its session going on; a desktop no other host has room for stays, and the
/// drain says so; a draining host takes no new desktop.
/// </summary>
[Trait("Requires", PostgresServer.Trait)]
public sealed class ClusterDrainTests
{
    private static readonly ClientDisplay s_display = new(1024, 768, 1, null, null, null, null);

    [Fact]
    public async Task A_drained_hosts_desktops_move_by_live_migration_and_their_viewers_follow()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync();
        await using var cluster = new LoopbackCluster(database.ConnectionString);
        // host-a alone at first runs three desktops; the others take one desktop each, so one of the three has nowhere to go.
        var a = await cluster.StartAsync("host-a");
        var apiA = await a.SignedInAsync();
        foreach (var name in new[] { "Second", "Third" })
            (await apiA.PostAsJsonAsync("api/desktops", new { name, vcpus = 1, memoryMiB = 256 })).EnsureSuccessStatusCode();
        foreach (var name in new[] { DesktopPool.BuiltInName, "Second", "Third" })
            await cluster.WaitForDesktopAsync(apiA, name, d => d is { State: "Running", Host: "host-a" });
        var others = await Task.WhenAll(cluster.StartAsync("host-b", "--Vdi:Host:MaxDesktops=1"), cluster.StartAsync("host-c", "--Vdi:Host:MaxDesktops=1"));
        var c = others[1];
        var apiC = await c.SignedInAsync();
        await cluster.WaitForHostsAsync(apiC, l => l.Count(h => h.State == "Active") == 3, "three active hosts");

        // A viewer of the built-in desktop through host-c.
        var builtIn = await cluster.WaitForDesktopAsync(apiC, DesktopPool.BuiltInName, d => d is { State: "Running" });
        var cookie = await c.SignInCookieAsync();
        var (sessionId, token) = await LiveViewer.CreateAsync(apiC, builtIn.Id, s_display, "through host-c");
        await using var viewer = await LiveViewer.ConnectAsync(c.Hub(cookie, builtIn.Id), sessionId, token, s_display);
        await viewer.FrameOfAsync(1024, 768);

        var drained = await apiC.PostAsync("api/hosts/host-a/drain", null);
        Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        var report = (await drained.Content.ReadFromJsonAsync<DrainReport>())!;
        Assert.Equal(2, report.Moved.Count);
        var failed = Assert.Single(report.Failed);
        Assert.Contains("no other active host has room", failed.Error, StringComparison.Ordinal);
        Assert.Equal(["host-b", "host-c"], report.Moved.Select(m => m.To).Order());
        Assert.All(report.Moved, m => Assert.True(m.DowntimeMs is > 0, $"{m.Name}: downtime {m.DowntimeMs}"));

        // Where each desktop runs now, seen from any host: the one that stayed still runs on host-a.
        var desktops = await apiC.GetFromJsonAsync<List<DesktopSummary>>("api/desktops");
        foreach (var move in report.Moved)
            Assert.Equal(("Running", move.To), desktops!.Single(d => d.Id == move.DesktopId) is var d ? (d.State, d.Host) : default);
        Assert.Equal(("Running", "host-a"), desktops!.Single(d => d.Id == failed.DesktopId) is var s ? (s.State, s.Host) : default);

        // The built-in desktop's viewer was told it moved (not that it ended); a new session through host-c reaches it
        // on its new host, guest and screen as they were.
        // (One at a time, by name: the built-in desktop first.)
        Assert.Contains(report.Moved, m => m.DesktopId == builtIn.Id);
        var moved = await viewer.Ended.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SessionEndReasons.Moved, moved.Reason);
        Assert.NotNull(moved.ResumeToken);
        await using var follower = await LiveViewer.ConnectAsync(c.Hub(cookie, builtIn.Id), sessionId, moved.ResumeToken, s_display);
        await follower.FrameOfAsync(1024, 768);
        var live = await apiC.GetFromJsonAsync<List<SessionSummary>>("api/sessions?live=true");
        Assert.Contains(live!, l => l.Id == sessionId); // the same session, on the desktop's new host
        // The token is single use, like any connect token.
        await using var replay = c.Hub(cookie, builtIn.Id);
        await replay.StartAsync();
        await Assert.ThrowsAsync<HubException>(() => replay.InvokeAsync<ModeChanged>("Connect", moved.ResumeToken, s_display));

        // Draining: listed so, and a new desktop goes elsewhere (host-b and host-c are full: it waits, not placed on host-a).
        var hosts = await apiC.GetFromJsonAsync<List<HostSummary>>("api/hosts");
        Assert.Equal("Draining", hosts!.Single(h => h.Name == "host-a").State);
        var audit = await apiC.GetFromJsonAsync<List<AuditEntry>>("api/audit?q=desktop.moved");
        Assert.Equal(2, audit!.Count);

        // Undone: host-a takes desktops again.
        Assert.Equal(HttpStatusCode.NoContent, (await apiC.DeleteAsync("api/hosts/host-a/drain")).StatusCode);
        await cluster.WaitForHostsAsync(apiC, l => l.Single(h => h.Name == "host-a").State == "Active", "host-a active again");
        Assert.Equal(HttpStatusCode.NotFound, (await apiC.PostAsync("api/hosts/host-z/drain", null)).StatusCode);
    }
}
