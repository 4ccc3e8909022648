using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Hubs;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Hubs;

/// <summary>The hub checks a display with the same rules as REST, the desktop's largest display included.</summary>
public sealed class HubDisplayRulesTests : IDisposable
{
    private readonly BrokerFactory _factory = new(autoStart: false, runningDesktops: true);

    [Fact]
    public async Task Connect_and_ChangeDisplay_refuse_what_the_device_or_the_desktop_would_refuse_naming_the_field()
    {
        var api = await _factory.SignedInAsync();
        var created = await api.PostAsJsonAsync("/api/desktops", new { name = "Small", vcpus = 1, memoryMiB = 256, maxWidth = 1920, maxHeight = 1080 });
        created.EnsureSuccessStatusCode();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var good = new ClientDisplay(1280, 720, 1);
        var session = await api.PostAsJsonAsync("/api/sessions", new CreateSessionRequest(desktop.Id, good, "test"));
        session.EnsureSuccessStatusCode();
        var token = (await session.Content.ReadFromJsonAsync<CreateSessionResponse>())!.ConnectToken;

        await using var connection = await _factory.HubAsync();
        await connection.StartAsync();
        var tiny = await Assert.ThrowsAsync<HubException>(() => connection.InvokeAsync<ModeChanged>("Connect", token, new ClientDisplay(1280, 720, 1, null, 0.3, 0.2)));
        Assert.Contains("display.widthMm", tiny.Message, StringComparison.Ordinal);
        var large = await Assert.ThrowsAsync<HubException>(() => connection.InvokeAsync<ModeChanged>("Connect", token, new ClientDisplay(2560, 1440, 1)));
        Assert.Contains("display.width", large.Message, StringComparison.Ordinal);
        Assert.Contains("1920", large.Message, StringComparison.Ordinal);

        // Refusals did not use up the token.
        var mode = await connection.InvokeAsync<ModeChanged>("Connect", token, good);
        Assert.Equal((1280, 720), (mode.Width, mode.Height));

        var stats = _factory.Services.GetRequiredService<InputStats>();
        var dropped = stats.Dropped;
        await connection.InvokeAsync("ChangeDisplay", new DisplayChanged(new ClientDisplay(2560, 1440, 1)));
        Assert.Equal(dropped + 1, stats.Dropped);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
