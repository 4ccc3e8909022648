using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Vdi.Protocol;

namespace Vdi.WebClient.Transport;

/// <summary>
/// One viewer's link to its desktop: a session from the REST API, then the SignalR hub
/// (MessagePack). Server messages are handled strictly in arrival order, one at a time, so a frame
/// is painted (and acknowledged) before the next message is looked at. After an automatic
/// reconnect it opens a new session and connects again, since connect tokens are single use.
/// </summary>
public sealed class DesktopConnection : IAsyncDisposable
{
    private static readonly TimeSpan[] s_backoff =
    [
        TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(5),
        TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30),
    ];

    private readonly HubConnection _hub;
    private readonly Func<Task<CreateSessionResponse>> _openSession;
    private readonly Func<ClientDisplay> _display;
    private readonly Channel<Func<Task>> _inbox = Channel.CreateUnbounded<Func<Task>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task? _pump;
    private bool _ended;

    /// <param name="hubUrl">The absolute URL of <c>/hubs/desktop</c>.</param>
    /// <param name="openSession">Creates a session (or a shadow session) for the current display.</param>
    /// <param name="display">The display to connect with, measured now.</param>
    public DesktopConnection(Uri hubUrl, Func<Task<CreateSessionResponse>> openSession, Func<ClientDisplay> display)
    {
        _openSession = openSession;
        _display = display;
        _hub = new HubConnectionBuilder()
            .WithUrl(hubUrl)
            .AddMessagePackProtocol()
            .WithAutomaticReconnect(s_backoff)
            .Build();
        _hub.On<FrameUpdate>(nameof(IDesktopHubClient.FrameUpdate), f => Post(() => Frame?.Invoke(f)));
        _hub.On<CursorUpdate>(nameof(IDesktopHubClient.CursorUpdate), c => Post(() => Cursor?.Invoke(c)));
        _hub.On<CursorMove>(nameof(IDesktopHubClient.CursorMove), m => Post(() => CursorMoved?.Invoke(m)));
        _hub.On<ModeChanged>(nameof(IDesktopHubClient.ModeChanged), m => Post(() => Mode?.Invoke(m)));
        _hub.On<SessionEnded>(nameof(IDesktopHubClient.SessionEnded), e =>
        {
            // At once, not in turn: the server closes the connection next, and that close must not
            // be taken for a drop to reconnect from.
            _ended = true;
            Post(() => EndAsync(e));
        });
        _hub.Reconnecting += _ => ReconnectingAsync();
        // Not awaited by SignalR's reconnect loop: connecting invokes the hub, which needs that loop done.
        _hub.Reconnected += connectionId =>
        {
            _ = ReconnectedAsync();
            return Task.CompletedTask;
        };
        _hub.Closed += ClosedAsync;
    }

    public event Func<FrameUpdate, Task>? Frame;

    public event Func<CursorUpdate, Task>? Cursor;

    public event Func<CursorMove, Task>? CursorMoved;

    public event Func<ModeChanged, Task>? Mode;

    public event Func<SessionEnded, Task>? Ended;

    /// <summary>The status changed; the string, when not null, says why (an error or the end message).</summary>
    public event Func<ConnectionStatus, string?, Task>? StatusChanged;

    public ConnectionStatus Status { get; private set; } = ConnectionStatus.Connecting;

    public async Task StartAsync()
    {
        _pump ??= PumpAsync(_stopping.Token);
        await SetStatusAsync(ConnectionStatus.Connecting, null).ConfigureAwait(false);
        try
        {
            await _hub.StartAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or OperationCanceledException)
        {
            await FailAsync($"Could not reach the broker: {e.Message}").ConfigureAwait(false);
            return;
        }
        await ConnectSessionAsync().ConfigureAwait(false);
    }

    public Task SendKeyAsync(KeyEvent key) => SendAsync(nameof(SendKeyAsync), key);

    public Task SendPointerAsync(PointerEvent pointerEvent) => SendAsync(nameof(SendPointerAsync), pointerEvent);

    public Task ChangeDisplayAsync(ClientDisplay display) => SendAsync(nameof(ChangeDisplayAsync), new DisplayChanged(display));

    /// <summary>Acknowledges a painted frame; completes when the server has taken the ack (the round trip).</summary>
    public async Task<TimeSpan?> AckAsync(long frameId)
    {
        if (_hub.State != HubConnectionState.Connected)
            return null;
        var started = Stopwatch.GetTimestamp();
        try
        {
            await _hub.InvokeAsync("Ack", new FrameAck(frameId), _stopping.Token).ConfigureAwait(false);
            return Stopwatch.GetElapsedTime(started);
        }
        catch (Exception e) when (e is HubException or InvalidOperationException or OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _ended = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _inbox.Writer.TryComplete();
        await _hub.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private Task SendAsync(string callName, object message)
    {
        if (_ended || Status != ConnectionStatus.Connected || _hub.State != HubConnectionState.Connected)
            return Task.CompletedTask;
        // Hub method names drop the Async suffix: SendKeyAsync → SendKey.
        return _hub.SendAsync(callName[..^"Async".Length], message, _stopping.Token);
    }

    private async Task ConnectSessionAsync()
    {
        try
        {
            var session = await _openSession().ConfigureAwait(false);
            var mode = await _hub.InvokeAsync<ModeChanged>("Connect", session.ConnectToken, _display(), _stopping.Token).ConfigureAwait(false);
            // In the inbox, so a frame that raced ahead of the answer is not reordered after it.
            Post(() => Mode?.Invoke(mode));
            await SetStatusAsync(ConnectionStatus.Connected, null).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            await FailAsync(e.Message).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            await FailAsync($"Could not reach the broker: {e.Message}").ConfigureAwait(false);
        }
        catch (HubException e)
        {
            await FailAsync(HubMessage(e)).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            // The connection dropped while connecting; the reconnect handlers take it from here.
            await SetStatusAsync(ConnectionStatus.Reconnecting, e.Message).ConfigureAwait(false);
        }
    }

    private async Task ReconnectingAsync()
    {
        if (_ended)
        {
            await _hub.StopAsync().ConfigureAwait(false);
            return;
        }
        await SetStatusAsync(ConnectionStatus.Reconnecting, null).ConfigureAwait(false);
    }

    private async Task ReconnectedAsync()
    {
        if (_ended)
        {
            await _hub.StopAsync().ConfigureAwait(false);
            return;
        }
        await ConnectSessionAsync().ConfigureAwait(false);
    }

    private async Task ClosedAsync(Exception? error)
    {
        if (_ended || Status is ConnectionStatus.Failed)
            return;
        await SetStatusAsync(ConnectionStatus.Disconnected, error?.Message ?? "The connection closed.").ConfigureAwait(false);
    }

    private async Task EndAsync(SessionEnded ended)
    {
        if (Ended is { } handler)
            await handler(ended).ConfigureAwait(false);
        await SetStatusAsync(ConnectionStatus.Ended, ended.Message).ConfigureAwait(false);
        await _hub.StopAsync().ConfigureAwait(false);
    }

    private async Task FailAsync(string reason)
    {
        _ended = true;
        await SetStatusAsync(ConnectionStatus.Failed, reason).ConfigureAwait(false);
        await _hub.StopAsync().ConfigureAwait(false);
    }

    private Task SetStatusAsync(ConnectionStatus status, string? reason)
    {
        Status = status;
        return StatusChanged?.Invoke(status, reason) ?? Task.CompletedTask;
    }

    private void Post(Func<Task?> work) => _inbox.Writer.TryWrite(() => work() ?? Task.CompletedTask);

    private async Task PumpAsync(CancellationToken cancel)
    {
        try
        {
            await foreach (var work in _inbox.Reader.ReadAllAsync(cancel).ConfigureAwait(false))
            {
                try
                {
                    await work().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // One bad message (an undecodable image, a page being torn down) must not stop the viewer.
                    Console.Error.WriteLine($"Vdi viewer: {e.Message}");
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    /// <summary>The server's reason without SignalR's "An unexpected error occurred invoking 'Connect' on the server. HubException:" prefix.</summary>
    private static string HubMessage(HubException e)
    {
        const string Marker = "HubException: ";
        var at = e.Message.IndexOf(Marker, StringComparison.Ordinal);
        return at >= 0 ? e.Message[(at + Marker.Length)..] : e.Message;
    }
}
