using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Api;
using static Vdi.Server.Tests.Desktops.DesktopWaits;
using Vdi.Vmm.Host;

namespace Vdi.Server.Tests.Desktops;

/// <summary>
/// Live migration through the broker, with desktops where <c>VDI_TEST_ISOLATION</c> says (by default in sandboxed host
/// processes): a viewer connected with the real SignalR client types, the desktop moves to a new VMM instance, and the
/// SAME connection types more and keeps receiving frames; a migration that fails leaves the desktop on its source with
/// the viewer served.
/// </summary>
public sealed class DesktopMigrationTests : IDisposable
{
    private readonly BrokerFactory _factory = new(runningDesktops: true);

    [Fact]
    public async Task A_viewer_keeps_its_connection_and_its_text_across_a_migration()
    {
        var (api, host, viewer) = await OpenAsync();
        await using var _ = viewer;
        await TypeAsync(viewer, "hello");
        await UntilLineAsync(host, "hello");
        var pid = host.HostProcessId;
        var machine = host.Desktop;

        var response = await api.PostAsJsonAsync($"/api/desktops/{host.Id}/migrate", new { downtimeMs = 50 });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(MigrationStatus.Running, (await response.Content.ReadFromJsonAsync<MigrationStatus>())!.Result);
        var status = await UntilEndedAsync(api, host.Id);
        Assert.True(status.Result == MigrationStatus.Succeeded, status.Error);
        Assert.True(status.DowntimeMs > 0 && status.TotalMs >= status.DowntimeMs && status.BytesSent > 0 && status.Rounds >= 1, $"{status}");
        Assert.NotSame(machine, host.Desktop);
        Assert.Equal(DesktopState.Running, host.State);
        if (pid is not null)
        {
            Assert.NotEqual(pid, host.HostProcessId);
            Assert.NotNull(HostRecord.Read(HostDirectories.PathOf(_factory.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DesktopOptions>>().Value, host.Id))
                is { } record && record.Pid == host.HostProcessId ? record : null);
        }

        var framesAtSwitch = viewer.FrameCount;
        await TypeAsync(viewer, " world");
        await UntilLineAsync(host, "hello world");
        await UntilAsync(() => viewer.FrameCount > framesAtSwitch + 1, "frames from the new machine on the same connection");
        Assert.Equal(HubConnectionState.Connected, viewer.Connection.State);
        lock (viewer.Ended)
            Assert.Empty(viewer.Ended);

        // The desktop, now on the host that received it, moves on again with the same viewer.
        Assert.Equal(HttpStatusCode.Accepted, (await api.PostAsync($"/api/desktops/{host.Id}/migrate", null)).StatusCode);
        Assert.Equal(MigrationStatus.Succeeded, (await UntilEndedAsync(api, host.Id)).Result);
        await TypeAsync(viewer, "x");
        await UntilLineAsync(host, "hello worldx");
        Assert.Equal(HubConnectionState.Connected, viewer.Connection.State);

        var audit = await api.GetFromJsonAsync<JsonElement>("/api/audit?q=desktop.migrate");
        var actions = audit.EnumerateArray().Select(e => e.GetProperty("action").GetString()).ToList();
        Assert.Contains("desktop.migrate", actions);
        Assert.Contains("desktop.migrate.succeeded", actions);
    }

    [Fact]
    public async Task A_refused_token_leaves_the_desktop_on_its_source_with_its_viewer_served()
    {
        var (api, host, viewer) = await OpenAsync();
        await using var _ = viewer;
        var (pid, machine) = (host.HostProcessId, host.Desktop);
        host.TestWrongToken = true;

        Assert.Equal(HttpStatusCode.Accepted, (await api.PostAsync($"/api/desktops/{host.Id}/migrate", null)).StatusCode);
        var status = await UntilEndedAsync(api, host.Id);
        Assert.Equal(MigrationStatus.Failed, status.Result);
        Assert.Contains("token", status.Error, StringComparison.Ordinal);
        await AssertStillServedAsync(api, host, viewer, pid, machine, "still");
    }

    [Fact]
    public async Task A_destination_killed_mid_migration_leaves_the_desktop_on_its_source()
    {
        if (BrokerFactory.Isolation == "InProcess")
            return; // a machine in this process cannot be killed alone; the refused token covers the failure path there
        var (api, host, viewer) = await OpenAsync();
        await using var _ = viewer;
        var (pid, machine) = (host.HostProcessId, host.Desktop);

        Assert.Equal(HttpStatusCode.Accepted, (await api.PostAsync($"/api/desktops/{host.Id}/migrate", null)).StatusCode);
        await UntilAsync(() => host.Migration is { Phase: "copying" or "round" } && host.MigrationDestination is RemoteDesktop, "the copy under way");
        ((RemoteDesktop)host.MigrationDestination!).Kill("the test kills the destination mid-migration");
        var status = await UntilEndedAsync(api, host.Id);
        Assert.Equal(MigrationStatus.Failed, status.Result);
        await AssertStillServedAsync(api, host, viewer, pid, machine, "alive");
        var audit = await api.GetFromJsonAsync<JsonElement>("/api/audit?q=desktop.migrate.failed");
        Assert.NotEmpty(audit.EnumerateArray());
    }

    [Fact]
    public async Task Migrate_answers_404_403_409_and_400_with_a_problem()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        Assert.Equal(HttpStatusCode.NotFound, (await api.PostAsync($"/api/desktops/{Guid.NewGuid()}/migrate", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"/api/desktops/{Guid.NewGuid()}/migration")).StatusCode);
        var bad = await api.PostAsJsonAsync($"/api/desktops/{desktop.Id}/migrate", new { downtimeMs = 0 });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("downtimeMs", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.True((await api.PostAsJsonAsync("/api/users", new { userName = "erin", password = "Erin-Pa55word-long" })).IsSuccessStatusCode);
        var user = await _factory.SignedInAsync("erin", "Erin-Pa55word-long");
        Assert.Equal(HttpStatusCode.Forbidden, (await user.PostAsync($"/api/desktops/{desktop.Id}/migrate", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await user.GetAsync($"/api/desktops/{desktop.Id}/migration")).StatusCode);

        Assert.Equal(HttpStatusCode.Accepted, (await api.PostAsync($"/api/desktops/{desktop.Id}/migrate", null)).StatusCode);
        var twice = await api.PostAsync($"/api/desktops/{desktop.Id}/migrate", null);
        Assert.Equal(HttpStatusCode.Conflict, twice.StatusCode);
        Assert.Contains("already migrating", await twice.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(MigrationStatus.Succeeded, (await UntilEndedAsync(api, desktop.Id)).Result);

        Assert.True((await api.PostAsync($"/api/desktops/{desktop.Id}/stop", null)).IsSuccessStatusCode);
        var stopped = await api.PostAsync($"/api/desktops/{desktop.Id}/migrate", null);
        Assert.Equal(HttpStatusCode.Conflict, stopped.StatusCode);
        Assert.Contains("only a running desktop can migrate", await stopped.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<(HttpClient Api, DesktopHost Host, LiveHub Viewer)> OpenAsync()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var host = _factory.Services.GetRequiredService<DesktopPool>().Get(desktop.Id)!;
        var display = new ClientDisplay(1024, 768, 1, null, null, null, null);
        var created = await api.PostAsJsonAsync("/api/sessions", new CreateSessionRequest(desktop.Id, display, "test"));
        created.EnsureSuccessStatusCode();
        var session = (await created.Content.ReadFromJsonAsync<CreateSessionResponse>())!;
        var viewer = new LiveHub(await _factory.HubAsync());
        await viewer.Connection.StartAsync();
        await viewer.Connection.InvokeAsync<ModeChanged>("Connect", session.ConnectToken, display);
        await UntilAsync(() => viewer.FrameCount > 0, "a first frame");
        return (api, host, viewer);
    }

    private static async Task AssertStillServedAsync(HttpClient api, DesktopHost host, LiveHub viewer, int? pid, IDesktopMachine? machine, string text)
    {
        Assert.Equal(DesktopState.Running, host.State);
        Assert.Same(machine, host.Desktop);
        Assert.Equal(pid, host.HostProcessId);
        var frames = viewer.FrameCount;
        await TypeAsync(viewer, text);
        await UntilLineAsync(host, text);
        await UntilAsync(() => viewer.FrameCount > frames, "frames after the failed migration");
        Assert.Equal(HubConnectionState.Connected, viewer.Connection.State);
        Assert.Equal("Running", (await api.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{host.Id}"))!.State);
    }

    private static async Task TypeAsync(LiveHub viewer, string text)
    {
        foreach (var c in text)
        {
            var (code, key) = c == ' ' ? ("Space", " ") : ($"Key{char.ToUpperInvariant(c)}", c.ToString());
            await viewer.Connection.InvokeAsync("SendKey", new KeyEvent(code, key, true));
            await viewer.Connection.InvokeAsync("SendKey", new KeyEvent(code, key, false));
        }
    }

    private static async Task<MigrationStatus> UntilEndedAsync(HttpClient api, Guid id)
    {
        for (var i = 0; i < 600; i++)
        {
            var status = await api.GetFromJsonAsync<MigrationStatus>($"/api/desktops/{id}/migration");
            if (status is { IsRunning: false })
                return status;
            await Task.Delay(100);
        }
        throw new TimeoutException("the migration did not end within 60 s");
    }

    /// <summary>A hub connection that acknowledges and counts its frames and keeps its session-ended notices.</summary>
    private sealed class LiveHub : IAsyncDisposable
    {
        private int _frames;

        public LiveHub(HubConnection connection)
        {
            Connection = connection;
            connection.On<FrameUpdate>("FrameUpdate", async frame =>
            {
                Interlocked.Increment(ref _frames);
                await connection.InvokeAsync("Ack", new FrameAck(frame.FrameId));
            });
            connection.On<SessionEnded>("SessionEnded", ended => { lock (Ended) Ended.Add(ended); });
        }

        public HubConnection Connection { get; }

        public List<SessionEnded> Ended { get; } = [];

        public int FrameCount => Volatile.Read(ref _frames);

        public ValueTask DisposeAsync() => Connection.DisposeAsync();
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
