using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Sessions;
using Vdi.Vmm.Devices.Input;

namespace Vdi.Server.Hubs;

/// <summary>
/// The desktop hub (SignalR, MessagePack). A client connects its session with the single-use token
/// and its display; the desktop is reconfigured to that display before the first frame. Input from
/// the controlling session goes to the desktop's keyboard and tablet; anything invalid, out of range
/// or from a shadow session is dropped and counted.
/// </summary>
[Authorize]
public sealed class DesktopHub(SessionBroker broker, DesktopPool pool, ViewerRegistry viewers, InputStats input, DisplayRules displays) : Hub<IDesktopHubClient>
{
    public const string Path = "/hubs/desktop";

    /// <summary>Connects this connection to a session; the answer is the mode the desktop now shows.</summary>
    public async Task<ModeChanged> Connect(string token, ClientDisplay display)
    {
        var userId = Context.UserIdentifier ?? throw new HubException("not signed in");
        if (await displays.RefusalForTokenAsync(token, display, Context.ConnectionAborted) is { } refusal)
            throw new HubException(refusal);
        ConnectedSession session;
        try
        {
            session = await broker.ConnectAsync(token, userId, display, Context.ConnectionId, new HubSessionClient(Clients.Client(Context.ConnectionId)), Context.ConnectionAborted);
        }
        catch (SessionRefusedException e)
        {
            throw new HubException(e.Message);
        }
        catch (TimeoutException e)
        {
            throw new HubException($"the desktop did not take the display in time: {e.Message}");
        }
        var machine = pool.Get(session.DesktopId)?.Machine ?? throw new HubException("the desktop stopped");
        var mode = machine.Devices.Gpu.Display;
        viewers.Start(Context.ConnectionId, session, machine, Clients.Client(Context.ConnectionId));
        return new ModeChanged(mode.Width, mode.Height, mode.Dpi);
    }

    public Task Ack(FrameAck ack)
    {
        viewers.Acknowledge(Context.ConnectionId, ack?.FrameId ?? -1);
        return Task.CompletedTask;
    }

    public Task SendKey(KeyEvent key)
    {
        if (Controlling() is not { } machine || !InputValidator.TryValidateKey(key, out var evdev)
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
        var mode = machine?.Devices.Gpu.Display;
        if (machine is null || mode is null || !InputValidator.IsValidPointer(move, mode.Width, mode.Height))
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
        viewers.Stop(Context.ConnectionId);
        await broker.DisconnectedAsync(Context.ConnectionId).ConfigureAwait(false);
        await base.OnDisconnectedAsync(exception).ConfigureAwait(false);
    }

    private Vmm.Machine.Machine? Controlling() =>
        broker.ByConnection(Context.ConnectionId) is { IsShadow: false } session && broker.Controller(session.DesktopId) == session
            ? pool.Get(session.DesktopId)?.Machine
            : null;

    private sealed class HubSessionClient(IDesktopHubClient client) : ISessionClient
    {
        public Task SessionEndedAsync(SessionEnded ended) => client.SessionEnded(ended);
    }
}
