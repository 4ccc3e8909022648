using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

public sealed class VirtioGpuScanoutSourceTests
{
    [Fact]
    public void A_gpu_without_a_guest_has_no_mode()
    {
        using var source = new VirtioGpuScanoutSource(new VirtioGpu());

        Assert.Null(source.Mode);
    }
}
