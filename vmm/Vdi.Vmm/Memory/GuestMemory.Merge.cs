namespace Vdi.Vmm.Memory;

public sealed unsafe partial class GuestMemory
{
    /// <summary>
    /// Joins two adjacent slots over consecutive bytes of the same host mapping, with the same flags, into one — the
    /// reverse of <see cref="Split"/>; pages written but not yet harvested stay dirty. Pause the vCPUs around it on
    /// KVM: the two slots are removed before the joined one exists.
    /// </summary>
    public MemorySlot Merge(MemorySlot low, MemorySlot high)
    {
        ArgumentNullException.ThrowIfNull(low);
        ArgumentNullException.ThrowIfNull(high);
        if (!CanMerge(low, high))
            throw new GuestMemoryException($"cannot merge {low} and {high}: not adjacent parts of one mapping with the same flags");
        lock (_gate)
        {
            var lowDirty = TakeDirtyLocked(low);
            var highDirty = TakeDirtyLocked(high);
            RemoveSlotLocked(low);
            RemoveSlotLocked(high);
            var merged = AddSlotLocked(low.GuestAddress, low.Size + high.Size, low.Mapping, low.MappingOffset, low.Flags);
            low.Mapping.Release(); // the joined slot holds its own reference
            high.Mapping.Release();
            MarkDirty(merged, 0, lowDirty, low.PageCount);
            MarkDirty(merged, low.PageCount, highDirty, high.PageCount);
            return merged;
        }
    }

    /// <summary>True when <see cref="Merge"/> would join the two slots.</summary>
    public static bool CanMerge(MemorySlot low, MemorySlot high) =>
        low.End == high.GuestAddress && ReferenceEquals(low.Mapping, high.Mapping)
        && low.MappingOffset + low.Size == high.MappingOffset && low.Flags == high.Flags;

    private ulong[] TakeDirtyLocked(MemorySlot slot)
    {
        var dirty = new ulong[DirtyBitmap.WordsFor(slot.PageCount)];
        if ((slot.Flags & MemorySlotFlags.LogDirty) != 0)
            _sink?.GetDirtyLog(slot, dirty);
        slot.HostWrites.TakeInto(dirty);
        return dirty;
    }

    private static void MarkDirty(MemorySlot slot, ulong firstPage, ulong[] dirty, ulong pages)
    {
        for (ulong page = 0; page < pages; page++)
        {
            if ((dirty[page >> 6] & (1UL << (int)(page & 63))) != 0)
                slot.HostWrites.MarkRange((firstPage + page) << DirtyBitmap.PageShift, 1);
        }
    }
}
