using Vdi.Vmm.Iommu;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tracing;

namespace Vdi.Vmm.Tests.Iommu;

/// <summary>A device's DMA through its domain: translation, counters, faults, the write trace, and which record a write leaves.</summary>
public sealed class IommuDomainTests : IDisposable
{
    private const ulong Ram = 0x10_0000;
    private const ulong Page = IoPageTable.PageSize;

    private readonly GuestMemory _memory = new();
    private readonly VirtualIommu _iommu;
    private readonly IommuDomain _dma;

    public IommuDomainTests()
    {
        _memory.AddRam(0, Ram);
        _iommu = new VirtualIommu(_memory, Ram);
        _dma = _iommu.CreateIdentityDomain("TestDevice");
        _memory.HarvestDirty(_memory.Slots[0]); // start clean
    }

    public void Dispose() => _memory.Dispose();

    private ulong[] Harvest()
    {
        var bitmap = new ulong[DirtyBitmap.WordsFor(Ram >> 12)];
        _iommu.HarvestDirty(bitmap);
        return bitmap;
    }

    private static IEnumerable<ulong> Pages(ulong[] bitmap) =>
        Enumerable.Range(0, bitmap.Length * 64).Where(n => (bitmap[n >> 6] & (1UL << (n & 63))) != 0).Select(n => (ulong)n);

    [Fact]
    public void An_identity_domain_maps_all_of_ram_at_the_same_addresses()
    {
        Assert.True(_dma.IsMapped(0, Ram));
        Assert.False(_dma.IsMapped(Ram - 8, 16));
        _dma.Write<ulong>(0x5008, 0x1122_3344_5566_7788);
        Assert.Equal(0x1122_3344_5566_7788UL, _memory.Read<ulong>(0x5008));
        _memory.Write<uint>(0x6000, 0xCAFE);
        Assert.Equal(0xCAFEu, _dma.Read<uint>(0x6000));
        Assert.Equal(1, _dma.DmaReads);
        Assert.Equal(1, _dma.DmaWrites);
        Assert.Equal(0, _dma.Faults);
    }

    [Fact]
    public void Dma_writes_set_dirty_bits_and_leave_the_host_write_bitmap_alone()
    {
        _iommu.StartDirtyTracking();
        _dma.Write(0x3000, [1, 2, 3]);
        _dma.Write<ushort>(0x7FFE, 5);
        _dma.Write(0x9FFE, [1, 2, 3, 4]); // crosses into page 0xA

        Assert.Equal([3UL, 7, 9, 10], Pages(Harvest()));
        Assert.Empty(_memory.HarvestDirty(_memory.Slots[0])); // the IOMMU is their only record
        Assert.Empty(Pages(Harvest()));

        _memory.Write<uint>(0x4000, 1); // the VMM's own write: host-write bitmap, not the IOMMU
        Assert.Equal([0x4000UL], _memory.HarvestDirty(_memory.Slots[0]));
        Assert.Empty(Pages(Harvest()));
    }

    [Fact]
    public void Reads_and_untracked_writes_set_no_dirty_bit()
    {
        _dma.Write(0x3000, [1]); // tracking is off
        _iommu.StartDirtyTracking();
        Span<byte> buffer = stackalloc byte[16];
        _dma.Read(0x4000, buffer);
        _ = _dma.Read<ulong>(0x5000);
        Assert.Empty(Pages(Harvest()));

        _iommu.StopDirtyTracking();
        _dma.Write(0x6000, [1]);
        Assert.Empty(Pages(Harvest()));
        Assert.NotEqual(0UL, _dma.Table.LeafEntry(0x4000) & IoPte.Accessed); // a read still sets A
    }

    [Fact]
    public void A_dma_to_an_unmapped_iova_faults_and_writes_nothing()
    {
        _iommu.StartDirtyTracking();
        _dma.Table.Unmap(0x8000, Page);

        Assert.False(_dma.TryWrite(0x7FFC, [1, 2, 3, 4, 5, 6, 7, 8])); // the first half is mapped
        var error = Assert.Throws<GuestMemoryException>(() => _dma.Write<ulong>(0x8010, 1));
        Assert.False(_dma.TryRead(0x8000, new byte[4]));

        Assert.Contains("not mapped", error.Message, StringComparison.Ordinal);
        Assert.Equal(0UL, _memory.Read<ulong>(0x7FF8)); // nothing of the faulting write landed
        Assert.Equal(3, _dma.Faults);
        Assert.Equal(new IommuFault(0x8000, "TestDevice", IoFault.NotPresent, Write: false), _dma.LastFault);
        Assert.Equal(0, _dma.DmaWrites);
        Assert.Empty(Pages(Harvest()));
        Assert.Equal(3, _iommu.Faults);
    }

    [Fact]
    public void A_write_to_a_read_only_mapping_faults()
    {
        var domain = _iommu.CreateDomain("ReadOnlyDevice");
        domain.Table.Map(0x1_0000_0000, 0x2000, Page, writable: false);

        Assert.Equal(0u, domain.Read<uint>(0x1_0000_0000)); // reads translate
        Assert.False(domain.TryWrite(0x1_0000_0000, [9]));
        Assert.Equal(IoFault.ReadOnly, domain.LastFault!.Reason);
        Assert.True(domain.LastFault.Write);
        Assert.Equal(0, _memory.Read<byte>(0x2000));
    }

    [Fact]
    public void A_multi_page_dma_follows_a_non_identity_map_page_by_page()
    {
        var domain = _iommu.CreateDomain("Scatter");
        domain.Table.Map(0x10_0000, 0x5000, Page, writable: true);
        domain.Table.Map(0x10_1000, 0x2000, Page, writable: true); // the next IOVA page is lower in RAM
        domain.DirtyTracking = true;
        var data = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();

        domain.Write(0x10_0FF0, data);

        var low = new byte[16];
        var high = new byte[16];
        _memory.Read(0x5FF0, low);
        _memory.Read(0x2000, high);
        Assert.Equal(data[..16], low);
        Assert.Equal(data[16..], high);
        var back = new byte[32];
        domain.Read(0x10_0FF0, back);
        Assert.Equal(data, back);
        Assert.Equal([2UL, 5], Pages(Harvest()));
    }

    [Fact]
    public void The_trace_still_refuses_a_device_write_to_a_traced_page_by_the_domains_name()
    {
        var ring = new TraceRing();
        var tracer = new WriteTracer(_memory, ring, splitSlots: false);
        var seen = new List<TracedWrite>();
        tracer.Trace(0x8000, Page, w =>
        {
            seen.Add(w);
            return TraceDecision.Refuse;
        });
        _iommu.StartDirtyTracking();

        Assert.False(_dma.TryWrite(0x8010, [1, 2]));
        var error = Assert.Throws<GuestMemoryException>(() => _dma.Write<uint>(0x8020, 7));

        Assert.Contains("write-traced", error.Message, StringComparison.Ordinal);
        Assert.Equal(0UL, _memory.Read<ulong>(0x8010) | _memory.Read<ulong>(0x8020));
        Assert.Equal(["TestDevice", "TestDevice"], seen.Select(w => w.Device));
        Assert.All(seen, w => Assert.Equal(WriteOrigin.Device, w.Origin));
        Assert.Empty(Pages(Harvest())); // nothing landed, nothing dirty
        Assert.Equal(0, _dma.Faults); // a refusal is the trace's, not a translation fault
        Assert.True(_dma.TryWrite(0x7010, [1])); // an untraced page is written
    }

    [Fact]
    public void The_test_switch_makes_the_harvest_report_nothing()
    {
        _iommu.StartDirtyTracking();
        _dma.Write(0x3000, [1]);

        _iommu.HarvestSwitchedOff = true;
        Assert.Empty(Pages(Harvest()));
        _iommu.HarvestSwitchedOff = false;
        Assert.Equal([3UL], Pages(Harvest()));
    }

    [Fact]
    public void Domains_are_one_per_name_and_made_later_ones_track_when_tracking_is_on()
    {
        _iommu.StartDirtyTracking();
        var later = _iommu.CreateIdentityDomain("Later");
        Assert.True(later.DirtyTracking);
        Assert.Same(later, _iommu.Domain("Later"));
        Assert.Throws<InvalidOperationException>(() => _iommu.CreateIdentityDomain("Later"));
        _iommu.StopDirtyTracking();
        Assert.All(_iommu.Domains, d => Assert.False(d.DirtyTracking));
    }
}
