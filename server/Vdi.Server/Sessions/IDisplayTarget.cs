using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Sessions;

/// <summary>What the broker reconfigures: a running desktop's display.</summary>
public interface IDisplayTarget
{
    /// <summary>Completes when the guest shows exactly <paramref name="properties"/> (full frame flushed).</summary>
    Task RequestAsync(DisplayProperties properties, CancellationToken cancellationToken);
}

/// <summary>A VM's display, through its <see cref="DisplayController"/>.</summary>
public sealed class MachineDisplayTarget(DisplayController controller, TimeSpan timeout) : IDisplayTarget
{
    public Task RequestAsync(DisplayProperties properties, CancellationToken cancellationToken) =>
        controller.RequestAsync(properties, timeout, cancellationToken);
}
