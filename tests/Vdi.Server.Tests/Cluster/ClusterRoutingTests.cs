using System.Net;
using System.Net.Http.Json;
using Vdi.Protocol;
using Vdi.Server.Tests.Desktops;
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
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        var hosts = new List<BrokerProcess>();
        try
        {
            hosts.Add(await Start("host-a")); // alone at first: the built-in desktop is placed here
            var apiA = await hosts[0].SignedInAsync();
            var desktop = await hosts[0].WaitForBuiltInAsync(apiA, "Running", TimeSpan.FromSeconds(90));
            hosts.AddRange(await Task.WhenAll(Start("host-b"), Start("host-c")));
            var (b, c) = (hosts[1], hosts[2]);
            var apiC = await c.SignedInAsync();
            await ClusterMembershipTests.WaitForAsync(apiC, l => l.Count(h => h.State == "Active") == 3, "three active hosts", hosts);
            Assert.Equal("host-a", (await apiC.GetFromJsonAsync<DesktopSummary>($"api/desktops/{desktop.Id}"))!.Host);

            // Session and hub through host-c: the display request is carried out on host-a and its frames come back.
            var display = new ClientDisplay(1024, 768, 1, null, null, null, null);
            var (sessionId, token) = await LiveViewer.CreateAsync(apiC, desktop.Id, display, "through host-c");
            await using var viewer = await LiveViewer.ConnectAsync(c.Hub(await c.SignInCookieAsync(), desktop.Id), sessionId, token, display);
            await viewer.FrameOfAsync(1024, 768);

            // A host that starts (or restarts) ends only the records of its own desktops: this session stays live.
            hosts.Add(await Start("host-d"));
            var live = await apiC.GetFromJsonAsync<List<SessionSummary>>("api/sessions?live=true");
            Assert.Contains(live!, l => l.Id == sessionId);

            // The desktop's own routes through host-b, and the administrator's disconnect from there ends the session.
            var apiB = await b.SignedInAsync();
            Assert.Equal(HttpStatusCode.OK, (await apiB.GetAsync($"api/desktops/{desktop.Id}/integrity")).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await apiB.PostAsync($"api/sessions/{sessionId}/disconnect", null)).StatusCode);
            var ended = await viewer.Ended.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(SessionEndReasons.DisconnectedByAdmin, ended.Reason);
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
}
