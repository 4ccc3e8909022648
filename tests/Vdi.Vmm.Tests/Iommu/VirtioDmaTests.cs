using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Iommu;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tests.Devices;
using Vdi.Vmm.Tests.Devices.Input;
using Vdi.Vmm.Tests.Devices.Virtio;
using Vdi.Vmm.Tests.Guests;

namespace Vdi.Vmm.Tests.Iommu;

/// <summary>Real virtio devices behind the transport, their DMA through their domains.</summary>
public sealed class VirtioDmaTests
{
    private const ulong Page = IoPageTable.PageSize;

    private static ulong[] Harvest(VirtualIommu iommu, ulong ram)
    {
        var bitmap = new ulong[DirtyBitmap.WordsFor(ram >> 12)];
        iommu.HarvestDirty(bitmap);
        return bitmap;
    }

    private static List<ulong> PageAddresses(ulong[] bitmap) =>
        [.. Enumerable.Range(0, bitmap.Length * 64).Where(n => (bitmap[n >> 6] & (1UL << (n & 63))) != 0).Select(n => (ulong)n << 12)];

    [Fact]
    public void A_keyboards_events_and_used_ring_are_recorded_only_by_the_iommu()
    {
        using var bed = InputTestBeds.Keyboard();
        bed.Driver.Initialize();
        // Event buffers on pages of their own, so each write shows as its page.
        ulong[] buffers = [.. Enumerable.Range(0, 3).Select(_ => bed.Driver.Alloc((int)Page, (int)Page))];
        foreach (var buffer in buffers)
            bed.Driver.Submit(VirtioInputDevice.EventQueue, (buffer, InputEvent.Size, true));
        bed.Driver.Notify(VirtioInputDevice.EventQueue);
        var slot = bed.Memory.Slots[0];
        bed.Memory.HarvestDirty(slot); // the driver's own writes so far (rings, buffers): host writes
        _ = Harvest(bed.Iommu, VirtioTestBed<VirtioKeyboard>.RamSize); // and the device's reads of them
        bed.Iommu.StartDirtyTracking();

        Assert.True(bed.Device.InjectKey(Evdev.KeyA, KeyAction.Press)); // press + SYN: two of the three buffers

        var usedPage = bed.Driver.QueueUsedRing(VirtioInputDevice.EventQueue) & ~(Page - 1);
        Assert.Equal(new[] { buffers[0], buffers[1], usedPage }.Order(), PageAddresses(Harvest(bed.Iommu, VirtioTestBed<VirtioKeyboard>.RamSize)));
        Assert.Empty(bed.Memory.HarvestDirty(slot)); // no host-write record of the device's writes
        Assert.Equal(2, bed.Driver.UsedIndex(VirtioInputDevice.EventQueue));
        Assert.Equal(8, bed.Dma.DmaWrites); // per event: the buffer, then the used entry's id, its length and the used index
    }

    [Fact]
    public void A_dma_fault_puts_the_device_into_needs_reset_and_writes_nothing()
    {
        using var bed = EchoTestBed.Create();
        bed.Driver.Initialize();
        var request = bed.Driver.Alloc(4);
        bed.Memory.Write(request, "ping"u8);
        var response = bed.Driver.Alloc((int)Page, (int)Page);
        var usedRing = bed.Driver.QueueUsedRing(0);
        bed.Dma.Table.Unmap(response, Page);
        bed.Dma.Table.Map(response, response, Page, writable: false); // the device may read it, not write it

        bed.Driver.Submit(0, (request, 4, false), (response, 4, true));
        var error = Record.Exception(() => bed.Driver.Notify(0));

        Assert.Null(error); // the VMM goes on
        Assert.True(bed.Driver.NeedsReset);
        Assert.Contains("read-only", bed.Transport.LastError, StringComparison.Ordinal);
        Assert.Equal(0u, bed.Memory.Read<uint>(response)); // nothing written
        Assert.Equal(0, bed.Driver.UsedIndex(0)); // nothing published
        Assert.Equal(new IommuFault(response, nameof(EchoDevice), IoFault.ReadOnly, Write: true), bed.Dma.LastFault);
        Assert.Equal(0u, bed.Memory.Read<uint>(usedRing + 4));
        Assert.Equal(VirtioMmio.MagicValue, bed.Driver.ReadReg(VirtioMmio.RegMagic)); // the transport still answers
    }

    [Fact]
    public void A_used_ring_unmapped_under_a_live_queue_faults_and_nothing_is_published()
    {
        using var bed = EchoTestBed.Create();
        bed.Driver.Initialize();
        var usedRing = bed.Driver.QueueUsedRing(0);
        bed.Dma.Table.Unmap(usedRing & ~(Page - 1), Page);

        bed.Driver.Submit(0, (bed.Driver.Alloc(4), 4, false), (bed.Driver.Alloc(4), 4, true));
        bed.Driver.Notify(0);

        Assert.True(bed.Driver.NeedsReset);
        Assert.Contains("not mapped", bed.Transport.LastError, StringComparison.Ordinal);
        Assert.Equal(IoFault.NotPresent, bed.Dma.LastFault!.Reason);
        Assert.Equal(0, bed.Driver.UsedIndex(0));
        Assert.Equal(0UL, bed.Memory.Read<ulong>(usedRing + 4));
    }

    [Fact]
    public void The_machine_gives_each_dma_device_an_identity_domain_over_its_ram_only()
    {
        using var memory = new GuestMemory();
        var config = new MachineConfig { Image = TestGuests.PowerOff(0), MemoryMiB = 64 };
        memory.AddRam(0, config.MemoryBytes);
        var devices = MachineDevices.Create(config, memory, _ => new RecordingInterruptLine(), 0, _ => { });

        Assert.Equal(["DmaExerciser", "VirtioGpu", "VirtioKeyboard", "VirtioTablet"], devices.Iommu.Domains.Select(d => d.Name));
        Assert.All(devices.Iommu.Domains, d =>
        {
            Assert.True(d.IsMapped(0, config.MemoryBytes));
            Assert.False(d.IsMapped(config.MemoryBytes, Page)); // nothing above RAM: the privileged region and window are not device-visible
            Assert.False(d.DirtyTracking);
        });
        Assert.Equal(devices.Iommu.Domains.Skip(1), devices.Transports.Select(t => t.Dma)); // each transport its own; the exerciser's first
    }
}
