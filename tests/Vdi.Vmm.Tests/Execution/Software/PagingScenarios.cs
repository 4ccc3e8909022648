using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Tests.Execution.Software.PagingGuest;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>The paging guests both engines run (<see cref="PagingGuest"/>), by name.</summary>
internal static class PagingScenarios
{
    public const ulong StringPage = 0x17_0000; // mapped; the page after it is not

    public static readonly PagingScenario OwnTables = new("own-tables", a =>
    {
        a.push(0x1234);
        a.pop(rax);
        a.mov(rbx, Data);
        a.mov(rax, __qword_ptr[rbx]);
        a.mov(__qword_ptr[(long)Out(0)], rax);
        a.mov(__qword_ptr[rbx + 8], rax);                 // a write: D on the data page
        a.mov(rbx, LargeLinear + (DataPhysical - 0x20_0000));
        a.mov(rax, __qword_ptr[rbx]);
        a.mov(__qword_ptr[(long)Out(1)], rax);
        a.mov(rbx, ReadOnly);
        a.mov(rax, __qword_ptr[rbx]);                     // a read: A, no D
        a.mov(__qword_ptr[(long)Out(2)], rax);
    });

    /// <summary>A read through the 1 GiB page. Software only: KVM's guest CPUID here has no 1 GiB pages (PS there is reserved).</summary>
    public static readonly PagingScenario HugePage = new("huge-page", a =>
    {
        a.mov(rbx, HugeLinear + DataPhysical);
        a.mov(rax, __qword_ptr[rbx]);
        a.mov(__qword_ptr[(long)Out(0)], rax);
    });

    public static readonly PagingScenario RemapAfterInvlpg = new("remap-after-invlpg", a =>
    {
        a.mov(rbx, Data);
        a.mov(rax, __qword_ptr[rbx]);
        a.mov(__qword_ptr[(long)Out(0)], rax);
        a.mov(rcx, PtAlias + (((Data >> 12) & 511) * 8));
        a.mov(rax, OtherPhysical | Present | Writable);
        a.mov(__qword_ptr[rcx], rax);
        a.invlpg(__[rbx]);
        a.mov(rax, __qword_ptr[rbx]);
        a.mov(__qword_ptr[(long)Out(1)], rax);
    });

    public static readonly PagingScenario NotPresentRead = new("not-present-read", a =>
    {
        a.mov(rbx, Unmapped + 8);
        a.mov(rax, __qword_ptr[rbx - 8]);
        a.mov(__qword_ptr[(long)Out(0)], rax);
    })
    { Fix = FaultFix.MapFixed, FixPhysical = DataPhysical };

    public static readonly PagingScenario ReadOnlyWrite = new("read-only-write", a =>
    {
        a.mov(rbx, ReadOnly);
        a.mov(__qword_ptr[rbx + 16], rbx);
    });

    public static readonly PagingScenario ReadOnlyWriteWithoutWp = new("read-only-write-without-wp", a =>
    {
        a.mov(rax, cr0);
        a.and(rax, ~(1 << 16));
        a.mov(cr0, rax);
        a.mov(rbx, ReadOnly);
        a.mov(__qword_ptr[rbx + 16], rbx);
        a.mov(rax, __qword_ptr[rbx + 16]);
        a.mov(__qword_ptr[(long)Out(0)], rax);
    });

    public static readonly PagingScenario NoExecuteFetch = new("no-execute-fetch", a =>
    {
        a.mov(rax, 0x10_3000UL);
        a.jmp(rax);
    })
    { NoExecute = true, Pages = new Dictionary<ulong, ulong> { [0x10_3000] = 0x10_3000 | Present | Writable | NoExecuteBit } };

    public static readonly PagingScenario ReservedBit = new("reserved-bit", a =>
    {
        a.mov(rbx, Unmapped);
        a.mov(rax, __qword_ptr[rbx]);
    })
    { Pages = new Dictionary<ulong, ulong> { [Unmapped] = DataPhysical | Present | Writable | (1UL << 51) } };

    public static readonly PagingScenario FaultingPush = new("faulting-push", a =>
    {
        a.mov(rbx, Unmapped);
        a.mov(__qword_ptr[(long)Out(1)], rsp);
        a.push(__qword_ptr[rbx]);
        a.pop(rax);
        a.mov(__qword_ptr[(long)Out(0)], rax);
        a.mov(__qword_ptr[(long)Out(2)], rsp);
    })
    { Fix = FaultFix.MapFixed, FixPhysical = DataPhysical };

    public static readonly PagingScenario StringAcrossPages = new("string-across-pages", a =>
    {
        a.mov(rdi, StringPage + 0xF00);
        a.mov(ecx, 64);
        a.mov(eax, 0x99);
        a.rep.stosq();
        a.mov(__qword_ptr[(long)Out(0)], rcx);
        a.mov(__qword_ptr[(long)Out(1)], rdi);
    })
    { Fix = FaultFix.MapIdentity, Pages = new Dictionary<ulong, ulong> { [StringPage] = StringPage | Present | Writable } };

    public static readonly PagingScenario PageFaultDuringPageFault = new("page-fault-during-page-fault", a =>
    {
        a.mov(rbx, Unmapped);
        a.mov(rax, __qword_ptr[rbx]);
    })
    { IdtSplit = true };

    public static readonly PagingScenario UnmappedStack = new("unmapped-stack", a =>
    {
        a.mov(rsp, Unmapped + 0x1000);
        a.push(rax);
    });

    /// <summary>Clearing CR0.PG in 64-bit mode: #GP (the guest's handler powers off with 13).</summary>
    public static readonly PagingScenario PagingOff = new("paging-off", a =>
    {
        a.mov(rax, cr0);
        a.mov(rcx, ~(1UL << 31));
        a.and(rax, rcx);
        a.mov(cr0, rax);
    });

    /// <summary>CR4.SMEP: a feature the software engine does not model.</summary>
    public static readonly PagingScenario Smep = new("smep", a =>
    {
        a.mov(rax, cr4);
        a.or(rax, 1 << 20);
        a.mov(cr4, rax);
    });

    /// <summary>
    /// A port-I/O loop adding each value read into the data page (linear <see cref="Data"/>, mapped elsewhere): on KVM
    /// with exit-storm switching it runs in software slices, which must translate through the guest's tables.
    /// </summary>
    public static PagingScenario PortLoopOnOwnTables(int iterations) => new("port-loop-on-own-tables", a =>
    {
        var loop = a.CreateLabel("loop");
        a.mov(ecx, iterations);
        a.mov(edx, (uint)Vdi.Vmm.Devices.PortMap.Sequence);
        a.mov(rbx, Data + 64);
        a.xor(esi, esi);
        a.Label(ref loop);
        a.@in(eax, dx);
        a.add(__qword_ptr[rbx], rax);
        a.add(esi, eax);
        a.dec(ecx);
        a.jnz(loop);
        a.mov(__qword_ptr[(long)Out(0)], rsi);
        a.mov(rax, __qword_ptr[rbx]);
        a.mov(__qword_ptr[(long)Out(1)], rax);
    });

    /// <summary>Every scenario both engines run alike.</summary>
    public static readonly PagingScenario[] All =
    [
        OwnTables, RemapAfterInvlpg, NotPresentRead, ReadOnlyWrite, ReadOnlyWriteWithoutWp, NoExecuteFetch, ReservedBit,
        FaultingPush, StringAcrossPages, PageFaultDuringPageFault, UnmappedStack, PagingOff,
    ];
}
