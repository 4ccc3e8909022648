namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// The journal of a machine's execution on the software engine (<c>docs/vmm.md</c>, "Fault tolerance"): everything
/// non-deterministic that reaches the guest, at the exact count of instructions its vCPU had retired. A recording
/// journal takes host inputs into an inbox (<see cref="Submit"/>), and the vCPU's thread applies them between two
/// instructions, with the timer's expiries, recording each at its count; the values instructions read from the host's
/// clock are recorded as they are read. A replaying journal is fed those entries (<see cref="Feed"/>) and makes a
/// machine built and started the same way run the same instructions: it stops exactly at each entry's count to apply
/// it, hands each recorded value to the instruction that reads it, and never runs past what the recorder has
/// published (<see cref="SafeThrough"/>). A replay that leaves the recorded path — a value read at another count, a
/// vCPU halted where the recorder went on — stops the machine, naming where (<see cref="JournalException"/>).
/// One vCPU. On the software engine the count is exact: instructions retired. On KVM it is the vCPU's exits to the
/// VMM (<see cref="Exact"/> false): an entry is applied at the same exit, not the same instruction, the timer is the
/// kernel's and not journaled, so a replay may part from the recording now and then — quasi-lockstep; the output
/// comparison finds where and a resync brings the two together again — and a replay reads values tolerantly.
/// </summary>
public sealed partial class ExecutionJournal : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Queue<(GuestInput Input, bool Recorded)> _inbox = [];
    private readonly List<JournalEntry> _recorded = [];
    private readonly Queue<JournalEntry> _events = [];
    private readonly Queue<JournalEntry> _values = [];
    private readonly List<GuestOutput> _outputs = [];
    private readonly SemaphoreSlim _fed = new(0);
    private long _safeThrough;
    private long _lastFed;
    private long _lastProgress;
    private long _lastProgressAt;
    private static readonly long s_progressTicks = System.Diagnostics.Stopwatch.Frequency / 5000; // 200 µs
    private bool _eventsUnpublished; // an input or a timer expiry since the last publish: the replay cannot pass it without them
    private bool _promoting;
    private bool _outputsUnpublished;
    private Machine.Machine? _machine;
    private Func<long>? _count;

    private ExecutionJournal(bool recording) => Recording = recording;

    /// <summary>True for the machine that runs free and records; false for the one that replays (until it is promoted).</summary>
    public bool Recording { get; private set; }

    /// <summary>
    /// True when the count is exact (the software engine: instructions retired); false on KVM, where it counts the
    /// vCPU's exits and a replay is quasi: it may part from the recording, and reads values tolerantly. Known once
    /// the journal is attached to its machine.
    /// </summary>
    public bool Exact { get; private set; } = true;

    /// <summary>Replay: a promotion is asked for and not yet done.</summary>
    internal bool Promoting
    {
        get
        {
            lock (_gate)
                return _promoting;
        }
    }

    /// <summary>
    /// Raised on the vCPU's thread when an output is ready to compare: a replay's as it is noted, a recorder's once the
    /// count past it is published (before that the replay may not run to it). Handlers must be quick.
    /// </summary>
    public event Action? OutputReady;

    /// <summary>
    /// Recorder: raised on the vCPU's thread when what was published holds an event (an input, a timer expiry), has
    /// run <see cref="ProgressInstructions"/> past the last time, or has moved on at all 200 µs after it (a device
    /// command can take milliseconds inside a few instructions), so the journal is relayed as it goes and the replay
    /// runs close behind, not a pump interval behind. Handlers must be quick.
    /// </summary>
    public event Action? Progressed;

    /// <summary>How far the published count runs between two <see cref="Progressed"/> events (default 64 Ki instructions).</summary>
    public long ProgressInstructions { get; init; } = 65536;

    /// <summary>Raised on the vCPU's thread when a promoted replay has caught up and records from now on.</summary>
    public event Action<long>? Promoted;

    /// <summary>Recorder: raised when an input is submitted (the vCPU's thread wakes to apply it).</summary>
    internal event Action? Submitted;

    /// <summary>Entries recorded or fed so far.</summary>
    public long Entries { get; private set; }

    /// <summary>The count up to which the recording has no entry left unpublished; a replay runs no further.</summary>
    public long SafeThrough
    {
        get
        {
            lock (_gate)
                return _safeThrough;
        }
    }

    public static ExecutionJournal ForRecording() => new(recording: true);

    public static ExecutionJournal ForReplay() => new(recording: false);

    /// <summary>Recorder, any thread: an input for the guest, applied by its vCPU's thread at the next instruction boundary.</summary>
    public void Submit(GuestInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!Recording)
            throw new InvalidOperationException("a replaying machine takes its inputs from the journal only");
        lock (_gate)
            _inbox.Enqueue((input, true));
        Submitted?.Invoke();
    }

    /// <summary>Tests only: an input the recorder applies and does not record — the replay will part from it.</summary>
    internal void SubmitUnrecorded(GuestInput input)
    {
        lock (_gate)
            _inbox.Enqueue((input, false));
        Submitted?.Invoke();
    }

    /// <summary>Recorder: moves the entries recorded since the last call into <paramref name="into"/>; returns how far they are safe.</summary>
    public long Drain(List<JournalEntry> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        lock (_gate)
        {
            into.AddRange(_recorded);
            _recorded.Clear();
            return _safeThrough;
        }
    }

    /// <summary>
    /// Replay: the recorder's next entries, in order, and how far it has run with nothing more to record. Counts must
    /// not go back, an event must not come before the safe count, and the safe count must not go back (a value may
    /// come ahead of it: the recorder reads values in the middle of a slice it publishes at its end).
    /// </summary>
    public void Feed(IReadOnlyList<JournalEntry> entries, long safeThrough)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (Recording)
            throw new InvalidOperationException("a recording journal is not fed");
        lock (_gate)
        {
            foreach (var e in entries)
            {
                if (e.Count < _lastFed || (!e.IsValue && e.Count < _safeThrough))
                    throw new JournalException($"{e} goes back before {Math.Max(_lastFed, _safeThrough)}");
                _lastFed = e.Count;
                (e.IsValue ? _values : _events).Enqueue(e);
            }
            if (safeThrough < _safeThrough)
                throw new JournalException($"safe through {safeThrough}, behind {_safeThrough}");
            _safeThrough = safeThrough;
            Entries += entries.Count;
        }
        _fed.Release();
        Submitted?.Invoke();
    }

    /// <summary>
    /// Replay: the recorder is gone (failover). Once the replay has applied every event fed and reached the last safe
    /// count — where the recorder's released outputs end — its machine runs free and records (<see cref="Promoted"/>);
    /// values fed beyond that point are dropped, as is whatever the recorder did past it.
    /// </summary>
    public void Promote()
    {
        if (Recording)
            throw new InvalidOperationException("a recording journal is not promoted");
        lock (_gate)
            _promoting = true;
        _fed.Release();
        Submitted?.Invoke();
    }

    /// <summary>Replay, on the vCPU's thread between instructions: promoted and caught up at <paramref name="count"/>?</summary>
    internal bool PromotionDue(long count)
    {
        lock (_gate)
            return _promoting && _events.Count == 0 && count >= _safeThrough;
    }

    /// <summary>Replay, on the vCPU's thread: from now on this journal records.</summary>
    internal void BecomeRecorder(long count)
    {
        lock (_gate)
        {
            _values.Clear();
            _promoting = false;
            _safeThrough = count;
            Recording = true;
        }
        Promoted?.Invoke(count);
    }

    /// <summary>Binds the journal to the machine and the count of its one vCPU (<see cref="Machine.Machine.UseJournal"/>); <paramref name="exact"/> as <see cref="Exact"/>.</summary>
    internal void Attach(Machine.Machine machine, Func<long> count, bool exact)
    {
        if (Interlocked.CompareExchange(ref _machine, machine, null) is not null)
            throw new InvalidOperationException("the journal already serves a machine");
        _count = count;
        Exact = exact;
    }

    /// <summary>Recorder, on the vCPU's thread between instructions: applies and records every input waiting.</summary>
    internal void ApplyInbox(long count)
    {
        while (true)
        {
            (GuestInput Input, bool Recorded) next;
            lock (_gate)
            {
                if (!_inbox.TryDequeue(out next))
                    return;
            }
            if (next.Recorded)
                Record(next.Input.At(count));
            next.Input.Apply(_machine!);
        }
    }

    /// <summary>Recorder, on the vCPU's thread.</summary>
    internal void Record(JournalEntry entry)
    {
        lock (_gate)
        {
            _recorded.Add(entry);
            Entries++;
            _eventsUnpublished |= !entry.IsValue;
        }
    }

    /// <summary>Recorder, on the vCPU's thread between instructions: everything before <paramref name="count"/>'s next instruction is recorded.</summary>
    internal void Publish(long count)
    {
        bool ready, progressed;
        lock (_gate)
        {
            _safeThrough = count;
            ready = _outputsUnpublished;
            _outputsUnpublished = false;
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            progressed = _eventsUnpublished || count - _lastProgress >= ProgressInstructions
                || (count > _lastProgress && now - _lastProgressAt >= s_progressTicks);
            _eventsUnpublished = false;
            if (progressed || ready)
                (_lastProgress, _lastProgressAt) = (count, now);
        }
        if (ready)
            OutputReady?.Invoke();
        else if (progressed)
            Progressed?.Invoke();
    }

    /// <summary>
    /// On the vCPU's thread, inside the instruction that reads it: the recorder reads <paramref name="live"/> and
    /// records it; the replay returns the value recorded at this count, or stops if there is none.
    /// </summary>
    internal ulong Value(JournalKind kind, Func<ulong> live)
    {
        var count = _count!();
        if (Recording)
        {
            var value = live();
            Record(new JournalEntry(count, kind, value));
            return value;
        }
        lock (_gate)
        {
            if (!Exact)
                return kind == JournalKind.WallClock ? TolerantClock(count, live()) : TolerantValue(kind, count) ?? live();
            if (!_values.TryDequeue(out var recorded) || recorded.Kind != kind || recorded.Count != count)
                throw new JournalException($"the replay read {kind} at {count}; the recording has {(recorded == default ? "no value left" : recorded.ToString())}");
            return recorded.A;
        }
    }

    /// <summary>
    /// Quasi replay, on the vCPU's thread, promoted: every event fed and not yet applied is applied now, in order —
    /// on KVM the replay cannot be sure to reach their exits, and the dead recorder has applied them all.
    /// </summary>
    internal void ApplyRemainingEvents(Action timer)
    {
        while (TryPeekEvent(out _))
            ApplyNextEvent(timer);
    }

    /// <summary>
    /// Recorder, while its machine is paused at <paramref name="count"/> for a checkpoint a new replay starts from:
    /// entries not yet drained are for the replay being replaced, and go.
    /// </summary>
    public void Checkpointed(long count)
    {
        lock (_gate)
        {
            _recorded.RemoveAll(e => e.Count <= count);
            _safeThrough = count;
        }
    }

    /// <summary>Both sides, on the vCPU's thread: an output leaves the guest (a serial byte, a flushed frame) at the current count.</summary>
    internal void RecordOutput(OutputKind kind, ulong a, ulong hash)
    {
        var output = new GuestOutput(_count!(), kind, a, hash);
        bool recording;
        lock (_gate)
        {
            _outputs.Add(output);
            recording = Recording;
            _outputsUnpublished |= recording;
        }
        if (!recording)
            OutputReady?.Invoke();
    }

    /// <summary>Moves the outputs produced since the last call into <paramref name="into"/>, in order.</summary>
    public void DrainOutputs(List<GuestOutput> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        lock (_gate)
        {
            into.AddRange(_outputs);
            _outputs.Clear();
        }
    }

    /// <summary>Replay: the next event (an input or the timer), without taking it.</summary>
    internal bool TryPeekEvent(out JournalEntry entry)
    {
        lock (_gate)
            return _events.TryPeek(out entry);
    }

    /// <summary>Replay, on the vCPU's thread at the event's count: takes it and applies it.</summary>
    internal void ApplyNextEvent(Action timer)
    {
        JournalEntry e;
        lock (_gate)
            e = _events.Dequeue();
        if (e.Kind == JournalKind.Timer)
            timer();
        else
            GuestInput.FromEntry(e).Apply(_machine!);
    }

    /// <summary>Replay, on the vCPU's thread: waits until more is fed (or a promotion is asked for), 50 ms at most — then its loop looks at its flags again.</summary>
    internal void WaitForFeed() => _fed.Wait(s_feedWait);

    private static readonly TimeSpan s_feedWait = TimeSpan.FromMilliseconds(50);

    public void Dispose() => _fed.Dispose();
}
