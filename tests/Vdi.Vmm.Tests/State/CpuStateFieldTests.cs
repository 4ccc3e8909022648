using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.State;
using Vdi.Vmm.Tests.Machine;
using static Iced.Intel.AssemblerRegisters;
using Msr = Vdi.Vmm.State.ModelSpecificRegisters;

namespace Vdi.Vmm.Tests.State;

/// <summary>
/// The vCPU section's segments, GDT, MSRs and FPU state: out and back in on each engine, a guest's MSRs carried across
/// engines while it runs, and what the software engine cannot run refused with the reason, nothing changed.
/// </summary>
public sealed class CpuStateFieldTests
{
    private const ulong Lstar = 0xFFFF_8000_1234_5000, Star = 0x0023_0010_0000_0000;

    [Fact]
    public void The_software_engine_keeps_segments_gdt_msrs_and_fpu_control_words() => RoundTrip(EngineChoice.Software, Changed(withData: false));

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public void Kvm_keeps_segments_gdt_msrs_and_x87_and_sse_registers() => RoundTrip(EngineChoice.Kvm, Changed(withData: true));

    [Fact]
    public void A_fresh_software_vcpu_describes_the_long_mode_setup_as_kvm_does()
    {
        using var machine = KvmMachines.Build(MsrGuest(1), memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        var s = machine.Vcpus0Snapshot();
        Assert.Equal(LongModeSetup.Segments(), s.Segments);
        Assert.Equal(((ulong)GuestLayout.GdtAddress, LongModeSetup.GdtLimit), (s.GdtBase, s.GdtLimit));
        Assert.Equal(FxsaveArea.Reset(), s.Fpu);
        Assert.Equal(Msr.ResetValues().Select(v => (ulong?)v), s.Msrs);
    }

    [Theory]
    [InlineData("xmm", "XMM registers hold values")]
    [InlineData("x87", "x87 registers hold values")]
    [InlineData("fs_base", "FS has base 0x7F0000000000")]
    [InlineData("cs_32", "is not the flat 64-bit DPL-0 code segment")]
    [InlineData("lstar", "MSR 0xC0000082 (LSTAR) = 0x8000000000000000")]
    [InlineData("misc_enable", "MSR 0x1A0 (MISC_ENABLE) = 0x400000001")]
    public void What_the_software_engine_cannot_run_is_refused_and_changes_nothing(string what, string reason)
    {
        using var machine = KvmMachines.Build(MsrGuest(1), memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        var before = machine.Vcpus0Snapshot();
        var segments = (SegmentRegister[])before.Segments.Clone();
        var fpu = (byte[])before.Fpu.Clone();
        var msrs = (ulong?[])before.Msrs.Clone();
        switch (what)
        {
            case "xmm":
                fpu[FxsaveArea.XmmOffset + 16] = 1;
                break;
            case "x87":
                fpu[FxsaveArea.StOffset + 9] = 0x3F;
                break;
            case "fs_base":
                segments[SegmentRegister.Fs] = segments[SegmentRegister.Fs] with { Base = 0x7F00_0000_0000 };
                break;
            case "cs_32":
                segments[SegmentRegister.Cs] = segments[SegmentRegister.Cs] with { Attributes = (segments[SegmentRegister.Cs].Attributes & ~SegmentRegister.LongMode) | SegmentRegister.Default32 };
                break;
            case "lstar":
                msrs[1] = 0x8000_0000_0000_0000; // not canonical
                break;
            default:
                msrs[^1] = (1UL << 34) | 1; // XD disable: changes what NX means
                break;
        }
        var e = Assert.Throws<StateFormatException>(() => machine.RestoreVcpus(State(before with { Segments = segments, Fpu = fpu, Msrs = msrs, Rip = 0x1234 })));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Equivalent(before, machine.Vcpus0Snapshot(), strict: true);
    }

    [Fact]
    public void A_refused_vcpu_leaves_every_vcpu_as_it_was()
    {
        using var machine = KvmMachines.Build(MsrGuest(1), vcpus: 2, memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        var saved = StateStreams.Save(machine, devices: false);
        var (first, second) = (VcpuSnapshot.Read(saved, 0), VcpuSnapshot.Read(saved, 1));
        var fpu = FxsaveArea.Reset();
        fpu[FxsaveArea.XmmOffset] = 1;
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        (first with { Rip = 0x1234 }).Write(writer, 0);
        (second with { Fpu = fpu }).Write(writer, 1);
        writer.Finish();
        stream.Position = 0;
        Assert.Contains("vcpu 1: the x87/SSE state holds data", Assert.Throws<StateFormatException>(() => machine.RestoreVcpus(StateReader.Read(stream))).Message, StringComparison.Ordinal);
        Assert.Equal(first.Rip, machine.Vcpus0Snapshot().Rip); // vCPU 0 was not restored before vCPU 1 was refused
    }

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public void A_kvm_vcpus_xmm_values_are_refused_by_the_software_engine_which_stays_as_it_was()
    {
        using var kvm = KvmMachines.Build(MsrGuest(1), memoryMiB: 8, engine: EngineChoice.Kvm, exitStormSwitching: false);
        var fresh = kvm.Vcpus0Snapshot();
        var fpu = (byte[])fresh.Fpu.Clone();
        fpu.AsSpan(FxsaveArea.XmmOffset + (3 * 16), 16).Fill(0xA5); // XMM3
        kvm.RestoreVcpus(State(fresh with { Fpu = fpu }));
        var fromKvm = kvm.Vcpus0Snapshot();
        Assert.Equal(0xA5, fromKvm.Fpu[FxsaveArea.XmmOffset + (3 * 16)]); // KVM really holds it

        using var software = KvmMachines.Build(MsrGuest(1), memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        var before = software.Vcpus0Snapshot();
        var e = Assert.Throws<StateFormatException>(() => software.RestoreVcpus(State(fromKvm)));
        Assert.Contains("the x87/SSE state holds data (XMM registers hold values); the software engine has no x87/SSE to run it", e.Message, StringComparison.Ordinal);
        Assert.Equivalent(before, software.Vcpus0Snapshot(), strict: true);
        software.RestoreVcpus(State(fromKvm with { Fpu = fresh.Fpu })); // the same state without the XMM value: taken
    }

    [Fact]
    public async Task The_software_engines_rdmsr_and_wrmsr_keep_the_inert_msrs_with_the_architectures_checks()
    {
        using var machine = KvmMachines.Build(MsrGuest(0), memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, 0, null), await KvmMachines.RunToExitAsync(machine));

        using var faulting = KvmMachines.Build(MsrGuest(0, nonCanonicalLstar: true), memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, Vdi.Guest.InterruptEmitter.ExceptionExitCodeBase + 13, null), await KvmMachines.RunToExitAsync(faulting)); // #GP
    }

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public Task Msrs_a_guest_wrote_on_kvm_are_there_when_it_goes_on_on_the_software_engine() => AcrossAsync(EngineChoice.Kvm, EngineChoice.Software);

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public Task Msrs_a_guest_wrote_on_the_software_engine_are_there_when_it_goes_on_on_kvm() => AcrossAsync(EngineChoice.Software, EngineChoice.Kvm);

    private static void RoundTrip(EngineChoice engine, Func<VcpuSnapshot, VcpuSnapshot> change)
    {
        using var machine = KvmMachines.Build(MsrGuest(1), memoryMiB: 8, engine: engine, exitStormSwitching: false);
        var wanted = change(machine.Vcpus0Snapshot());
        machine.RestoreVcpus(State(wanted));
        var got = machine.Vcpus0Snapshot();

        Assert.Equal(wanted.Segments, got.Segments);
        Assert.Equal((wanted.GdtBase, wanted.GdtLimit), (got.GdtBase, got.GdtLimit));
        Assert.Equal(Convert.ToHexString(wanted.Fpu), Convert.ToHexString(got.Fpu));
        var tsc = Msr.Saved.Select(m => m.Index).ToList().IndexOf(Msr.Tsc);
        for (var i = 0; i < wanted.Msrs.Length; i++)
        {
            if (i != tsc)
                Assert.True(wanted.Msrs[i] == got.Msrs[i], $"MSR {Msr.Name(Msr.Saved[i].Index)}: 0x{wanted.Msrs[i]:X} restored, 0x{got.Msrs[i]:X} saved");
        }
        // The software engine carries the TSC as given. KVM's counts on from the restored value — where the host's KVM can
        // offset it: this nested (PVM) host keeps the host's TSC, which is past it too. Never behind the saved value.
        if (engine == EngineChoice.Software)
            Assert.Equal(wanted.Msrs[tsc], got.Msrs[tsc]);
        else
            Assert.True(got.Msrs[tsc] >= wanted.Msrs[tsc], $"the TSC went back: 0x{got.Msrs[tsc]:X} after restoring 0x{wanted.Msrs[tsc]:X}");
    }

    /// <summary>Every new field changed from a fresh vCPU's; <paramref name="withData"/> adds x87/SSE register values (KVM holds them).</summary>
    private static Func<VcpuSnapshot, VcpuSnapshot> Changed(bool withData) => s =>
    {
        var segments = (SegmentRegister[])s.Segments.Clone();
        segments[SegmentRegister.Tr] = segments[SegmentRegister.Tr] with { Selector = 0x28, Base = 0x3000 };
        segments[SegmentRegister.Ds] = segments[SegmentRegister.Ds] with { Selector = 0x18 };
        if (withData)
            segments[SegmentRegister.Gs] = segments[SegmentRegister.Gs] with { Base = 0xFFFF_8880_0000_0000 };
        var fpu = FxsaveArea.WithControls(0x27F, 0x9FC0);
        if (withData)
        {
            for (var i = 0; i < FxsaveArea.XmmBytes; i++)
                fpu[FxsaveArea.XmmOffset + i] = (byte)(i * 7);
            fpu.AsSpan(FxsaveArea.StOffset, 10).Fill(0x11); // ST0
            fpu[FxsaveArea.FtwOffset] = 0x01;
            fpu[FxsaveArea.FswOffset + 1] = 0x38; // TOP = 7
        }
        ulong?[] msrs = [Star, Lstar, 0xFFFF_8000_0000_1000, 0x47700, 0xFFFF_8880_1000_0000, 0x10, 0xFFFF_8000_2000_0000, 0xFFFF_8000_0000_2000,
            0x0007_0106_0007_0106, 1_000_000_000_000, s.Msrs[10] is null ? null : 7, s.Msrs[11]];
        return s with { Segments = segments, GdtBase = 0x2000, GdtLimit = 0x3F, Fpu = fpu, Msrs = msrs };
    };

    /// <summary>The guest writes STAR and LSTAR on <paramref name="from"/>, is saved while halted between timer ticks, and reads them back on <paramref name="to"/>.</summary>
    private static async Task AcrossAsync(EngineChoice from, EngineChoice to)
    {
        var image = MsrGuest(1500); // 1.5 s at 1 kHz: a slow poll on a loaded host still pauses it mid-way
        using var source = KvmMachines.Build(image, memoryMiB: 8, engine: from, exitStormSwitching: false);
        source.Start();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (source.Memory.Read<uint>(image.Symbol("ticks")) < 20)
        {
            Assert.True(DateTime.UtcNow < deadline, "the timer never ticked 20 times");
            await Task.Delay(5);
        }
        Assert.True(source.PauseAll(TimeSpan.FromSeconds(10)));
        var state = StateStreams.Save(source, devices: false);
        var memory = new byte[8 << 20];
        Assert.True(source.Memory.TryRead(0, memory));
        source.Stop();
        Assert.Equal([Star, Lstar], VcpuSnapshot.Read(StateStreams.Copy(state), 0).Msrs[..2]);

        using var destination = KvmMachines.Build(image, memoryMiB: 8, engine: to, exitStormSwitching: false);
        destination.Memory.Write(0, memory);
        destination.RestoreVcpus(state);
        state.EnsureAllTaken();
        var exit = await KvmMachines.RunToExitAsync(destination, 60);

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, 0, null), exit); // 0: both MSRs read back as written
        Assert.Equal(1500u, destination.Memory.Read<uint>(image.Symbol("ticks")));
    }

    /// <summary>
    /// Writes STAR and LSTAR, halts through <paramref name="ticks"/> ticks of a 1 kHz LAPIC timer, then reads both back:
    /// powers off with 0 when they are as written, 1 or 2 when not. With <paramref name="nonCanonicalLstar"/> it first
    /// writes a non-canonical LSTAR, whose #GP powers it off with exception 13's code.
    /// </summary>
    private static GuestImage MsrGuest(int ticks, bool nonCanonicalLstar = false) => GuestAssembly.Build("msrs", GuestLayout.ImageBase, g =>
    {
        var runtime = new Vdi.Guest.GuestRuntime(g);
        var a = g.Asm;
        var count = g.Data("ticks", 64, alignment: 64);
        g.Export("ticks", count);
        var tick = g.CreateLabel("tick");
        var wait = a.CreateLabel("wait");
        var done = a.CreateLabel("done");
        var bad = a.CreateLabel("bad");
        runtime.Interrupts.AddGate(0x40, tick);
        runtime.EmitCpuSetup();
        WriteMsr(a, Msr.Star, Star);
        if (nonCanonicalLstar)
            WriteMsr(a, Msr.Lstar, 0x8000_0000_0000_0000);
        WriteMsr(a, Msr.Lstar, Lstar);
        if (ticks > 0)
        {
            Vdi.Guest.ApicEmitter.EmitStartPeriodicTimer(a, 0x40, 1_000_000);
            a.sti();
            a.Label(ref wait);
            a.hlt();
            a.cmp(__dword_ptr[count], ticks);
            a.jb(wait);
            a.cli();
        }
        a.mov(ecx, Msr.Star);
        a.rdmsr();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.mov(rbx, Star);
        a.cmp(rax, rbx);
        a.mov(eax, 1);
        a.jne(bad);
        a.mov(ecx, Msr.Lstar);
        a.rdmsr();
        a.shl(rdx, 32);
        a.or(rax, rdx);
        a.mov(rbx, Lstar);
        a.cmp(rax, rbx);
        a.mov(eax, 2);
        a.jne(bad);
        a.xor(eax, eax);
        a.Label(ref done);
        PowerPortEmitter.EmitPowerOffWithEax(a);
        a.Label(ref bad);
        a.jmp(done);

        g.Bind(ref tick);
        a.push(rax);
        a.push(rdx);
        a.inc(__dword_ptr[count]);
        Vdi.Guest.ApicEmitter.EmitEndOfInterrupt(a);
        a.pop(rdx);
        a.pop(rax);
        a.iretq();
        runtime.EmitRoutines();
    });

    private static void WriteMsr(Iced.Intel.Assembler a, uint index, ulong value)
    {
        a.mov(ecx, index);
        a.mov(eax, (uint)value);
        a.mov(edx, (uint)(value >> 32));
        a.wrmsr();
    }

    private static SavedState State(VcpuSnapshot snapshot)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        snapshot.Write(writer, 0);
        writer.Finish();
        stream.Position = 0;
        return StateReader.Read(stream);
    }
}
