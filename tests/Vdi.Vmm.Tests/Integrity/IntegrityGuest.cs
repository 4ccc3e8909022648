using Iced.Intel;
using Vdi.Guest.Bench;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Tests.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Integrity;

/// <summary>What a scenario's body can reach: the driver's routines.</summary>
internal sealed record IntegrityDriverLabels(Label Link, Label Entry, Label Body, Label Privileged);

/// <summary>
/// A guest with an integrity driver, for the integrity tests. It builds its own 4-level tables (4 KiB pages below
/// 2 MiB, 2 MiB pages above; accessed and dirty preset, as the kernel region of an OS has them), an IDT, and a
/// protected-page tree, then registers its driver and runs the scenario's body:
/// <list type="bullet">
/// <item>node A protects its code (two pages, refuse), B the IDT page (alert), C a kernel data page (refuse), D the tree's own page
/// (refuse); node E (the page after C, refuse) is written but not linked: the driver's <c>link</c> routine links it.</item>
/// <item><c>link</c> (rbx = the child slot to set, rcx = the node) enters integrity mode through the driver's one entry
/// point, stores, and leaves; its body past the entry point is <see cref="IntegrityDriverLabels.Body"/>.</item>
/// </list>
/// Results go to <see cref="Results"/> (qwords): the registration's result first, then what the body stores.
/// </summary>
internal static class IntegrityGuest
{
    public const ulong Pml4 = SmallGuestTables.Pml4, Pdpt = SmallGuestTables.Pdpt, Pd = SmallGuestTables.Pd, Pt = SmallGuestTables.Pt;
    public const ulong Idt = 0x11_0000, Results = 0x14_0000, Unprotected = 0x15_0000;
    public const ulong KernelData = 0x17_0000, NextData = 0x17_1000, Tree = 0x18_0000, RemapTarget = 0x19_0000;
    public const ulong NodeA = Tree, NodeB = Tree + 0x40, NodeC = Tree + 0x80, NodeD = Tree + 0xC0, NodeE = Tree + 0x100;
    public const ulong DataMarker = 0xD47A_D47A_D47A_D47A, TargetMarker = 0x7A26_E700_7A26_E700;
    public const uint CodeTag = 1, IdtTag = 2, DataTag = 3, TreeTag = 4, NextTag = 5;
    public const ulong Entry = SmallGuestTables.Entry;
    public const int MemoryMiB = 8;
    public const ulong CodePages = 2; // the image is smaller

    public static ulong Out(int n) => Results + 8 + ((ulong)n * 8);

    public static ulong Pte(ulong linear) => Pt + ((linear >> 12) * 8);

    public static GuestImage Build(Action<Assembler, IntegrityDriverLabels> body) => Build(body, null, null);

    /// <summary>
    /// As <see cref="Build(Action{Assembler, IntegrityDriverLabels})"/>, with code for vCPUs other than 0 (each starts it
    /// once vCPU 0 set up and registered, on the same tables and IDT, with r12 = its index) and privileged code: assembled
    /// for <see cref="RegionBase"/>, carried in the image, loaded by the driver at boot (its result in <see cref="LoadResult"/>) and run by <see cref="IntegrityDriverLabels.Privileged"/> (a near call; it ends with <c>ret</c>).
    /// </summary>
    public static GuestImage Build(Action<Assembler, IntegrityDriverLabels> body, Action<Assembler, IntegrityDriverLabels>? otherVcpus, Action<Assembler>? privileged) =>
        GuestAssembly.Build("integrity", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var link = a.CreateLabel("link");
            var entry = a.CreateLabel("entry");
            var driverBody = a.CreateLabel("body");
            var privilegedCall = a.CreateLabel("privileged");
            var labels = new IntegrityDriverLabels(link, entry, driverBody, privilegedCall);
            var codeEnd = a.CreateLabel("code_end");
            var other = a.CreateLabel("other_vcpu");

            a.mov(r12, rdi);
            a.test(r12, r12);
            a.jnz(other);
            EmitTables(a);
            EmitLoadIdtAndCr3(a);
            EmitRegister(a, entry, codeEnd);
            a.mov(__qword_ptr[Results], rax);
            if (privileged is not null)
            {
                var code = PrivilegedCode(privileged);
                var template = g.Data("privileged_code", code, 64);
                a.lea(rbx, __[template]);
                a.mov(ecx, code.Length);
                a.mov(r8d, 2);
                a.call(link);
                a.mov(__qword_ptr[LoadResult], rax);
            }
            a.mov(__qword_ptr[Ready], 1);
            body(a, labels);
            PowerPortEmitter.EmitPowerOff(a, 0);

            a.Label(ref other); // wait until vCPU 0 is ready
            a.pause();
            a.cmp(__qword_ptr[Ready], 1);
            a.jne(other);
            EmitLoadIdtAndCr3(a);
            otherVcpus?.Invoke(a, labels);
            var idle = a.CreateLabel("idle");
            a.Label(ref idle);
            a.pause();
            a.jmp(idle);

            // The driver. link: link node rcx into the child slot at rbx; privileged: run the privileged code; load (r8 = 2):
            // load the privileged code at rbx, rcx bytes. Each goes through the one entry point.
            var done = a.CreateLabel("driver_done");
            var runPrivileged = a.CreateLabel("run_privileged");
            var load = a.CreateLabel("load");
            var go = a.CreateLabel("go");
            a.Label(ref privilegedCall);
            a.mov(r8d, 1);
            a.mov(eax, IntegrityHypercalls.PrivilegedEnter);
            a.jmp(go);
            a.Label(ref link);
            a.mov(eax, IntegrityHypercalls.Enter);
            a.Label(ref go);
            a.mov(dx, PortMap.Hypercall);
            a.Label(ref entry);
            a.@out(dx, eax);
            a.test(rax, rax);
            a.jnz(done);
            a.cmp(r8d, 1);
            a.je(runPrivileged);
            a.cmp(r8d, 2);
            a.je(load);
            a.Label(ref driverBody);
            a.mov(__qword_ptr[rbx], rcx);
            EmitLeave(a, IntegrityHypercalls.Leave);
            a.jmp(done);
            a.Label(ref load);
            a.mov(eax, IntegrityHypercalls.PrivilegedLoad);
            a.@out(dx, eax);
            a.mov(r9, rax);
            EmitLeave(a, IntegrityHypercalls.Leave);
            a.mov(rax, r9);
            a.jmp(done);
            a.Label(ref runPrivileged);
            a.mov(rax, RegionBase);
            a.call(rax);
            EmitLeave(a, IntegrityHypercalls.PrivilegedLeave);
            a.Label(ref done);
            a.xor(r8d, r8d);
            a.ret();
            a.Label(ref codeEnd);
            a.nop();
        });

    /// <summary>The privileged region's address for this guest's RAM (<see cref="PrivilegedMode"/>: 4 GiB for small machines).</summary>
    public const ulong RegionBase = SmallGuestTables.RegionBase;

    /// <summary>All of RAM, seen through the window while a vCPU is in privileged mode.</summary>
    public const ulong WindowBase = SmallGuestTables.WindowBase;

    /// <summary>What the privileged-code load returned: the region's address, or an error.</summary>
    public const ulong LoadResult = Results + 0xE00;

    /// <summary>Set by vCPU 0 once the tables, the IDT and the driver are ready; the other vCPUs wait for it.</summary>
    public const ulong Ready = Results + 0xE80;

    private static byte[] PrivilegedCode(Action<Assembler> emit)
    {
        var asm = new Assembler(64);
        emit(asm);
        using var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), RegionBase);
        return stream.ToArray();
    }

    private static void EmitLeave(Assembler a, uint number)
    {
        a.mov(eax, number);
        a.mov(dx, PortMap.Hypercall);
        a.@out(dx, eax);
    }

    private static void EmitTables(Assembler a)
    {
        SmallGuestTables.EmitTables(a, MemoryMiB);
        Store(a, KernelData, DataMarker);
        Store(a, RemapTarget, TargetMarker);
        SmallGuestTables.EmitNode(a, NodeA, GuestLayout.ImageBase, CodePages, ProtectionAction.Refuse, CodeTag, 0, NodeB);
        SmallGuestTables.EmitNode(a, NodeB, Idt, 1, ProtectionAction.Alert, IdtTag, 0, NodeC);
        SmallGuestTables.EmitNode(a, NodeC, KernelData, 1, ProtectionAction.Refuse, DataTag, 0, NodeD);
        SmallGuestTables.EmitNode(a, NodeD, Tree, 1, ProtectionAction.Refuse, TreeTag, 0, 0);
        SmallGuestTables.EmitNode(a, NodeE, NextData, 1, ProtectionAction.Refuse, NextTag, 0, 0);
    }

    private static void EmitLoadIdtAndCr3(Assembler a)
    {
        a.mov(rbx, Results + 0xF00);
        a.mov(__word_ptr[rbx], (ushort)0xFFF);
        a.mov(rax, Idt);
        a.mov(__qword_ptr[rbx + 2], rax);
        a.lidt(__[rbx]);
        a.mov(rax, Pml4);
        a.mov(cr3, rax);
    }

    /// <summary>The registration hypercall of the driver this guest carries (rax: its result).</summary>
    public static void EmitRegister(Assembler a, Label entry, Label codeEnd)
    {
        a.mov(rbx, GuestLayout.ImageBase);
        a.lea(rcx, __[codeEnd]);
        a.lea(rsi, __[entry]);
        a.mov(rdi, Tree);
        Hypercall(a, IntegrityHypercalls.Register);
    }

    /// <summary><c>out</c> of hypercall <paramref name="number"/> from here (not the entry point); result in rax.</summary>
    public static void Hypercall(Assembler a, uint number)
    {
        a.mov(eax, number);
        a.mov(dx, PortMap.Hypercall);
        a.@out(dx, eax);
    }

    public static void Store(Assembler a, ulong address, ulong value) => SmallGuestTables.Store(a, address, value);

    public static Vmm.Machine.Machine Machine(EngineChoice engine, GuestImage image, IntegrityLevel level = IntegrityLevel.Enforce, int vcpus = 1)
    {
        var machine = KvmMachines.Build(image, vcpus, MemoryMiB, engine, exitStormSwitching: false);
        machine.Integrity.Level = level;
        return machine;
    }
}
