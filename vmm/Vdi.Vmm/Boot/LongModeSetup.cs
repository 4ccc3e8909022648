using Vdi.Vmm.Interop;
using Vdi.Vmm.Memory;
using Vdi.Vmm.State;
using Vdi.Vmm.Vcpu;
using static Vdi.Vmm.Interop.X86Constants;

namespace Vdi.Vmm.Boot;

/// <summary>
/// Puts vCPUs straight into 64-bit long mode: writes a GDT (with a TSS) and identity page tables
/// for the first 4 GiB into guest RAM, and produces the special registers that use them.
/// Every vCPU, bootstrap and application processors alike, is started this way by the VMM;
/// no INIT/SIPI sequence and no real-mode trampoline is involved.
/// </summary>
public static class LongModeSetup
{
    public const ulong CodeDescriptor = 0x00AF_9A00_0000_FFFF; // present, DPL 0, execute/read, L=1, G=1
    public const ulong DataDescriptor = 0x00CF_9200_0000_FFFF; // present, DPL 0, read/write, D/B=1, G=1
    public const uint TssLimit = 0x67;
    public const int GdtEntries = 5; // null, code, data, TSS (two slots)

    public const ulong Cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
    public const ulong Cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    public const ulong Efer = EFER_LME | EFER_LMA;

    /// <summary>Writes the GDT and the identity-mapping page tables into guest memory.</summary>
    public static void WriteTables(GuestMemory memory)
    {
        const ulong tssBase = GuestLayout.TssAddress;
        var tssLow = (TssLimit & 0xFFFF) | ((tssBase & 0xFF_FFFF) << 16) | (0x9UL << 40) | (1UL << 47) | (((ulong)TssLimit >> 16 & 0xF) << 48) | ((tssBase >> 24 & 0xFF) << 56);
        var tssHigh = tssBase >> 32;
        ReadOnlySpan<ulong> gdt = [0, CodeDescriptor, DataDescriptor, tssLow, tssHigh];
        for (var i = 0; i < gdt.Length; i++)
            memory.Write(GuestLayout.GdtAddress + (ulong)(i * 8), gdt[i]);
        memory.Write(GuestLayout.TssAddress, new byte[TssLimit + 1]);

        // Accessed and dirty bits are set up front, so no page walk (hardware's or the software engine's) ever writes
        // to these tables: they stay out of the guest's dirty pages.
        memory.Write(GuestLayout.Pml4Address, GuestLayout.PdptAddress | PTE_PRESENT | PTE_WRITABLE | PTE_ACCESSED);
        for (ulong gib = 0; gib < GuestLayout.IdentityMappedGiB; gib++)
        {
            var directory = GuestLayout.PageDirectoryAddress + (gib * 0x1000);
            memory.Write(GuestLayout.PdptAddress + (gib * 8), directory | PTE_PRESENT | PTE_WRITABLE | PTE_ACCESSED);
            for (ulong entry = 0; entry < 512; entry++)
            {
                var physical = (gib << 30) | (entry << 21);
                memory.Write(directory + (entry * 8), physical | PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE | PTE_ACCESSED | PTE_DIRTY);
            }
        }
    }

    public const ushort GdtLimit = (GdtEntries * 8) - 1;

    /// <summary>
    /// The segment registers every vCPU starts with, as KVM describes them: flat 64-bit code (type 11: execute/read,
    /// accessed), flat data (type 3: read/write, accessed) in DS, ES, FS, GS and SS, the busy 64-bit TSS, and LDTR as a
    /// vCPU resets it (selector 0, limit 0xFFFF, a present LDT).
    /// </summary>
    public static SegmentRegister[] Segments()
    {
        const uint present = SegmentRegister.Present, s = SegmentRegister.CodeOrData, granular = 1u << 15;
        var code = new SegmentRegister(GuestLayout.CodeSelector, 0, 0xFFFF_FFFF, 11 | s | present | SegmentRegister.LongMode | granular);
        var data = new SegmentRegister(GuestLayout.DataSelector, 0, 0xFFFF_FFFF, 3 | s | present | SegmentRegister.Default32 | granular);
        var tr = new SegmentRegister(GuestLayout.TssSelector, GuestLayout.TssAddress, TssLimit, 11 | present);
        var ldtr = new SegmentRegister(0, 0, 0xFFFF, 2 | present);
        return [code, data, data, data, data, data, tr, ldtr];
    }

    /// <summary>Long-mode special registers on top of the vCPU's current ones (LDTR, APIC base and the rest kept).</summary>
    internal static kvm_sregs Apply(kvm_sregs sregs)
    {
        var segments = Segments();
        segments[SegmentRegister.Ldtr] = KvmRegisterConversion.ToSegment(sregs.ldt);
        KvmRegisterConversion.SetSegments(ref sregs, segments);
        sregs.gdt = new kvm_dtable { @base = GuestLayout.GdtAddress, limit = GdtLimit };
        sregs.idt = new kvm_dtable { @base = 0, limit = 0 };
        sregs.cr0 = Cr0;
        sregs.cr3 = GuestLayout.Pml4Address;
        sregs.cr4 = Cr4;
        sregs.efer = Efer;
        return sregs;
    }

    /// <summary>Entry registers: RIP at the image entry, a stack per vCPU, RDI = vCPU index, RSI = vCPU count.</summary>
    internal static kvm_regs EntryRegisters(ulong entryPoint, int vcpuIndex, int vcpuCount) => new()
    {
        rip = entryPoint,
        rsp = GuestLayout.StackTopFor(vcpuIndex),
        rdi = (ulong)vcpuIndex,
        rsi = (ulong)vcpuCount,
        rflags = 0x2,
    };
}
