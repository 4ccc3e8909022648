using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tracing;

/// <summary>
/// The KVM side of write tracing: a traced run of pages is a read-only memory slot of its own (<c>KVM_MEM_READONLY</c>),
/// so a guest write to it exits as MMIO with its address, size and data. Tracing splits the slot at the run's
/// boundaries and flags the run read-only; untracing flags it writable again; both then merge the run with neighbours
/// of the same flags, so adjacent traced pages share one slot and an untraced machine is back to its original slots.
/// Each separate traced run costs up to two more slots; KVM allows <c>KVM_CAP_NR_MEMSLOTS</c> per address space (509 on
/// older kernels, 32,764 on current ones), and a split past that limit fails with the slot restored
/// (<see cref="GuestMemory.Split"/>). Callers hold the vCPUs paused.
/// </summary>
internal static class TracedSlots
{
    /// <summary>Makes [start, end) (page-aligned, inside RAM) read-only or writable.</summary>
    public static void SetReadOnly(GuestMemory memory, ulong start, ulong end, bool readOnly)
    {
        SplitAt(memory, start);
        SplitAt(memory, end);
        foreach (var slot in memory.Slots.Where(s => s.GuestAddress >= start && s.End <= end).ToList())
        {
            var flags = readOnly ? slot.Flags | MemorySlotFlags.ReadOnly : slot.Flags & ~MemorySlotFlags.ReadOnly;
            if (flags != slot.Flags)
                memory.SetFlags(slot, flags);
        }
        MergeBetween(memory, start == 0 ? 0 : start - 1, end);
    }

    private static void SplitAt(GuestMemory memory, ulong at)
    {
        if (memory.FindSlot(at) is { } slot && slot.GuestAddress != at)
            memory.Split(slot, at);
    }

    /// <summary>Merges every mergeable pair of adjacent slots that touches [from, to].</summary>
    private static void MergeBetween(GuestMemory memory, ulong from, ulong to)
    {
        var slot = memory.FindSlot(from);
        while (slot is not null && slot.GuestAddress <= to)
        {
            var next = memory.FindSlot(slot.End);
            if (next is null)
                return;
            slot = GuestMemory.CanMerge(slot, next) ? memory.Merge(slot, next) : next;
        }
    }
}
