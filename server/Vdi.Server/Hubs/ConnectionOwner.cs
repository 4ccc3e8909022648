using Microsoft.AspNetCore.SignalR;
using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Server.Sessions;

namespace Vdi.Server.Hubs;

/// <summary>
/// The one owner of a hub connection's session: the session it connected, its <see cref="Viewer"/> (its place in the
/// desktop's frame stream and GPU subscriptions) and the connection itself. Ending the session (<see cref="SessionEndedAsync"/> then
/// <see cref="CloseAsync"/>) stops every frame and event at once, sends the notice, leaves the frame stream and aborts the
/// connection through its <see cref="HubCallerContext"/>. A connection holds at most one session and one viewer.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "A SemaphoreSlim whose wait handle is never asked for holds nothing to free.")]
public sealed class ConnectionOwner(IDesktopHubClient client, HubCallerContext context) : ISessionClient
{
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _send = new(1, 1); // a frame or event being sent, or the notice: never both
    private Viewer? _viewer;
    private volatile bool _ended;

    public string ConnectionId => context.ConnectionId;

    /// <summary>The connected session, once <c>Connect</c> succeeded.</summary>
    public ConnectedSession? Session { get; private set; }

    /// <summary>False once the session ended: nothing more is sent.</summary>
    public bool IsOpen => !_ended;

    /// <summary>Starts receiving frames of <paramref name="machine"/> for <paramref name="session"/>; false when the session already ended.</summary>
    public bool Attach(ConnectedSession session, Vmm.Host.IDesktopMachine machine, DesktopStreams streams)
    {
        var viewer = new Viewer(machine, streams, client, SendAsync);
        lock (_gate)
        {
            if (!_ended && _viewer is null)
            {
                Session = session;
                _viewer = viewer;
                viewer.Frames.RequestFullFrame();
                return true;
            }
        }
        _ = viewer.DisposeAsync().AsTask();
        return false;
    }

    /// <summary>What this connection received from its desktop's stream so far; null before <c>Connect</c> attached it and after the end.</summary>
    public FrameCounters? Counters => Volatile.Read(ref _viewer)?.Frames.Counters;

    public void Acknowledge(long frameId) => Volatile.Read(ref _viewer)?.Frames.Acknowledge(frameId);

    /// <summary>Sends a frame or event unless the session ended; the notice waits for one already going out.</summary>
    internal async ValueTask SendAsync(Func<Task> send)
    {
        if (_ended)
            return;
        await _send.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!_ended)
                await send().ConfigureAwait(false);
        }
        finally
        {
            _send.Release();
        }
    }

    public async Task SessionEndedAsync(SessionEnded ended)
    {
        _ended = true; // from here no frame or event starts; one already being sent goes out before the notice
        await _send.WaitAsync().ConfigureAwait(false);
        try
        {
            await client.SessionEnded(ended).ConfigureAwait(false);
        }
        finally
        {
            _send.Release();
        }
    }

    public async Task CloseAsync(bool abort)
    {
        _ended = true;
        Viewer? viewer;
        lock (_gate)
        {
            viewer = _viewer;
            _viewer = null;
        }
        if (viewer is not null)
            await viewer.DisposeAsync().ConfigureAwait(false);
        if (abort)
            context.Abort();
    }
}
