using Vdi.Vmm.Devices;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tests.Guests;

namespace Vdi.Vmm.Tests.Machine;

[Trait("Requires", KvmMachines.Trait)]
public sealed class MemoryTrackingTests
{
    private const ulong ExtraSlot = 0x1000_0000;

    [Fact]
    public async Task Guest_write_to_a_read_only_slot_is_captured_with_address_size_and_data()
    {
        using var machine = KvmMachines.Build(TestGuests.WriteQword(ExtraSlot + 0x10, 0x1122_3344_5566_7788));
        machine.Memory.AddRam(ExtraSlot, 0x10000, MemorySlotFlags.ReadOnly);

        var exit = await KvmMachines.RunToExitAsync(machine);

        Assert.Equal(MachineExitKind.PoweredOff, exit.Kind);
        var write = Assert.Single(machine.Accesses.Recent(), a => a.Outcome == AccessOutcome.ReadOnlyMemoryWrite);
        Assert.Equal(new GuestAccess(AccessSpace.Mmio, ExtraSlot + 0x10, 8, 0x1122_3344_5566_7788, true, 0, AccessOutcome.ReadOnlyMemoryWrite), write);
        Assert.Equal(0UL, machine.Memory.Read<ulong>(ExtraSlot + 0x10));
    }

    [Fact]
    public async Task Dirty_harvest_reports_exactly_the_page_the_guest_wrote_then_a_host_write()
    {
        using var machine = KvmMachines.Build(TestGuests.WriteOnePage(ExtraSlot + 0x3000 + 123));
        var slot = machine.Memory.AddRam(ExtraSlot, 1 << 20, MemorySlotFlags.LogDirty);

        var exit = await KvmMachines.RunToExitAsync(machine);

        Assert.Equal(MachineExitKind.PoweredOff, exit.Kind);
        Assert.Equal([ExtraSlot + 0x3000], machine.Memory.HarvestDirty(slot));
        machine.Memory.Write<uint>(ExtraSlot + 0x5008, 1);
        Assert.Equal([ExtraSlot + 0x5000], machine.Memory.HarvestDirty(slot));
        Assert.Empty(machine.Memory.HarvestDirty(slot));
    }
}
