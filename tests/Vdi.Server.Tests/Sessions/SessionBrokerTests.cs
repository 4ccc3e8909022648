using Vdi.Protocol;
using Vdi.Server.Sessions;
using Vdi.Vmm.Devices.Display;

namespace Vdi.Server.Tests.Sessions;

public sealed class SessionBrokerTests
{
    private static readonly CancellationToken s_none = CancellationToken.None;

    [Fact]
    public async Task Connecting_reconfigures_the_display_to_the_client_before_it_returns()
    {
        await using var bed = new BrokerTestBed();
        var (_, token) = await bed.CreateSessionAsync("alice");
        var session = await bed.Broker.ConnectAsync(token, "alice", BrokerTestBed.Client(1280, 720), "c1", new RecordingSessionClient(), s_none);
        Assert.Equal([new DisplayProperties(1280, 720, 96, 60)], bed.Display.Requests);
        Assert.Equal(session, bed.Broker.Controller(bed.DesktopId));
    }

    [Fact]
    public async Task A_token_is_single_use_expires_and_belongs_to_its_user()
    {
        await using var bed = new BrokerTestBed();
        var (_, token) = await bed.CreateSessionAsync("alice");
        await bed.Broker.ConnectAsync(token, "alice", BrokerTestBed.Client(1280, 720), "c1", new RecordingSessionClient(), s_none);
        var reused = await Assert.ThrowsAsync<SessionRefusedException>(() => bed.Broker.ConnectAsync(token, "alice", BrokerTestBed.Client(1280, 720), "c2", new RecordingSessionClient(), s_none));
        Assert.Contains("already used", reused.Message, StringComparison.Ordinal);

        var (_, expired) = await bed.CreateSessionAsync("alice", lifetime: TimeSpan.FromSeconds(-1));
        Assert.Contains("expired", (await Assert.ThrowsAsync<SessionRefusedException>(() => bed.Broker.ConnectAsync(expired, "alice", BrokerTestBed.Client(1280, 720), "c3", new RecordingSessionClient(), s_none))).Message, StringComparison.Ordinal);

        var (_, bobs) = await bed.CreateSessionAsync("bob");
        Assert.Contains("unknown", (await Assert.ThrowsAsync<SessionRefusedException>(() => bed.Broker.ConnectAsync(bobs, "alice", BrokerTestBed.Client(1280, 720), "c4", new RecordingSessionClient(), s_none))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_connects_with_one_token_let_exactly_one_in()
    {
        await using var bed = new BrokerTestBed();
        var (_, token) = await bed.CreateSessionAsync("alice");
        var attempts = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            try
            {
                await bed.Broker.ConnectAsync(token, "alice", BrokerTestBed.Client(1280, 720), $"c{i}", new RecordingSessionClient(), s_none);
                return true;
            }
            catch (SessionRefusedException)
            {
                return false;
            }
        }));
        Assert.Equal(1, (await Task.WhenAll(attempts)).Count(ok => ok));
    }

    [Fact]
    public async Task A_second_device_takes_over_and_the_first_gets_its_display_back_when_it_returns()
    {
        await using var bed = new BrokerTestBed();
        var laptop = new RecordingSessionClient();
        var (laptopSession, t1) = await bed.CreateSessionAsync("alice");
        await bed.Broker.ConnectAsync(t1, "alice", BrokerTestBed.Client(1280, 720), "laptop", laptop, s_none);

        var phone = new RecordingSessionClient();
        var (_, t2) = await bed.CreateSessionAsync("alice");
        await bed.Broker.ConnectAsync(t2, "alice", BrokerTestBed.Client(1170, 2532, 3), "phone", phone, s_none);

        Assert.Equal(SessionEndReasons.TakenOver, Assert.Single(laptop.Ended).Reason);
        Assert.Equal(new DisplayProperties(1170, 2532, 288, 60), bed.Display.Requests[^1]);
        Assert.Equal(SessionEndReasons.TakenOver, (await bed.RecordAsync(laptopSession)).EndReason);

        var (_, t3) = await bed.CreateSessionAsync("alice");
        await bed.Broker.ConnectAsync(t3, "alice", BrokerTestBed.Client(1280, 720), "laptop-again", new RecordingSessionClient(), s_none);
        Assert.Equal(new DisplayProperties(1280, 720, 96, 60), bed.Display.Requests[^1]);
        Assert.Equal(SessionEndReasons.TakenOver, Assert.Single(phone.Ended).Reason);
    }

    [Fact]
    public async Task A_shadow_session_never_reconfigures_the_display_nor_takes_over()
    {
        await using var bed = new BrokerTestBed();
        var owner = new RecordingSessionClient();
        var (_, t1) = await bed.CreateSessionAsync("alice");
        await bed.Broker.ConnectAsync(t1, "alice", BrokerTestBed.Client(1280, 720), "owner", owner, s_none);
        var (_, shadowToken) = await bed.CreateSessionAsync("admin", shadow: true);
        var shadow = await bed.Broker.ConnectAsync(shadowToken, "admin", BrokerTestBed.Client(800, 600), "shadow", new RecordingSessionClient(), s_none);

        Assert.True(shadow.IsShadow);
        Assert.Single(bed.Display.Requests);
        Assert.Empty(owner.Ended);
        Assert.False(bed.Broker.DisplayChanged("shadow", BrokerTestBed.Client(640, 480)));
        await Task.Delay(150);
        Assert.Single(bed.Display.Requests);
    }

    [Fact]
    public async Task A_burst_of_resizes_is_applied_once_with_its_last_size_and_echoes_are_ignored()
    {
        await using var bed = new BrokerTestBed(debounce: TimeSpan.FromMilliseconds(60));
        var (_, token) = await bed.CreateSessionAsync("alice");
        await bed.Broker.ConnectAsync(token, "alice", BrokerTestBed.Client(1280, 720), "c1", new RecordingSessionClient(), s_none);

        Assert.False(bed.Broker.DisplayChanged("c1", BrokerTestBed.Client(1280, 720))); // the size it already has
        for (var w = 1200; w >= 1000; w -= 20)
            Assert.True(bed.Broker.DisplayChanged("c1", BrokerTestBed.Client(w, 700)));
        await Task.Delay(400);

        Assert.Equal([new DisplayProperties(1280, 720, 96, 60), new DisplayProperties(1000, 700, 96, 60)], bed.Display.Requests);
        Assert.False(bed.Broker.DisplayChanged("c1", BrokerTestBed.Client(1000, 700)));
    }

    [Fact]
    public async Task A_resize_after_a_quiet_spell_is_applied_at_once_and_one_right_after_waits_out_the_debounce()
    {
        await using var bed = new BrokerTestBed(debounce: TimeSpan.FromMilliseconds(400));
        var (_, token) = await bed.CreateSessionAsync("alice");
        await bed.Broker.ConnectAsync(token, "alice", BrokerTestBed.Client(1280, 720), "c1", new RecordingSessionClient(), s_none);
        await Task.Delay(500);

        Assert.True(bed.Broker.DisplayChanged("c1", BrokerTestBed.Client(1000, 700)));
        await Task.Delay(100);
        Assert.Equal(new DisplayProperties(1000, 700, 96, 60), bed.Display.Requests[^1]); // no debounce delay

        Assert.True(bed.Broker.DisplayChanged("c1", BrokerTestBed.Client(900, 700)));
        Assert.True(bed.Broker.DisplayChanged("c1", BrokerTestBed.Client(800, 700)));
        await Task.Delay(100);
        Assert.Equal(2, bed.Display.Requests.Count); // gathered until 400 ms after the last change
        await Task.Delay(500);
        Assert.Equal([new DisplayProperties(1280, 720, 96, 60), new DisplayProperties(1000, 700, 96, 60), new DisplayProperties(800, 700, 96, 60)], bed.Display.Requests);
    }

    [Fact]
    public async Task A_connect_the_guest_never_acknowledges_is_refused_and_the_controller_stays()
    {
        await using var bed = new BrokerTestBed();
        var owner = new RecordingSessionClient();
        var (_, t1) = await bed.CreateSessionAsync("alice");
        var first = await bed.Broker.ConnectAsync(t1, "alice", BrokerTestBed.Client(1280, 720), "owner", owner, s_none);

        bed.Display.TimeOut = true;
        var (_, t2) = await bed.CreateSessionAsync("alice");
        var e = await Assert.ThrowsAsync<SessionRefusedException>(() => bed.Broker.ConnectAsync(t2, "alice", BrokerTestBed.Client(800, 600), "other", new RecordingSessionClient(), s_none));

        Assert.Contains("did not take this display", e.Message, StringComparison.Ordinal);
        Assert.Equal(first, bed.Broker.Controller(bed.DesktopId));
        Assert.Null(bed.Broker.ByConnection("other"));
        Assert.Empty(owner.Ended);
    }

    [Fact]
    public async Task An_administrator_can_end_a_session_and_its_client_is_told_why()
    {
        await using var bed = new BrokerTestBed();
        var client = new RecordingSessionClient();
        var (sessionId, token) = await bed.CreateSessionAsync("alice");
        await bed.Broker.ConnectAsync(token, "alice", BrokerTestBed.Client(1280, 720), "c1", client, s_none);

        Assert.True(await bed.Broker.EndByAdminAsync(sessionId));
        Assert.Equal(SessionEndReasons.DisconnectedByAdmin, Assert.Single(client.Ended).Reason);
        Assert.Equal(SessionEndReasons.DisconnectedByAdmin, (await bed.RecordAsync(sessionId)).EndReason);
        Assert.Null(bed.Broker.Controller(bed.DesktopId));
    }

    [Fact]
    public async Task Ending_a_session_sends_the_notice_then_closes_and_aborts_its_connection_once()
    {
        await using var bed = new BrokerTestBed();
        var laptop = new RecordingSessionClient();
        var phone = new RecordingSessionClient();
        var (_, laptopToken) = await bed.CreateSessionAsync("alice");
        var (_, phoneToken) = await bed.CreateSessionAsync("alice", clientName: "iPhone");
        await bed.Broker.ConnectAsync(laptopToken, "alice", BrokerTestBed.Client(1280, 720), "c1", laptop, s_none);

        await bed.Broker.ConnectAsync(phoneToken, "alice", BrokerTestBed.Client(390, 844, 3), "c2", phone, s_none);
        await bed.Broker.DisconnectedAsync("c1"); // the aborted connection goes away: nothing more happens to it

        Assert.Equal(["notice:taken-over", "close+abort"], laptop.Calls);
        Assert.Equal("This desktop was opened on another device (iPhone). Open it here again to take it back.", Assert.Single(laptop.Ended).Message);
        await bed.Broker.DisconnectedAsync("c2");
        Assert.Equal(["close"], phone.Calls);
    }
}
