namespace Vdi.Guest.Paging;

/// <summary>
/// Where the desktop guest keeps its own 4-level page tables, and what they map (see <c>docs/vmm.md</c>, "Desktop
/// guest: paging and integrity driver"). Everything is mapped identity, as the VMM's boot tables map it, over the first
/// <see cref="MappedGiB"/> GiB (RAM, the virtio-mmio windows at 0xD0000000, the I/O APIC and local APIC):
/// <list type="bullet">
/// <item>the kernel region, the first 2 MiB (the VMM's GDT and TSS, its boot tables, these tables, the stacks, the guest
/// image with its code, IDT and integrity driver), in 4 KiB pages through <see cref="KernelTable"/>, so that a protected
/// page's entry maps that page alone;</item>
/// <item>everything above, in 2 MiB pages (virtqueues, the framebuffer, the device windows).</item>
/// </list>
/// The tables sit in a fixed region nothing else uses, <see cref="Region"/> to <see cref="RegionEnd"/>, one table per
/// page and nothing else on those pages, because the integrity driver's protections trace the page-table pages on the
/// path to every protected page. Every entry is present and writable, at CPL 0, with its accessed bit (and a page's
/// dirty bit) set from the start, so no page walk ever writes a traced table.
/// </summary>
public static class GuestPageTables
{
    /// <summary>First byte of the tables' region.</summary>
    public const ulong Region = 0x1_0000;

    public const ulong Pml4 = Region;
    public const ulong Pdpt = Region + 0x1000;

    /// <summary>Four page directories, one per GiB, each of 512 2 MiB pages.</summary>
    public const ulong PageDirectories = Region + 0x2000;

    /// <summary>The kernel region's page table: 512 4 KiB pages, the first 2 MiB.</summary>
    public const ulong KernelTable = Region + 0x6000;

    /// <summary>
    /// A spare page that nothing maps on purpose: the terminal's <c>attack remap</c> copies the IDT here and points the
    /// IDT's entry at it (identical bytes, so harmless if it lands).
    /// </summary>
    public const ulong SparePage = Region + 0x7000;

    public const ulong RegionEnd = Region + 0x8000;

    public const int MappedGiB = 4;

    /// <summary>Linear addresses below this are mapped in 4 KiB pages.</summary>
    public const ulong KernelRegionEnd = 0x20_0000;

    public const ulong Present = 1, Writable = 2, Accessed = 0x20, Dirty = 0x40, LargePage = 0x80;

    /// <summary>A PML4, PDPT or page-directory entry pointing at a table.</summary>
    public const ulong TableFlags = Present | Writable | Accessed;

    /// <summary>A 4 KiB page.</summary>
    public const ulong PageFlags = Present | Writable | Accessed | Dirty;

    /// <summary>A 2 MiB page.</summary>
    public const ulong LargePageFlags = PageFlags | LargePage;

    /// <summary>The guest-physical address of the kernel table's entry for <paramref name="linear"/> (below <see cref="KernelRegionEnd"/>).</summary>
    public static ulong KernelEntry(ulong linear) =>
        linear < KernelRegionEnd ? KernelTable + ((linear >> 12) * 8) : throw new ArgumentOutOfRangeException(nameof(linear), $"0x{linear:X} is mapped by a 2 MiB page.");
}
