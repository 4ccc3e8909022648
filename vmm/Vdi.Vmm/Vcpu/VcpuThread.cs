using Vdi.Vmm.Interop;
using Vdi.Vmm.Kvm;

namespace Vdi.Vmm.Vcpu;

/// <summary>Why a vCPU thread finished, with the registers at that moment when it crashed.</summary>
public sealed record VcpuStop(int VcpuId, ExitAction Action, string? Reason, VcpuRegisters? Registers, VcpuSpecialRegisters? SpecialRegisters);

/// <summary>
/// One vCPU's thread: enters the guest with <c>KVM_RUN</c>, dispatches exits, parks at the pause
/// rendezvous, and stops when asked or when the guest can't continue. Other threads only set
/// flags and <see cref="Kick"/> it; everything else happens on this thread.
/// </summary>
internal sealed class VcpuThread : VcpuThreadBase, IVcpuRegisterAccess
{
    private const int EINTR = 4, EAGAIN = 11;

    private readonly KvmVcpu _vcpu;
    private readonly ExitDispatcher _dispatcher;
    private long _exits;

    public VcpuThread(KvmVcpu vcpu, ExitDispatcher dispatcher, PauseRendezvous pause, Action<VcpuStop> stopped)
        : base(vcpu.Id, $"vcpu{vcpu.Id}", pause, stopped)
    {
        _vcpu = vcpu;
        _dispatcher = dispatcher;
    }

    /// <summary>Guest entries (KVM_RUN calls that returned an exit), for statistics and benchmarks.</summary>
    public override long Exits => _exits;

    /// <summary>Forces the vCPU out of <c>KVM_RUN</c>: <c>immediate_exit</c> covers the window before entry, the signal the time inside.</summary>
    public override void Kick()
    {
        _vcpu.ImmediateExit = true;
        var tid = NativeThreadId;
        if (tid != 0)
            _ = ThreadSignals.Kick(tid);
    }

    public VcpuRegisters GetRegisters()
    {
        var regs = _vcpu.GetRegs();
        return VcpuRegisters.From(regs);
    }

    public void SetRegisters(in VcpuRegisters registers) => _vcpu.SetRegs(registers.ToKvm());

    protected override void PrepareThread()
    {
        if (ThreadSignals.BlockKickInCurrentThread() != 0)
            throw new KvmException("pthread_sigmask", LibcCalls.Errno);
        _vcpu.SetSignalMask(ThreadSignals.KernelMaskForRun());
    }

    protected override VcpuStop Fault(Exception exception) => exception is KvmException
        ? new VcpuStop(Id, ExitAction.Crash, exception.Message, null, null)
        : new VcpuStop(Id, ExitAction.Crash, DescribeFault(exception), null, null);

    protected override VcpuStop? RunGuest()
    {
        while (true)
        {
            if (StopRequested)
                return null;
            Checkpoint();
            if (StopRequested)
                return null;

            var err = _vcpu.Run();
            if (err is EINTR or EAGAIN)
            {
                _ = ThreadSignals.DrainPendingKicks();
                _vcpu.ImmediateExit = false; // the flags it was set for are re-checked at the top
                continue;
            }
            if (err != 0)
                return Crash($"KVM_RUN failed: {LibcCalls.Describe(err)} (errno {err})");

            _exits++;
            var result = _dispatcher.Dispatch(_vcpu.Exit, Id, this);
            switch (result.Action)
            {
                case ExitAction.Continue:
                    continue;
                case ExitAction.PowerOff:
                    return new VcpuStop(Id, ExitAction.PowerOff, result.Reason, null, null);
                default:
                    return Crash(result.Reason ?? "unhandled exit");
            }
        }
    }

    /// <summary>Releases the vCPU; only after the thread has finished (or never started).</summary>
    public override void Dispose()
    {
        _vcpu.Dispose();
        base.Dispose();
    }

    private VcpuStop Crash(string reason)
    {
        VcpuRegisters? regs = null;
        VcpuSpecialRegisters? sregs = null;
        try
        {
            regs = VcpuRegisters.From(_vcpu.GetRegs());
            sregs = VcpuSpecialRegisters.From(_vcpu.GetSregs());
        }
        catch (KvmException)
        {
            // The report goes out without registers rather than not at all.
        }
        return new VcpuStop(Id, ExitAction.Crash, reason, regs, sregs);
    }
}
