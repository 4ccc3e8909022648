using System.Net;
using System.Net.Http.Json;
using Vdi.Protocol;
using Vdi.Server.Tests.Hubs;
using Vdi.Tests.Shared;

namespace Vdi.Server.Tests.Cluster;

/// <summary>
/// A browser may reach any host: a desktop's session, hub connection (WebSockets) and own routes reached through a
/// host that does not run it are forwarded to the one that does, and an administrator's disconnect from a third host
/// reaches the viewer.
/// </summary>
[Trait("Requires", PostgresServer.Trait)]
public sealed class ClusterRoutingTests
{
    [Fact]
    public async Task A_desktop_is_served_through_a_host_that_does_not_run_it()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync();
        await using var cluster = new LoopbackCluster(database.ConnectionString);
        var a = await cluster.StartAsync("host-a"); // alone at first: the built-in desktop is placed here
        var desktop = await a.WaitForBuiltInAsync(await a.SignedInAsync(), "Running", TimeSpan.FromSeconds(90));
        var (b, c) = (await cluster.StartAsync("host-b"), await cluster.StartAsync("host-c"));
        var apiC = await c.SignedInAsync();
        await cluster.WaitForHostsAsync(apiC, l => l.Count(h => h.State == "Active") == 3, "three active hosts");
        Assert.Equal("host-a", (await apiC.GetFromJsonAsync<DesktopSummary>($"api/desktops/{desktop.Id}"))!.Host);

        // Session and hub through host-c: the display request is carried out on host-a and its frames come back.
        var display = new ClientDisplay(1024, 768, 1, null, null, null, null);
        var (sessionId, token) = await LiveViewer.CreateAsync(apiC, desktop.Id, display, "through host-c");
        await using var viewer = await LiveViewer.ConnectAsync(c.Hub(await c.SignInCookieAsync(), desktop.Id), sessionId, token, display);
        await viewer.FrameOfAsync(1024, 768);

        // A host that starts (or restarts) ends only the records of its own desktops: this session stays live.
        await cluster.StartAsync("host-d");
        var live = await apiC.GetFromJsonAsync<List<SessionSummary>>("api/sessions?live=true");
        Assert.Contains(live!, l => l.Id == sessionId);

        // The desktop's own routes through host-b, and the administrator's disconnect from there ends the session.
        var apiB = await b.SignedInAsync();
        Assert.Equal(HttpStatusCode.OK, (await apiB.GetAsync($"api/desktops/{desktop.Id}/integrity")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await apiB.PostAsync($"api/sessions/{sessionId}/disconnect", null)).StatusCode);
        var ended = await viewer.Ended.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(SessionEndReasons.DisconnectedByAdmin, ended.Reason);
    }
}
