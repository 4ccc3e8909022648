using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Tests.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Input;

internal static class InputTestBeds
{
    public static VirtioTestBed<VirtioKeyboard> Keyboard(int pendingCapacity = VirtioInputDevice.DefaultPendingCapacity) =>
        new(new VirtioKeyboard(pendingCapacity: pendingCapacity));

    public static VirtioTestBed<VirtioTablet> Tablet(int pendingCapacity = VirtioInputDevice.DefaultPendingCapacity) =>
        new(new VirtioTablet(pendingCapacity: pendingCapacity));
}
