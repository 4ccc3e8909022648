using System.Runtime.CompilerServices;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Linear-to-physical translation of <see cref="SoftCpu"/>: the 4-level page walk from CR3 (4 KiB, 2 MiB and 1 GiB
/// pages), its permission checks at CPL 0, accessed and dirty bits, and the faults it raises, filling the software TLB
/// (<see cref="SoftTlb"/>).
/// <list type="bullet">
/// <item>P, RW, NX (with EFER.NXE) and PS are honoured; CR0.WP makes read-only pages fault on writes at CPL 0. The
/// engine runs only at CPL 0, so US changes nothing (no SMEP/SMAP) and the error code's U/S bit is always clear.</item>
/// <item>Reserved bits — physical-address bits from MAXPHYADDR (<see cref="PhysicalAddressBits"/>) to 51, NX without EFER.NXE, PS in
/// a PML4 entry, the low address bits of a large page — fault with RSVD.</item>
/// <item>A paging-structure entry outside RAM reads as not present (hardware would read MMIO or garbage).</item>
/// <item>Accessed bits are set on every entry of a walk that succeeds, and the leaf's dirty bit on a write, each with a
/// host atomic OR as hardware sets them (other vCPUs read the same tables); a walk that faults changes nothing.</item>
/// <item>A non-canonical address raises #GP(0).</item>
/// </list>
/// </summary>
internal sealed unsafe partial class SoftCpu
{
    /// <summary>MAXPHYADDR of a software machine's vCPUs (they model no CPUID); a hybrid vCPU takes KVM's.</summary>
    public const int DefaultPhysicalAddressBits = 46;

    private const ulong PagePresent = 1UL << 0;
    private const ulong PageWritable = 1UL << 1;
    private const ulong PageAccessed = 1UL << 5;
    private const ulong PageDirty = 1UL << 6;
    private const ulong PageLarge = 1UL << 7;
    private const ulong PageGlobal = 1UL << 8;
    private const ulong PageNoExecute = 1UL << 63;
    private const ulong NoEntry = ulong.MaxValue;
    private const ulong WidestFrameMask = ((1UL << 52) - 1) & ~0xFFFUL;

    private int _physicalAddressBits = DefaultPhysicalAddressBits;
    private ulong _frameMask = FrameMaskFor(DefaultPhysicalAddressBits);
    private ulong _reservedAddressBits = WidestFrameMask & ~FrameMaskFor(DefaultPhysicalAddressBits);

    private readonly SoftTlb _tlb;
    private readonly SoftTlbEntry[] _tlbEntries; // _tlb's, for the hot path
    private int _tlbGeneration;

    private enum Access : byte { Read, Write, Fetch }

    /// <summary>MAXPHYADDR, as CPUID leaf 0x80000008 reports it (36–52): entry bits from here to 51 are reserved.</summary>
    public int PhysicalAddressBits
    {
        get => _physicalAddressBits;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 36);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 52);
            _physicalAddressBits = value;
            _frameMask = FrameMaskFor(value);
            _reservedAddressBits = WidestFrameMask & ~_frameMask;
        }
    }

    private static ulong FrameMaskFor(int bits) => ((1UL << bits) - 1) & ~0xFFFUL;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref SoftTlbEntry TlbEntry(ulong linear) =>
        ref Unsafe.Add(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_tlbEntries), SoftTlb.IndexOf(linear));

    /// <summary>The memory map changed since the TLB was filled (host pointers may be stale): empty it. Once per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SyncMemoryMap()
    {
        if (_memory is { } memory && memory.Generation != _tlbGeneration)
        {
            _tlbGeneration = memory.Generation;
            _tlb.FlushAll();
        }
    }

    /// <summary>The TLB entry translating <paramref name="linear"/> for <paramref name="access"/>, walking if needed; throws the fault.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ref SoftTlbEntry Translate(ulong linear, Access access)
    {
        ref var e = ref _tlb.EntryFor(linear);
        if (e.Tag == linear >> 12 && Allows(e.Flags, access))
            return ref e;
        if (Walk(linear, access, ref e) is { } fault)
            throw fault;
        return ref e;
    }

    /// <summary>Like <see cref="Translate"/>, but hands the fault back instead of throwing it.</summary>
    private GuestFault? TryTranslate(ulong linear, Access access, out ulong physical)
    {
        ref var e = ref _tlb.EntryFor(linear);
        var fault = e.Tag == linear >> 12 && Allows(e.Flags, access) ? null : Walk(linear, access, ref e);
        physical = fault is null ? e.Physical | (linear & 0xFFF) : 0;
        return fault;
    }

    private static bool Allows(SoftTlbFlags flags, Access access) => access switch
    {
        Access.Read => true,
        Access.Write => (flags & (SoftTlbFlags.Writable | SoftTlbFlags.Dirty)) == (SoftTlbFlags.Writable | SoftTlbFlags.Dirty),
        _ => (flags & SoftTlbFlags.NoExecute) == 0,
    };

    /// <summary>Walks the tables for <paramref name="linear"/> and fills <paramref name="e"/>; the fault, if the access may not happen.</summary>
    private GuestFault? Walk(ulong linear, Access access, ref SoftTlbEntry e)
    {
        if ((ulong)((long)(linear << 16) >> 16) != linear)
            return new GuestFault(GuestFault.GeneralProtection, 0);
        var noExecuteEnabled = (Efer & EferNoExecute) != 0;
        var walked = new WalkedEntries();
        var table = Cr3 & _frameMask;
        var writable = true;
        var noExecute = false;
        var level = 4;
        ulong entry;
        ulong leafAddress;
        while (true)
        {
            var address = table + (((linear >> (3 + (9 * level))) & 511) * 8);
            leafAddress = address;
            if (!ReadTableEntry(address, out entry) || (entry & PagePresent) == 0)
                return PageFault(linear, access, PageFaultError.None);
            var large = level is 2 or 3 && (entry & PageLarge) != 0;
            var reserved = _reservedAddressBits | (noExecuteEnabled ? 0 : PageNoExecute);
            if (level == 4)
                reserved |= PageLarge;
            else if (large)
                reserved |= level == 2 ? 0x1F_E000UL : 0x3FFF_E000UL;
            if ((entry & reserved) != 0)
                return PageFault(linear, access, PageFaultError.Present | PageFaultError.Reserved);
            walked[4 - level] = (entry & PageAccessed) == 0 ? address : NoEntry; // only clear accessed bits need a write
            writable &= (entry & PageWritable) != 0;
            noExecute |= noExecuteEnabled && (entry & PageNoExecute) != 0;
            if (level == 1 || large)
                break;
            table = entry & _frameMask;
            level--;
        }

        var writeAllowed = writable || (Cr0 & Cr0WriteProtect) == 0;
        if (access == Access.Write && !writeAllowed)
            return PageFault(linear, access, PageFaultError.Present);
        if (access == Access.Fetch && noExecute)
            return PageFault(linear, access, PageFaultError.Present);

        for (var n = 4; n > level; n--)
        {
            if (walked[4 - n] != NoEntry)
                SetEntryBits(walked[4 - n], PageAccessed);
        }
        if (access == Access.Write && (entry & PageDirty) == 0)
            SetEntryBits(leafAddress, PageAccessed | PageDirty);
        else if (walked[4 - level] != NoEntry)
            SetEntryBits(walked[4 - level], PageAccessed);

        var pageMask = level switch { 1 => 0xFFFUL, 2 => 0x1F_FFFFUL, _ => 0x3FFF_FFFFUL };
        var physical = (entry & _frameMask & ~pageMask) | (linear & pageMask & ~0xFFFUL);
        var flags = (writeAllowed ? SoftTlbFlags.Writable : 0) | (noExecute ? SoftTlbFlags.NoExecute : 0)
            | (access == Access.Write || (entry & PageDirty) != 0 ? SoftTlbFlags.Dirty : 0)
            | ((entry & PageGlobal) != 0 && (Cr4 & Cr4GlobalPages) != 0 ? SoftTlbFlags.Global : 0)
            | (level > 1 ? SoftTlbFlags.Large : 0);
        if (level > 1)
            _tlb.NoteLarge();
        Fill(ref e, linear >> 12, physical, flags);
        e.PageShift = (byte)(3 + (9 * level));
        return null;
    }

    private GuestFault PageFault(ulong linear, Access access, PageFaultError error)
    {
        if (access == Access.Write)
            error |= PageFaultError.Write;
        if (access == Access.Fetch && (Efer & EferNoExecute) != 0)
            error |= PageFaultError.InstructionFetch;
        return GuestFault.Page(linear, error);
    }

    /// <summary>Fills a TLB entry; RAM pages get their host pointer so loads (and stores, once dirty) need no walk.</summary>
    private void Fill(ref SoftTlbEntry e, ulong page, ulong physical, SoftTlbFlags flags)
    {
        e.Tag = page;
        e.Physical = physical;
        e.Flags = flags;
        e.ReadTag = e.WriteTag = SoftTlb.Invalid;
        e.Host = null;
        e.HostWrites = null;
        var host = PhysicalPointer(ref _window, physical, 0x1000, write: false);
        if (host == null)
            return;
        e.Host = host;
        e.HostWrites = _window.Dirty;
        var slotPage = (physical - _window.Base) >> 12;
        e.HostWriteWord = (int)(slotPage >> 6);
        e.HostWriteBit = 1UL << (int)(slotPage & 63);
        e.ReadTag = page;
        // A write-traced page gets no store tag: its stores take the slow path to the bus, which hands them to the trace.
        if (_window.Writable && (flags & (SoftTlbFlags.Writable | SoftTlbFlags.Dirty)) == (SoftTlbFlags.Writable | SoftTlbFlags.Dirty)
            && _ram!.Traced?.IsTraced(physical) != true)
            e.WriteTag = page;
    }

    /// <summary>Reads a paging-structure entry; false when it lies outside RAM (treated as not present).</summary>
    private bool ReadTableEntry(ulong physical, out ulong entry)
    {
        var p = PhysicalPointer(ref _tableWindow, physical, 8, write: false);
        if (p != null)
        {
            // SAFETY: PhysicalPointer returned a pointer to 8 bytes of mapped RAM (entries are 8-byte aligned).
            entry = Volatile.Read(ref *(ulong*)p);
            return true;
        }
        if (_ram is not null)
        {
            entry = 0;
            return false;
        }
        entry = _bus.ReadMemory(this, physical, 8); // a bus without the RAM fast path (test machines) holds all of memory
        return true;
    }

    /// <summary>Sets accessed/dirty bits in an entry (atomically, once), marking the page as the VMM's other writes do.</summary>
    private void SetEntryBits(ulong physical, ulong bits)
    {
        var p = PhysicalPointer(ref _tableWindow, physical, 8, write: true);
        if (p != null)
        {
            // SAFETY: as in ReadTableEntry; the slot is writable.
            ref var word = ref *(ulong*)p;
            if ((Volatile.Read(ref word) & bits) == bits)
                return;
            Interlocked.Or(ref word, bits);
            var page = (physical - _tableWindow.Base) >> 12;
            Interlocked.Or(ref _tableWindow.Dirty[(int)(page >> 6)], 1UL << (int)(page & 63));
            if (_ram!.NoteStore(physical, 8))
                _leaveBlock = true;
            return;
        }
        if (_ram is null)
        {
            var entry = _bus.ReadMemory(this, physical, 8);
            if ((entry & bits) != bits)
                _bus.WriteMemory(this, physical, 8, entry | bits);
        }
    }

    /// <summary>Physical addresses of the entries a walk must set the accessed bit in (<see cref="NoEntry"/>: already set), by level from the PML4.</summary>
    [InlineArray(4)]
    private struct WalkedEntries
    {
        private ulong _first;
    }
}
