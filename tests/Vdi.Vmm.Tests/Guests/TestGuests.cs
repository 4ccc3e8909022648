using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Guests;

/// <summary>
/// Small guests for the VMM's tests, all loaded at <see cref="GuestLayout.ImageBase"/>. Unless a guest says
/// otherwise it runs with interrupts disabled, uses no stack, and after its power-off write halts for good
/// (<c>cli; hlt; jmp</c>) in case the host keeps it running.
/// </summary>
public static partial class TestGuests
{
    /// <summary><c>mov eax, exitCode; mov dx, PowerOff; out dx, eax</c>.</summary>
    public static GuestImage PowerOff(uint exitCode) =>
        GuestAssembly.Build("power-off", GuestLayout.ImageBase, g => PowerPortEmitter.EmitPowerOff(g.Asm, exitCode));

    /// <summary>
    /// <c>mov rax, target; mov byte [rax], 1</c>, then power off with 0: exactly one guest memory write (the dirty-log
    /// test). Nothing else is written: no stack, no data. Note the CPU may still set accessed/dirty bits in the page
    /// tables on its own.
    /// </summary>
    public static GuestImage WriteOnePage(ulong targetAddress) =>
        GuestAssembly.Build("write-one-page", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            a.mov(rax, targetAddress);
            a.mov(__byte_ptr[rax], 1);
            PowerPortEmitter.EmitPowerOff(a, 0);
        });

    /// <summary><c>mov rax, address; mov rbx, value; mov [rax], rbx</c> (one 8-byte store), then power off with 0.</summary>
    public static GuestImage WriteQword(ulong address, ulong value) =>
        GuestAssembly.Build("write-qword", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            a.mov(rax, address);
            a.mov(rbx, value);
            a.mov(__qword_ptr[rax], rbx);
            PowerPortEmitter.EmitPowerOff(a, 0);
        });

    /// <summary>
    /// Loads an IDT with limit 0 and executes <c>ud2</c>: #UD finds no gate (#GP), nor does #GP (#DF), nor #DF — a
    /// triple fault, which KVM reports as a shutdown exit.
    /// </summary>
    public static GuestImage TripleFault() =>
        GuestAssembly.Build("triple-fault", GuestLayout.ImageBase, g =>
        {
            var emptyIdtr = g.Data("empty_idtr", 10, alignment: 16);
            g.Asm.lidt(__[emptyIdtr]);
            g.Asm.ud2();
        });

    /// <summary>
    /// One hypercall: eax = <paramref name="number"/>, rbx = <paramref name="argument"/>, rcx = rsi = rdi = 0,
    /// <c>out</c> eax to <see cref="PortMap.Hypercall"/>; then powers off with the result's low 32 bits (eax) as exit code.
    /// </summary>
    public static GuestImage HypercallEcho(uint number, ulong argument) =>
        GuestAssembly.Build("hypercall-echo", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            a.xor(ecx, ecx);
            a.xor(esi, esi);
            a.xor(edi, edi);
            a.mov(eax, number);
            a.mov(rbx, argument);
            a.mov(dx, PortMap.Hypercall);
            a.@out(dx, eax);
            PowerPortEmitter.EmitPowerOffWithEax(a);
        });

    /// <summary><c>cli; L: hlt; jmp L</c> forever: a vCPU that stays halted until the host stops it.</summary>
    public static GuestImage IdleHalt() =>
        GuestAssembly.Build("idle-halt", GuestLayout.ImageBase, g => PowerPortEmitter.EmitHaltForever(g.Asm));
}
