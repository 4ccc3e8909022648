using System.Diagnostics;
using Vdi.Vmm.FaultTolerance;

namespace Vdi.Vmm.Vcpu;

/// <summary>
/// The KVM vCPU's loop under an <see cref="ExecutionJournal"/> — quasi-lockstep (<c>docs/vmm.md</c>, "Fault
/// tolerance"): the journal's count is this vCPU's exits. Recording: before each entry into the guest the inputs
/// waiting are applied and recorded at the current exit count, and the count is published; an input submitted while
/// the guest runs kicks it out of <c>KVM_RUN</c>, so it is applied at once. Replaying: before each entry the events fed
/// for this exit count or an earlier one are applied, and the guest is entered only while the count is below the
/// recorder's safe count; an event ahead of a guest that has made no exit for 5 ms (idle, its timer not yet where the
/// recorder's was) is taken then. The kernel's timer is not journaled and KVM cannot stop at an instruction, so the replay is
/// the same up to the timer's interrupts: the output comparison finds where it parts and a resync mends it. A promoted
/// replay applies what it was fed at once and records. The exit-storm switch's software slices are off under a
/// journal: their device accesses are not exits, and the count would not order them.
/// </summary>
internal sealed partial class VcpuThread
{
    /// <summary>How long a replay may make no exit while an event waits ahead of it before it takes the event.</summary>
    private static readonly TimeSpan s_idleBeforeEvent = TimeSpan.FromMilliseconds(5);
    private ExecutionJournal? _journal;

    /// <summary>Makes this vCPU record or replay (before the machine starts).</summary>
    internal void UseJournal(ExecutionJournal journal)
    {
        _journal = journal;
        journal.Submitted += () =>
        {
            if (journal.Recording || journal.Promoting)
                Kick(); // out of the guest to apply the input, or to take over
        };
    }

    private VcpuStop? RunRecording(ExecutionJournal journal)
    {
        var exitPending = false;
        while (true)
        {
            if (StopOrPark())
                return null;
            journal.ApplyInbox(_exits);
            journal.Publish(_exits); // everything up to this exit is recorded: a replay may come this far
            if (Enter(ref exitPending, storm: null) is { } stop)
                return stop;
        }
    }

    private VcpuStop? RunReplaying(ExecutionJournal journal)
    {
        var exitPending = false;
        using var nudge = new Timer(_ => Kick());
        var (idleSince, idleExits) = (0L, -1L); // when this replay last made an exit while an event waited ahead of it
        while (true)
        {
            if (StopOrPark())
                return null;
            while (journal.TryPeekEvent(out var next) && next.Count <= _exits)
                journal.ApplyNextEvent(NoTimer); // one at an earlier exit: this replay has parted a little, and takes it now
            if (journal.TryPeekEvent(out _))
            {
                // An event waits at a later exit. The recorder may have made exits this replay will not make soon (a
                // timer tick of its own, drawn); a guest that makes no exit for a while is idle, not on its way there,
                // so the event is taken now rather than when its next tick comes.
                var now = Stopwatch.GetTimestamp();
                if (idleExits != _exits)
                    (idleSince, idleExits) = (now, _exits);
                else if (Stopwatch.GetElapsedTime(idleSince, now) >= s_idleBeforeEvent)
                {
                    journal.ApplyNextEvent(NoTimer);
                    idleExits = -1;
                    continue;
                }
                nudge.Change(s_idleBeforeEvent, Timeout.InfiniteTimeSpan); // out of the guest by then to look again
            }
            else
            {
                idleExits = -1;
            }
            if (journal.Promoting)
            {
                // Failover: the recorder is gone. This replay may never come to the exits of what is left (its timer
                // is its own), so it takes it now and runs free.
                journal.ApplyRemainingEvents(NoTimer);
                journal.BecomeRecorder(_exits);
                return RunRecording(journal);
            }
            if (_exits >= journal.SafeThrough)
            {
                journal.WaitForFeed(); // the recorder has not published past this exit yet
                continue;
            }
            if (Enter(ref exitPending, storm: null) is { } stop)
                return stop;
        }
    }

    /// <summary>A recorded timer expiry: none on KVM, whose timer is the kernel's; one in a hostile feed is ignored.</summary>
    private static void NoTimer()
    {
    }
}
