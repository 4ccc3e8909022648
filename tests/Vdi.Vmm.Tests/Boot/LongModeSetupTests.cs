using Vdi.Vmm.Boot;
using Vdi.Vmm.Interop;
using Vdi.Vmm.Memory;
using static Vdi.Vmm.Interop.X86Constants;

namespace Vdi.Vmm.Tests.Boot;

public sealed class LongModeSetupTests : IDisposable
{
    private const ulong AddressMask = 0x000F_FFFF_FFFF_F000;
    private readonly GuestMemory _memory = new();

    public LongModeSetupTests() => _memory.AddRam(0, 8UL << 20);

    public void Dispose() => _memory.Dispose();

    private ulong Gdt(int index) => _memory.Read<ulong>(GuestLayout.GdtAddress + ((ulong)index * 8));

    /// <summary>Walks PML4 → PDPT → PD as the MMU would; null when an entry on the way is not present.</summary>
    private (ulong Physical, ulong Pde)? Translate(ulong virtualAddress)
    {
        var pml4e = _memory.Read<ulong>(GuestLayout.Pml4Address + (((virtualAddress >> 39) & 511) * 8));
        if ((pml4e & PTE_PRESENT) == 0)
            return null;
        var pdpte = _memory.Read<ulong>((pml4e & AddressMask) + (((virtualAddress >> 30) & 511) * 8));
        if ((pdpte & PTE_PRESENT) == 0)
            return null;
        Assert.Equal(0UL, pdpte & PTE_PAGE_SIZE); // no 1 GiB pages: not every CPU has them
        var pde = _memory.Read<ulong>((pdpte & AddressMask) + (((virtualAddress >> 21) & 511) * 8));
        if ((pde & PTE_PRESENT) == 0)
            return null;
        Assert.Equal(PTE_PAGE_SIZE, pde & PTE_PAGE_SIZE); // 2 MiB page: the walk ends here
        return ((pde & 0x000F_FFFF_FFE0_0000) | (virtualAddress & 0x1F_FFFF), pde);
    }

    [Fact]
    public void GdtHoldsNullCodeDataAndTheTssDescriptor()
    {
        LongModeSetup.WriteTables(_memory);

        Assert.Equal(0UL, Gdt(0));
        Assert.Equal(LongModeSetup.CodeDescriptor, Gdt(GuestLayout.CodeSelector / 8));
        Assert.Equal(LongModeSetup.DataDescriptor, Gdt(GuestLayout.DataSelector / 8));
        var code = LongModeSetup.CodeDescriptor;
        Assert.Equal((1UL, 0UL, 1UL), ((code >> 53) & 1, (code >> 54) & 1, (code >> 47) & 1)); // L=1, D=0, present
        Assert.Equal(0xAUL, (code >> 40) & 0xF); // execute/read code
    }

    [Fact]
    public void TssDescriptorDecodesToTheTssAtItsAddress()
    {
        LongModeSetup.WriteTables(_memory);

        var low = Gdt(GuestLayout.TssSelector / 8);
        var high = Gdt((GuestLayout.TssSelector / 8) + 1);
        var @base = ((low >> 16) & 0xFF_FFFF) | (((low >> 56) & 0xFF) << 24) | ((high & 0xFFFF_FFFF) << 32);
        var limit = (low & 0xFFFF) | (((low >> 48) & 0xF) << 16);

        Assert.Equal(GuestLayout.TssAddress, @base);
        Assert.Equal(0x67UL, limit);
        Assert.Equal(9UL, (low >> 40) & 0xF); // available 64-bit TSS
        Assert.Equal(0UL, (low >> 44) & 1); // a system descriptor
        Assert.Equal(1UL, (low >> 47) & 1); // present
        Assert.Equal(0UL, high >> 32); // reserved upper half
    }

    [Fact]
    public void TssIsZeroedEvenOverOldContents()
    {
        _memory.Write(GuestLayout.TssAddress, Enumerable.Repeat((byte)0xCC, 0x200).ToArray());

        LongModeSetup.WriteTables(_memory);

        var tss = new byte[LongModeSetup.TssLimit + 1];
        _memory.Read(GuestLayout.TssAddress, tss);
        Assert.All(tss, b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(0x0UL)]
    [InlineData(0x1234_5678UL)]
    [InlineData(GuestLayout.IoApicBase)]
    [InlineData(GuestLayout.LocalApicBase)]
    [InlineData((3UL << 30) + 5)]
    [InlineData(0xFFFF_FFFFUL)]
    public void PageTablesMapTheFirstFourGiBOntoThemselves(ulong address)
    {
        LongModeSetup.WriteTables(_memory);

        var walk = Translate(address);

        Assert.NotNull(walk);
        Assert.Equal(address, walk.Value.Physical);
        Assert.Equal(PTE_PRESENT | PTE_WRITABLE, walk.Value.Pde & (PTE_PRESENT | PTE_WRITABLE));
    }

    [Fact]
    public void NothingAboveFourGiBIsMapped()
    {
        LongModeSetup.WriteTables(_memory);

        Assert.Null(Translate(4UL << 30));
        Assert.Null(Translate(1UL << 39)); // the next PML4 entry
    }

    [Fact]
    public void TablesAndStacksStayBelowTheImageAndApartFromEachOther()
    {
        var tablesEnd = GuestLayout.PageDirectoryAddress + ((ulong)GuestLayout.IdentityMappedGiB * 0x1000);
        var lowestStack = GuestLayout.StackTopFor(GuestLayout.MaxVcpus - 1) - GuestLayout.StackSize;

        Assert.True(GuestLayout.GdtAddress + (LongModeSetup.GdtEntries * 8) <= GuestLayout.TssAddress);
        Assert.True(GuestLayout.TssAddress + LongModeSetup.TssLimit < GuestLayout.Pml4Address);
        Assert.True(tablesEnd <= lowestStack);
        Assert.True(GuestLayout.StackTop <= GuestLayout.ImageBase);
        Assert.True(GuestLayout.ImageBase < GuestLayout.MinimumMemory);
    }

    [Fact]
    public void ApplyEntersLongModeAndKeepsTheApicBase()
    {
        var sregs = new kvm_sregs { apic_base = 0xFEE0_0900, cr8 = 3 };

        var result = LongModeSetup.Apply(sregs);

        Assert.Equal(CR0_PG | CR0_PE, result.cr0 & (CR0_PG | CR0_PE));
        Assert.Equal(CR4_PAE, result.cr4 & CR4_PAE);
        Assert.Equal(EFER_LME | EFER_LMA, result.efer & (EFER_LME | EFER_LMA));
        Assert.Equal(GuestLayout.Pml4Address, result.cr3);
        Assert.Equal(((byte)1, (byte)0, (byte)1, GuestLayout.CodeSelector), (result.cs.l, result.cs.db, result.cs.present, result.cs.selector));
        Assert.All(
            new[] { result.ds, result.es, result.fs, result.gs, result.ss },
            s => Assert.Equal((GuestLayout.DataSelector, (byte)1), (s.selector, s.present)));
        Assert.Equal((GuestLayout.TssAddress, LongModeSetup.TssLimit, GuestLayout.TssSelector, (byte)11), (result.tr.@base, result.tr.limit, result.tr.selector, result.tr.type));
        Assert.Equal((GuestLayout.GdtAddress, (ushort)39), (result.gdt.@base, result.gdt.limit));
        Assert.Equal((0xFEE0_0900UL, 3UL), (result.apic_base, result.cr8));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 4)]
    [InlineData(GuestLayout.MaxVcpus - 1, GuestLayout.MaxVcpus)]
    public void EntryRegistersGiveEachVcpuItsIndexCountAndStack(int index, int count)
    {
        var regs = LongModeSetup.EntryRegisters(0x10_0040, index, count);

        Assert.Equal(0x10_0040UL, regs.rip);
        Assert.Equal((ulong)index, regs.rdi);
        Assert.Equal((ulong)count, regs.rsi);
        Assert.Equal(GuestLayout.StackTop - ((ulong)index * GuestLayout.StackSize), regs.rsp);
        Assert.Equal(0UL, regs.rsp % 16);
        Assert.Equal(2UL, regs.rflags); // the reserved bit only: interrupts off
    }
}
