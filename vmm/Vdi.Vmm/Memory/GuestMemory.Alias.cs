namespace Vdi.Vmm.Memory;

/// <summary>Slots over host memory that already exists: another view of RAM, or memory the guest does not always see.</summary>
public sealed partial class GuestMemory
{
    /// <summary>
    /// Adds a slot at <paramref name="guestAddress"/> over <paramref name="size"/> bytes of the host memory behind
    /// <paramref name="source"/>, from its start: the same bytes at a second guest-physical address (writable unless
    /// <paramref name="flags"/> say otherwise). Remove it with <see cref="Remove"/>; the source keeps its memory.
    /// </summary>
    internal MemorySlot AddAlias(ulong guestAddress, MemorySlot source, ulong size, MemorySlotFlags flags = MemorySlotFlags.None)
    {
        RequirePageAligned(guestAddress, size);
        if (source.MappingOffset + size > source.Mapping.Size)
            throw new GuestMemoryException($"an alias of {size} bytes runs past the host memory of {source}");
        lock (_gate)
            return AddSlotLocked(guestAddress, size, source.Mapping, source.MappingOffset, flags, alias: true);
    }

    /// <summary>
    /// The slots below <paramref name="limit"/> grouped into runs that are contiguous both as guest-physical addresses
    /// and in one host mapping (a slot split for tracing is one run again): what an alias of RAM needs, fewest slots first.
    /// </summary>
    internal List<(MemorySlot First, ulong Size)> ContiguousRuns(ulong limit)
    {
        var runs = new List<(MemorySlot First, ulong Size)>();
        foreach (var slot in _slots.Where(s => s.End <= limit))
        {
            if (runs.Count > 0 && runs[^1] is var (first, size) && first.GuestAddress + size == slot.GuestAddress
                && first.Mapping == slot.Mapping && first.MappingOffset + size == slot.MappingOffset)
                runs[^1] = (first, size + slot.Size);
            else
                runs.Add((slot, slot.Size));
        }
        return runs;
    }

    /// <summary>Adds a slot over <paramref name="mapping"/>, whose owner keeps its own reference (it outlives the slot).</summary>
    internal MemorySlot AddMapping(ulong guestAddress, MemoryMapping mapping, MemorySlotFlags flags = MemorySlotFlags.None)
    {
        RequirePageAligned(guestAddress, mapping.Size);
        lock (_gate)
            return AddSlotLocked(guestAddress, mapping.Size, mapping, 0, flags);
    }
}
