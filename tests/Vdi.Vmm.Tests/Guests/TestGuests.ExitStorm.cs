using Vdi.Guest;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution.Switching;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Guests;

/// <summary>Exit-storm guests built on <see cref="ExitStormLoop"/>'s storm: beside a computing vCPU, and under a timer.</summary>
public static partial class TestGuests
{
    /// <summary>Marker value the timer guest's tick handler writes to <see cref="PortMap.BootMarker"/> on every tick.</summary>
    public const byte TickMarker = 0x54;

    /// <summary>LAPIC timer vector of <see cref="ExitStormWithTimer"/>.</summary>
    public const byte StormTimerVector = 0x40;

    /// <summary>
    /// Two vCPUs on different engines at once: vCPU 0 runs <see cref="ExitStormLoop"/>'s storm (same checksum, same exit
    /// code) while every other vCPU counts up the qword at symbol <c>counter</c> forever without exits.
    /// </summary>
    public static GuestImage ExitStormBesideCompute(int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        return GuestAssembly.Build("exit-storm-beside-compute", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var counter = g.Data("counter", 64, alignment: 64);
            g.Export("counter", counter);
            var compute = a.CreateLabel("compute");
            a.test(edi, edi); // rdi: this vCPU's index
            a.jnz(compute);
            ExitStormLoop.EmitStormThenPowerOff(a, iterations);
            a.Label(ref compute);
            a.inc(__qword_ptr[counter]);
            a.jmp(compute);
        });
    }

    /// <summary>
    /// An exit storm with interrupts on: the LAPIC timer ticks at 1 kHz (periodic, vector <see cref="StormTimerVector"/>)
    /// and its handler counts the tick and reports it with marker <see cref="TickMarker"/> (timestamped by the host),
    /// while the main loop reads the sequence port until <paramref name="ticks"/> ticks have come; then it powers off
    /// with exit code 0.
    /// </summary>
    public static GuestImage ExitStormWithTimer(int ticks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ticks, 1);
        return GuestAssembly.Build("exit-storm-timer", GuestLayout.ImageBase, g =>
        {
            var runtime = new GuestRuntime(g);
            var a = g.Asm;
            var tickCount = g.Data("ticks", 64, alignment: 64);
            var handler = g.CreateLabel("timer_tick");
            var loop = a.CreateLabel("storm");
            runtime.Interrupts.AddGate(StormTimerVector, handler);

            runtime.EmitCpuSetup();
            ApicEmitter.EmitStartPeriodicTimer(a, StormTimerVector, 1_000_000); // 1 ms at KVM's 1 GHz APIC bus
            a.mov(dx, PortMap.Sequence);
            a.mov(ebx, ExitStormLoop.ChecksumBasis);
            a.mov(ecx, 1);
            a.sti();
            a.Label(ref loop);
            ExitStormLoop.EmitMix(a);
            a.cmp(__dword_ptr[tickCount], ticks);
            a.jb(loop);
            a.cli();
            PowerPortEmitter.EmitPowerOff(a, 0);

            g.Bind(ref handler);
            a.push(rax);
            a.push(rdx);
            a.inc(__dword_ptr[tickCount]);
            PowerPortEmitter.EmitBootMarker(a, TickMarker);
            ApicEmitter.EmitEndOfInterrupt(a);
            a.pop(rdx);
            a.pop(rax);
            a.iretq();
            runtime.EmitRoutines();
        });
    }
}
