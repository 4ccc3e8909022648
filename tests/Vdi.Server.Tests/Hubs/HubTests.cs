using System.Net;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;
using Vdi.Server.Hubs;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Hubs;

/// <summary>The desktop hub through the official .NET SignalR client with MessagePack, on the in-memory server.</summary>
public sealed class HubTests : IDisposable
{
    private readonly BrokerFactory _factory = new(autoStart: false);

    private async Task<HubConnection> ConnectAsync(bool signedIn = true)
    {
        var connection = await _factory.HubAsync(signedIn);
        await connection.StartAsync();
        return connection;
    }

    [Fact]
    public async Task An_anonymous_client_cannot_open_the_hub()
    {
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => ConnectAsync(signedIn: false));
        Assert.Equal(HttpStatusCode.Unauthorized, e.StatusCode);
    }

    [Fact]
    public async Task Connecting_with_an_unknown_token_is_refused_with_the_reason()
    {
        await using var connection = await ConnectAsync();
        var e = await Assert.ThrowsAsync<HubException>(() => connection.InvokeAsync<ModeChanged>("Connect", "not-a-token", new ClientDisplay(1280, 720, 1, null, null, null, null)));
        Assert.Contains("unknown connect token", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Input_without_a_connected_session_is_dropped_and_counted()
    {
        await using var connection = await ConnectAsync();
        var stats = _factory.Services.GetRequiredService<InputStats>();
        var before = stats.Dropped;
        await connection.InvokeAsync("SendKey", new KeyEvent("KeyA", "a", true));
        await connection.InvokeAsync("SendPointer", new PointerEvent(10, 10, 0));
        await connection.InvokeAsync("SendPointer", new PointerEvent(double.NaN, 10, 0));
        Assert.Equal(before + 3, stats.Dropped);
    }

    [Fact]
    public async Task A_message_over_the_size_limit_closes_the_connection()
    {
        await using var connection = await ConnectAsync();
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.Closed += _ => { closed.TrySetResult(); return Task.CompletedTask; };
        var huge = new string('x', 200_000);
        await Assert.ThrowsAnyAsync<Exception>(() => connection.InvokeAsync("SendKey", new KeyEvent(huge, huge, true)));
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HubConnectionState.Disconnected, connection.State);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
