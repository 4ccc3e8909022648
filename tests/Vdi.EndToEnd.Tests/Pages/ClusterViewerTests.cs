using System.Net.Http.Json;
using Vdi.EndToEnd.Tests.Infrastructure;
using Vdi.Protocol;
using Vdi.Tests.Shared;

namespace Vdi.EndToEnd.Tests.Pages;

/// <summary>
/// A cluster of three hosts (broker processes on PostgreSQL, snapshots in a shared folder) seen from Chromium: the
/// page, served by a host that does not run the desktop, shows it through that host; when the desktop's host is
/// drained, the page follows the desktop to its new host without a reload and paints what is typed after, with nothing
/// typed lost; when that host dies, the page shows it is reconnecting and reconnects once the desktop runs again elsewhere, restored
/// from its snapshot, and typing goes on.
/// </summary>
[Trait("Requires", PostgresServer.Trait)]
public sealed class ClusterViewerTests
{
    [Fact]
    public async Task Chromium_follows_its_desktop_when_its_host_is_drained_and_when_that_host_dies()
    {
        SetDefaultExpectTimeout((float)Site.Timeout.TotalMilliseconds);
        await using var database = await PostgresServer.CreateDatabaseAsync();
        // Short: each desktop's host socket lies below it, and a socket path may not pass 108 characters.
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-ec-{Guid.NewGuid().ToString("N")[..8]}");
        var hosts = new List<ClusterHost>();
        string[] settings =
        [
            $"--Vdi:Cluster:SnapshotDirectory={Path.Combine(folder, "snapshots")}", "--Vdi:Cluster:SnapshotEvery=00:00:02",
            "--Vdi:Cluster:ProbeTimeout=00:00:01", "--Vdi:Cluster:MissedProbesLimit=2",
        ];
        try
        {
            var a = await ClusterHost.StartAsync("host-a", folder, database.ConnectionString, settings);
            hosts.Add(a);
            var desktop = await UntilAsync(async () => (await a.Api.GetFromJsonAsync<List<DesktopSummary>>("api/desktops"))!
                .FirstOrDefault(d => d is { Name: LiveBroker.BuiltInDesktop, State: "Running" }));
            hosts.Add(await ClusterHost.StartAsync("host-b", folder, database.ConnectionString, settings));
            // host-c serves the page and runs no desktop: it outlives the hosts this test drains and kills.
            var c = await ClusterHost.StartAsync("host-c", folder, database.ConnectionString, [.. settings, "--Vdi:Host:MaxDesktops=0"]);
            hosts.Add(c);
            await UntilAsync(async () => (await c.Api.GetFromJsonAsync<List<HostSummary>>("api/hosts"))!.Count(h => h.State == "Active") == 3 ? "" : null);

            await using var chromium = await Chromium.LaunchAsync();
            await using var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions
            {
                BaseURL = c.BaseAddress.ToString(), ViewportSize = new ViewportSize { Width = 1280, Height = 720 }, DeviceScaleFactor = 1,
            });
            context.SetDefaultTimeout((float)Site.Timeout.TotalMilliseconds);
            var page = await context.NewPageAsync();
            await PageContract.SignInAsync(page, LiveBroker.AdminUserName, ClusterHost.AdminPassword);
            await Expect(page).ToHaveURLAsync(c.BaseAddress.ToString());
            await PageContract.DesktopItem(page).Locator("button.open").ClickAsync();
            await Expect(page.Locator("#status")).ToHaveTextAsync(PageContract.Connected());
            await page.EvaluateAsync("() => { window.__marker = 'before-drain'; }");
            var screen = PageContract.Screen(page);
            await screen.ClickAsync();
            await page.Keyboard.TypeAsync("hello", new KeyboardTypeOptions { Delay = 30 });
            await GuestTerminal.UntilLastLineAsync(c.Api, desktop.Id, "hello");
            var session = Assert.Single(await LiveSessionsAsync(c, desktop.Id));

            // The administrator drains host-a from the dashboard, in another tab.
            var dashboard = await context.NewPageAsync();
            await dashboard.GotoAsync(PageContract.Admin);
            var hostA = dashboard.Locator("table#hosts tr[data-host=\"host-a\"]");
            await hostA.Locator("button.drain").ClickAsync();
            await Expect(dashboard.Locator("#admin-notice")).ToHaveTextAsync("host-a drained: moved Built-in desktop to host-b.", new() { Timeout = 60_000 });
            await Expect(hostA).ToHaveAttributeAsync("data-state", "Draining");
            Assert.Equal("host-b", (await c.Api.GetFromJsonAsync<DesktopSummary>($"api/desktops/{desktop.Id}"))!.Host);

            // Connected again (to the desktop on its new host), the page not reloaded, and typing goes on where it was.
            await Expect(page.Locator("#status")).ToHaveTextAsync(PageContract.Connected());
            using var before = await CanvasPixels.CaptureAsync(screen);
            await page.Keyboard.TypeAsync(" world", new KeyboardTypeOptions { Delay = 30 });
            await GuestTerminal.UntilLastLineAsync(c.Api, desktop.Id, "hello world");
            Assert.True(await CanvasPixels.ChangesBelowBarAsync(screen, before), "what was typed after the drain was not painted on the canvas");
            Assert.Equal("before-drain", await page.EvaluateAsync<string>("() => window.__marker"));
            await Expect(page.Locator("#session-ended")).Not.ToBeVisibleAsync();
            await Expect(page.Locator("#viewer-error")).Not.ToBeVisibleAsync();
            Assert.Equal(session, Assert.Single(await LiveSessionsAsync(c, desktop.Id))); // the same session goes on

            // host-a takes desktops again; host-b dies after a snapshot that has the typing: the page reconnects to the
            // desktop on host-a, restored from the snapshot, and takes typing again.
            await hostA.Locator("button.undrain").ClickAsync();
            await Expect(hostA).ToHaveAttributeAsync("data-state", "Active");
            var snapshot = Path.Combine(folder, "snapshots", $"{desktop.Id:N}.vdisnap");
            var typed = DateTime.UtcNow;
            await UntilAsync(() => Task.FromResult(File.Exists(snapshot) && File.GetLastWriteTimeUtc(snapshot) > typed.AddSeconds(1) ? "" : null));
            await hosts[1].KillAsync();
            await UntilAsync(async () => (await c.Api.GetFromJsonAsync<DesktopSummary>($"api/desktops/{desktop.Id}")) is { State: "Running", Host: "host-a" } ? "" : null);
            await Expect(page.Locator("#status")).ToHaveTextAsync(PageContract.Connected(), new() { Timeout = 60_000 });
            await GuestTerminal.UntilLastLineAsync(c.Api, desktop.Id, "hello world");
            await page.Keyboard.TypeAsync(" again", new KeyboardTypeOptions { Delay = 30 });
            await GuestTerminal.UntilLastLineAsync(c.Api, desktop.Id, "hello world again");
            Assert.Equal("before-drain", await page.EvaluateAsync<string>("() => window.__marker"));
            await Expect(page.Locator("#session-ended")).Not.ToBeVisibleAsync();
        }
        finally
        {
            foreach (var host in hosts)
                await host.DisposeAsync();
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<List<Guid>> LiveSessionsAsync(ClusterHost via, Guid desktop) =>
        [.. (await via.Api.GetFromJsonAsync<List<SessionSummary>>("api/sessions?live=true"))!.Where(s => s.DesktopId == desktop).Select(s => s.Id)];

    private static async Task<T> UntilAsync<T>(Func<Task<T?>> probe) where T : class
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(90); DateTime.UtcNow < deadline; await Task.Delay(250))
        {
            if (await probe() is { } done)
                return done;
        }
        throw new TimeoutException("not within 90 s");
    }
}
