using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Api;
using static Vdi.Server.Tests.Desktops.DesktopWaits;
using Vdi.Server.Tests.Hubs;

namespace Vdi.Server.Tests.Desktops;

/// <summary>
/// A fault-tolerant desktop through the broker: marked so by the API while it runs, it moves into a pair of sandboxed
/// hosts by live migration; a viewer
/// connected with the official SignalR client types while the primary's process is killed — the secondary takes over,
/// the same connection keeps its frames and everything typed is on the terminal, and protection comes back; "fail
/// over now" does the same by hand; every event is in the audit log; bad calls get problems.
/// </summary>
public sealed class FaultToleranceTests : IDisposable
{
    private readonly BrokerFactory _factory = new(runningDesktops: true);

    [Fact]
    public async Task A_viewer_types_on_while_the_primarys_process_is_killed()
    {
        var (api, host) = await BuiltInAsync();
        if (BrokerFactory.Isolation == "InProcess")
        {
            var refused = await api.PutAsJsonAsync($"/api/desktops/{host.Id}/fault-tolerance", new { enabled = true });
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("host processes", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            return;
        }
        await using var viewer = await LiveViewer.OpenAsync(_factory, api, host.Id, new ClientDisplay(1024, 768, 1, null, null, null, null));
        await UntilAsync(() => viewer.FrameCount > 0, "a first frame");
        await TypeAsync(viewer, "ab");
        await UntilLineAsync(host, "ab");
        await ProtectAsync(api, host); // the running desktop moves into a pair; the viewer stays
        await TypeAsync(viewer, "c");
        await UntilLineAsync(host, "abc");

        var before = await StatusAsync(api, host.Id);
        var typing = TypeAsync(viewer, "def");
        Process.GetProcessById(before.PrimaryProcessId!.Value).Kill(); // the primary's host crashes while keys arrive
        await typing;
        var frames = viewer.FrameCount;
        await TypeAsync(viewer, "ghi");
        await UntilLineAsync(host, "abcdefghi");
        await UntilAsync(() => viewer.FrameCount > frames, "frames after the failover on the same connection");
        Assert.Equal(HubConnectionState.Connected, viewer.Connection.State);
        Assert.False(viewer.Ended.IsCompleted);
        Assert.Equal(DesktopState.Running, host.State);

        var after = await UntilStatusAsync(api, host.Id, s => s.State == "protected" && s.Failovers == 1, "protection after the failover");
        Assert.Equal(before.SecondaryProcessId, after.PrimaryProcessId); // the secondary took over
        Assert.NotEqual(before.SecondaryProcessId, after.SecondaryProcessId);
        await UntilAuditAsync(api, "fault-tolerance.failed-over");
        await UntilAuditAsync(api, "fault-tolerance.protected");
    }

    [Fact]
    public async Task Fail_over_now_moves_the_desktop_to_its_secondary_and_bad_calls_get_problems()
    {
        var (api, host) = await BuiltInAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostAsync($"/api/desktops/{Guid.NewGuid()}/failover", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"/api/desktops/{Guid.NewGuid()}/fault-tolerance")).StatusCode);
        var noBody = await api.PutAsJsonAsync($"/api/desktops/{host.Id}/fault-tolerance", new { });
        Assert.Equal(HttpStatusCode.BadRequest, noBody.StatusCode);
        Assert.Contains("enabled", await noBody.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var single = await api.PostAsync($"/api/desktops/{host.Id}/failover", null);
        Assert.Equal(HttpStatusCode.Conflict, single.StatusCode);
        Assert.Contains("not running as a fault-tolerant pair", await single.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var twoCpus = await api.PostAsJsonAsync("/api/desktops", new { name = "two", vcpus = 2, memoryMiB = 512, faultTolerant = true });
        Assert.Equal(HttpStatusCode.BadRequest, twoCpus.StatusCode);
        Assert.Contains("faultTolerant", await twoCpus.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.True((await api.PostAsJsonAsync("/api/users", new { userName = "fran", password = "Fran-Pa55word-long" })).IsSuccessStatusCode);
        var user = await _factory.SignedInAsync("fran", "Fran-Pa55word-long");
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PutAsJsonAsync($"/api/desktops/{host.Id}/fault-tolerance", new { enabled = true })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PostAsync($"/api/desktops/{host.Id}/failover", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await user.GetAsync($"/api/desktops/{host.Id}/fault-tolerance")).StatusCode); // not hers

        if (BrokerFactory.Isolation == "InProcess")
            return; // a pair needs host processes: the refusal is the other test's
        await ProtectAsync(api, host);
        var before = await StatusAsync(api, host.Id);
        var asked = await api.PostAsync($"/api/desktops/{host.Id}/failover", null);
        Assert.Equal(HttpStatusCode.Accepted, asked.StatusCode);
        var after = await UntilStatusAsync(api, host.Id, s => s.Failovers == 1 && s.PrimaryProcessId == before.SecondaryProcessId, "the failover");
        Assert.Contains("by the administrator", after.LastEvent, StringComparison.Ordinal);
        await UntilAuditAsync(api, "desktop.failover");
        var summary = await api.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{host.Id}");
        Assert.True(summary!.FaultTolerance is { Enabled: true, Failovers: 1 }, $"{summary.FaultTolerance}");

        // Switched off: the pair lets its secondary go at once and runs on alone; on again, a secondary follows again.
        var off = await (await api.PutAsJsonAsync($"/api/desktops/{host.Id}/fault-tolerance", new { enabled = false })).Content.ReadFromJsonAsync<FaultToleranceSettingResult>();
        Assert.Equal("now", off!.Applies);
        var alone = await StatusAsync(api, host.Id);
        Assert.True(alone is { Enabled: false, State: "off", SecondaryProcessId: null }, $"{alone}");
        Assert.Equal(HttpStatusCode.Conflict, (await api.PostAsync($"/api/desktops/{host.Id}/failover", null)).StatusCode);
        Assert.Equal("now", (await (await api.PutAsJsonAsync($"/api/desktops/{host.Id}/fault-tolerance", new { enabled = true })).Content.ReadFromJsonAsync<FaultToleranceSettingResult>())!.Applies);
        await UntilStatusAsync(api, host.Id, s => s.State == "protected", "protection switched on again");

        // Stopped, then started: it starts as a pair.
        Assert.True((await api.PostAsync($"/api/desktops/{host.Id}/stop", null)).IsSuccessStatusCode);
        Assert.Equal("stopped", (await StatusAsync(api, host.Id)).State);
        Assert.True((await api.PostAsync($"/api/desktops/{host.Id}/start", null)).IsSuccessStatusCode);
        await UntilStatusAsync(api, host.Id, s => s.State == "protected" && s.Failovers == 0, "protection after a start");
    }

    private async Task<(HttpClient Api, DesktopHost Host)> BuiltInAsync()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        return (api, _factory.Services.GetRequiredService<DesktopPool>().Get(desktop.Id)!);
    }

    /// <summary>Marks the running desktop fault-tolerant — it moves into a pair at once — and waits for its secondary to follow.</summary>
    private static async Task ProtectAsync(HttpClient api, DesktopHost host)
    {
        var set = await api.PutAsJsonAsync($"/api/desktops/{host.Id}/fault-tolerance", new { enabled = true });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var result = (await set.Content.ReadFromJsonAsync<FaultToleranceSettingResult>())!;
        Assert.True(result.Applies == "now", result.Message);
        Assert.NotNull(host.Pair);
        await UntilStatusAsync(api, host.Id, s => s.State == "protected", "protection");
    }

    private static async Task<FaultToleranceSummary> StatusAsync(HttpClient api, Guid id) =>
        (await api.GetFromJsonAsync<FaultToleranceSummary>($"/api/desktops/{id}/fault-tolerance"))!;

    private static async Task<FaultToleranceSummary> UntilStatusAsync(HttpClient api, Guid id, Func<FaultToleranceSummary, bool> condition, string what)
    {
        FaultToleranceSummary? last = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            last = await StatusAsync(api, id);
            if (condition(last))
                return last;
        }
        throw new TimeoutException($"no {what} within 60 s: {last}");
    }

    private static async Task UntilAuditAsync(HttpClient api, string action)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(10); ; await Task.Delay(100))
        {
            var audit = await api.GetFromJsonAsync<JsonElement>($"/api/audit?q={action}");
            if (audit.EnumerateArray().Any(e => e.GetProperty("action").GetString() == action))
                return;
            Assert.True(DateTime.UtcNow < deadline, $"no audit entry {action}");
        }
    }

    private static async Task TypeAsync(LiveViewer viewer, string text)
    {
        foreach (var c in text)
        {
            var (code, key) = ($"Key{char.ToUpperInvariant(c)}", c.ToString());
            await viewer.Connection.InvokeAsync("SendKey", new KeyEvent(code, key, true));
            await viewer.Connection.InvokeAsync("SendKey", new KeyEvent(code, key, false));
            await Task.Delay(10);
        }
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
