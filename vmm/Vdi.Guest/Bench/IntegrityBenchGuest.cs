using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using Vdi.Vmm.Integrity;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Bench;

/// <summary>
/// The guest of <c>vdi-vmm bench integrity</c>. vCPU 0 builds its own tables (4 KiB pages below 2 MiB, 2 MiB pages
/// above and for the privileged region and window), a protected-page tree of two nodes — its code and
/// <see cref="Protected"/>, both refuse — registers its integrity driver and loads one <c>ret</c> as privileged code;
/// then makes <c>writes</c> 8-byte stores to <see cref="Protected"/> and <c>cycles</c> privileged-mode enter/leave
/// cycles, and powers off with 0. The other vCPUs load the same tables and spin with <c>pause</c> (privileged mode
/// parks them each time). With integrity off the registration is refused and the stores land untraced: the reference.
/// </summary>
public static class IntegrityBenchGuest
{
    public const ulong Protected = 0x17_0000;

    /// <summary>The guest's CR3 once it runs on its own tables.</summary>
    public const ulong Cr3 = SmallGuestTables.Pml4;
    public const int MemoryMiB = 8;

    private const ulong Tree = 0x18_0000, Ready = 0x14_0000;

    public static GuestImage Build(int writes, int cycles)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(writes);
        ArgumentOutOfRangeException.ThrowIfNegative(cycles);
        return GuestAssembly.Build("integrity-bench", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var entry = a.CreateLabel("entry");
            var gate = a.CreateLabel("gate");
            var codeEnd = a.CreateLabel("code_end");
            var other = a.CreateLabel("other");
            var privilegedCode = g.Data("privileged", [0xC3], 64); // ret

            a.test(rdi, rdi);
            a.jnz(other);
            EmitTables(a);
            EmitLoadCr3(a);
            a.mov(rbx, GuestLayout.ImageBase); // register: code, entry point, tree
            a.lea(rcx, __[codeEnd]);
            a.lea(rsi, __[entry]);
            a.mov(rdi, Tree);
            a.mov(eax, IntegrityHypercalls.Register);
            a.mov(dx, PortMap.Hypercall);
            a.@out(dx, eax);
            a.lea(rbx, __[privilegedCode]);
            a.mov(ecx, 1);
            a.mov(r8d, IntegrityHypercalls.Enter);
            a.call(gate);
            a.mov(__qword_ptr[Ready], 1);

            var store = a.CreateLabel("store");
            var stored = a.CreateLabel("stored");
            a.mov(ecx, writes);
            a.mov(rbx, Protected);
            a.test(ecx, ecx);
            a.jz(stored);
            a.Label(ref store);
            a.mov(__qword_ptr[rbx], rcx);
            a.dec(ecx);
            a.jnz(store);
            a.Label(ref stored);

            var cycle = a.CreateLabel("cycle");
            var cycled = a.CreateLabel("cycled");
            a.mov(r13d, cycles);
            a.test(r13d, r13d);
            a.jz(cycled);
            a.Label(ref cycle);
            a.mov(r8d, IntegrityHypercalls.PrivilegedEnter);
            a.call(gate);
            a.dec(r13d);
            a.jnz(cycle);
            a.Label(ref cycled);
            PowerPortEmitter.EmitPowerOff(a, 0);

            a.Label(ref other); // wait for vCPU 0, then spin on its tables
            a.pause();
            a.cmp(__qword_ptr[Ready], 1);
            a.jne(other);
            EmitLoadCr3(a);
            var spin = a.CreateLabel("spin");
            a.Label(ref spin);
            a.pause();
            a.jmp(spin);

            // The driver's gate (r8d: Enter to load the privileged code at rbx, rcx bytes; PrivilegedEnter to run it).
            var done = a.CreateLabel("done");
            var run = a.CreateLabel("run");
            a.Label(ref gate);
            a.mov(eax, r8d);
            a.mov(dx, PortMap.Hypercall);
            a.Label(ref entry);
            a.@out(dx, eax);
            a.test(rax, rax);
            a.jnz(done);
            a.cmp(r8d, IntegrityHypercalls.PrivilegedEnter);
            a.je(run);
            a.mov(eax, IntegrityHypercalls.PrivilegedLoad);
            a.@out(dx, eax);
            a.mov(eax, IntegrityHypercalls.Leave);
            a.@out(dx, eax);
            a.jmp(done);
            a.Label(ref run);
            a.mov(rax, SmallGuestTables.RegionBase);
            a.call(rax);
            a.mov(eax, IntegrityHypercalls.PrivilegedLeave);
            a.mov(dx, PortMap.Hypercall);
            a.@out(dx, eax);
            a.Label(ref done);
            a.ret();
            a.Label(ref codeEnd);
            a.nop();
        });
    }

    private static void EmitTables(Assembler a)
    {
        SmallGuestTables.EmitTables(a, MemoryMiB);
        SmallGuestTables.EmitNode(a, Tree, GuestLayout.ImageBase, 2, ProtectionAction.Refuse, 0, 0, Tree + 0x40);
        SmallGuestTables.EmitNode(a, Tree + 0x40, Protected, 1, ProtectionAction.Refuse, 0, 0, 0);
    }

    private static void EmitLoadCr3(Assembler a)
    {
        a.mov(rax, SmallGuestTables.Pml4);
        a.mov(cr3, rax);
    }
}
