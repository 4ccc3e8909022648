using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Tests.Api;
using Vdi.Server.Tests.Hubs;
using Vdi.Vmm.Host;

namespace Vdi.Server.Tests.Desktops;

/// <summary>
/// A malformed frame on a desktop's socket, from the broker's side, reaches a real host process: the host refuses it
/// by name and ends that connection; the broker shows the desktop Crashed with the host's words, tells its viewer,
/// serves every other desktop on, and starts the desktop again. (The host's side of the same — a host that sends
/// garbage — is refused by the broker: tests/Vdi.Vmm.Tests/Host.)
/// </summary>
public sealed class HostProtocolFaultTests : IDisposable
{
    private static readonly ClientDisplay s_laptop = new(1280, 720, 1, null, null, null, null);
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    private readonly BrokerFactory _factory = new(runningDesktops: true, settings: new Dictionary<string, string?>
    {
        ["Vdi:Desktops:Isolation"] = "Process",
    });

    public static TheoryData<string, byte[]> Malformed => new()
    {
        // An unknown frame type, and a Key frame whose "pressed" flag is 7: a header and a field the host checks.
        { "unknown frame type 0x55", [HostProtocol.Version, 0x55, 0, 0, 0, 0, 0, 0] },
        { "Key", [HostProtocol.Version, (byte)HostMessageType.Key, 0, 0, 3, 0, 0, 0, 30, 0, 7] },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_malformed_frame_to_a_host_is_refused_by_name_the_desktop_alone_is_Crashed_and_starts_again(string named, byte[] frame)
    {
        var api = await _factory.SignedInAsync();
        var (victim, other) = await DesktopProcessTests.TwoRunningDesktopsAsync(api);
        var pool = _factory.Services.GetRequiredService<DesktopPool>();
        await using var victimViewer = await LiveViewer.OpenAsync(_factory, api, victim, s_laptop);
        await victimViewer.FrameOfAsync(1280, 720);
        await using var otherViewer = await LiveViewer.OpenAsync(_factory, api, other, s_laptop);
        await otherViewer.FrameOfAsync(1280, 720);

        var remote = Assert.IsType<RemoteDesktop>(pool.Get(victim)!.Desktop);
        Assert.True(remote.SendRaw(frame));

        var crashed = await DesktopProcessTests.WaitForAsync(api, victim, "Crashed");
        Assert.Contains("refused a malformed frame", crashed.StateReason, StringComparison.Ordinal);
        Assert.True(crashed.StateReason!.Contains(named, StringComparison.OrdinalIgnoreCase), crashed.StateReason);
        var ended = await victimViewer.Ended.WaitAsync(s_wait);
        Assert.Equal("desktop-stopped", ended.Reason);
        Assert.Contains("refused a malformed frame", ended.Message, StringComparison.Ordinal);

        // The broker and the other desktop serve on.
        Assert.True(pool.Get(other)!.Desktop!.SetMotion(true));
        var before = otherViewer.FrameCount;
        await DesktopProcessTests.UntilAsync(() => otherViewer.FrameCount >= before + 5, "frames from the other desktop");
        Assert.False(otherViewer.Ended.IsCompleted);

        (await api.PostAsync($"/api/desktops/{victim}/restart", null)).EnsureSuccessStatusCode();
        await DesktopProcessTests.WaitForAsync(api, victim, "Running");
        await using var again = await LiveViewer.OpenAsync(_factory, api, victim, s_laptop);
        await again.FrameOfAsync(1280, 720);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
