using System.Runtime.CompilerServices;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Guest memory access of <see cref="SoftCpu"/>. Every address an instruction uses is linear and goes through the
/// software TLB (<see cref="SoftTlb"/>): the hot path is an index, a tag compare, an offset check and a host pointer
/// add, so an access of 1, 2, 4 or 8 bytes within a RAM page is one host access of that width; a store marks the
/// slot's host-write bitmap as <c>GuestMemory.Write</c> does, and a store to a code page bumps the code version. A
/// miss walks the page tables (<see cref="Translate"/>); an access crossing a page is made a byte at a time once both
/// pages translated; what is not RAM — APIC windows, device MMIO, read-only slots for stores — goes to the bus at its
/// physical address. Page-table entries and the walk itself use physical addresses through a cached slot window
/// (<see cref="SoftRamWindow"/>).
/// </summary>
internal sealed unsafe partial class SoftCpu
{
    private readonly SoftRam? _ram;
    private readonly Memory.GuestMemory? _memory; // _ram's, for the generation check of the TLB and the window
    private SoftRamWindow _window;      // the slot of the page last filled into the TLB
    private SoftRamWindow _tableWindow; // the slot of the page-table entry last read by the walk

    /// <summary>
    /// Stores that missed the TLB's store tag and took the slow path (a first store to a page, a page crossing, a
    /// write-traced page, MMIO); counted there only, so the fast path pays nothing for it.
    /// </summary>
    public long SlowPathStores { get; private set; }

    /// <summary>Set when the running block must end after this instruction (code changed, an event was delivered).</summary>
    private bool _leaveBlock;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadMem(ulong address, int size)
    {
        ref var e = ref TlbEntry(address);
        var offset = address & 0xFFF;
        if (e.ReadTag == address >> 12 && offset <= 0x1000 - (ulong)size)
            return Load(e.Host + offset, size);
        return ReadMemSlow(address, size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteMem(ulong address, int size, ulong value)
    {
        ref var e = ref TlbEntry(address);
        var offset = address & 0xFFF;
        if (e.WriteTag == address >> 12 && offset <= 0x1000 - (ulong)size)
        {
            Store(e.Host + offset, size, value);
            NoteRamStore(ref e, offset, size);
            return;
        }
        WriteMemSlow(address, size, value);
    }

    /// <summary>Host pointer for [address, address + size) within one page when it is RAM (and writable, for a store); null otherwise. May fault.</summary>
    private byte* RamPointer(ulong address, int size, bool write)
    {
        if ((address & 0xFFF) + (ulong)size > 0x1000)
            return null;
        ref var e = ref Translate(address, write ? Access.Write : Access.Read);
        return (write ? e.WriteTag : e.ReadTag) == address >> 12 ? e.Host + (address & 0xFFF) : null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Load(byte* p, int size)
    {
        // SAFETY: p points into a RAM page a TLB entry maps, with at least `size` bytes left in it; slots stay mapped
        // while the machine runs (they are removed only with the vCPUs paused, and the TLB is emptied on any change).
        return size switch
        {
            8 => Unsafe.ReadUnaligned<ulong>(p),
            4 => Unsafe.ReadUnaligned<uint>(p),
            2 => Unsafe.ReadUnaligned<ushort>(p),
            _ => *p,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(byte* p, int size, ulong value)
    {
        // SAFETY: as in Load; the entry allows direct stores only for pages of writable slots.
        switch (size)
        {
            case 8: Unsafe.WriteUnaligned(p, value); break;
            case 4: Unsafe.WriteUnaligned(p, (uint)value); break;
            case 2: Unsafe.WriteUnaligned(p, (ushort)value); break;
            default: *p = (byte)value; break;
        }
    }

    /// <summary>After a direct RAM store through <paramref name="e"/>: the slot's host-write bitmap, and the code version if code was hit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NoteRamStore(ref SoftTlbEntry e, ulong offset, int size)
    {
        ref var word = ref e.HostWrites![e.HostWriteWord];
        var bit = e.HostWriteBit;
        if ((Volatile.Read(ref word) & bit) == 0)
            Interlocked.Or(ref word, bit);
        if (_ram!.NoteStore(e.Physical | offset, size))
            _leaveBlock = true;
    }

    /// <summary>After a direct RAM store at <paramref name="address"/> made through <see cref="RamPointer"/>.</summary>
    private void NoteRamStore(ulong address, int size) => NoteRamStore(ref _tlb.EntryFor(address), address & 0xFFF, size);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadMemSlow(ulong address, int size)
    {
        var offset = address & 0xFFF;
        if (offset + (ulong)size > 0x1000)
            return ReadSplit(address, size);
        ref var e = ref Translate(address, Access.Read);
        if (e.ReadTag == address >> 12)
            return Load(e.Host + offset, size);
        return _bus.ReadMemory(this, e.Physical | offset, size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteMemSlow(ulong address, int size, ulong value)
    {
        SlowPathStores++;
        var offset = address & 0xFFF;
        if (offset + (ulong)size > 0x1000)
        {
            WriteSplit(address, size, value);
            return;
        }
        ref var e = ref Translate(address, Access.Write);
        if (e.WriteTag == address >> 12)
        {
            Store(e.Host + offset, size, value);
            NoteRamStore(ref e, offset, size);
            return;
        }
        _bus.WriteMemory(this, e.Physical | offset, size, value);
        if (_bus.CodeVersion != _codeVersion)
            _leaveBlock = true;
    }

    /// <summary>A load crossing a page: both pages translate (or fault) first, then a byte at a time.</summary>
    private ulong ReadSplit(ulong address, int size)
    {
        Translate(address, Access.Read);
        Translate(address + (ulong)size - 1, Access.Read);
        ulong value = 0;
        for (var n = 0; n < size; n++)
            value |= ReadMem(address + (ulong)n, 1) << (8 * n);
        return value;
    }

    /// <summary>
    /// A store crossing a page: nothing is written unless both pages may be. The part on a write-traced page goes to
    /// the bus whole, as KVM splits such a write into the RAM part and one MMIO exit for the rest.
    /// </summary>
    private void WriteSplit(ulong address, int size, ulong value)
    {
        Translate(address, Access.Write);
        Translate(address + (ulong)size - 1, Access.Write);
        var first = (int)(0x1000 - (address & 0xFFF));
        WritePart(address, first, value);
        WritePart(address + (ulong)first, size - first, value >> (8 * first));
    }

    private void WritePart(ulong address, int size, ulong value)
    {
        ref var e = ref Translate(address, Access.Write);
        if (e.WriteTag != address >> 12 && _ram?.Traced?.IsTraced(e.Physical) == true)
        {
            _bus.WriteMemory(this, e.Physical | (address & 0xFFF), size, value);
            if (_bus.CodeVersion != _codeVersion)
                _leaveBlock = true;
            return;
        }
        for (var n = 0; n < size; n++)
            WriteMem(address + (ulong)n, 1, value >> (8 * n));
    }

    /// <summary>
    /// Host pointer for guest-physical [address, address + size) when it is RAM (and writable, for a store); null
    /// otherwise. <paramref name="window"/> caches the slot: the walk keeps its own (<c>_tableWindow</c>) so page-table
    /// reads and the pages they map (the framebuffer, say, in another slot) do not evict each other.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* PhysicalPointer(ref SoftRamWindow window, ulong address, int size, bool write)
    {
        var offset = address - window.Base;
        if (offset < window.Size && window.Size - offset >= (ulong)size
            && (!write || window.Writable) && window.Generation == _memory!.Generation)
        {
            // SAFETY: offset + size <= the slot's size and the slot map has not changed since the window was taken,
            // so the pointer stays inside the slot's live host mapping.
            return window.Host + offset;
        }
        return PhysicalPointerSlow(ref window, address, size, write);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private byte* PhysicalPointerSlow(ref SoftRamWindow window, ulong address, int size, bool write)
    {
        if (_ram is null || !_ram.TryMap(address, out var found))
            return null;
        window = found;
        var offset = address - found.Base;
        if (found.Size - offset < (ulong)size || (write && !found.Writable))
            return null;
        // SAFETY: the slot holds [address, address + size) (checked just above) and was just looked up.
        return found.Host + offset;
    }
}
