namespace Vdi.Vmm.Iommu;

/// <summary>
/// The bits of an I/O page-table entry, laid out as x86-64's own (so the tables read like a CPU's): present, writable,
/// accessed and dirty, and the frame in bits 12..51. A leaf's frame is the guest-physical page it maps; an upper entry's
/// frame is the number of the next table in its <see cref="IoPageTable"/>'s pool (the tables live in VMM memory, not at
/// guest-physical addresses). Accessed and dirty are kept on leaves only.
/// </summary>
public static class IoPte
{
    public const ulong Present = 1UL << 0;
    public const ulong Writable = 1UL << 1;
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;
    public const ulong FrameMask = 0x000F_FFFF_FFFF_F000UL;

    /// <summary>The highest guest-physical address a leaf can hold, plus one (52 bits, as x86-64's MAXPHYADDR limit).</summary>
    public const ulong FrameLimit = 1UL << 52;

    public static bool IsPresent(ulong entry) => (entry & Present) != 0;

    public static ulong Frame(ulong entry) => entry & FrameMask;
}
