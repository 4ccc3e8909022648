using Vdi.Vmm.Introspection;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Introspection;

/// <summary>The host's page walk: every page size, the path it reports, and each fault as a result, never an exception.</summary>
public sealed class GuestPageWalkerTests : IDisposable
{
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, Pt = 0x4000;
    private const ulong P = 1, Rw = 2, Us = 4, Ps = 0x80, Nx = 1UL << 63;
    private readonly GuestMemory _memory = new();

    public GuestPageWalkerTests()
    {
        _memory.AddRam(0, 16UL << 20);
        _memory.Write(Pml4, Pdpt | P | Rw);
        _memory.Write(Pdpt, Pd | P | Rw | Us);
        _memory.Write(Pdpt + 8, 0x4000_0000UL | P | Ps);        // 1 GiB page at 1 GiB → physical 1 GiB (outside RAM)
        _memory.Write(Pd, Pt | P | Rw | Us);
        _memory.Write(Pd + 8, 0x20_0000UL | P | Rw | Ps | Nx);  // 2 MiB page at 2 MiB
        _memory.Write(Pt + (5 * 8), 0x9000UL | P | Rw);         // 0x5000 → 0x9000, supervisor
        _memory.Write(Pt + (6 * 8), 0x9000UL | P | (1UL << 50)); // a reserved address bit
    }

    public void Dispose() => _memory.Dispose();

    [Fact]
    public void A_4_KiB_page_translates_with_its_path_and_rights()
    {
        var walk = GuestPageWalker.Walk(_memory, Pml4, 0x5123);
        Assert.True(walk.Succeeded);
        Assert.Equal(0x9123UL, walk.Physical);
        Assert.Equal(0x1000UL, walk.PageSize);
        Assert.Equal([Pml4, Pdpt, Pd, Pt + (5 * 8)], walk.EntryAddresses);
        Assert.True(walk.Writable);
        Assert.False(walk.User);
    }

    [Fact]
    public void A_2_MiB_page_ends_the_walk_at_the_directory()
    {
        var walk = GuestPageWalker.Walk(_memory, Pml4, 0x23_4567);
        Assert.Equal((0x23_4567UL, 0x20_0000UL, true), (walk.Physical, walk.PageSize, walk.NoExecute));
        Assert.Equal([Pml4, Pdpt, Pd + 8], walk.EntryAddresses);
    }

    [Theory]
    [InlineData(0x7000UL, WalkFault.NotPresent)]
    [InlineData(0x6000UL, WalkFault.Reserved)]
    [InlineData(0x8000_0000_0000UL, WalkFault.NonCanonical)]
    [InlineData(0x4000_1000UL, WalkFault.OutsideRam)]
    public void Faults_are_results(ulong linear, WalkFault fault)
    {
        var walk = GuestPageWalker.Walk(_memory, Pml4, linear);
        Assert.Equal(fault, walk.Fault);
        Assert.False(walk.Succeeded);
    }

    [Fact]
    public void Tables_outside_RAM_are_a_fault_too() =>
        Assert.Equal(WalkFault.OutsideRam, GuestPageWalker.Walk(_memory, 0xFFFF_F000, 0x5000).Fault);
}
