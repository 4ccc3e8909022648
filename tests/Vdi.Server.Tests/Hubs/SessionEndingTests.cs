using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Vdi.Protocol;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Hubs;

/// <summary>
/// A session has one owner, and an ended session gets nothing more: on a real desktop VM, through the official .NET
/// SignalR client, every way a session ends tells the client why, stops its frames at once and closes its connection.
/// </summary>
public sealed class SessionEndingTests : IDisposable
{
    private static readonly ClientDisplay s_laptop = new(1280, 720, 1, null, null, null, null);
    private static readonly ClientDisplay s_phone = new(390, 844, 3, null, null, null, null);
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private readonly BrokerFactory _factory = new(runningDesktops: true);

    private async Task<(HttpClient Api, DesktopSummary Desktop)> RunningAsync()
    {
        var api = await _factory.SignedInAsync();
        return (api, await DesktopApiTests.WaitForStateAsync(api, "Running"));
    }

    internal static async Task<SessionSummary> RecordAsync(HttpClient api, Guid sessionId, Func<SessionSummary, bool> until)
    {
        SessionSummary? record = null;
        for (var i = 0; i < 100; i++)
        {
            record = (await api.GetFromJsonAsync<List<SessionSummary>>("/api/sessions"))!.Single(s => s.Id == sessionId);
            if (until(record))
                return record;
            await Task.Delay(100);
        }
        return record!;
    }

    [Fact]
    public async Task A_taken_over_client_is_told_which_device_took_over_then_gets_no_frame_and_is_closed()
    {
        var (api, desktop) = await RunningAsync();
        await using var laptop = await LiveViewer.OpenAsync(_factory, api, desktop.Id, s_laptop, "laptop");
        await laptop.FrameOfAsync(1280, 720);

        await using var phone = await LiveViewer.OpenAsync(_factory, api, desktop.Id, s_phone, "iPhone");
        var ended = await laptop.Ended.WaitAsync(s_wait);
        Assert.Equal(SessionEndReasons.TakenOver, ended.Reason);
        Assert.StartsWith("This desktop was opened on another device (iPhone).", ended.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("another device opened this desktop", ended.Message, StringComparison.Ordinal);
        await laptop.Closed.WaitAsync(s_wait);

        // The new device types and its screen changes: none of it reaches the first client.
        await phone.FrameOfAsync(390, 844);
        for (var i = 0; i < 20; i++)
        {
            await phone.Connection.InvokeAsync("SendKey", new KeyEvent("KeyA", "a", i % 2 == 0));
            await Task.Delay(50);
        }
        Assert.Equal(0, laptop.FramesAfterEnd);
        Assert.Equal(SessionEndReasons.TakenOver, (await RecordAsync(api, laptop.SessionId, s => s.EndedAt is not null)).EndReason);
    }

    [Fact]
    public async Task A_session_ended_by_an_administrator_gets_no_frame_and_is_closed()
    {
        var (api, desktop) = await RunningAsync();
        await using var viewer = await LiveViewer.OpenAsync(_factory, api, desktop.Id, s_laptop);
        await viewer.FrameOfAsync(1280, 720);

        var response = await api.PostAsync($"/api/sessions/{viewer.SessionId}/disconnect", null);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        Assert.Equal(SessionEndReasons.DisconnectedByAdmin, (await viewer.Ended.WaitAsync(s_wait)).Reason);
        await viewer.Closed.WaitAsync(s_wait);
        await Task.Delay(1500); // the desktop's clock ticks meanwhile
        Assert.Equal(0, viewer.FramesAfterEnd);
    }

    [Fact]
    public async Task Signing_out_ends_the_users_sessions_and_closes_them()
    {
        var (api, desktop) = await RunningAsync();
        await using var viewer = await LiveViewer.OpenAsync(_factory, api, desktop.Id, s_laptop);
        await viewer.FrameOfAsync(1280, 720);

        (await api.PostAsync("/api/auth/sign-out", null)).EnsureSuccessStatusCode();

        Assert.Equal(SessionEndReasons.SignedOut, (await viewer.Ended.WaitAsync(s_wait)).Reason);
        await viewer.Closed.WaitAsync(s_wait);
        var admin = await _factory.SignedInAsync();
        Assert.Equal(SessionEndReasons.SignedOut, (await RecordAsync(admin, viewer.SessionId, s => s.EndedAt is not null)).EndReason);
    }

    [Fact]
    public async Task Stopping_a_desktop_ends_its_sessions_with_desktop_stopped_and_closes_them()
    {
        var (api, desktop) = await RunningAsync();
        await using var viewer = await LiveViewer.OpenAsync(_factory, api, desktop.Id, s_laptop);
        await viewer.FrameOfAsync(1280, 720);
        var waiting = await LiveViewer.CreateAsync(api, desktop.Id, s_phone, "not connected yet");
        // Input keeps arriving while the desktop stops: each key is delivered or dropped, never written to unmapped memory.
        var flood = Task.Run(async () =>
        {
            for (var i = 0; viewer.Connection.State == HubConnectionState.Connected; i++)
            {
                try
                {
                    await viewer.Connection.SendAsync("SendKey", new KeyEvent("KeyA", "a", i % 2 == 0));
                }
                catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or IOException)
                {
                    return;
                }
            }
        });

        (await api.PostAsync($"/api/desktops/{desktop.Id}/stop", null)).EnsureSuccessStatusCode();

        var ended = await viewer.Ended.WaitAsync(s_wait);
        Assert.Equal(SessionEndReasons.DesktopStopped, ended.Reason);
        Assert.Contains("stopped", ended.Message, StringComparison.Ordinal);
        await viewer.Closed.WaitAsync(s_wait);
        await flood.WaitAsync(s_wait);
        Assert.Equal(SessionEndReasons.DesktopStopped, (await RecordAsync(api, viewer.SessionId, s => s.EndedAt is not null)).EndReason);
        Assert.Equal(SessionEndReasons.DesktopStopped, (await RecordAsync(api, waiting.SessionId, s => s.EndedAt is not null)).EndReason);
    }

    [Fact]
    public async Task A_second_connect_on_one_connection_is_refused_and_the_first_session_stays()
    {
        var (api, desktop) = await RunningAsync();
        await using var viewer = await LiveViewer.OpenAsync(_factory, api, desktop.Id, s_laptop);
        await viewer.FrameOfAsync(1280, 720);
        var second = await LiveViewer.CreateAsync(api, desktop.Id, s_phone, "second");

        var e = await Assert.ThrowsAsync<HubException>(() => viewer.Connection.InvokeAsync<ModeChanged>("Connect", second.Token, s_phone));
        Assert.Contains("already has a session", e.Message, StringComparison.Ordinal);

        var first = (await api.GetFromJsonAsync<List<SessionSummary>>("/api/sessions"))!.Single(s => s.Id == viewer.SessionId);
        Assert.Null(first.EndedAt);
        Assert.Equal(HubConnectionState.Connected, viewer.Connection.State);
        await viewer.Connection.InvokeAsync("ChangeDisplay", new DisplayChanged(new ClientDisplay(1000, 700, 1, null, null, null, null)));
        await viewer.FrameOfAsync(1000, 700); // still the desktop's controller
    }

    [Fact]
    public async Task The_session_record_follows_the_clients_display_on_every_resize()
    {
        var (api, desktop) = await RunningAsync();
        await using var viewer = await LiveViewer.OpenAsync(_factory, api, desktop.Id, s_laptop);
        await viewer.FrameOfAsync(1280, 720);

        await viewer.Connection.InvokeAsync("ChangeDisplay", new DisplayChanged(new ClientDisplay(1000, 700, 2, null, null, null, null)));

        var record = await RecordAsync(api, viewer.SessionId, s => s.Display.Width == 1000);
        Assert.Equal((1000, 700, 2.0), (record.Display.Width, record.Display.Height, record.Display.DevicePixelRatio));
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
