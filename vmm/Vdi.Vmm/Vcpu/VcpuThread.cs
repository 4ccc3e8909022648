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
internal sealed class VcpuThread : IVcpuRunner, IVcpuRegisterAccess
{
    private const int EINTR = 4, EAGAIN = 11;

    private readonly KvmVcpu _vcpu;
    private readonly ExitDispatcher _dispatcher;
    private readonly PauseRendezvous _pause;
    private readonly Action<VcpuStop> _stopped;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _ready = new();
    private volatile bool _stopRequested;
    private volatile int _nativeThreadId;
    private int _state = (int)VcpuState.Created;

    public VcpuThread(KvmVcpu vcpu, ExitDispatcher dispatcher, PauseRendezvous pause, Action<VcpuStop> stopped)
    {
        _vcpu = vcpu;
        _dispatcher = dispatcher;
        _pause = pause;
        _stopped = stopped;
        _thread = new Thread(Run) { IsBackground = true, Name = $"vcpu{vcpu.Id}" };
    }

    public int Id => _vcpu.Id;

    public VcpuState State => (VcpuState)Volatile.Read(ref _state);

    /// <summary>Guest entries (KVM_RUN calls that returned an exit), for statistics and benchmarks.</summary>
    public long Exits { get; private set; }

    public void Start()
    {
        _pause.Join();
        _thread.Start();
        _ready.Wait();
    }

    /// <summary>Asks the thread to leave the guest and finish; returns at once.</summary>
    public void RequestStop()
    {
        _stopRequested = true;
        Kick();
    }

    /// <summary>Forces the vCPU out of <c>KVM_RUN</c>: <c>immediate_exit</c> covers the window before entry, the signal the time inside.</summary>
    public void Kick()
    {
        _vcpu.ImmediateExit = true;
        var tid = _nativeThreadId;
        if (tid != 0)
            _ = ThreadSignals.Kick(tid);
    }

    /// <summary>Waits for the thread to finish; a thread that was never started has nothing to wait for.</summary>
    public bool Join(TimeSpan timeout) => (_thread.ThreadState & ThreadState.Unstarted) != 0 || _thread.Join(timeout);

    /// <summary>CPU time the vCPU thread has used so far (guest and VMM), or null once it has finished.</summary>
    public TimeSpan? CpuTime => _nativeThreadId is var tid and not 0 ? ThreadCpuTime.Read(tid) : null;

    public VcpuRegisters GetRegisters()
    {
        var regs = _vcpu.GetRegs();
        return VcpuRegisters.From(regs);
    }

    public void SetRegisters(in VcpuRegisters registers) => _vcpu.SetRegs(registers.ToKvm());

    private void Run()
    {
        VcpuStop? stop = null;
        try
        {
            if (ThreadSignals.BlockKickInCurrentThread() != 0)
                throw new KvmException("pthread_sigmask", LibcCalls.Errno);
            _vcpu.SetSignalMask(ThreadSignals.KernelMaskForRun());
            _nativeThreadId = LibcCalls.GetThreadId();
            Volatile.Write(ref _state, (int)VcpuState.Running);
            _ready.Set();
            stop = Loop();
        }
        catch (KvmException e)
        {
            stop = new VcpuStop(Id, ExitAction.Crash, e.Message, null, null);
        }
#pragma warning disable CA1031 // Whatever goes wrong on a vCPU thread stops that machine, never the process.
        catch (Exception e)
#pragma warning restore CA1031
        {
            stop = new VcpuStop(Id, ExitAction.Crash, $"VMM fault on vcpu {Id}: {e.GetType().Name}: {e.Message}", null, null);
        }
        finally
        {
            _ready.Set();
            _nativeThreadId = 0;
            Volatile.Write(ref _state, (int)VcpuState.Stopped);
            _pause.Leave();
            _stopped(stop ?? new VcpuStop(Id, ExitAction.Continue, "stopped by the host", null, null));
        }
    }

    private VcpuStop? Loop()
    {
        while (true)
        {
            if (_stopRequested)
                return null;
            _pause.Checkpoint(
                () => Volatile.Write(ref _state, (int)VcpuState.Paused),
                () => Volatile.Write(ref _state, (int)VcpuState.Running));
            if (_stopRequested)
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

            Exits++;
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
    public void Dispose()
    {
        _vcpu.Dispose();
        _ready.Dispose();
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
