using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;

namespace Vdi.Server.Sessions;

/// <summary>What the broker reconfigures: a running desktop's display.</summary>
public interface IDisplayTarget
{
    /// <summary>Completes when the guest shows exactly <paramref name="properties"/> (full frame flushed).</summary>
    Task RequestAsync(DisplayProperties properties, CancellationToken cancellationToken);
}

/// <summary>
/// A desktop's display, through <see cref="IDesktopMachine.RequestDisplayAsync"/> (in process: the
/// <see cref="DisplayController"/>, under a lease of the machine; a host process: a display request frame). A desktop
/// that ended fails the request as cancelled.
/// </summary>
public sealed class MachineDisplayTarget(IDesktopMachine machine, TimeSpan timeout) : IDisplayTarget
{
    public Task RequestAsync(DisplayProperties properties, CancellationToken cancellationToken)
    {
        if (machine.Completion.IsCompleted)
            return Task.FromException(new OperationCanceledException("the desktop is stopping"));
        return machine.RequestDisplayAsync(properties, timeout, cancellationToken);
    }
}
