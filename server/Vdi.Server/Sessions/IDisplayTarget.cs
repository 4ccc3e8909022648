using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Sessions;

/// <summary>What the broker reconfigures: a running desktop's display.</summary>
public interface IDisplayTarget
{
    /// <summary>Completes when the guest shows exactly <paramref name="properties"/> (full frame flushed).</summary>
    Task RequestAsync(DisplayProperties properties, CancellationToken cancellationToken);
}

/// <summary>
/// A VM's display, through its <see cref="DisplayController"/>. Posting the request (which raises the GPU's config
/// interrupt) runs under a lease of the machine; once the machine is being disposed the request fails as cancelled.
/// </summary>
public sealed class MachineDisplayTarget(Vmm.Machine.Machine machine, TimeSpan timeout) : IDisplayTarget
{
    public Task RequestAsync(DisplayProperties properties, CancellationToken cancellationToken)
    {
        using var lease = machine.Lease();
        if (!lease.IsHeld)
            return Task.FromException(new OperationCanceledException("the desktop is stopping"));
        return machine.Devices.Display.RequestAsync(properties, timeout, cancellationToken); // posted before its first await
    }
}
