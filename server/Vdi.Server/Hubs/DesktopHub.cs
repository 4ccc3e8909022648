using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Display;
using Vdi.Server.Sessions;
using Vdi.Vmm.Devices.Input;

namespace Vdi.Server.Hubs;

/// <summary>
/// The desktop hub (SignalR, MessagePack). A client connects its session with the single-use token
/// and its display; the desktop is reconfigured to that display before the first frame. Input from
/// the controlling session goes to the desktop's keyboard and tablet; anything invalid, out of range
/// or from a shadow session is dropped and counted. Each connection holds at most one session, owned by its
/// <see cref="ConnectionOwner"/>; input reaches guest memory only under a lease of the machine.
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
        if (pool.Get(session.DesktopId)?.Machine is not { } machine)
        {
            await broker.EndAsync(session, SessionEndReasons.DesktopStopped, null).ConfigureAwait(false);
            throw new HubException("the desktop stopped");
        }
        var mode = machine.Devices.Gpu.Display;
        if (!owner.Attach(session, machine, streams))
        {
            // The connection went away or the session was ended while connecting: make sure it is not left live.
            await broker.EndAsync(session, SessionEndReasons.Disconnected, null).ConfigureAwait(false);
            throw new HubException("this session has already ended");
        }
        if (await SignInExpiry.ExpiryOfAsync(Context).ConfigureAwait(false) is { } expires)
            signIn.Watch(session, expires);
        return new ModeChanged(mode.Width, mode.Height, mode.Dpi);
    }

    public Task Ack(FrameAck ack)
    {
        owners.Get(Context.ConnectionId)?.Acknowledge(ack?.FrameId ?? -1);
        return Task.CompletedTask;
    }

    public Task SendKey(KeyEvent key)
    {
        var machine = Controlling();
        using var lease = machine?.Lease() ?? default;
        if (machine is null || !lease.IsHeld || !InputValidator.TryValidateKey(key, out var evdev)
            || !machine.Devices.Keyboard.InjectKey(evdev, key.Down ? KeyAction.Press : KeyAction.Release))
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
        using var lease = machine?.Lease() ?? default;
        var mode = machine?.Devices.Gpu.Display;
        if (machine is null || !lease.IsHeld || mode is null || !InputValidator.IsValidPointer(move, mode.Width, mode.Height))
        {
            input.Drop();
            return Task.CompletedTask;
        }
        var wheel = move.WheelDeltaY switch { < 0 => 1, > 0 => -1, _ => 0 }; // DOM: positive is toward the user
        var ok = machine.Devices.Tablet.InjectPointer((int)move.X, (int)move.Y, (PointerButtons)(move.Buttons & 0x7), wheel);
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

    private Vmm.Machine.Machine? Controlling() =>
        broker.ByConnection(Context.ConnectionId) is { IsShadow: false } session && broker.Controller(session.DesktopId) == session
            ? pool.Get(session.DesktopId)?.Machine
            : null;
}
