using Vdi.Vmm.Iommu;

namespace Vdi.Vmm.Tests.Iommu;

/// <summary>The I/O page table on its own: map, translate, unmap, faults, A/D bits and the harvest.</summary>
public sealed class IoPageTableTests
{
    private const ulong Page = IoPageTable.PageSize;

    [Fact]
    public void A_mapped_range_translates_page_by_page_and_keeps_the_offset()
    {
        var table = new IoPageTable();
        table.Map(0x4000_0000, 0x20_0000, 3 * Page, writable: true);

        Assert.Equal(IoFault.None, table.Translate(0x4000_0000, write: false, trackDirty: false, out var first));
        Assert.Equal(0x20_0000UL, first);
        Assert.Equal(IoFault.None, table.Translate(0x4000_2ABC, write: true, trackDirty: false, out var last));
        Assert.Equal(0x20_2ABCUL, last);
        Assert.Equal(3, table.MappedPages);
        Assert.True(table.IsMapped(0x4000_0000, 3 * Page));
        Assert.False(table.IsMapped(0x4000_0000, (3 * Page) + 1));
    }

    [Fact]
    public void Walks_use_four_levels_of_512_entry_tables()
    {
        var table = new IoPageTable();
        table.Map(0, 0, Page, writable: true);
        Assert.Equal(4, table.TableCount); // PML4, PDPT, PD, PT
        table.Map(511 * Page, 0x1000_0000, Page, writable: true); // same PT
        Assert.Equal(4, table.TableCount);
        table.Map(512 * Page, 0x1000_1000, Page, writable: true); // next PT under the same PD
        Assert.Equal(5, table.TableCount);
        table.Map(1UL << 39, 0x2000_0000, Page, writable: true); // next PML4 entry: PDPT, PD and PT of its own
        Assert.Equal(8, table.TableCount);
        table.Map(IoPageTable.AddressLimit - Page, 0x3000_0000, Page, writable: true); // the last page of the 48-bit space
        Assert.Equal(IoFault.None, table.Translate(IoPageTable.AddressLimit - 1, false, false, out var top));
        Assert.Equal(0x3000_0FFFUL, top);
    }

    [Fact]
    public void Unmapped_read_only_and_out_of_range_addresses_fault()
    {
        var table = new IoPageTable();
        table.Map(0x10_0000, 0x10_0000, Page, writable: false);

        Assert.Equal(IoFault.NotPresent, table.Translate(0x10_1000, false, false, out _));
        Assert.Equal(IoFault.NotPresent, table.Translate(0, false, false, out _));
        Assert.Equal(IoFault.ReadOnly, table.Translate(0x10_0008, write: true, trackDirty: true, out _));
        Assert.Equal(IoFault.None, table.Translate(0x10_0008, write: false, trackDirty: true, out _));
        Assert.Equal(IoFault.OutOfRange, table.Translate(IoPageTable.AddressLimit, false, false, out _));
        Assert.Equal(IoFault.OutOfRange, table.Translate(ulong.MaxValue, false, false, out _));
        Assert.False(table.IsMapped(ulong.MaxValue - 3, 8)); // wraps
    }

    [Fact]
    public void Unmap_removes_the_translation_and_returns_what_was_mapped()
    {
        var table = new IoPageTable();
        table.Map(0, 0x8000, 4 * Page, writable: true);

        Assert.Equal(2, table.Unmap(Page, 2 * Page));
        Assert.Equal(2, table.Unmap(0, 8 * Page)); // pages 0 and 3 were left
        Assert.Equal(0, table.MappedPages);
        Assert.Equal(IoFault.NotPresent, table.Translate(0, false, false, out _));
        table.Map(0, 0x9000, Page, writable: true); // unmapped space can be mapped again
        Assert.Equal(IoFault.None, table.Translate(0, false, false, out var again));
        Assert.Equal(0x9000UL, again);
    }

    [Fact]
    public void Mapping_over_a_mapped_page_or_unaligned_is_refused_whole()
    {
        var table = new IoPageTable();
        table.Map(2 * Page, 0, Page, writable: true);

        Assert.Throws<InvalidOperationException>(() => table.Map(0, 0x10_0000, 4 * Page, writable: true));
        Assert.Equal(IoFault.NotPresent, table.Translate(0, false, false, out _)); // nothing of the refused range
        Assert.Throws<ArgumentException>(() => table.Map(0x10, 0, Page, writable: true));
        Assert.Throws<ArgumentException>(() => table.Map(0, 0, 0x800, writable: true));
        Assert.Throws<ArgumentException>(() => table.Map(IoPageTable.AddressLimit - Page, 0, 2 * Page, writable: true));
    }

    [Fact]
    public void Accessed_is_set_on_reads_and_writes_dirty_only_on_writes_while_tracking()
    {
        var table = new IoPageTable();
        table.Map(0, 0, 4 * Page, writable: true);

        Assert.Equal(0UL, Leaf(table, 0) & (IoPte.Accessed | IoPte.Dirty));
        table.Translate(0x10, write: false, trackDirty: true, out _);
        Assert.Equal(IoPte.Accessed, Leaf(table, 0) & (IoPte.Accessed | IoPte.Dirty));

        table.Translate(Page + 0x10, write: true, trackDirty: false, out _);
        Assert.Equal(IoPte.Accessed, Leaf(table, Page) & (IoPte.Accessed | IoPte.Dirty)); // tracking off: no D

        table.Translate((2 * Page) + 0x10, write: true, trackDirty: true, out _);
        Assert.Equal(IoPte.Accessed | IoPte.Dirty, Leaf(table, 2 * Page) & (IoPte.Accessed | IoPte.Dirty));
        Assert.Equal(0UL, Leaf(table, 3 * Page) & (IoPte.Accessed | IoPte.Dirty)); // untouched
    }

    [Fact]
    public void Harvest_reports_dirty_pages_by_guest_physical_number_and_clears_them()
    {
        var table = new IoPageTable();
        table.Map(0x100_0000, 0x4000, 8 * Page, writable: true); // IOVA pages 0x1000.. → guest pages 4..11
        table.Translate(0x100_0000, true, true, out _);
        table.Translate(0x100_5FF8, true, true, out _);
        table.Translate(0x100_5000, true, true, out _); // the same page again
        table.Translate(0x100_6000, false, true, out _); // a read

        var bitmap = new ulong[1];
        Assert.Equal(2, table.HarvestDirty(bitmap));
        Assert.Equal((1UL << 4) | (1UL << 9), bitmap[0]);
        Assert.Equal(0UL, Leaf(table, 0x100_0000) & IoPte.Dirty);
        Assert.NotEqual(0UL, Leaf(table, 0x100_0000) & IoPte.Accessed); // A stays

        var again = new ulong[1];
        Assert.Equal(0, table.HarvestDirty(again));
        Assert.Equal(0UL, again[0]);
        Assert.Equal(0, table.HarvestDirty(bitmap)); // bits already set count as nothing added
    }

    [Fact]
    public void A_dirty_page_unmapped_before_the_harvest_is_still_reported()
    {
        var table = new IoPageTable();
        table.Map(0, 0x3000, Page, writable: true);
        table.Translate(0, true, true, out _);
        table.Unmap(0, Page);

        var bitmap = new ulong[1];
        Assert.Equal(1, table.HarvestDirty(bitmap));
        Assert.Equal(1UL << 3, bitmap[0]);
    }

    [Fact]
    public void A_page_beyond_the_bitmap_stays_dirty_for_a_larger_one()
    {
        var table = new IoPageTable();
        table.Map(0, 100 * Page, Page, writable: true); // guest page 100
        table.Translate(0, true, true, out _);

        var small = new ulong[1];
        Assert.Equal(0, table.HarvestDirty(small));
        var large = new ulong[2];
        Assert.Equal(1, table.HarvestDirty(large));
        Assert.Equal(1UL << (100 - 64), large[1]);
    }

    private static ulong Leaf(IoPageTable table, ulong iova) => table.LeafEntry(iova);
}
