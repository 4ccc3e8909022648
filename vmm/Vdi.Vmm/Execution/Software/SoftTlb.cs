using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vdi.Vmm.Execution.Software;

/// <summary>What a cached translation allows and how it was made.</summary>
[Flags]
internal enum SoftTlbFlags : byte
{
    None = 0,
    Writable = 1 << 0,   // writes allowed at CPL 0 (RW on every level, or CR0.WP clear)
    NoExecute = 1 << 1,  // XD on some level, with EFER.NXE
    Dirty = 1 << 2,      // the leaf's D bit is set: writes need no walk
    Global = 1 << 3,     // G on the leaf with CR4.PGE: kept across CR3 writes
    Large = 1 << 4,      // a 4 KiB piece of a 2 MiB or 1 GiB page
}

/// <summary>
/// One translation of a 4 KiB linear page. <see cref="Tag"/> is the linear page number while the translation is valid;
/// <see cref="ReadTag"/> and <see cref="WriteTag"/> hold it only when a load or store may go straight to
/// <see cref="Host"/> (the page is RAM; for stores, also writable, already dirty, and in a writable slot), so the hot
/// path is one compare. <see cref="SoftTlb.Invalid"/> never matches a page number.
/// </summary>
internal unsafe struct SoftTlbEntry
{
    public ulong ReadTag;
    public ulong WriteTag;
    public byte* Host;        // host address of the page; null when it is not RAM
    public ulong Physical;    // guest-physical address of the page
    public ulong[]? HostWrites; // the slot's host-write bitmap
    public ulong HostWriteBit;  // the page's bit in its word of HostWrites
    public int HostWriteWord;   // that word's index
    public ulong Tag;
    public SoftTlbFlags Flags;
    public byte PageShift;    // of the page the translation came from: 12, 21 or 30
}

/// <summary>
/// A vCPU's software TLB: direct-mapped by linear page number, 4 KiB granularity (a large page fills one entry per
/// 4 KiB page touched). Emptied as hardware would be: all non-global entries on a CR3 write, everything on a change of
/// CR0.WP, CR4 or EFER.NXE, one page on <c>invlpg</c>, and everything when the guest memory map changes (host pointers
/// go stale). Only its vCPU's thread touches it.
/// </summary>
internal sealed class SoftTlb
{
    public const int Size = 1024;
    public const ulong Invalid = ulong.MaxValue;
    private const int IndexMask = Size - 1;

    private bool _holdsLarge; // some entry is a piece of a large page: invlpg must drop them all

    public SoftTlb() => FlushAll();

    public SoftTlbEntry[] Entries { get; } = new SoftTlbEntry[Size];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IndexOf(ulong linear) => (int)(linear >> 12) & IndexMask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref SoftTlbEntry EntryFor(ulong linear) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(Entries), IndexOf(linear));

    public void NoteLarge() => _holdsLarge = true;

    public void FlushAll()
    {
        foreach (ref var e in Entries.AsSpan())
            Drop(ref e);
        _holdsLarge = false;
    }

    /// <summary>A CR3 write without PCIDs: every entry but the global ones.</summary>
    public void FlushNonGlobal()
    {
        foreach (ref var e in Entries.AsSpan())
        {
            if ((e.Flags & SoftTlbFlags.Global) == 0)
                Drop(ref e);
        }
    }

    /// <summary><c>invlpg</c>: the page holding <paramref name="linear"/>, global or not, and any large page it lies in.</summary>
    public void FlushPage(ulong linear)
    {
        if (_holdsLarge)
        {
            FlushAll(); // pieces of the large page sit in other entries
            return;
        }
        ref var e = ref EntryFor(linear);
        if (e.Tag == linear >> 12)
            Drop(ref e);
    }

    private static void Drop(ref SoftTlbEntry e)
    {
        e.Tag = e.ReadTag = e.WriteTag = Invalid;
        e.HostWrites = null;
        e.Flags = SoftTlbFlags.None;
    }
}
