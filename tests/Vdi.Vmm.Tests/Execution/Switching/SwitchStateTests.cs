using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Execution.Switching;
using Vdi.Vmm.Interop;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Execution.Switching;

/// <summary>What may move between KVM and the software engine, checked without KVM.</summary>
public sealed class SwitchStateTests
{
    private static readonly kvm_sregs s_longMode = LongModeSetup.Apply(default) with { idt = new kvm_dtable { @base = 0x10_2000, limit = 0xFFF } };

    [Fact]
    public void The_vmms_long_mode_state_may_switch()
    {
        Assert.Null(KvmStateCheck.Refusal(s_longMode, default, 0x2 | SoftCpu.CarriedFlags | 0x200 | 0x8C1));
    }

    [Fact]
    public void A_guest_with_its_own_page_tables_and_global_pages_may_switch()
    {
        var own = s_longMode with { cr3 = 0x20_0000, cr4 = s_longMode.cr4 | (1UL << 7), efer = s_longMode.efer | (1UL << 11) };
        Assert.Null(KvmStateCheck.Refusal(own, default, 2));
    }

    [Fact]
    public void Other_segments_control_registers_flags_or_pending_events_refuse_the_switch_with_the_reason()
    {
        var user = s_longMode with { cs = s_longMode.cs with { dpl = 3, selector = 0x1B } };
        var compatibility = s_longMode with { cs = s_longMode.cs with { l = 0 } };
        var pcid = s_longMode with { cr4 = s_longMode.cr4 | (1UL << 17) };
        var smep = s_longMode with { cr4 = s_longMode.cr4 | (1UL << 20) };
        var pagingOff = s_longMode with { cr0 = s_longMode.cr0 & ~(1UL << 31) };
        Assert.Equal(SwitchRefusal.Segments, KvmStateCheck.Refusal(user, default, 2));
        Assert.Equal(SwitchRefusal.Segments, KvmStateCheck.Refusal(compatibility, default, 2));
        Assert.Equal(SwitchRefusal.ControlRegisters, KvmStateCheck.Refusal(pcid, default, 2));
        Assert.Equal(SwitchRefusal.ControlRegisters, KvmStateCheck.Refusal(smep, default, 2));
        Assert.Equal(SwitchRefusal.ControlRegisters, KvmStateCheck.Refusal(pagingOff, default, 2));
        Assert.Equal(SwitchRefusal.Flags, KvmStateCheck.Refusal(s_longMode, default, 2 | (1 << 10))); // DF
        Assert.Equal(SwitchRefusal.Flags, KvmStateCheck.Refusal(s_longMode, default, 2 | (1 << 8))); // TF
        Assert.Equal(SwitchRefusal.PendingEvent, KvmStateCheck.Refusal(s_longMode, new kvm_vcpu_events { interrupt_shadow = 1 }, 2));
        Assert.Equal(SwitchRefusal.PendingEvent, KvmStateCheck.Refusal(s_longMode, new kvm_vcpu_events { exception_pending = 1 }, 2));
        Assert.Equal(SwitchRefusal.PendingEvent, KvmStateCheck.Refusal(s_longMode, new kvm_vcpu_events { nmi_pending = 1 }, 2));
    }

    [Fact]
    public void Registers_rip_rflags_the_idt_and_control_registers_round_trip_through_the_software_cpu_exactly()
    {
        var cpu = new SoftCpu(new NoBus(), 0, 1, GuestLayout.ImageBase);
        var values = Enumerable.Range(1, 16).Select(n => 0x0123_4567_89AB_CDEFUL * (ulong)n).ToArray();
        var state = new VcpuRegisters(values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7],
            values[8], values[9], values[10], values[11], values[12], values[13], values[14], values[15], 0x10_1234, 0x2 | 0x8D5 | 0x200);

        var control = new SoftControlRegisters(LongModeSetup.Cr0, 0x7777_1000, 0x20_3000, LongModeSetup.Cr4 | (1UL << 7), LongModeSetup.Efer | (1UL << 11));
        cpu.ImportState(state, 0x10_2000, 0xFFF, control);

        Assert.Equal(state, cpu.ExportState());
        Assert.Equal(control, cpu.ControlRegisters);
        Assert.Equal(0x10_2000UL, cpu.IdtBase);
        Assert.Equal((ushort)0xFFF, cpu.IdtLimit);
        Assert.True(cpu.InterruptsEnabled);
    }

    [Fact]
    public void A_hybrid_cpu_never_delivers_interrupts()
    {
        var cpu = new SoftCpu(new NoBus(), 0, 1, GuestLayout.ImageBase) { HybridMode = true };
        cpu.ImportState(default(VcpuRegisters) with { Rip = GuestLayout.ImageBase, Rflags = 0x202 }, 0x10_2000, 0xFFF, SoftControlRegisters.Boot);
        cpu.PostInterrupt(0x40);
        Assert.False(cpu.CanRun && cpu.Halted);
        // It fetches code rather than delivering vector 0x40; the fetch faults (this bus has no page tables), and a
        // hybrid CPU leaves every exception to KVM.
        Assert.Throws<SoftwareSliceExit>(cpu.Step);
    }

    [Theory]
    [InlineData(new byte[] { 0xEC }, true)] // in al, dx
    [InlineData(new byte[] { 0x48, 0x01, 0xD8 }, true)] // add rax, rbx
    [InlineData(new byte[] { 0x50 }, true)] // push rax
    [InlineData(new byte[] { 0x66, 0x50 }, false)] // push ax
    [InlineData(new byte[] { 0xF4 }, false)] // hlt
    [InlineData(new byte[] { 0xFB }, false)] // sti
    [InlineData(new byte[] { 0xF0, 0x01, 0x03 }, true)] // lock add [rbx], eax: a host atomic, or a guarded segment
    [InlineData(new byte[] { 0xF0, 0x0F, 0xAB, 0x03 }, false)] // lock bts [rbx], eax: not modelled
    [InlineData(new byte[] { 0x0F, 0x20, 0xD8 }, false)] // mov rax, cr3
    [InlineData(new byte[] { 0x0F, 0x32 }, false)] // rdmsr
    [InlineData(new byte[] { 0x64, 0x8B, 0x03 }, false)] // mov eax, fs:[rbx]
    [InlineData(new byte[] { 0x7A, 0x00 }, false)] // jp
    [InlineData(new byte[] { 0xFF, 0xE0 }, false)] // jmp rax
    public void Only_instructions_the_engine_models_and_kvm_need_not_serve_run_in_a_slice(byte[] code, bool runs)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), 0x1000);
        decoder.Decode(out var instruction);
        Assert.Equal(runs, SoftCpu.RunsInSlice(instruction));
    }

    [Fact]
    public void Thresholds_that_would_break_interrupt_latency_or_make_no_sense_are_refused_by_name()
    {
        var image = Guests.TestGuests.PowerOff(0);
        var tooLong = new Vdi.Vmm.Machine.MachineConfig { Image = image, ExitStorm = ExitStormThresholds.Default with { SliceTime = TimeSpan.FromMilliseconds(2) } };
        var noCluster = new Vdi.Vmm.Machine.MachineConfig { Image = image, ExitStorm = ExitStormThresholds.Default with { MinClusterSize = 1 } };
        Assert.Equal(nameof(ExitStormThresholds.SliceTime), Assert.Throws<ArgumentException>(tooLong.Validate).ParamName);
        Assert.Equal(nameof(ExitStormThresholds.MinClusterSize), Assert.Throws<ArgumentException>(noCluster.Validate).ParamName);
        ExitStormThresholds.Default.Validate();
    }

    private sealed class NoBus : ISoftBus
    {
        public Lock AtomicGate { get; } = new();

        public int Fetch(ulong rip, Span<byte> window) => 0;

        public ulong ReadMemory(SoftCpu cpu, ulong address, int size) => 0;

        public void WriteMemory(SoftCpu cpu, ulong address, int size, ulong value)
        {
        }

        public ulong PortIn(SoftCpu cpu, ushort port, int size) => 0;

        public void PortOut(SoftCpu cpu, ushort port, int size, ulong value)
        {
        }

        public void TripleFault(SoftCpu cpu)
        {
        }
    }
}
