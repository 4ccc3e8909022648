using System.Net.Http.Json;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Hubs;
using Vdi.Server.Tests.Api;
using Vdi.Server.Tests.Hubs;
using Counters = Vdi.Server.Desktops.DesktopActivity.Counters;

namespace Vdi.Server.Tests.Desktops;

/// <summary>A desktop's frames and bytes per second are its send counters' growth over the last few samples.</summary>
public sealed class DesktopActivityTests : IDisposable
{
    private static readonly Guid s_desktop = Guid.NewGuid();
    private readonly DesktopActivity _activity = new(new ConnectionOwners(), TimeProvider.System);

    private void Sample(int second, long frames, long bytes, int sessions = 1) =>
        _activity.Sample(TimeSpan.FromSeconds(second), new Dictionary<Guid, Counters> { [s_desktop] = new(frames, bytes, sessions) });

    [Fact]
    public void Rates_are_the_growth_over_the_window_per_second()
    {
        for (var s = 0; s < 5; s++)
            Sample(s, 100 + 10 * s, 5000 + 1000 * s, sessions: 2);

        Assert.Equal(new DesktopActivitySummary(s_desktop, 10, 1000, 2), _activity.Get(s_desktop));
    }

    [Fact]
    public void Only_the_last_samples_count()
    {
        for (var s = 0; s < 10; s++)
            Sample(s, 60 * s, 0); // 60 fps for ten seconds
        for (var s = 10; s < 10 + DesktopActivity.WindowSamples; s++)
            Sample(s, 600 + 2 * (s - 9), 0); // then 2 fps

        Assert.Equal(2, _activity.Get(s_desktop).FramesPerSecond);
    }

    [Fact]
    public void A_counter_that_went_down_started_again_from_zero()
    {
        Sample(0, 1000, 0);
        Sample(1, 1010, 0);
        Sample(2, 5, 0); // the viewer was replaced: 5 frames since
        Sample(3, 15, 0);

        Assert.Equal((10 + 5 + 10) / 3.0, _activity.Get(s_desktop).FramesPerSecond, 6);
    }

    [Fact]
    public void A_desktop_nobody_watches_any_more_falls_to_zero_and_unknown_ones_are_zero()
    {
        Sample(0, 0, 0);
        Sample(1, 30, 3000);
        for (var s = 2; s < 2 + DesktopActivity.WindowSamples; s++)
            _activity.Sample(TimeSpan.FromSeconds(s), new Dictionary<Guid, Counters>());

        Assert.Equal(new DesktopActivitySummary(s_desktop, 0, 0, 0), _activity.Get(s_desktop));
        var unknown = Guid.NewGuid();
        Assert.Equal(new DesktopActivitySummary(unknown, 0, 0, 0), _activity.Get(unknown));
    }

    [Fact]
    public void One_sample_has_no_rate_yet()
    {
        Sample(0, 500, 500, sessions: 1);
        Assert.Equal(new DesktopActivitySummary(s_desktop, 0, 0, 1), _activity.Get(s_desktop));
    }

    public void Dispose() => _activity.Dispose();
}

/// <summary><c>GET /api/desktops/activity</c> on a running desktop with a viewer.</summary>
public sealed class DesktopActivityApiTests : IDisposable
{
    private readonly BrokerFactory _factory = new(runningDesktops: true);

    [Fact]
    public async Task A_viewed_desktop_shows_its_session_frames_and_bytes()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var idle = (await api.GetFromJsonAsync<List<DesktopActivitySummary>>("/api/desktops/activity"))!.Single();
        Assert.Equal(new DesktopActivitySummary(desktop.Id, 0, 0, 0), idle);

        await using var viewer = await LiveViewer.OpenAsync(_factory, api, desktop.Id, new ClientDisplay(800, 600, 1, null, null, null, null));
        await viewer.FrameOfAsync(800, 600);

        DesktopActivitySummary? seen = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(15); DateTime.UtcNow < deadline; await Task.Delay(250))
        {
            seen = (await api.GetFromJsonAsync<List<DesktopActivitySummary>>("/api/desktops/activity"))!.Single();
            if (seen is { LiveSessions: 1, FramesPerSecond: > 0, BytesPerSecond: > 0 })
                break;
        }
        Assert.True(seen is { LiveSessions: 1, FramesPerSecond: > 0, BytesPerSecond: > 0 }, $"activity: {seen}");
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
