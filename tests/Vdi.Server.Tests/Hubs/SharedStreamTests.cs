using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Display;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Hubs;

/// <summary>On a real desktop VM: the controlling session and a shadow session share the desktop's one frame stream.</summary>
public sealed class SharedStreamTests : IDisposable
{
    private static readonly ClientDisplay s_laptop = new(1280, 720, 1, null, null, null, null);

    private readonly BrokerFactory _factory = new(runningDesktops: true);

    [Fact]
    public async Task A_shadow_session_is_another_viewer_of_the_same_stream_which_ends_with_its_last_viewer()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var streams = _factory.Services.GetRequiredService<DesktopStreams>();
        var machine = _factory.Services.GetRequiredService<DesktopPool>().Get(desktop.Id)!.Desktop!;

        var controller = await LiveViewer.OpenAsync(_factory, api, desktop.Id, s_laptop);
        await controller.FrameOfAsync(1280, 720);
        var shadowed = await api.PostAsync($"/api/desktops/{desktop.Id}/shadow", null);
        shadowed.EnsureSuccessStatusCode();
        var session = (await shadowed.Content.ReadFromJsonAsync<CreateSessionResponse>())!;
        var shadow = await LiveViewer.ConnectAsync(_factory, session.SessionId, session.ConnectToken, s_laptop);
        await shadow.FrameOfAsync(1280, 720);

        var stream = streams.Find(machine);
        Assert.NotNull(stream);
        Assert.Equal((1, 2), (streams.Count, stream.ViewerCount));
        Assert.Equal(2, stream.ViewerCounters.Count(c => c.FramesSent > 0));
        Assert.True(stream.Counters.Keyframes >= 1);

        await controller.DisposeAsync();
        await shadow.DisposeAsync();
        for (var i = 0; i < 100 && streams.Count > 0; i++)
            await Task.Delay(50);
        Assert.Equal(0, streams.Count);
        Assert.Null(streams.Find(machine));
    }

    public void Dispose() => _factory.Dispose();
}
