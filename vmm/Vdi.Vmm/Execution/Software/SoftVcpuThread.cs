using System.Diagnostics;
using Vdi.Vmm.Interop;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// One vCPU of the software engine on its own thread: runs <see cref="SoftCpu"/> in slices of instructions, polls its
/// local APIC timer between slices, parks at the pause rendezvous, and sleeps while the vCPU is halted until an
/// interrupt is posted, the timer's deadline passes, or it is kicked — so an idle desktop costs no CPU. Anything the
/// engine does not model, and any fault inside the VMM while running this vCPU, stops this machine with a report.
/// </summary>
internal sealed class SoftVcpuThread : IVcpuRunner
{
    /// <summary>Instructions between checks of the timer and the pause/stop flags (well under a millisecond).</summary>
    private const int Slice = 4096;

    private readonly SoftCpu _cpu;
    private readonly PauseRendezvous _pause;
    private readonly Action<VcpuStop> _stopped;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _ready = new();
    private readonly AutoResetEvent _wake = new(false);
    private volatile bool _stopRequested;
    private volatile bool _kicked;
    private volatile bool _tripleFaulted;
    private volatile int _nativeThreadId;
    private int _state = (int)VcpuState.Created;

    public SoftVcpuThread(SoftCpu cpu, PauseRendezvous pause, Action<VcpuStop> stopped)
    {
        _cpu = cpu;
        _pause = pause;
        _stopped = stopped;
        _cpu.InterruptPosted += Wake;
        _thread = new Thread(Run) { IsBackground = true, Name = $"vcpu{cpu.Index}-soft" };
    }

    public int Id => _cpu.Index;

    public VcpuState State => (VcpuState)Volatile.Read(ref _state);

    public long Exits => _cpu.DeviceAccesses;

    /// <summary>Instructions this vCPU has run.</summary>
    public long InstructionsRetired => _cpu.InstructionsRetired;

    public TimeSpan? CpuTime => _nativeThreadId is var tid and not 0 ? ThreadCpuTime.Read(tid) : null;

    public void Start()
    {
        _pause.Join();
        _thread.Start();
        _ready.Wait();
    }

    public void Kick()
    {
        _kicked = true;
        Wake();
    }

    public void RequestStop()
    {
        _stopRequested = true;
        Kick();
    }

    /// <summary>The vCPU's bus saw it triple-fault: it stops with a crash at the end of the current instruction.</summary>
    public void OnTripleFault()
    {
        _tripleFaulted = true;
        _kicked = true;
    }

    public bool Join(TimeSpan timeout) => (_thread.ThreadState & System.Threading.ThreadState.Unstarted) != 0 || _thread.Join(timeout);

    public void Dispose()
    {
        _cpu.InterruptPosted -= Wake;
        _ready.Dispose();
        _wake.Dispose();
    }

    private void Wake()
    {
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
            // A device raised a line after the machine was torn down: nobody is left to wake.
        }
    }

    private void Run()
    {
        VcpuStop? stop = null;
        try
        {
            _nativeThreadId = LibcCalls.GetThreadId();
            Volatile.Write(ref _state, (int)VcpuState.Running);
            _ready.Set();
            stop = Loop();
        }
        catch (SoftwareEngineException e)
        {
            stop = Crash($"software engine: {e.Message}");
        }
#pragma warning disable CA1031 // Whatever goes wrong on a vCPU thread stops that machine, never the process.
        catch (Exception e)
#pragma warning restore CA1031
        {
            stop = Crash($"VMM fault on vcpu {Id}: {e.GetType().Name}: {e.Message}");
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
            _kicked = false;
            _pause.Checkpoint(
                () => Volatile.Write(ref _state, (int)VcpuState.Paused),
                () => Volatile.Write(ref _state, (int)VcpuState.Running));
            if (_stopRequested)
                return null;

            _cpu.LocalApic.PollTimer(Stopwatch.GetTimestamp());
            if (!_cpu.CanRun)
            {
                WaitForEvent();
                continue;
            }
            for (var n = 0; n < Slice && !_kicked && _cpu.CanRun; n++)
                _cpu.Step();
            if (_tripleFaulted)
                return Crash("triple fault");
        }
    }

    /// <summary>Halted with nothing to deliver: sleep until an interrupt, a kick or the timer's deadline.</summary>
    private void WaitForEvent()
    {
        var deadline = _cpu.LocalApic.TimerDeadline;
        if (deadline == long.MaxValue)
        {
            _wake.WaitOne();
            return;
        }
        var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
        if (remaining > TimeSpan.Zero)
            _wake.WaitOne(remaining.TotalMilliseconds < 1 ? TimeSpan.FromMilliseconds(1) : remaining);
    }

    private VcpuStop Crash(string reason) => new(Id, ExitAction.Crash, reason, _cpu.GetRegisters(), null);
}
