using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.State;
using Vdi.Vmm.Tests.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.State;

/// <summary>
/// A vCPU's state saved mid-computation and restored into a fresh machine — on the same engine and across engines —
/// finishes the computation exactly as an uninterrupted run does.
/// </summary>
public sealed class VcpuStateTests
{
    private const ulong Progress = 0x30_0000;

    [Fact]
    public Task Software_to_software() => RoundTripAsync(EngineChoice.Software, EngineChoice.Software, 60_000_000);

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public Task Kvm_to_kvm() => RoundTripAsync(EngineChoice.Kvm, EngineChoice.Kvm, 300_000);

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public Task Software_to_kvm() => RoundTripAsync(EngineChoice.Software, EngineChoice.Kvm, 300_000);

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public Task Kvm_to_software() => RoundTripAsync(EngineChoice.Kvm, EngineChoice.Software, 300_000);

    [Theory]
    [InlineData(EngineChoice.Software, EngineChoice.Software)]
    public Task A_vcpu_halted_between_timer_ticks_resumes_its_ticks(EngineChoice from, EngineChoice to) => TicksAsync(from, to);

    [Theory]
    [Trait("Requires", KvmMachines.Trait)]
    [InlineData(EngineChoice.Kvm, EngineChoice.Kvm)]
    [InlineData(EngineChoice.Software, EngineChoice.Kvm)]
    [InlineData(EngineChoice.Kvm, EngineChoice.Software)]
    public Task On_KVM_a_vcpu_halted_between_timer_ticks_resumes_its_ticks(EngineChoice from, EngineChoice to) => TicksAsync(from, to);

    [Fact]
    public void A_state_for_more_vcpus_or_with_a_field_out_of_range_changes_nothing()
    {
        using var two = KvmMachines.Build(Checksum(10), vcpus: 2, memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        using var one = KvmMachines.Build(Checksum(10), vcpus: 1, memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        var state = Save(two);
        Assert.Contains("more vCPUs", Assert.Throws<StateFormatException>(() => one.RestoreVcpus(state)).Message, StringComparison.Ordinal);

        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        var snapshot = one.Vcpus0Snapshot() with { Cr0 = 0 }; // paging off: not something the software engine runs
        snapshot.Write(writer, 0);
        writer.Finish();
        stream.Position = 0;
        var e = Assert.Throws<StateFormatException>(() => one.RestoreVcpus(StateReader.Read(stream)));
        Assert.Contains("control registers", e.Message, StringComparison.Ordinal);
    }

    private static async Task RoundTripAsync(EngineChoice from, EngineChoice to, int iterations)
    {
        var image = Checksum(iterations);
        using var source = KvmMachines.Build(image, memoryMiB: 8, engine: from, exitStormSwitching: false);
        source.Start();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (source.Memory.Read<ulong>(Progress) is var left && (left == 0 || left > (ulong)iterations * 2 / 3))
        {
            Assert.True(DateTime.UtcNow < deadline, "the guest never got a third of the way");
            await Task.Delay(1);
        }
        Assert.True(source.PauseAll(TimeSpan.FromSeconds(10)));
        var at = source.Memory.Read<ulong>(Progress);
        Assert.NotEqual(0UL, at); // mid-computation, not done
        var state = Save(source);
        var memory = new byte[8 << 20];
        Assert.True(source.Memory.TryRead(0, memory));
        source.Stop();

        using var destination = KvmMachines.Build(image, memoryMiB: 8, engine: to, exitStormSwitching: false);
        destination.Memory.Write(0, memory);
        destination.RestoreVcpus(state);
        state.EnsureAllTaken();
        var exit = await KvmMachines.RunToExitAsync(destination, 120);

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, Expected(iterations), null), exit);
    }

    /// <summary>
    /// A guest halted between the ticks of its periodic LAPIC timer (IF set, the IDT and the APIC programmed, a tick
    /// perhaps requested or in service) is saved after 60 ticks and restored into a fresh machine, which goes on to 1,500.
    /// </summary>
    private static async Task TicksAsync(EngineChoice from, EngineChoice to)
    {
        const int Ticks = 1500; // 1.5 s at 1 kHz: a slow poll on a loaded host still pauses it mid-way
        var image = TickGuest(Ticks);
        using var source = KvmMachines.Build(image, memoryMiB: 8, engine: from, exitStormSwitching: false);
        source.Start();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (source.Memory.Read<uint>(image.Symbol("ticks")) < 60)
        {
            Assert.True(DateTime.UtcNow < deadline, "the timer never ticked 60 times");
            await Task.Delay(5);
        }
        Assert.True(source.PauseAll(TimeSpan.FromSeconds(10)));
        var state = Save(source);
        var memory = new byte[8 << 20];
        Assert.True(source.Memory.TryRead(0, memory));
        source.Stop();
        Assert.True(state.Sections.Count == 1);

        using var destination = KvmMachines.Build(image, memoryMiB: 8, engine: to, exitStormSwitching: false);
        destination.Memory.Write(0, memory);
        destination.RestoreVcpus(state);
        var exit = await KvmMachines.RunToExitAsync(destination, 120);

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, 0, null), exit);
        Assert.Equal((uint)Ticks, destination.Memory.Read<uint>(image.Symbol("ticks")));
    }

    /// <summary>The periodic LAPIC timer at 1 kHz; the main loop halts until <paramref name="ticks"/> ticks were counted.</summary>
    private static GuestImage TickGuest(int ticks) => GuestAssembly.Build("ticks", GuestLayout.ImageBase, g =>
    {
        var runtime = new Vdi.Guest.GuestRuntime(g);
        var a = g.Asm;
        var count = g.Data("ticks", 64, alignment: 64);
        g.Export("ticks", count);
        var handler = g.CreateLabel("tick");
        var wait = a.CreateLabel("wait");
        runtime.Interrupts.AddGate(0x40, handler);
        runtime.EmitCpuSetup();
        Vdi.Guest.ApicEmitter.EmitStartPeriodicTimer(a, 0x40, 1_000_000);
        a.sti();
        a.Label(ref wait);
        a.hlt();
        a.cmp(__dword_ptr[count], ticks);
        a.jb(wait);
        a.cli();
        PowerPortEmitter.EmitPowerOff(a, 0);

        g.Bind(ref handler);
        a.push(rax);
        a.push(rdx);
        a.inc(__dword_ptr[count]);
        Vdi.Guest.ApicEmitter.EmitEndOfInterrupt(a);
        a.pop(rdx);
        a.pop(rax);
        a.iretq();
        runtime.EmitRoutines();
    });

    private static SavedState Save(Vmm.Machine.Machine machine)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        machine.SaveVcpus(writer);
        writer.Finish();
        stream.Position = 0;
        return StateReader.Read(stream);
    }

    /// <summary><c>rax = rax * 31 + rcx</c> for rcx = N … 1, the count left stored at <see cref="Progress"/>; powers off with eax's low 16 bits.</summary>
    private static GuestImage Checksum(int iterations) => GuestAssembly.Build("checksum", GuestLayout.ImageBase, g =>
    {
        var a = g.Asm;
        var loop = a.CreateLabel();
        a.xor(eax, eax);
        a.mov(ecx, iterations);
        a.mov(rbx, Progress);
        a.Label(ref loop);
        a.imul(rax, rax, 31);
        a.add(rax, rcx);
        a.mov(__qword_ptr[rbx], rcx);
        a.dec(rcx);
        a.jnz(loop);
        a.and(eax, 0xFFFF);
        PowerPortEmitter.EmitPowerOffWithEax(a);
    });

    private static int Expected(int iterations)
    {
        ulong rax = 0;
        for (ulong rcx = (ulong)iterations; rcx > 0; rcx--)
            rax = unchecked((rax * 31) + rcx);
        return (int)(rax & 0xFFFF);
    }
}

internal static class SnapshotTestExtensions
{
    /// <summary>vCPU 0's snapshot of a machine that has not started.</summary>
    public static VcpuSnapshot Vcpus0Snapshot(this Vmm.Machine.Machine machine)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        machine.SaveVcpus(writer);
        writer.Finish();
        stream.Position = 0;
        return VcpuSnapshot.Read(StateReader.Read(stream), 0);
    }
}
