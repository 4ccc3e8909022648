using Iced.Intel;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Machine;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Tests.Integrity.IntegrityGuest;

namespace Vdi.Vmm.Tests.Integrity;

/// <summary>Privileged mode on either engine (<see cref="SoftwareIntegrityTests"/>, <see cref="KvmIntegrityTests"/>).</summary>
internal static class PrivilegedModeCases
{
    private const ulong Counters = Results + 0x200; // one qword per vCPU, 64 bytes apart
    private const ulong Changed = Results + 0x400;  // privileged runs that saw another vCPU's counter move
    private const ulong InsideRuns = Results + 0x408;
    private const ulong Finished = Results + 0x410; // vCPUs done with their cycles
    private const ulong SeenInside = Results + 0x418; // the region's first qword, read from inside
    private const ulong SeenOutside = Results + 0x420; // the same address, read from outside afterwards
    private const int Vcpus = 4;

    /// <summary>
    /// vCPU 0 enters privileged mode <paramref name="cycles"/> times while the others count as fast as they can; inside,
    /// it reads every counter through the window, waits, and reads again: nothing moved. The region reads as all ones from
    /// outside, and the host cannot see it as RAM.
    /// </summary>
    public static async Task OthersStandStillAsync(EngineChoice engine, int cycles, int spin)
    {
        var image = Build((a, d) =>
        {
            // First every other vCPU has run outside at least once: on a loaded host their threads may start late.
            for (var vcpu = 1; vcpu < Vcpus; vcpu++)
            {
                var wait = a.CreateLabel();
                a.mov(rax, Counters + ((ulong)vcpu * 64));
                a.Label(ref wait);
                a.pause();
                a.cmp(__qword_ptr[rax], 0);
                a.je(wait);
            }
            var loop = a.CreateLabel();
            a.mov(r13d, cycles);
            a.Label(ref loop);
            a.call(d.Privileged);
            a.dec(r13d);
            a.jnz(loop);
            a.mov(rax, RegionBase);
            a.mov(rax, __qword_ptr[rax]);
            a.mov(__qword_ptr[SeenOutside], rax);
        }, Count, a => CheckCounters(a, spin));
        using var machine = IntegrityGuest.Machine(engine, image, vcpus: Vcpus);
        await RunAsync(machine);

        Assert.Equal(RegionBase, machine.Memory.Read<ulong>(LoadResult));
        Assert.Equal((ulong)cycles, machine.Memory.Read<ulong>(InsideRuns));
        Assert.Equal(0UL, machine.Memory.Read<ulong>(Changed));
        for (var vcpu = 1; vcpu < Vcpus; vcpu++)
            Assert.NotEqual(0UL, machine.Memory.Read<ulong>(Counters + ((ulong)vcpu * 64))); // they did run outside
        Assert.Equal(PrivilegedCodeFirstQword(spin), machine.Memory.Read<ulong>(SeenInside));
        Assert.Equal(ulong.MaxValue, machine.Memory.Read<ulong>(SeenOutside));
        Assert.False(machine.Memory.IsRam(RegionBase, 8));
        Assert.Equal(-1, machine.Privileged.Inside);
        Assert.Equal(cycles, machine.Privileged.Entries);
    }

    /// <summary>Every vCPU enters and leaves <paramref name="cyclesPerVcpu"/> times at once: they take turns, nobody deadlocks.</summary>
    public static async Task ManyCyclesOnFourVcpusAsync(EngineChoice engine, int cyclesPerVcpu)
    {
        var image = Build((a, d) =>
        {
            Cycle(a, d, cyclesPerVcpu);
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.pause();
            a.cmp(__qword_ptr[Finished], Vcpus);
            a.jne(wait);
        }, (a, d) => Cycle(a, d, cyclesPerVcpu), a => CheckCounters(a, 10));
        using var machine = IntegrityGuest.Machine(engine, image, vcpus: Vcpus);
        await RunAsync(machine, 600);

        Assert.Equal((ulong)(cyclesPerVcpu * Vcpus), machine.Memory.Read<ulong>(InsideRuns));
        Assert.Equal(cyclesPerVcpu * Vcpus, machine.Privileged.Entries);
        Assert.Equal(0UL, machine.Memory.Read<ulong>(Changed));
    }

    /// <summary>Other vCPUs: count forever.</summary>
    private static void Count(Assembler a, IntegrityDriverLabels d)
    {
        var loop = a.CreateLabel();
        a.mov(rbx, Counters);
        a.mov(rax, r12);
        a.shl(rax, 6);
        a.add(rbx, rax);
        a.Label(ref loop);
        a.inc(__qword_ptr[rbx]);
        a.jmp(loop);
    }

    /// <summary>Enter and leave <paramref name="cycles"/> times, counting each in the vCPU's counter, then count the vCPU finished.</summary>
    private static void Cycle(Assembler a, IntegrityDriverLabels d, int cycles)
    {
        var loop = a.CreateLabel();
        a.mov(r13d, cycles);
        a.Label(ref loop);
        a.mov(rbx, Counters);
        a.mov(rax, r12);
        a.shl(rax, 6);
        a.inc(__qword_ptr[rbx + rax]);
        a.call(d.Privileged);
        a.dec(r13d);
        a.jnz(loop);
        a.@lock.inc(__qword_ptr[Finished]);
    }

    /// <summary>The privileged code: through the window, read the counters, wait, compare; note the run and the region's first bytes.</summary>
    private static void CheckCounters(Assembler a, int spin)
    {
        var wait = a.CreateLabel();
        var same = a.CreateLabel();
        a.mov(rsi, WindowBase + Counters);
        a.mov(r8, __qword_ptr[rsi]);
        a.mov(r9, __qword_ptr[rsi + 64]);
        a.mov(r10, __qword_ptr[rsi + 128]);
        a.mov(r11, __qword_ptr[rsi + 192]);
        a.mov(ecx, spin);
        a.Label(ref wait);
        a.pause();
        a.dec(ecx);
        a.jnz(wait);
        a.xor(r8, __qword_ptr[rsi]);
        a.xor(r9, __qword_ptr[rsi + 64]);
        a.xor(r10, __qword_ptr[rsi + 128]);
        a.xor(r11, __qword_ptr[rsi + 192]);
        a.or(r8, r9);
        a.or(r8, r10);
        a.or(r8, r11);
        a.jz(same);
        a.inc(__qword_ptr[rsi + (int)(Changed - Counters)]);
        a.Label(ref same);
        a.inc(__qword_ptr[rsi + (int)(InsideRuns - Counters)]);
        a.mov(rax, RegionBase);
        a.mov(rax, __qword_ptr[rax]);
        a.mov(__qword_ptr[rsi + (int)(SeenInside - Counters)], rax);
        a.ret();
    }

    private static ulong PrivilegedCodeFirstQword(int spin)
    {
        var asm = new Assembler(64);
        CheckCounters(asm, spin);
        using var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), RegionBase);
        return BitConverter.ToUInt64(stream.ToArray(), 0);
    }

    private static async Task RunAsync(Vmm.Machine.Machine machine, int timeoutSeconds = 120)
    {
        var exit = await KvmMachines.RunToExitAsync(machine, timeoutSeconds);
        Assert.True(exit == new MachineExit(MachineExitKind.PoweredOff, 0, null), $"{exit}; alerts: {string.Join("\n", machine.Integrity.Alerts)}");
    }
}
