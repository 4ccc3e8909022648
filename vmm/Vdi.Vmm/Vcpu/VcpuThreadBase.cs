using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Vcpu;

/// <summary>
/// The life cycle every vCPU thread shares, whichever engine runs the guest: start (join the pause rendezvous, wait
/// until the thread runs), the state machine (created → running ⇄ paused → stopped), parking at the rendezvous, stop
/// requests, and the end — whatever goes wrong on the thread becomes a crash report for that machine, never an
/// exception in the process, and the machine always hears how the thread finished.
/// </summary>
internal abstract class VcpuThreadBase : IVcpuRunner
{
    public abstract ulong ReadCr3();

    public abstract void InjectPageFault(ulong address, uint errorCode);

    public abstract State.VcpuSnapshot SaveState();

    public abstract void CheckState(State.VcpuSnapshot snapshot);

    public abstract void RestoreState(State.VcpuSnapshot snapshot);

    private readonly PauseRendezvous _pause;
    private readonly Action<VcpuStop> _stopped;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _ready = new();
    private volatile bool _stopRequested;
    private volatile int _nativeThreadId;
    private int _state = (int)VcpuState.Created;

    protected VcpuThreadBase(int id, string threadName, PauseRendezvous pause, Action<VcpuStop> stopped)
    {
        Id = id;
        _pause = pause;
        _stopped = stopped;
        _thread = new Thread(Run) { IsBackground = true, Name = threadName };
    }

    public int Id { get; }

    public VcpuState State => (VcpuState)Volatile.Read(ref _state);

    public abstract long Exits { get; }

    public virtual Execution.Switching.EngineSwitchStats? EngineSwitches => null;

    /// <summary>CPU time the vCPU thread has used so far (guest and VMM), or null once it has finished.</summary>
    public TimeSpan? CpuTime => _nativeThreadId is var tid and not 0 ? ThreadCpuTime.Read(tid) : null;

    protected bool StopRequested => _stopRequested;

    /// <summary>The thread's kernel id while it runs, else 0.</summary>
    protected int NativeThreadId => _nativeThreadId;

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

    public abstract void Kick();

    /// <summary>Waits for the thread to finish; a thread that was never started has nothing to wait for.</summary>
    public bool Join(TimeSpan timeout) => (_thread.ThreadState & ThreadState.Unstarted) != 0 || _thread.Join(timeout);

    public virtual void Dispose() => _ready.Dispose();

    /// <summary>On the thread, before it reports itself running (e.g. its signal mask).</summary>
    protected virtual void PrepareThread()
    {
    }

    /// <summary>Runs the guest until it stops: null when asked to stop, else why it stopped.</summary>
    protected abstract VcpuStop? RunGuest();

    /// <summary>The crash report for an exception that escaped <see cref="RunGuest"/> or <see cref="PrepareThread"/>.</summary>
    protected abstract VcpuStop Fault(Exception exception);

    /// <summary>
    /// On this vCPU's own thread, mid-slice (the concurrency guard of the software engine, which runs on KVM vCPU
    /// threads too during exit-storm slices): parks while a pause is requested, shown as paused.
    /// </summary>
    public void ParkIfRequested() => Checkpoint();

    /// <summary>Parks while a pause is requested, showing the vCPU as paused meanwhile.</summary>
    protected void Checkpoint() =>
        _pause.Checkpoint(
            Id,
            () => Volatile.Write(ref _state, (int)VcpuState.Paused),
            () => Volatile.Write(ref _state, (int)VcpuState.Running));

    /// <summary>"VMM fault on vcpu N: Type: message", for an exception the engine has no better words for.</summary>
    protected string DescribeFault(Exception exception) => $"VMM fault on vcpu {Id}: {exception.GetType().Name}: {exception.Message}";

    private void Run()
    {
        VcpuStop? stop = null;
        try
        {
            PrepareThread();
            _nativeThreadId = LibcCalls.GetThreadId();
            Volatile.Write(ref _state, (int)VcpuState.Running);
            _ready.Set();
            stop = RunGuest();
        }
#pragma warning disable CA1031 // Whatever goes wrong on a vCPU thread stops that machine, never the process.
        catch (Exception e)
#pragma warning restore CA1031
        {
            stop = Fault(e);
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
}
