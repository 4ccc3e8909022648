using System.Numerics;
using System.Runtime.CompilerServices;

namespace Vdi.Vmm.Iommu;

/// <summary>
/// A 4-level I/O page table shaped as x86-64's (PML4, PDPT, PD, PT: 512 entries of 8 bytes per 4 KiB table, 48-bit
/// I/O virtual addresses; <see cref="IoPte"/> has the entry bits), held in VMM memory the guest cannot see. Leaves are
/// 4 KiB, so accessed and dirty bits are per 4 KiB page.
/// </summary>
/// <remarks>
/// Translation and harvest take no lock: entries are read with acquire loads and their A/D bits set or cleared with
/// atomics (a check first, so an access to a page already marked is a plain load). <see cref="Map"/> and
/// <see cref="Unmap"/> serialise on <c>_gate</c>. Tables are never freed while the table lives (an unmapped range keeps
/// its tables for the next map), so a walk racing an unmap reads a table that still exists. Upper entries, once present,
/// never change (unmapping clears leaves only), so the leaf table of the last 2 MiB region walked is kept and reused
/// without invalidation: a DMA over consecutive pages (a row of pixels) costs one load per page, not a 4-level walk.
/// </remarks>
public sealed class IoPageTable
{
    public const int PageShift = 12;
    public const ulong PageSize = 1UL << PageShift;
    public const int AddressBits = 48;
    public const ulong AddressLimit = 1UL << AddressBits;
    private const int EntriesPerTable = 512;
    private const ulong PageMask = PageSize - 1;

    private readonly Lock _gate = new(); // Map, Unmap, the pool's growth and _unmappedDirty
    private volatile ulong[][] _tables = [new ulong[EntriesPerTable], null!, null!, null!]; // the pool; [0] is the PML4
    private int _tableCount = 1; // under _gate
    private long _mappedPages;
    private readonly List<ulong> _unmappedDirty = []; // guest-physical pages whose dirty leaf was unmapped before a harvest
    private volatile LeafTable? _lastLeafTable; // the last 2 MiB region's leaf table: always valid (see remarks)

    /// <summary>Tables in the pool (4 KiB each), the PML4 included.</summary>
    public int TableCount
    {
        get
        {
            lock (_gate)
                return _tableCount;
        }
    }

    /// <summary>4 KiB pages mapped now.</summary>
    public long MappedPages => Interlocked.Read(ref _mappedPages);

    /// <summary>
    /// Maps [<paramref name="iova"/>, + <paramref name="length"/>) onto guest-physical memory from
    /// <paramref name="guestPhysical"/>, 4 KiB leaves, writable or read-only. All three are page-aligned; a range that
    /// overlaps a mapped page is refused whole (unmap first).
    /// </summary>
    public void Map(ulong iova, ulong guestPhysical, ulong length, bool writable)
    {
        if (length == 0 || ((iova | guestPhysical | length) & PageMask) != 0)
            throw new ArgumentException($"map [0x{iova:X}, +0x{length:X}) → 0x{guestPhysical:X}: addresses and length must be non-empty multiples of 4 KiB");
        if (iova + length < iova || iova + length > AddressLimit || guestPhysical + length < guestPhysical || guestPhysical + length > IoPte.FrameLimit)
            throw new ArgumentException($"map [0x{iova:X}, +0x{length:X}) → 0x{guestPhysical:X}: beyond the 48-bit I/O or 52-bit physical address space");
        var flags = IoPte.Present | (writable ? IoPte.Writable : 0);
        lock (_gate)
        {
            for (var offset = 0UL; offset < length; offset += PageSize)
            {
                ref var leaf = ref Leaf(iova + offset);
                if (!Unsafe.IsNullRef(ref leaf) && IoPte.IsPresent(Volatile.Read(ref leaf)))
                    throw new InvalidOperationException($"IOVA 0x{iova + offset:X} is already mapped");
            }
            for (var offset = 0UL; offset < length; offset += PageSize)
                Volatile.Write(ref LeafForMap(iova + offset), (guestPhysical + offset) | flags);
            Interlocked.Add(ref _mappedPages, (long)(length >> PageShift));
        }
    }

    /// <summary>
    /// Unmaps every mapped page in [<paramref name="iova"/>, + <paramref name="length"/>) (page-aligned); returns how
    /// many were mapped. A page dirty at that moment is still reported by the next <see cref="HarvestDirty"/>.
    /// </summary>
    public int Unmap(ulong iova, ulong length)
    {
        if (((iova | length) & PageMask) != 0 || iova + length < iova || iova + length > AddressLimit)
            throw new ArgumentException($"unmap [0x{iova:X}, +0x{length:X}): not page-aligned inside the 48-bit I/O address space");
        var unmapped = 0;
        lock (_gate)
        {
            for (var offset = 0UL; offset < length; offset += PageSize)
            {
                ref var leaf = ref Leaf(iova + offset);
                if (Unsafe.IsNullRef(ref leaf))
                    continue;
                var old = Interlocked.Exchange(ref leaf, 0);
                if (!IoPte.IsPresent(old))
                    continue;
                unmapped++;
                if ((old & IoPte.Dirty) != 0)
                    _unmappedDirty.Add(IoPte.Frame(old) >> PageShift);
            }
            Interlocked.Add(ref _mappedPages, -unmapped);
        }
        return unmapped;
    }

    /// <summary>
    /// Translates one access to the page holding <paramref name="iova"/>: the guest-physical address of that byte, or a
    /// fault. Sets the leaf's accessed bit, and on a write its dirty bit when <paramref name="trackDirty"/> is on.
    /// </summary>
    public IoFault Translate(ulong iova, bool write, bool trackDirty, out ulong guestPhysical)
    {
        var fault = Access(iova, write, out guestPhysical, out var leaf);
        if (fault == IoFault.None && write && trackDirty)
            MarkDirty(leaf, guestPhysical);
        return fault;
    }

    /// <summary>True when every page of [<paramref name="iova"/>, + <paramref name="length"/>) is mapped (no bits are set).</summary>
    public bool IsMapped(ulong iova, ulong length)
    {
        if (length == 0)
            return iova <= AddressLimit;
        if (iova + length < iova || iova + length > AddressLimit)
            return false;
        for (var page = iova & ~PageMask; page < iova + length; page += PageSize)
        {
            ref var leaf = ref Leaf(page);
            if (Unsafe.IsNullRef(ref leaf) || !IoPte.IsPresent(Volatile.Read(ref leaf)))
                return false;
        }
        return true;
    }

    /// <summary>The leaf entry for <paramref name="iova"/> as it stands (0 when no table on the path exists), for tests and diagnostics.</summary>
    internal ulong LeafEntry(ulong iova)
    {
        ref var leaf = ref Leaf(iova);
        return Unsafe.IsNullRef(ref leaf) ? 0 : Volatile.Read(ref leaf);
    }

    /// <summary>
    /// The translation step of a DMA: checks the leaf (present; writable for a write), sets its accessed bit and hands
    /// back where it is, so the dirty bit can be set once the data has landed (<see cref="MarkDirty"/>).
    /// </summary>
    internal IoFault Access(ulong iova, bool write, out ulong guestPhysical, out LeafSlot leaf)
    {
        guestPhysical = 0;
        leaf = default;
        if (iova >= AddressLimit)
            return IoFault.OutOfRange;
        var table = LeafTableFor(iova);
        if (table is null)
            return IoFault.NotPresent;
        var index = (int)(iova >> PageShift) & (EntriesPerTable - 1);
        ref var slot = ref table[index];
        var value = Volatile.Read(ref slot);
        if (!IoPte.IsPresent(value))
            return IoFault.NotPresent;
        if (write && (value & IoPte.Writable) == 0)
            return IoFault.ReadOnly;
        if ((value & IoPte.Accessed) == 0)
            Interlocked.Or(ref slot, IoPte.Accessed);
        guestPhysical = IoPte.Frame(value) | (iova & PageMask);
        leaf = new LeafSlot(table, index);
        return IoFault.None;
    }

    /// <summary>
    /// Sets the dirty bit of the leaf <see cref="Access"/> returned, after the write landed: a harvest that clears the
    /// bit then copies the page sees the data, and one that ran before sees the bit. If the leaf was unmapped or
    /// remapped meanwhile, the page is kept for the next harvest instead.
    /// </summary>
    internal void MarkDirty(LeafSlot leaf, ulong guestPhysical)
    {
        ref var slot = ref leaf.Table[leaf.Index];
        var frame = guestPhysical & ~PageMask;
        var value = Volatile.Read(ref slot);
        while (IoPte.IsPresent(value) && IoPte.Frame(value) == frame)
        {
            if ((value & IoPte.Dirty) != 0)
                return;
            var seen = Interlocked.CompareExchange(ref slot, value | IoPte.Dirty, value);
            if (seen == value)
                return;
            value = seen;
        }
        lock (_gate)
            _unmappedDirty.Add(frame >> PageShift);
    }

    /// <summary>Sets the dirty bit of the page holding <paramref name="iova"/> (a DMA that spans pages marks each after its write).</summary>
    internal void MarkDirty(ulong iova, ulong guestPhysical)
    {
        if (FindLeaf(iova) is { Table: not null } leaf)
        {
            MarkDirty(leaf, guestPhysical);
            return;
        }
        lock (_gate)
            _unmappedDirty.Add(guestPhysical >> PageShift);
    }

    /// <summary>
    /// Moves the dirty bits into <paramref name="bitmap"/> (bit n = guest-physical page n), clearing each with an atomic
    /// read-and-clear so a DMA write racing the harvest lands in this one or the next. A page beyond the bitmap stays
    /// dirty. Returns how many bits it set that were clear.
    /// </summary>
    internal int HarvestDirty(Span<ulong> bitmap)
    {
        var limit = (ulong)bitmap.Length * 64;
        var added = 0;
        var tables = _tables;
        var pml4 = tables[0];
        for (var i = 0; i < EntriesPerTable; i++)
        {
            if (Volatile.Read(ref pml4[i]) is var e4 && !IoPte.IsPresent(e4))
                continue;
            var pdpt = Next(ref tables, e4);
            for (var j = 0; j < EntriesPerTable; j++)
            {
                if (Volatile.Read(ref pdpt[j]) is var e3 && !IoPte.IsPresent(e3))
                    continue;
                var pd = Next(ref tables, e3);
                for (var k = 0; k < EntriesPerTable; k++)
                {
                    if (Volatile.Read(ref pd[k]) is var e2 && !IoPte.IsPresent(e2))
                        continue;
                    var pt = Next(ref tables, e2);
                    for (var l = 0; l < EntriesPerTable; l++)
                    {
                        ref var leaf = ref pt[l];
                        var value = Volatile.Read(ref leaf);
                        if ((value & (IoPte.Present | IoPte.Dirty)) != (IoPte.Present | IoPte.Dirty) || IoPte.Frame(value) >> PageShift >= limit)
                            continue;
                        var old = Interlocked.And(ref leaf, ~IoPte.Dirty);
                        if ((old & IoPte.Dirty) != 0 && IoPte.IsPresent(old))
                            added += Set(bitmap, IoPte.Frame(old) >> PageShift, limit);
                    }
                }
            }
        }
        lock (_gate)
        {
            for (var n = _unmappedDirty.Count - 1; n >= 0; n--)
            {
                if (_unmappedDirty[n] < limit)
                {
                    added += Set(bitmap, _unmappedDirty[n], limit);
                    _unmappedDirty.RemoveAt(n);
                }
            }
        }
        return added;
    }

    private static int Set(Span<ulong> bitmap, ulong page, ulong limit)
    {
        if (page >= limit)
            return 0;
        ref var word = ref bitmap[(int)(page >> 6)];
        var bit = 1UL << (int)(page & 63);
        if ((word & bit) != 0)
            return 0;
        word |= bit;
        return 1;
    }

    /// <summary>The next table an upper entry names; a pool grown after <paramref name="tables"/> was read is read again.</summary>
    private ulong[] Next(ref ulong[][] tables, ulong entry)
    {
        var index = (int)(IoPte.Frame(entry) >> PageShift);
        if (index >= tables.Length || tables[index] is null)
            tables = _tables; // the entry was published after the grown pool (release/acquire), so this one holds it
        return tables[index];
    }

    /// <summary>The leaf entry for <paramref name="iova"/>, or a null reference when a table on the path is absent.</summary>
    private ref ulong Leaf(ulong iova)
    {
        var leaf = FindLeaf(iova);
        if (leaf.Table is null)
            return ref Unsafe.NullRef<ulong>();
        return ref leaf.Table[leaf.Index];
    }

    /// <summary>Where the leaf entry for <paramref name="iova"/> lives; its table is null when a table on the path is absent.</summary>
    private LeafSlot FindLeaf(ulong iova) =>
        iova < AddressLimit && LeafTableFor(iova) is { } table ? new LeafSlot(table, (int)(iova >> PageShift) & (EntriesPerTable - 1)) : default;

    /// <summary>The leaf table (PT) covering <paramref name="iova"/>'s 2 MiB region, or null when none exists yet.</summary>
    private ulong[]? LeafTableFor(ulong iova)
    {
        var region = iova >> (PageShift + 9);
        if (_lastLeafTable is { } last && last.Region == region)
            return last.Entries;
        var tables = _tables;
        var table = tables[0];
        for (var shift = PageShift + 27; shift > PageShift; shift -= 9)
        {
            var entry = Volatile.Read(ref table[(int)(iova >> shift) & (EntriesPerTable - 1)]);
            if (!IoPte.IsPresent(entry))
                return null;
            table = Next(ref tables, entry);
        }
        _lastLeafTable = new LeafTable(region, table);
        return table;
    }

    /// <summary>The leaf entry for <paramref name="iova"/>, making the tables on its path. Hold <c>_gate</c>.</summary>
    private ref ulong LeafForMap(ulong iova)
    {
        var tables = _tables;
        var table = tables[0];
        for (var shift = PageShift + 27; shift > PageShift; shift -= 9)
        {
            ref var entry = ref table[(int)(iova >> shift) & (EntriesPerTable - 1)];
            var value = Volatile.Read(ref entry);
            if (!IoPte.IsPresent(value))
            {
                value = ((ulong)NewTable() << PageShift) | IoPte.Present | IoPte.Writable; // permissions live on leaves
                tables = _tables;
                Volatile.Write(ref entry, value); // after the table is in the pool a walker reads
            }
            table = Next(ref tables, value);
        }
        return ref table[(int)(iova >> PageShift) & (EntriesPerTable - 1)];
    }

    private int NewTable()
    {
        var tables = _tables;
        if (_tableCount == tables.Length)
        {
            var grown = new ulong[(int)BitOperations.RoundUpToPowerOf2((uint)tables.Length + 1)][];
            Array.Copy(tables, grown, tables.Length);
            tables = grown;
        }
        tables[_tableCount] = new ulong[EntriesPerTable];
        _tables = tables;
        return _tableCount++;
    }

    /// <summary>A 2 MiB region's leaf table, kept as the walk's cache (immutable: replaced whole).</summary>
    private sealed class LeafTable(ulong region, ulong[] entries)
    {
        public ulong Region { get; } = region;

        public ulong[] Entries { get; } = entries;
    }

    /// <summary>Where a leaf entry lives: its table and index (a DMA keeps it to set the dirty bit after its write).</summary>
    internal readonly record struct LeafSlot(ulong[] Table, int Index);
}
