namespace Vdi.Vmm.Memory;

/// <summary>
/// The dirty log live migration reads: every slot logging the guest's writes (KVM's dirty log; the software engine's
/// stores and the VMM's own writes are in each slot's host-write bitmap), harvested as one bitmap over RAM.
/// Device DMA is not here: it is recorded by the IOMMU's dirty bits.
/// </summary>
public sealed partial class GuestMemory
{
    private volatile bool _dirtyLogging;

    /// <summary>True between <see cref="StartDirtyLog"/> and <see cref="StopDirtyLog"/>.</summary>
    public bool DirtyLogging => _dirtyLogging;

    /// <summary>
    /// Makes every slot log the guest's writes (<see cref="MemorySlotFlags.LogDirty"/>), and every slot made from now on
    /// (a split for tracing, an alias of RAM) until <see cref="StopDirtyLog"/>.
    /// </summary>
    public void StartDirtyLog() => SetDirtyLogging(true);

    /// <summary>Stops logging; pages logged and not harvested stay dirty in the host-write bitmaps.</summary>
    public void StopDirtyLog() => SetDirtyLogging(false);

    private void SetDirtyLogging(bool on)
    {
        lock (_gate)
        {
            _dirtyLogging = on;
            foreach (var slot in _slots)
            {
                if (((slot.Flags & MemorySlotFlags.LogDirty) != 0) == on)
                    continue;
                if (!on)
                    MarkDirty(slot, 0, TakeDirtyLocked(slot), slot.PageCount);
                slot.Flags = on ? slot.Flags | MemorySlotFlags.LogDirty : slot.Flags & ~MemorySlotFlags.LogDirty;
                _sink?.SetSlot(slot);
            }
            Interlocked.Increment(ref _generation);
        }
    }

    /// <summary>
    /// ORs into <paramref name="ramPages"/> (bit n: the page at guest-physical n × 4 KiB) every page written since the
    /// last harvest — the slots' dirty logs and host-write bitmaps, a write through an alias counted at the RAM page
    /// it reached — and clears them. Pages beyond the bitmap (memory outside RAM) are dropped. Returns the pages it
    /// set that were not set already.
    /// </summary>
    public long HarvestDirty(Span<ulong> ramPages)
    {
        long added = 0;
        lock (_gate)
        {
            foreach (var slot in _slots)
            {
                var dirty = TakeDirtyLocked(slot);
                for (var w = 0; w < dirty.Length; w++)
                {
                    var word = dirty[w];
                    while (word != 0)
                    {
                        var bit = System.Numerics.BitOperations.TrailingZeroCount(word);
                        word &= word - 1;
                        var offset = ((ulong)w * 64 + (ulong)bit) << DirtyBitmap.PageShift;
                        if (RamAddressLocked(slot, offset) is not { } address)
                            continue;
                        var page = address >> DirtyBitmap.PageShift;
                        if (page >= (ulong)ramPages.Length * 64)
                            continue;
                        ref var target = ref ramPages[(int)(page >> 6)];
                        var mask = 1UL << (int)(page & 63);
                        if ((target & mask) == 0)
                        {
                            target |= mask;
                            added++;
                        }
                    }
                }
            }
        }
        return added;
    }

    /// <summary>
    /// Makes the 4 KiB page at <paramref name="address"/> all zeros, writing only when it is not already: a page never
    /// touched stays unbacked (a restored idle desktop does not commit its free RAM). With
    /// <paramref name="unwrittenIsZero"/> — memory no guest ran on and nothing harvested, a machine just built — a page
    /// the host-write bitmap does not mark is known to be zero without reading it. False outside RAM.
    /// </summary>
    internal bool ClearPage(ulong address, bool unwrittenIsZero)
    {
        if ((address & (DirtyBitmap.PageSize - 1)) != 0 || FindSlot(address) is not { } slot || slot.End - address < DirtyBitmap.PageSize)
            return false;
        var index = (address - slot.GuestAddress) >> DirtyBitmap.PageShift;
        if (unwrittenIsZero && !slot.IsAlias && (Volatile.Read(ref slot.HostWrites.Words[index >> 6]) & (1UL << (int)(index & 63))) == 0)
            return true;
        unsafe
        {
            // SAFETY: the page lies inside the slot (checked above), whose host memory stays mapped while the slot lives.
            var page = new Span<byte>((byte*)slot.HostAddress + (address - slot.GuestAddress), (int)DirtyBitmap.PageSize);
            if (page.ContainsAnyExcept((byte)0))
            {
                page.Clear();
                slot.HostWrites.MarkRange(address - slot.GuestAddress, DirtyBitmap.PageSize);
            }
        }
        return true;
    }

    /// <summary>The RAM address a byte of <paramref name="slot"/> is: its own, or for an alias the RAM slot's over the same host byte.</summary>
    private ulong? RamAddressLocked(MemorySlot slot, ulong offset)
    {
        if (!slot.IsAlias)
            return slot.GuestAddress + offset;
        var hostOffset = slot.MappingOffset + offset;
        foreach (var ram in _slots)
        {
            if (!ram.IsAlias && ReferenceEquals(ram.Mapping, slot.Mapping) && hostOffset >= ram.MappingOffset && hostOffset < ram.MappingOffset + ram.Size)
                return ram.GuestAddress + (hostOffset - ram.MappingOffset);
        }
        return null;
    }

    /// <summary>Moves an alias's unharvested writes to the RAM slots it shows, before the alias goes.</summary>
    private void FoldAliasDirtyLocked(MemorySlot alias)
    {
        var dirty = TakeDirtyLocked(alias);
        for (ulong page = 0; page < alias.PageCount; page++)
        {
            if ((dirty[page >> 6] & (1UL << (int)(page & 63))) == 0 || RamAddressLocked(alias, page << DirtyBitmap.PageShift) is not { } address)
                continue;
            if (FindSlot(address) is { IsAlias: false } ram)
                ram.HostWrites.MarkRange(address - ram.GuestAddress, 1);
        }
    }
}
