using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Hubs;
using Vdi.Tests.Shared;

namespace Vdi.Server.Tests.Cluster;

/// <summary>
/// Live snapshots in a folder the hosts share: a desktop whose host dies starts on another host from its latest
/// snapshot — what was typed before it is still on its screen — and a desktop stopped on purpose starts afresh.
/// </summary>
[Trait("Requires", PostgresServer.Trait)]
public sealed class ClusterSnapshotTests
{
    private static readonly ClientDisplay s_display = new(1024, 768, 1, null, null, null, null);

    [Fact]
    public async Task A_dead_hosts_desktop_starts_elsewhere_from_its_latest_snapshot()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync();
        await using var cluster = new LoopbackCluster(database.ConnectionString);
        var snapshots = Path.Combine(Path.GetTempPath(), $"vdi-snap-{Guid.NewGuid():N}");
        try
        {
            string[] settings = [$"--Vdi:Cluster:SnapshotDirectory={snapshots}", "--Vdi:Cluster:SnapshotEvery=00:00:02"];
            var a = await cluster.StartAsync("host-a", settings);
            var apiA = await a.SignedInAsync();
            var desktop = await cluster.WaitForDesktopAsync(apiA, DesktopPool.BuiltInName, d => d is { State: "Running", Host: "host-a" });
            var b = await cluster.StartAsync("host-b", settings);
            var apiB = await b.SignedInAsync();
            await cluster.WaitForHostsAsync(apiB, l => l.Count(h => h.State == "Active") == 2, "two active hosts");

            // Typed into the desktop, then a snapshot taken after it.
            var (sessionId, token) = await LiveViewer.CreateAsync(apiB, desktop.Id, s_display, "typist");
            await using (var viewer = await LiveViewer.ConnectAsync(b.Hub(await b.SignInCookieAsync(), desktop.Id), sessionId, token, s_display))
            {
                await viewer.FrameOfAsync(1024, 768);
                foreach (var (code, key) in new[] { ("KeyS", "s"), ("KeyN", "n"), ("KeyA", "a"), ("KeyP", "p") })
                {
                    await viewer.Connection.InvokeAsync("SendKey", new KeyEvent(code, key, true));
                    await viewer.Connection.InvokeAsync("SendKey", new KeyEvent(code, key, false));
                }
                await GuestTerminal.UntilLastLineAsync(apiB, desktop.Id, "snap");
            }
            var typed = DateTime.UtcNow;
            var file = Path.Combine(snapshots, $"{desktop.Id:N}.vdisnap");
            for (var deadline = DateTime.UtcNow.AddSeconds(60); !(File.Exists(file) && File.GetLastWriteTimeUtc(file) > typed.AddSeconds(1)); await Task.Delay(250))
                Assert.True(DateTime.UtcNow < deadline, "no snapshot taken after the typing within 60 s");

            // host-a dies: the desktop runs on host-b, restored, with the typed line on its terminal.
            await a.KillAsync();
            await cluster.WaitForDesktopAsync(apiB, desktop.Name, d => d is { State: "Running", Host: "host-b" }, TimeSpan.FromSeconds(120));
            await GuestTerminal.UntilLastLineAsync(apiB, desktop.Id, "snap");
            var audit = await apiB.GetFromJsonAsync<List<AuditEntry>>("api/audit?q=restarted-elsewhere");
            Assert.Contains(audit!, e => e.Detail.Contains("from its snapshot of", StringComparison.Ordinal));

            // Stopped on purpose: the snapshot goes, and the next start is a fresh boot.
            (await apiB.PostAsync($"api/desktops/{desktop.Id}/stop", null)).EnsureSuccessStatusCode();
            await cluster.WaitForDesktopAsync(apiB, desktop.Name, d => d is { State: "Stopped" });
            Assert.False(File.Exists(file), "the stopped desktop's snapshot is still there");
        }
        finally
        {
            if (Directory.Exists(snapshots))
                Directory.Delete(snapshots, recursive: true);
        }
    }
}
