using System.Diagnostics;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The vCPU's loop under an <see cref="ExecutionJournal"/>. Recording: between slices, the inputs waiting are applied
/// and the timer polled, each recorded at the count where it happens, and the count is published as safe. Replaying:
/// each recorded event is applied exactly at its count, the vCPU runs only up to the next event or the recorder's safe
/// count, and the timer follows the journal, never the clock. A promoted replay (failover) that has caught up goes on
/// recording.
/// </summary>
internal sealed partial class SoftVcpuThread
{

    /// <summary>A recorder's slice: its count is published after each, so a replay follows within this many instructions.</summary>
    private const int RecordingSlice = 512;

    /// <summary>Makes this vCPU record or replay (before the machine starts).</summary>
    internal void UseJournal(ExecutionJournal journal)
    {
        _cpu.Journal = journal;
        journal.Submitted += Wake;
    }

    private VcpuStop? RunRecording(ExecutionJournal journal)
    {
        while (true)
        {
            if (StopOrPark())
                return null;

            var count = _cpu.InstructionsRetired;
            journal.ApplyInbox(count);
            if (_cpu.LocalApic.PollTimer(Stopwatch.GetTimestamp()))
                journal.Record(new JournalEntry(count, JournalKind.Timer));
            journal.Publish(count);
            if (!_cpu.CanRun)
            {
                WaitForEvent();
                continue;
            }
            // Short slices: a device command inside one (a GPU resource made, 8 MB copied) can take milliseconds, and
            // the replay may not start on it before the count past it is published.
            _cpu.Run(RecordingSlice);
            journal.Publish(_cpu.InstructionsRetired); // a replay may come this far: an event here is still applied here
            if (_tripleFaulted)
                return Crash("triple fault");
        }
    }

    private VcpuStop? RunReplaying(ExecutionJournal journal)
    {
        while (true)
        {
            if (StopOrPark())
                return null;

            var count = _cpu.InstructionsRetired;
            JournalEntry next;
            while (journal.TryPeekEvent(out next) && next.Count <= count)
            {
                if (next.Count < count)
                    return Crash($"the replay left the recorded path: {next} is behind this vCPU, at {count}");
                journal.ApplyNextEvent(() => _cpu.LocalApic.Expire(Stopwatch.GetTimestamp()));
            }
            if (journal.PromotionDue(count))
            {
                journal.BecomeRecorder(count); // failover: the recorder is gone and everything it published is replayed
                return RunRecording(journal);
            }
            var nextEvent = journal.TryPeekEvent(out next) ? next.Count : long.MaxValue;
            var safe = journal.SafeThrough;
            var stopAt = Math.Min(nextEvent, safe);
            if (!_cpu.CanRun && safe > count)
                return Crash($"the replay left the recorded path: halted at {count}, where the recording went on to {safe}");
            if (stopAt <= count || !_cpu.CanRun)
            {
                journal.WaitForFeed(); // the recorder is here too, or halted here: wait for its next word
                continue;
            }
            _cpu.Run(Slice, stopAt);
            if (_tripleFaulted)
                return Crash("triple fault");
        }
    }
}
