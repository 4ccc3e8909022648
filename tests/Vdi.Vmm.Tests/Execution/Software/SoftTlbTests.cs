using Vdi.Vmm.Execution.Software;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>What each kind of TLB invalidation forgets: CR3 writes keep global pages, invlpg drops one page (or every large-page piece), a full flush drops all.</summary>
public sealed class SoftTlbTests
{
    private const ulong Plain = 0x12_3000, Global = 0x45_6000;

    [Fact]
    public void A_cr3_write_keeps_global_pages_and_drops_the_rest()
    {
        var tlb = Filled();
        tlb.FlushNonGlobal();
        Assert.False(Holds(tlb, Plain));
        Assert.True(Holds(tlb, Global));
        tlb.FlushAll();
        Assert.False(Holds(tlb, Global));
    }

    [Fact]
    public void Invlpg_drops_its_page_global_or_not_and_nothing_else()
    {
        var tlb = Filled();
        tlb.FlushPage(Global + 0x10);
        Assert.False(Holds(tlb, Global));
        Assert.True(Holds(tlb, Plain));
    }

    [Fact]
    public void Invlpg_in_a_large_page_drops_every_cached_piece()
    {
        var tlb = Filled();
        tlb.NoteLarge();
        tlb.FlushPage(0x7777_0000);
        Assert.False(Holds(tlb, Plain));
        Assert.False(Holds(tlb, Global));
    }

    private static SoftTlb Filled()
    {
        var tlb = new SoftTlb();
        Put(tlb, Plain, SoftTlbFlags.None);
        Put(tlb, Global, SoftTlbFlags.Global);
        return tlb;
    }

    private static void Put(SoftTlb tlb, ulong linear, SoftTlbFlags flags)
    {
        ref var e = ref tlb.EntryFor(linear);
        e.Tag = e.ReadTag = linear >> 12;
        e.Flags = flags;
    }

    private static bool Holds(SoftTlb tlb, ulong linear)
    {
        ref var e = ref tlb.EntryFor(linear);
        return e.Tag == linear >> 12 || e.ReadTag == linear >> 12;
    }
}
