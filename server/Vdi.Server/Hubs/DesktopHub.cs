using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Display;
using Vdi.Server.Sessions;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Host;

namespace Vdi.Server.Hubs;

/// <summary>
/// The desktop hub (SignalR, MessagePack). A client connects its session with the single-use token
/// and its display; the desktop is reconfigured to that display before the first frame. Input from
/// the controlling session goes to the desktop's keyboard and tablet; anything invalid, out of range
/// or from a shadow session is dropped and counted. Each connection holds at most one session, owned by its
/// <see cref="ConnectionOwner"/>; input goes through the desktop's <see cref="IDesktopMachine"/> (in process, it reaches guest
/// memory only under a lease of the machine: <see cref="LocalDesktop"/>).
/// </summary>
[Authorize]
public sealed class DesktopHub(SessionBroker broker, DesktopPool pool, ConnectionOwners owners, InputStats input, DisplayRules displays, SignInExpiry signIn, DesktopStreams streams) : Hub<IDesktopHubClient>
{
    public const string Path = "/hubs/desktop";

    /// <summary>Connects this connection to a session; the answer is the mode the desktop now shows.</summary>
    public async Task<ModeChanged> Connect(string token, ClientDisplay display)
    {
        var userId = Context.UserIdentifier ?? throw new HubException("not signed in");
        if (await displays.RefusalForTokenAsync(token, display, Context.ConnectionAborted) is { } refusal)
            throw new HubException(refusal);
        var owner = new ConnectionOwner(Clients.Client(Context.ConnectionId), Context);
        if (!owners.TryAdd(owner))
            throw new HubException("this connection already has a session; open a new connection for another session");
        ConnectedSession session;
        try
        {
            session = await broker.ConnectAsync(token, userId, display, Context.ConnectionId, owner, Context.ConnectionAborted);
        }
        catch (Exception e)
        {
            owners.Remove(Context.ConnectionId); // nothing was connected: this connection may try again
            if (e is SessionRefusedException)
                throw new HubException(e.Message);
            if (e is TimeoutException)
                throw new HubException($"the desktop did not take the display in time: {e.Message}");
            throw;
        }
        if (pool.Get(session.DesktopId)?.Desktop is not { } machine)
        {
            await broker.EndAsync(session, SessionEndReasons.DesktopStopped, null).ConfigureAwait(false);
            throw new HubException("the desktop stopped");
        }
        var mode = machine.Mode ?? (display.Width, display.Height);
        var dpi = machine.Dpi;
        if (!owner.Attach(session, machine, streams))
        {
            // The connection went away or the session was ended while connecting: make sure it is not left live.
            await broker.EndAsync(session, SessionEndReasons.Disconnected, null).ConfigureAwait(false);
            throw new HubException("this session has already ended");
        }
        if (await SignInExpiry.ExpiryOfAsync(Context).ConfigureAwait(false) is { } expires)
            signIn.Watch(session, expires);
        return new ModeChanged(mode.Width, mode.Height, dpi);
    }

    public Task Ack(FrameAck ack)
    {
        owners.Get(Context.ConnectionId)?.Acknowledge(ack?.FrameId ?? -1);
        return Task.CompletedTask;
    }

    public Task SendKey(KeyEvent key)
    {
        var machine = Controlling();
        if (machine is null || !InputValidator.TryValidateKey(key, out var evdev) || !machine.SendKey(evdev, key.Down))
        {
            input.Drop();
            return Task.CompletedTask;
        }
        input.Deliver();
        return Task.CompletedTask;
    }

    public Task SendPointer(PointerEvent move)
    {
        var machine = Controlling();
        var mode = machine?.Mode;
        if (machine is null || mode is not { } m || !InputValidator.IsValidPointer(move, m.Width, m.Height))
        {
            input.Drop();
            return Task.CompletedTask;
        }
        var wheel = move.WheelDeltaY switch { < 0 => 1, > 0 => -1, _ => 0 }; // DOM: positive is toward the user
        var ok = machine.SendPointer((int)move.X, (int)move.Y, (PointerButtons)(move.Buttons & 0x7), wheel);
        if (ok)
            input.Deliver();
        else
            input.Drop();
        return Task.CompletedTask;
    }

    public Task ChangeDisplay(DisplayChanged change)
    {
        if (change?.Display is null || displays.Refusal(broker.ByConnection(Context.ConnectionId)?.DesktopId, change.Display) is not null
            || !broker.DisplayChanged(Context.ConnectionId, change.Display))
            input.Drop();
        return Task.CompletedTask;
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        signIn.Forget(Context.ConnectionId);
        if (owners.Remove(Context.ConnectionId) is { } owner)
            await owner.CloseAsync(abort: false).ConfigureAwait(false);
        await broker.DisconnectedAsync(Context.ConnectionId).ConfigureAwait(false);
        await base.OnDisconnectedAsync(exception).ConfigureAwait(false);
    }

    private IDesktopMachine? Controlling() =>
        broker.ByConnection(Context.ConnectionId) is { IsShadow: false } session && broker.Controller(session.DesktopId) == session
            ? pool.Get(session.DesktopId)?.Desktop
            : null;
}
