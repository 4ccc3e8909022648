using System.Diagnostics;
using Vdi.Protocol;
using Vdi.Server.Hubs;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Hubs;

/// <summary>
/// A viewer's session ends with the sign-in it connected with: a hub connection never sees the cookie's renewal, so
/// when that sign-in expires the client is told <c>expired</c>, gets no frame more and is closed, and the record ends.
/// </summary>
public sealed class SignInExpiryTests : IDisposable
{
    private static readonly TimeSpan s_lifetime = TimeSpan.FromSeconds(6);

    private readonly BrokerFactory _factory = new(runningDesktops: true, settings: new Dictionary<string, string?>
    {
        ["Vdi:SignIn:Lifetime"] = s_lifetime.ToString(),
    });

    [Fact]
    public async Task A_session_ends_as_expired_when_its_sign_in_expires()
    {
        var api = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(api, "Running");
        var connected = Stopwatch.GetTimestamp();
        await using var viewer = await LiveViewer.OpenAsync(_factory, api, desktop.Id, new ClientDisplay(1280, 720, 1));
        await viewer.FrameOfAsync(1280, 720);

        // Generous: CI runs the test assemblies side by side on two cores (browsers, VMs), and the end must only come.
        var ended = await viewer.Ended.WaitAsync(TimeSpan.FromSeconds(60));
        var after = Stopwatch.GetElapsedTime(connected);
        Assert.Equal(SessionEndReasons.Expired, ended.Reason);
        Assert.Equal(SignInExpiry.Message, ended.Message);
        Assert.True(after >= s_lifetime - TimeSpan.FromSeconds(2), $"ended after {after.TotalSeconds:F1} s, before the sign-in expired");
        await viewer.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(1500); // the desktop's clock ticks meanwhile
        Assert.Equal(0, viewer.FramesAfterEnd);

        var admin = await _factory.SignedInAsync(); // the first client's own sign-in has expired too
        var record = await SessionEndingTests.RecordAsync(admin, viewer.SessionId, s => s.EndedAt is not null);
        Assert.Equal(SessionEndReasons.Expired, record.EndReason);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
