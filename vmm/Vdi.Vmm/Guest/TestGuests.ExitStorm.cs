using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Guest;

/// <summary>Exit-storm guests: loops of port reads from <see cref="PortMap.Sequence"/> mixed into a checksum.</summary>
public static partial class TestGuests
{
    /// <summary>Marker value the timer guest's tick handler writes to <see cref="PortMap.BootMarker"/> on every tick.</summary>
    public const byte TickMarker = 0x54;

    /// <summary>LAPIC timer vector of <see cref="ExitStormWithTimer"/>.</summary>
    public const byte StormTimerVector = 0x40;

    private const uint ChecksumBasis = 0x811C_9DC5;
    private const uint ChecksumPrime = 0x0100_0193;

    /// <summary>
    /// An exit storm: <paramref name="iterations"/> times <c>in eax, dx</c> from the sequence port, each value folded
    /// into a checksum with ALU work (<see cref="ExitStormChecksum"/>); powers off with the checksum as exit code. On KVM
    /// every iteration is a VM exit.
    /// </summary>
    public static GuestImage ExitStormLoop(int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        return GuestAssembly.Build("exit-storm-loop", GuestLayout.ImageBase, g => EmitStormThenPowerOff(g.Asm, iterations));
    }

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
            EmitStormThenPowerOff(a, iterations);
            a.Label(ref compute);
            a.inc(__qword_ptr[counter]);
            a.jmp(compute);
        });
    }

    /// <summary>The checksum <see cref="ExitStormLoop"/> computes, from the sequence device's values (the reference).</summary>
    public static uint ExitStormChecksum(int iterations)
    {
        var state = Devices.SequenceDevice.Seed;
        var checksum = ChecksumBasis;
        for (var counter = (uint)iterations; counter > 0; counter--)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            checksum = Mix(checksum, state, counter);
        }
        return checksum;
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
            a.mov(ebx, ChecksumBasis);
            a.mov(ecx, 1);
            a.sti();
            a.Label(ref loop);
            EmitMix(a);
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

    /// <summary><paramref name="iterations"/> reads of the sequence port folded into the checksum, then power off with it.</summary>
    private static void EmitStormThenPowerOff(Assembler a, int iterations)
    {
        var loop = a.CreateLabel("storm");
        a.mov(ecx, iterations);
        a.mov(dx, PortMap.Sequence);
        a.mov(ebx, ChecksumBasis);
        a.Label(ref loop);
        EmitMix(a);
        a.dec(ecx);
        a.jnz(loop);
        a.mov(eax, ebx);
        PowerPortEmitter.EmitPowerOffWithEax(a);
    }

    /// <summary><c>in eax, dx</c> and fold it into ebx with ecx (<see cref="Mix"/>). Clobbers eax, esi.</summary>
    private static void EmitMix(Assembler a)
    {
        a.@in(eax, dx);
        a.xor(ebx, eax);
        a.imul(ebx, ebx, unchecked((int)ChecksumPrime));
        a.add(ebx, ecx);
        a.mov(esi, ebx);
        a.shr(esi, 15);
        a.xor(ebx, esi);
    }

    private static uint Mix(uint checksum, uint value, uint counter)
    {
        checksum ^= value;
        checksum = unchecked(checksum * ChecksumPrime);
        checksum = unchecked(checksum + counter);
        return checksum ^ (checksum >> 15);
    }
}
