using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution;

/// <summary>
/// The concurrency guard's test guest: every vCPU runs an increment (rbx = the counter, <c>offset</c> bytes into a cache
/// line) <c>iterations</c> times, then counts itself done with <c>lock xadd</c>; vCPU 0 waits for all and powers off
/// with the counter's low 32 bits. With <c>portReadOnVcpu0</c>, vCPU 0 reads the null device before each increment,
/// which makes it an exit storm on KVM (exit-storm switching then runs it in software slices).
/// </summary>
internal static class SharedCounterGuest
{
    public static GuestImage Build(int iterations, int offset, Action<Assembler, AssemblerRegister64> increment, bool portReadOnVcpu0 = false) =>
        GuestAssembly.Build("shared-counter", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var line = g.Data("counter_line", 128, alignment: 64);
            var done = g.Data("done", 8, alignment: 8);
            var plainLoop = a.CreateLabel("plain_loop");
            var finished = a.CreateLabel("finished");
            var wait = a.CreateLabel("wait");
            var park = a.CreateLabel("park");
            a.lea(rbx, __[line]);
            a.add(rbx, offset);
            a.mov(ecx, iterations);
            if (portReadOnVcpu0)
            {
                var stormLoop = a.CreateLabel("storm_loop");
                a.test(rdi, rdi);
                a.jnz(plainLoop);
                a.mov(dx, PortMap.NullDevice);
                a.Label(ref stormLoop);
                a.@in(al, dx);
                increment(a, rbx);
                a.dec(ecx);
                a.jnz(stormLoop);
                a.jmp(finished);
            }
            a.Label(ref plainLoop);
            increment(a, rbx);
            a.dec(ecx);
            a.jnz(plainLoop);
            a.Label(ref finished);
            a.mov(eax, 1);
            a.@lock.xadd(__qword_ptr[done], rax);
            a.test(rdi, rdi);
            a.jnz(park);
            a.Label(ref wait);
            a.pause();
            a.cmp(__qword_ptr[done], rsi);
            a.jne(wait);
            a.mov(eax, __dword_ptr[rbx]);
            PowerPortEmitter.EmitPowerOffWithEax(a);
            a.Label(ref park);
            PowerPortEmitter.EmitHaltForever(a);
        });
}
