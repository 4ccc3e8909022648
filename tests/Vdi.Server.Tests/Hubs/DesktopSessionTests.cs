using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Hubs;

/// <summary>Whole sessions on a real desktop VM, through the official .NET SignalR client.</summary>
public sealed class DesktopSessionTests : IDisposable
{
    private readonly BrokerFactory _factory = new(runningDesktops: true);

    private sealed record Viewer(HubConnection Connection, List<FrameUpdate> Frames, List<SessionEnded> Ended) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Connection.DisposeAsync();
    }

    private async Task<Viewer> OpenAsync(HttpClient api, Guid desktopId, ClientDisplay display)
    {
        var created = await api.PostAsJsonAsync("/api/sessions", new CreateSessionRequest(desktopId, display, "test"));
        created.EnsureSuccessStatusCode();
        var session = (await created.Content.ReadFromJsonAsync<CreateSessionResponse>())!;
        var connection = await _factory.HubAsync();
        var viewer = new Viewer(connection, [], []);
        connection.On<FrameUpdate>("FrameUpdate", async frame =>
        {
            lock (viewer.Frames)
                viewer.Frames.Add(frame);
            await connection.InvokeAsync("Ack", new FrameAck(frame.FrameId));
        });
        connection.On<SessionEnded>("SessionEnded", ended => { lock (viewer.Ended) viewer.Ended.Add(ended); });
        await connection.StartAsync();
        var mode = await connection.InvokeAsync<ModeChanged>("Connect", session.ConnectToken, display);
        Assert.Equal((display.Width, display.Height), (mode.Width, mode.Height));
        return viewer;
    }

    private static async Task<FrameUpdate> FrameOfAsync(Viewer viewer, int width, int height)
    {
        for (var i = 0; i < 200; i++)
        {
            lock (viewer.Frames)
            {
                if (viewer.Frames.LastOrDefault(f => f.Width == width && f.Height == height) is { } frame)
                    return frame;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"no {width}x{height} frame");
    }

    [Fact]
    public async Task A_running_desktop_reports_the_engine_auto_measured_and_why_with_the_figures()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var selection = Vmm.Execution.EngineCalibration.Select();
        if (_factory.Services.GetRequiredService<DesktopPool>().Get(desktop.Id)!.Desktop is Vmm.Host.LocalDesktop)
        {
            Assert.Equal(selection.ToString(), desktop.Engine);
            Assert.Contains(selection.Software!.ToString(), desktop.Engine!, StringComparison.Ordinal);
        }
        else
        {
            // A host process measures the engines itself: the same choice and wording, its own figures.
            var expected = selection.ToString();
            var words = System.Text.RegularExpressions.Regex.Match(expected, @"^\D*").Value;
            Assert.StartsWith(words, desktop.Engine, StringComparison.Ordinal);
            Assert.Contains("software: ALU", desktop.Engine, StringComparison.Ordinal);
        }
        Assert.True(selection.Kvm is not null || selection.Reason.StartsWith("no usable KVM", StringComparison.Ordinal), selection.Reason);
    }

    [Fact]
    public async Task A_session_gets_frames_at_its_own_size_and_a_second_device_takes_over()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");

        await using var laptop = await OpenAsync(api, desktop.Id, new ClientDisplay(1280, 720, 1, null, null, null, null));
        var first = await FrameOfAsync(laptop, 1280, 720);
        Assert.Equal(1280 * 720, first.Tiles.Sum(t => (long)t.Width * t.Height));

        await using var phone = await OpenAsync(api, desktop.Id, new ClientDisplay(1170, 2532, 3, null, null, null, null));
        await FrameOfAsync(phone, 1170, 2532);
        await Task.Delay(200);
        lock (laptop.Ended)
            Assert.Equal(SessionEndReasons.TakenOver, Assert.Single(laptop.Ended).Reason);
    }

    [Fact]
    public async Task A_resize_reconfigures_the_desktop_live()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        await using var viewer = await OpenAsync(api, desktop.Id, new ClientDisplay(1280, 720, 1, null, null, null, null));
        await FrameOfAsync(viewer, 1280, 720);

        await viewer.Connection.InvokeAsync("ChangeDisplay", new DisplayChanged(new ClientDisplay(1000, 700, 1, null, null, null, null)));

        await FrameOfAsync(viewer, 1000, 700);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
