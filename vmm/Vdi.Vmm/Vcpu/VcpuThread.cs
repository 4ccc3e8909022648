using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Execution.Switching;
using Vdi.Vmm.Interop;
using Vdi.Vmm.Kvm;

namespace Vdi.Vmm.Vcpu;

/// <summary>Why a vCPU thread finished, with the registers at that moment when it crashed.</summary>
public sealed record VcpuStop(int VcpuId, ExitAction Action, string? Reason, VcpuRegisters? Registers, VcpuSpecialRegisters? SpecialRegisters);

/// <summary>
/// One vCPU's thread: enters the guest with <c>KVM_RUN</c>, dispatches exits, parks at the pause
/// rendezvous, and stops when asked or when the guest can't continue. Other threads only set
/// flags and <see cref="Kick"/> it; everything else happens on this thread. With exit-storm switching
/// (<see cref="ExitStormSwitch"/>) a dispatched exit may be followed by a software slice; the pause and
/// stop checks run between slices as between exits.
/// </summary>
internal sealed partial class VcpuThread : VcpuThreadBase, IVcpuRegisterAccess, Hypercalls.IVcpuControlRegisters
{
    private const int EINTR = 4, EAGAIN = 11;

    private readonly KvmVcpu _vcpu;
    private readonly ExitDispatcher _dispatcher;
    private readonly ExitStormSwitch? _storm;
    private readonly Func<bool> _isKicked;
    private volatile bool _kicked;
    private long _exits;

    public VcpuThread(KvmVcpu vcpu, ExitDispatcher dispatcher, PauseRendezvous pause, Action<VcpuStop> stopped, ExitStormSwitch? storm = null)
        : base(vcpu.Id, $"vcpu{vcpu.Id}", pause, stopped)
    {
        _vcpu = vcpu;
        _dispatcher = dispatcher;
        _storm = storm;
        _isKicked = () => _kicked;
    }

    public override EngineSwitchStats? EngineSwitches => _storm?.Counters.Snapshot();

    /// <summary>Guest entries (KVM_RUN calls that returned an exit), for statistics and benchmarks.</summary>
    public override long Exits => _exits;

    /// <summary>Forces the vCPU out of <c>KVM_RUN</c>: <c>immediate_exit</c> covers the window before entry, the signal the time inside.</summary>
    public override void Kick()
    {
        _kicked = true; // seen by a software slice, which polls it
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

    public override ulong ReadCr3() => _vcpu.GetSregs().cr3;

    public override State.VcpuSnapshot SaveState() => KvmVcpuState.Save(_vcpu) with { Exits = _exits };

    public override void CheckState(State.VcpuSnapshot snapshot) => KvmVcpuState.Check(_vcpu, snapshot);

    /// <summary>The state, and the exit count with it: a machine made from a checkpoint goes on counting where its primary was.</summary>
    public override void RestoreState(State.VcpuSnapshot snapshot)
    {
        KvmVcpuState.Restore(_vcpu, snapshot);
        _exits = snapshot.Exits;
    }

    public override void InjectPageFault(ulong address, uint errorCode)
    {
        var sregs = _vcpu.GetSregs();
        sregs.cr2 = address;
        _vcpu.SetSregs(sregs);
        var events = _vcpu.GetVcpuEvents();
        events.exception_injected = 1;
        events.exception_pending = 0;
        events.exception_nr = 14;
        events.exception_has_error_code = 1;
        events.exception_error_code = errorCode;
        events.flags = 0; // only the exception, interrupt and NMI state given here, as read
        _vcpu.SetVcpuEvents(events);
        _vcpu.SetMpState(KvmConstants.KVM_MP_STATE_RUNNABLE); // a halted vCPU takes it now
    }

    protected override void PrepareThread()
    {
        if (ThreadSignals.BlockKickInCurrentThread() != 0)
            throw new KvmException("pthread_sigmask", LibcCalls.Errno);
        _vcpu.SetSignalMask(ThreadSignals.KernelMaskForRun());
        _storm?.Prepare();
    }

    protected override VcpuStop Fault(Exception exception) => exception is KvmException
        ? new VcpuStop(Id, ExitAction.Crash, exception.Message, null, null)
        : new VcpuStop(Id, ExitAction.Crash, DescribeFault(exception), null, null);

    protected override VcpuStop? RunGuest()
    {
        if (_journal is { } journal)
            return journal.Recording ? RunRecording(journal) : RunReplaying(journal);
        var exitPending = false; // completing I/O before a switch produced an exit still to dispatch
        while (true)
        {
            if (StopOrPark())
                return null;
            if (Enter(ref exitPending, _storm) is { } stop)
                return stop;
        }
    }

    /// <summary>Between entries: true when asked to stop; else parks while a pause is asked for (the flags a kick is for are checked here).</summary>
    private bool StopOrPark()
    {
        if (StopRequested)
            return true;
        _kicked = false;
        Checkpoint();
        return StopRequested;
    }

    /// <summary>
    /// One entry into the guest and the dispatch of its exit (unless <paramref name="exitPending"/>: an exit a
    /// software slice left is dispatched without entering), then the exit-storm switch's slice when there is one.
    /// Null to go on (an exit dispatched, or KVM_RUN interrupted by a kick: the caller checks its flags); else why the
    /// vCPU stops.
    /// </summary>
    private VcpuStop? Enter(ref bool exitPending, ExitStormSwitch? storm)
    {
        if (!exitPending)
        {
            var err = _vcpu.Run();
            if (err is EINTR or EAGAIN)
            {
                _ = ThreadSignals.DrainPendingKicks();
                _vcpu.ImmediateExit = false; // the flags it was set for are re-checked at the top
                return null;
            }
            if (err != 0)
                return Crash($"KVM_RUN failed: {LibcCalls.Describe(err)} (errno {err})");
        }
        exitPending = false;

        _exits++;
        var result = _dispatcher.Dispatch(_vcpu.Exit, Id, this);
        switch (result.Action)
        {
            case ExitAction.Continue:
                if (storm is null)
                    return null;
                var outcome = AfterExit(out var sliceCrash);
                if (sliceCrash is not null)
                    return sliceCrash;
                exitPending = outcome == ExitStormSwitch.Outcome.PendingExit;
                return null;
            case ExitAction.PowerOff:
                return new VcpuStop(Id, ExitAction.PowerOff, result.Reason, null, null);
            default:
                return Crash(result.Reason ?? "unhandled exit");
        }
    }

    /// <summary>Offers the exit to the exit-storm switch; a crash report comes out when a software slice failed.</summary>
    private ExitStormSwitch.Outcome AfterExit(out VcpuStop? stop)
    {
        stop = null;
        try
        {
            return _storm!.AfterExit(_vcpu.Exit.Reason, _isKicked);
        }
        catch (SoftwareEngineException e)
        {
            stop = new VcpuStop(Id, ExitAction.Crash, $"software engine (exit-storm slice): {e.Message}", _storm!.SoftwareRegisters, null);
            return ExitStormSwitch.Outcome.StayInKvm;
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
