using Vdi.Vmm.Devices;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Machine;

/// <summary>Guest memory slots as KVM memory slots.</summary>
internal sealed class KvmMemorySink(KvmVm vm) : IMemorySlotSink
{
    public void SetSlot(MemorySlot slot) =>
        vm.SetUserMemoryRegion(slot.Id, slot.IsReadOnly, (slot.Flags & MemorySlotFlags.LogDirty) != 0, slot.GuestAddress, slot.Size, slot.HostAddress);

    public void RemoveSlot(MemorySlot slot) =>
        vm.SetUserMemoryRegion(slot.Id, false, false, slot.GuestAddress, 0, slot.HostAddress);

    public void GetDirtyLog(MemorySlot slot, Span<ulong> bitmap) => vm.GetDirtyLog(slot.Id, bitmap);
}

/// <summary>A GSI of the in-kernel irqchip.</summary>
internal sealed class KvmInterruptLine(KvmVm vm, uint gsi) : IInterruptLine
{
    public void SetLevel(bool level) => vm.IrqLine(gsi, level);
}
