using System.Diagnostics;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Vcpu;
using static Vdi.Vmm.Interop.KvmConstants;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// One KVM vCPU's way into the software engine and back, on the vCPU's own thread. After an I/O or MMIO exit has been
/// dispatched, <see cref="ExitStormPolicy"/> may pick a hot region; then the pending I/O is completed without running
/// guest code (<c>immediate_exit</c> + <c>KVM_RUN</c>: KVM finishes the instruction, e.g. writes an <c>in</c> result
/// into RAX, and returns EINTR), the state comes out of the shared <c>kvm_run</c> page (sync regs: no ioctls),
/// is checked (<see cref="KvmStateCheck"/>), runs one <see cref="SoftwareSlice"/>, and goes back with
/// <c>KVM_SET_REGS</c>. Between slices the vCPU thread passes its pause and stop checks as usual.
/// </summary>
internal sealed class ExitStormSwitch
{
    private const int EINTR = 4, EAGAIN = 11;
    private const ulong AllSets = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;

    private readonly KvmVcpu _vcpu;
    private readonly SoftCpu _cpu;
    private readonly ISoftBus _bus;
    private readonly ExitStormPolicy _policy;

    public ExitStormSwitch(KvmVcpu vcpu, SoftCpu cpu, ISoftBus bus, ExitStormPolicy policy)
    {
        _vcpu = vcpu;
        _cpu = cpu;
        _bus = bus;
        _policy = policy;
        _cpu.HybridMode = true;
        Counters = new EngineSwitchCounters(vcpu.Id);
    }

    public enum Outcome
    {
        /// <summary>Nothing moved; enter KVM as usual.</summary>
        StayInKvm,

        /// <summary>A slice ran and the state is back in KVM.</summary>
        RanSlice,

        /// <summary>Completing the I/O produced a new exit, waiting in <c>kvm_run</c> to be dispatched.</summary>
        PendingExit,
    }

    public EngineSwitchCounters Counters { get; }

    /// <summary>The software CPU's registers, for a crash report when a slice fails.</summary>
    public VcpuRegisters SoftwareRegisters => _cpu.GetRegisters();

    /// <summary>On the vCPU thread before the first <c>KVM_RUN</c>: KVM mirrors the general registers at every exit, so the exiting RIP is free.</summary>
    public void Prepare() => _vcpu.SyncedRegisterSets = KVM_SYNC_X86_REGS;

    /// <summary>After an exit was dispatched; its result is in <c>kvm_run</c>, not yet in the guest.</summary>
    /// <param name="kicked">True once the vCPU has been kicked (pause, stop): the slice ends early.</param>
    public Outcome AfterExit(VcpuExitReason reason, Func<bool> kicked)
    {
        if (reason is not (VcpuExitReason.IoIn or VcpuExitReason.IoOut or VcpuExitReason.MmioRead or VcpuExitReason.MmioWrite))
            return Outcome.StayInKvm;
        var atExit = VcpuRegisters.From(_vcpu.SyncedRegs); // RIP is the exiting instruction
        if (_policy.OnExit(atExit.Rip, atExit, Stopwatch.GetTimestamp()) is not { } verdict)
            return Outcome.StayInKvm;
        Counters.RegionFound(verdict.ByRate);

        // Complete the pending I/O or MMIO without entering the guest; KVM stores every register set on the way out.
        _vcpu.SyncedRegisterSets = AllSets;
        _vcpu.ImmediateExit = true;
        var err = _vcpu.Run();
        _vcpu.ImmediateExit = false; // a kick meanwhile still shows in the thread's flag and its pending signal
        _vcpu.SyncedRegisterSets = KVM_SYNC_X86_REGS;
        if (err == 0)
        {
            Refuse(SwitchRefusal.IoContinues, atExit.Rip);
            return Outcome.PendingExit;
        }
        if (err is not (EINTR or EAGAIN))
            throw new KvmException("KVM_RUN (completing I/O before a switch)", err);

        var registers = VcpuRegisters.From(_vcpu.SyncedRegs);
        var sregs = _vcpu.SyncedSregs;
        var events = _vcpu.SyncedEvents;
        if (KvmStateCheck.Refusal(sregs, events, registers.Rflags) is { } refusal)
        {
            Refuse(refusal, atExit.Rip);
            return Outcome.StayInKvm;
        }
        if (!verdict.Region.Contains(registers.Rip))
        {
            Refuse(SwitchRefusal.OutsideRegion, atExit.Rip);
            return Outcome.StayInKvm;
        }

        _cpu.ImportState(registers, sregs.idt.@base, sregs.idt.limit, new SoftControlRegisters(sregs.cr0, sregs.cr2, sregs.cr3, sregs.cr4, sregs.efer));
        Counters.ToSoftware();
        var result = SoftwareSlice.Run(_cpu, _bus, verdict.Region, _policy.Thresholds, kicked);
        _vcpu.SetRegs(_cpu.ExportState().ToKvm());
        Counters.ToKvm(result.End, result.Instructions, result.DeviceAccesses, result.Ticks);
        _policy.SliceEnded(atExit.Rip, result.DeviceAccesses, Stopwatch.GetTimestamp());
        return Outcome.RanSlice;
    }

    private void Refuse(SwitchRefusal reason, ulong rip)
    {
        Counters.Refused(reason);
        _policy.Refused(rip, Stopwatch.GetTimestamp());
    }
}
