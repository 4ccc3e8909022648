using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Memory;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>The desktop's devices on a real guest driver: their DMA writes are found in the IOMMU's dirty bits.</summary>
public sealed class DesktopDmaTests
{
    private const ushort KeyA = 30;

    [Fact]
    public void A_typed_key_leaves_the_keyboards_event_and_used_ring_writes_in_the_iommu()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        var iommu = desktop.Machine.Devices.Iommu;
        var keyboard = iommu.Domain("VirtioKeyboard")!;
        var bitmap = new ulong[DirtyBitmap.WordsFor(desktop.Machine.Memory.Top >> 12)];
        Assert.Equal(0, iommu.HarvestDirty(bitmap)); // tracking was off while the desktop booted
        iommu.StartDirtyTracking();
        var writes = keyboard.DmaWrites;

        desktop.Type(KeyA);

        var pages = iommu.HarvestDirty(bitmap);
        Assert.True(keyboard.DmaWrites > writes);
        Assert.InRange(pages, 2, 16); // event buffers and used rings of the keyboard, the GPU's responses and used ring
        var usedRing = desktop.Machine.Devices.Transports[MmioMap.KeyboardSlot].ActiveContext!.Queues[0].UsedRing;
        Assert.NotEqual(0UL, bitmap[(int)(usedRing >> 18)] & (1UL << (int)((usedRing >> 12) & 63)));
        Assert.Equal(0, iommu.HarvestDirty(new ulong[bitmap.Length])); // the harvest cleared them
        Assert.Equal(0, iommu.Faults);
    }
}
