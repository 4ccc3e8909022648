using Iced.Intel;
using Vdi.Vmm.Integrity;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Bench;

/// <summary>
/// The page tables and tree nodes of the small integrity guests (<see cref="IntegrityBenchGuest"/> and the VMM's
/// integrity tests): 4 KiB identity pages below 2 MiB, 2 MiB identity pages above it up to the machine's RAM, and
/// 2 MiB pages for the privileged region and the window onto RAM (unbacked outside privileged mode; KVM's vCPUs may
/// lack 1 GiB pages). Accessed and dirty are preset on every entry. Clobbers rax, rcx, rdx, rdi.
/// </summary>
public static class SmallGuestTables
{
    public const ulong Pml4 = 0x20_0000, Pdpt = 0x20_1000, Pd = 0x20_2000, Pt = 0x20_3000, RegionPd = 0x20_4000, WindowPd = 0x20_5000;

    /// <summary>P, RW, A, D.</summary>
    public const ulong Entry = 0x63;

    /// <summary>The privileged region's address for a machine of a few MiB (<see cref="PrivilegedMode"/>).</summary>
    public const ulong RegionBase = 4UL << 30;

    public const ulong WindowBase = RegionBase + PrivilegedMode.WindowOffset;

    public static void EmitTables(Assembler a, int memoryMiB)
    {
        var fill = a.CreateLabel("fill_pt");
        a.mov(rdi, Pt);
        a.mov(eax, (uint)Entry);
        a.mov(ecx, 512);
        a.Label(ref fill);
        a.mov(__qword_ptr[rdi], rax);
        a.add(rax, 0x1000);
        a.add(rdi, 8);
        a.dec(ecx);
        a.jnz(fill);
        Store(a, Pd, Pt | Entry);
        for (var large = 1UL; large < (ulong)memoryMiB / 2; large++)
            Store(a, Pd + (large * 8), (large << 21) | Entry | 0x80);
        Store(a, Pdpt, Pd | Entry);
        Store(a, Pdpt + 32, RegionPd | Entry);
        Store(a, RegionPd, RegionBase | Entry | 0x80);
        Store(a, Pdpt + 40, WindowPd | Entry);
        for (var large = 0UL; large < (ulong)memoryMiB / 2; large++)
            Store(a, WindowPd + (large * 8), (WindowBase + (large << 21)) | Entry | 0x80);
        Store(a, Pml4, Pdpt | Entry);
    }

    /// <summary>One protected-page tree node (<see cref="ProtectionTree"/>).</summary>
    public static void EmitNode(Assembler a, ulong node, ulong start, ulong pages, ProtectionAction action, uint tag, ulong left, ulong right)
    {
        Store(a, node + ProtectionTree.StartOffset, start);
        Store(a, node + ProtectionTree.PagesOffset, pages);
        Store(a, node + ProtectionTree.ActionOffset, (ulong)action | ((ulong)tag << 32));
        Store(a, node + ProtectionTree.LeftOffset, left);
        Store(a, node + ProtectionTree.RightOffset, right);
    }

    /// <summary>A qword store to a fixed address. Clobbers rax, rdx.</summary>
    public static void Store(Assembler a, ulong address, ulong value)
    {
        a.mov(rax, value);
        a.mov(rdx, address);
        a.mov(__qword_ptr[rdx], rax);
    }
}
