using System.Diagnostics;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// One vCPU of the software engine on its own thread: runs <see cref="SoftCpu"/> in slices of instructions, polls its
/// local APIC timer between slices, parks at the pause rendezvous, and sleeps while the vCPU is halted until an
/// interrupt is posted, the timer's deadline passes, or it is kicked — so an idle desktop costs no CPU. Anything the
/// engine does not model, and any fault inside the VMM while running this vCPU, stops this machine with a report.
/// </summary>
internal sealed partial class SoftVcpuThread : VcpuThreadBase
{
    /// <summary>Instructions between checks of the timer and the pause/stop flags (well under a millisecond).</summary>
    private const int Slice = 4096;

    private readonly SoftCpu _cpu;
    private readonly AutoResetEvent _wake = new(false);
    private volatile bool _tripleFaulted;

    public SoftVcpuThread(SoftCpu cpu, PauseRendezvous pause, Action<VcpuStop> stopped)
        : base(cpu.Index, $"vcpu{cpu.Index}-soft", pause, stopped)
    {
        _cpu = cpu;
        _cpu.InterruptPosted += Wake;
    }

    public override long Exits => _cpu.DeviceAccesses;

    /// <summary>Instructions this vCPU has run.</summary>
    public long InstructionsRetired => _cpu.InstructionsRetired;

    public override void Kick()
    {
        _cpu.RequestYield();
        Wake();
    }

    /// <summary>The vCPU's bus saw it triple-fault: it stops with a crash at the end of the current instruction.</summary>
    public void OnTripleFault()
    {
        _tripleFaulted = true;
    }

    public override void Dispose()
    {
        _cpu.InterruptPosted -= Wake;
        _wake.Dispose();
        base.Dispose();
    }

    public override ulong ReadCr3() => _cpu.Cr3;

    public override void InjectPageFault(ulong address, uint errorCode)
    {
        _cpu.InjectPageFault(address, errorCode);
        Wake();
    }

    public override State.VcpuSnapshot SaveState() => _cpu.TakeSnapshot(System.Diagnostics.Stopwatch.GetTimestamp());

    public override void CheckState(State.VcpuSnapshot snapshot) => _cpu.CheckSnapshot(snapshot);

    public override void RestoreState(State.VcpuSnapshot snapshot) => _cpu.RestoreSnapshot(snapshot, System.Diagnostics.Stopwatch.GetTimestamp());

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

    protected override VcpuStop Fault(Exception exception) => exception switch
    {
        SoftwareEngineException => Crash($"software engine: {exception.Message}"),
        FaultTolerance.JournalException => Crash($"the replay left the recorded path: {exception.Message}"),
        _ => Crash(DescribeFault(exception)),
    };

    protected override VcpuStop? RunGuest() => _cpu.Journal is not { } journal ? RunFree() : journal.Recording ? RunRecording(journal) : RunReplaying(journal);

    /// <summary>At the top of each pass of a loop: parks at a pause; true when the vCPU is to stop.</summary>
    private bool StopOrPark()
    {
        if (StopRequested)
            return true;
        Checkpoint();
        return StopRequested;
    }

    private VcpuStop? RunFree()
    {
        while (true)
        {
            if (StopOrPark())
                return null;

            _cpu.LocalApic.PollTimer(Stopwatch.GetTimestamp());
            if (!_cpu.CanRun)
            {
                WaitForEvent();
                continue;
            }
            _cpu.Run(Slice);
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
