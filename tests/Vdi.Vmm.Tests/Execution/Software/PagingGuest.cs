using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>What a paging guest's #PF handler does after recording the fault.</summary>
internal enum FaultFix
{
    /// <summary>Power off: the fault is the result.</summary>
    None,

    /// <summary>Map the faulting page to <see cref="PagingScenario.FixPhysical"/>, <c>invlpg</c>, <c>iretq</c>: the access retries.</summary>
    MapFixed,

    /// <summary>Map the faulting page to the same physical page, <c>invlpg</c>, <c>iretq</c>.</summary>
    MapIdentity,
}

/// <summary>A paging guest: its body, how its #PF handler reacts, and the page-table entries it changes from the usual set.</summary>
internal sealed record PagingScenario(string Name, Action<Assembler> Body)
{
    public FaultFix Fix { get; init; }

    public ulong FixPhysical { get; init; }

    /// <summary>The IDT straddles two pages and the one holding gate 14 is not mapped: a #PF cannot be delivered.</summary>
    public bool IdtSplit { get; init; }

    /// <summary>EFER.NXE is set before the guest loads its tables.</summary>
    public bool NoExecute { get; init; }

    /// <summary>PTEs (linear page → entry) written instead of, or besides, the usual ones; 0 leaves the page unmapped.</summary>
    public IReadOnlyDictionary<ulong, ulong> Pages { get; init; } = new Dictionary<ulong, ulong>();

    public override string ToString() => Name;
}

/// <summary>
/// Guests that build their own 4-level page tables (4 KiB pages for code, stack, IDT, data and an alias of the page
/// table; one 2 MiB and one 1 GiB page), load CR3 and run a body; a #PF handler records CR2, the error code, the saved
/// RIP and RSP and RCX/RDI at the fault, and the #DF handler records its error code. Assembled at run time, they run the
/// same on either engine (<see cref="RunAsync"/>), so results can be compared. Everything the guest reports lands in
/// the results page (<see cref="Results"/>); the guest ends by powering off.
/// </summary>
internal static class PagingGuest
{
    public const ulong Pml4 = 0x20_0000, Pdpt = 0x20_1000, Pd = 0x20_2000, Pt = 0x20_3000;
    public const ulong PtAlias = 0x13_0000;   // linear page through which the guest edits its page table
    public const ulong Results = 0x14_0000;   // identity mapped
    public const ulong Data = 0x12_0000;      // linear; physical DataPhysical
    public const ulong DataPhysical = 0x30_0000;
    public const ulong OtherPhysical = 0x30_1000;
    public const ulong Unmapped = 0x15_0000;  // not mapped unless a scenario maps it
    public const ulong ReadOnly = 0x16_0000;  // mapped read-only to OtherPhysical
    public const ulong LargeLinear = 0x40_0000; // 2 MiB page → physical 0x20_0000
    public const ulong HugeLinear = 0x4000_0000; // 1 GiB page → physical 0
    public const ulong Marker = 0x1111_2222_3333_4444, OtherMarker = 0x5555_6666_7777_8888;
    public const ulong Present = 1, Writable = 2, Accessed = 0x20, Dirty = 0x40, Large = 0x80, NoExecuteBit = 1UL << 63;

    /// <summary>Result slots (qwords from <see cref="Results"/>).</summary>
    public const int Cr2 = 0, ErrorCode = 1, Faults = 2, SavedRip = 3, SavedRsp = 4, DoubleFaults = 5, Rcx = 6, Rdi = 7, DoubleFaultError = 8;

    /// <summary>Slot of the body's <paramref name="n"/>th output.</summary>
    public static ulong Out(int n) => Results + 0x100 + ((ulong)n * 8);

    public static ulong Pte(ulong linear) => Pt + (((linear >> 12) & 511) * 8);

    public static GuestImage Build(PagingScenario s) =>
        GuestAssembly.Build(s.Name, GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var pageFault = a.CreateLabel("page_fault");
            var doubleFault = a.CreateLabel("double_fault");
            var protection = a.CreateLabel("protection");
            var idt = s.IdtSplit ? 0x11_1000 - (14 * 16) : 0x11_0000UL;

            // Markers in the data pages, the tables, the IDT — all written through the VMM's identity tables.
            Store(a, DataPhysical, Marker);
            Store(a, OtherPhysical, OtherMarker);
            foreach (var (address, value) in Tables(s))
                Store(a, address, value);
            Gate(a, idt, 8, doubleFault);
            Gate(a, idt, 13, protection);
            if (!s.IdtSplit)
                Gate(a, idt, 14, pageFault);
            a.mov(rbx, Results + 0xF00);
            a.mov(__word_ptr[rbx], (ushort)0xFFF);
            a.mov(rax, idt);
            a.mov(__qword_ptr[rbx + 2], rax);
            a.lidt(__[rbx]);
            if (s.NoExecute)
            {
                a.mov(ecx, 0xC000_0080u);
                a.rdmsr();
                a.or(eax, 1 << 11);
                a.wrmsr();
            }
            a.mov(rax, Pml4);
            a.mov(cr3, rax);

            s.Body(a);
            PowerPortEmitter.EmitPowerOff(a, 0);

            a.Label(ref pageFault);
            a.push(rax);
            a.push(rbx);
            a.mov(rbx, Results);
            a.mov(rax, cr2);
            a.mov(__qword_ptr[rbx + (Cr2 * 8)], rax);
            a.mov(rax, __qword_ptr[rsp + 16]);
            a.mov(__qword_ptr[rbx + (ErrorCode * 8)], rax);
            a.inc(__qword_ptr[rbx + (Faults * 8)]);
            a.mov(rax, __qword_ptr[rsp + 24]);
            a.mov(__qword_ptr[rbx + (SavedRip * 8)], rax);
            a.mov(rax, __qword_ptr[rsp + 48]);
            a.mov(__qword_ptr[rbx + (SavedRsp * 8)], rax);
            a.mov(__qword_ptr[rbx + (Rcx * 8)], rcx);
            a.mov(__qword_ptr[rbx + (Rdi * 8)], rdi);
            if (s.Fix == FaultFix.None)
            {
                PowerPortEmitter.EmitPowerOff(a, 14);
            }
            else
            {
                // PTE of CR2's page, through the page table's alias
                a.mov(rax, cr2);
                a.shr(rax, 12);
                a.and(eax, 511);
                a.mov(rbx, PtAlias);
                a.lea(rbx, __[rbx + (rax * 8)]);
                if (s.Fix == FaultFix.MapFixed)
                {
                    a.mov(rax, s.FixPhysical | Present | Writable);
                }
                else
                {
                    a.mov(rax, cr2);
                    a.and(rax, -0x1000);
                    a.or(rax, (int)(Present | Writable));
                }
                a.mov(__qword_ptr[rbx], rax);
                a.mov(rax, cr2);
                a.invlpg(__[rax]);
                a.pop(rbx);
                a.pop(rax);
                a.add(rsp, 8);
                a.iretq();
            }

            a.Label(ref doubleFault);
            a.mov(rbx, Results);
            a.inc(__qword_ptr[rbx + (DoubleFaults * 8)]);
            a.mov(rax, __qword_ptr[rsp]);
            a.mov(__qword_ptr[rbx + (DoubleFaultError * 8)], rax);
            a.mov(rax, cr2);
            a.mov(__qword_ptr[rbx + (Cr2 * 8)], rax);
            PowerPortEmitter.EmitPowerOff(a, 8);

            a.Label(ref protection);
            PowerPortEmitter.EmitPowerOff(a, 13);
        });

    /// <summary>The guest's tables: identity 4 KiB pages for code, GDT, TSS, IDT, results and stack, data elsewhere, the PT alias, a 2 MiB and a 1 GiB page.</summary>
    public static IEnumerable<(ulong Address, ulong Value)> Tables(PagingScenario s)
    {
        const ulong rw = Present | Writable;
        yield return (Pml4, Pdpt | rw);
        yield return (Pdpt, Pd | rw);
        yield return (Pdpt + 8, 0 | rw | Large);              // 1 GiB page at HugeLinear → physical 0
        yield return (Pd, Pt | rw);
        yield return (Pd + 16, 0x20_0000 | rw | Large);       // 2 MiB page at LargeLinear → physical 0x20_0000
        var pages = new Dictionary<ulong, ulong>();
        for (var page = GuestLayout.ImageBase; page < GuestLayout.ImageBase + 0x4000; page += 0x1000)
            pages[page] = page | rw;
        for (var page = GuestLayout.StackTop - 0x4000; page < GuestLayout.StackTop; page += 0x1000)
            pages[page] = page | rw;
        pages[GuestLayout.GdtAddress] = GuestLayout.GdtAddress | rw; // hardware reads the GDT (and TSS) when it delivers an exception
        pages[GuestLayout.TssAddress] = GuestLayout.TssAddress | rw;
        pages[0x11_0000] = 0x11_0000 | rw;
        if (!s.IdtSplit)
            pages[0x11_1000] = 0x11_1000 | rw;
        pages[Results] = Results | rw;
        pages[Data] = DataPhysical | rw;
        pages[PtAlias] = Pt | rw;
        pages[ReadOnly] = OtherPhysical | Present;
        foreach (var (page, entry) in s.Pages)
            pages[page] = entry;
        foreach (var (page, entry) in pages)
        {
            if (entry != 0)
                yield return (Pte(page), entry);
        }
    }

    /// <summary>Runs the scenario on <paramref name="engine"/>; the exit and the results page.</summary>
    public static async Task<(MachineExit Exit, ulong[] Results, Vmm.Machine.Machine Machine)> RunAsync(PagingScenario s, EngineChoice engine, bool exitStormSwitching = false)
    {
        var machine = MachineBuilder.Build(new MachineConfig { Vcpus = 1, MemoryMiB = 16, Image = Build(s), Engine = engine, ExitStormSwitching = exitStormSwitching });
        machine.Start();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var results = new ulong[0x140];
        for (var n = 0; n < results.Length; n++)
            results[n] = machine.Memory.Read<ulong>(Results + ((ulong)n * 8));
        return (exit, results, machine);
    }

    private static void Store(Assembler a, ulong address, ulong value)
    {
        a.mov(rbx, address);
        a.mov(rax, value);
        a.mov(__qword_ptr[rbx], rax);
    }

    /// <summary>An interrupt gate for <paramref name="vector"/> at <paramref name="idt"/>, built at run time from the handler's address.</summary>
    private static void Gate(Assembler a, ulong idt, int vector, Label handler)
    {
        a.lea(rax, __[handler]);
        a.mov(edx, eax);
        a.and(edx, 0xFFFF);
        a.mov(rcx, ((ulong)0x8E << 40) | ((ulong)GuestLayout.CodeSelector << 16));
        a.or(rdx, rcx);
        a.mov(rcx, rax);
        a.shr(rcx, 16);
        a.shl(rcx, 48);
        a.or(rdx, rcx);
        a.mov(rbx, idt + ((ulong)vector * 16));
        a.mov(__qword_ptr[rbx], rdx);
        a.mov(__qword_ptr[rbx + 8], 0);
    }
}
