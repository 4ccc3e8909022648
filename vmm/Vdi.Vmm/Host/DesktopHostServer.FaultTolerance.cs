using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Host;

/// <summary>What a host is in a fault-tolerant desktop (`serve --fault-tolerance`).</summary>
public enum FaultToleranceRole
{
    None,

    /// <summary>Runs the desktop and records its journal (the broker relays it to the secondary).</summary>
    Primary,

    /// <summary>An incoming host: receives a checkpoint of the primary, then replays the journal the broker feeds it.</summary>
    Secondary,
}

/// <summary>
/// A fault-tolerant desktop's host (<c>docs/vmm.md</c>, "Fault tolerance"; <c>docs/host-protocol.md</c>). A primary records
/// an <see cref="ExecutionJournal"/>: host input goes through it, and its entries, outputs and safe count go to the
/// broker from the event thread (queued at once when an output is ready, an event was recorded or the guest has run
/// 64 Ki instructions further; else every 2 ms); a Checkpoint sends the machine to a new secondary
/// by the live migration's transfer and resumes (a host without fault tolerance does the same for a live snapshot). A secondary replays the entries the broker feeds it and sends its
/// outputs; its flushed frames are not announced — the broker announces each once the primary's matches it. Promoted
/// (the primary died), it catches up, says so, and from then on records and announces like a primary.
/// </summary>
public sealed partial class DesktopHostServer
{
    private static readonly TimeSpan s_journalInterval = TimeSpan.FromMilliseconds(2);
    private readonly List<JournalEntry> _drained = [];
    private readonly List<GuestOutput> _drainedOutputs = [];
    private ExecutionJournal? _journal;
    private int _journalQueued;
    private long _journalSent = -1;
    private long _journalSentAt;

    /// <summary>A fault-tolerant host sends a journal frame at least this often, new or not: its heartbeat (the broker gives up on it after 1 s without).</summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>This host's part in a fault-tolerant desktop; <see cref="FaultToleranceRole.None"/> for any other desktop.</summary>
    public FaultToleranceRole FaultTolerance { get; init; }

    /// <summary>In <see cref="Run"/>, before the handshake: a primary's machine records from its first instruction.</summary>
    private void UseFaultTolerance()
    {
        if (FaultTolerance == FaultToleranceRole.None)
            return;
        if (FaultTolerance == FaultToleranceRole.Secondary && Incoming is null)
            throw new InvalidOperationException("a secondary receives its machine from the primary: it needs --incoming");
        // An incoming primary receives a running desktop by live migration and records from there.
        _journal = FaultTolerance == FaultToleranceRole.Primary ? ExecutionJournal.ForRecording() : ExecutionJournal.ForReplay();
        if (Incoming is null)
            _machine.UseJournal(_journal); // a primary that boots; an incoming one takes its journal with the machine it receives
        _journal.OutputReady += WakeJournal;
        _journal.Progressed += WakeJournal;
        _journal.Promoted += OnPromoted;
        new Thread(PumpJournal) { Name = "host journal", IsBackground = true }.Start();
    }

    /// <summary>
    /// A received machine, before it starts: a secondary's replays from the checkpoint's count; a primary's (a desktop
    /// moved into a pair while it ran) records from the count it arrived at.
    /// </summary>
    private void ReplayReceived(Machine.Machine machine)
    {
        if (_journal is not null)
            machine.UseJournal(_journal);
    }

    /// <summary>Input for the guest: recorded by a primary, refused by a secondary (it takes input from the journal only).</summary>
    private bool SubmitInput(GuestInput input)
    {
        if (_journal is null)
            return false;
        if (!_journal.Recording)
            throw new InvalidOperationException("a secondary takes its input from the primary's journal only");
        _machine.Submit(input);
        return true;
    }

    /// <summary>Whether a flush is announced: not by a secondary, whose frames the broker announces once matched.</summary>
    private bool AnnouncesFlushes => _journal is not { Recording: false };

    private void Feed(JournalFeedMessage feed)
    {
        if (_journal is not { Recording: false } replay)
        {
            Refuse(HostProtocol.ErrorState, "journal-feed: this host is not a replaying secondary");
            return;
        }
        try
        {
            replay.Feed(feed.Entries, feed.SafeThrough);
        }
        catch (JournalException e)
        {
            // The replay can no longer follow: it stops, and the broker (told by its exit) makes a new secondary.
            Refuse(HostProtocol.ErrorRefused, $"journal-feed: {e.Message}");
            _machine.Stop();
        }
    }

    private void Promote()
    {
        if (_journal is not { Recording: false } replay)
        {
            Refuse(HostProtocol.ErrorState, "promote: this host is not a replaying secondary");
            return;
        }
        HostLog.Write(_log, "promoted: replaying what the primary published, then taking over");
        replay.Promote();
    }

    /// <summary>
    /// On the vCPU's thread, caught up at <paramref name="count"/>: the outputs replayed so far and the Promoted frame go
    /// out before anything the new primary records (the vCPU waits for the event thread to send them).
    /// </summary>
    private void OnPromoted(long count)
    {
        HostLog.Write(_log, $"promoted at {count}: this host records the journal from now on");
        RunOnEventThread(() =>
        {
            SendJournal();
            _channel.Send(new JournalPointMessage(HostMessageType.Promoted, count));
        });
    }

    private void Checkpoint(CheckpointMessage message, int descriptor)
    {
        if (descriptor < 0)
            throw new HostProtocolException("Checkpoint without the connected socket");
        var stream = new FileStream(new SafeFileHandle(descriptor, ownsHandle: true), FileAccess.ReadWrite, bufferSize: 0);
        // A primary's checkpoint seeds a new secondary; a desktop without fault tolerance takes a live snapshot the same
        // way (the broker stores the stream). A replaying secondary has nothing to give.
        var journal = _journal;
        if (journal is { Recording: false } || _machine.State != MachineState.Running || Interlocked.Exchange(ref _migrating, 1) != 0)
        {
            stream.Dispose();
            Refuse(HostProtocol.ErrorState, $"checkpoint: the machine is {_machine.State}, a secondary, or already migrating");
            Post(() => _channel.Send(MigrationResultMessage.Failed("the primary cannot checkpoint now")));
            return;
        }
        _ = Task.Run(async () =>
        {
            MigrationOutcome outcome;
            try
            {
                MigrationWarmup.RunOnceForSource(_machine.Config);
                outcome = await MigrationSource.SendAsync(_machine, stream, message.Options, null, CancellationToken.None).ConfigureAwait(false);
                if (outcome.Succeeded)
                {
                    if (journal is not null)
                    {
                        // Paused at the checkpoint: what was recorded and output up to it goes before the Checkpointed
                        // frame, and what follows it is the new secondary's.
                        var count = _machine.JournalPosition!.Value;
                        RunOnEventThread(() =>
                        {
                            SendJournal();
                            journal.Checkpointed(count);
                            _channel.Send(new JournalPointMessage(HostMessageType.Checkpointed, count));
                        });
                    }
                    _machine.QuiesceDevices(false);
                    _machine.ResumeAll();
                }
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException)
            {
                outcome = MigrationResultMessage.Failed(e.Message).Outcome;
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                Volatile.Write(ref _migrating, 0);
            }
            HostLog.Write(_log, $"checkpoint: {outcome}");
            Post(() => _channel.Send(new MigrationResultMessage(outcome)));
        });
    }

    /// <summary>On the vCPU's thread (an output is ready, or the journal progressed): a journal frame queued on the event thread now.</summary>
    private void WakeJournal() => QueueJournal();

    /// <summary>A journal frame queued on the event thread — after the flushes it follows — unless one is queued already.</summary>
    private void QueueJournal()
    {
        if (Interlocked.Exchange(ref _journalQueued, 1) == 0)
            Post(SendJournal);
    }

    /// <summary>The pump: what a quiet guest recorded (a value, the count of a halted vCPU) goes out at least every 2 ms, and a frame every 100 ms (the heartbeat).</summary>
    private void PumpJournal()
    {
        while (!_events.IsAddingCompleted)
        {
            Thread.Sleep(s_journalInterval);
            QueueJournal();
        }
    }

    /// <summary>On the event thread: everything the journal holds since the last frame, and the count.</summary>
    private void SendJournal()
    {
        Volatile.Write(ref _journalQueued, 0);
        if (_journal is not { } journal)
            return;
        _drained.Clear();
        _drainedOutputs.Clear();
        long count;
        if (journal.Recording)
            count = journal.Drain(_drained);
        else
            count = _machine.State == MachineState.Created ? 0 : _machine.JournalPosition ?? 0;
        journal.DrainOutputs(_drainedOutputs);
        var now = Stopwatch.GetTimestamp();
        if (_drained.Count == 0 && _drainedOutputs.Count == 0 && count == _journalSent && Stopwatch.GetElapsedTime(_journalSentAt, now) < HeartbeatInterval)
            return; // nothing new, and a frame went out less than a heartbeat ago
        (_journalSent, _journalSentAt) = (count, now);
        var (e, o) = (0, 0);
        do
        {
            var (ne, no) = (0, 0);
            while (e + ne < _drained.Count && JournalMessage.Fits(ne + 1, 0))
                ne++;
            while (o + no < _drainedOutputs.Count && JournalMessage.Fits(ne, no + 1))
                no++;
            var last = e + ne == _drained.Count && o + no == _drainedOutputs.Count;
            // Only the last frame of a batch carries the new count: the entries before it are not all safe yet.
            _channel.Send(new JournalMessage(last ? count : 0, _drained.GetRange(e, ne), _drainedOutputs.GetRange(o, no)));
            (e, o) = (e + ne, o + no);
        }
        while (e < _drained.Count || o < _drainedOutputs.Count);
    }

    /// <summary>Runs <paramref name="action"/> on the event thread, after what is queued, and waits for it (a few seconds at most).</summary>
    private void RunOnEventThread(Action action)
    {
        var done = new ManualResetEventSlim(); // not disposed: a late Set after a timeout must not throw on the event thread
        Post(() =>
        {
            try
            {
                action();
            }
            finally
            {
                done.Set();
            }
        });
        if (!done.Wait(TimeSpan.FromSeconds(5)))
            HostLog.Write(_log, "the event thread did not run a journal point within 5 s");
    }
}
