using System.Net.Sockets;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// Quasi-lockstep in one process (<c>docs/vmm.md</c>, "Fault tolerance"): a primary that records, a secondary that
/// replays its journal, and a pump that feeds the one from the other (at once when an output is ready or the primary
/// has run 64 Ki instructions further, else every 2 ms) and hands both sides' outputs to an <see cref="OutputComparator"/>: the primary's outputs leave
/// (<see cref="Released"/>) only once the secondary produced the same. When they part (an output that differs, or a
/// secondary that stops: it left the recorded path, or died) the secondary is resynchronised: a fresh machine receives
/// the primary by the live migration's state transfer, starts replaying from the primary's count, and the primary
/// resumes instead of ending; its held outputs up to that count go out. When the primary stops, the secondary takes
/// over (<see cref="FailOverAsync"/>) and a new secondary is made from it. Every resync and failover is counted with
/// its reason.
/// </summary>
public sealed class Lockstep : IAsyncDisposable
{
    private static readonly TimeSpan s_pumpInterval = TimeSpan.FromMilliseconds(2);
    private readonly Func<Machine.Machine> _build;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _resyncing = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0); // an output is ready on either side: pump now, not at the next tick
    private readonly List<JournalEntry> _entries = [];
    private readonly List<GuestOutput> _outputs = [];
    private readonly long[] _byKind = new long[256];
    private ExecutionJournal _replay;
    private Task _pump = Task.CompletedTask;
    private Task _restoring = Task.CompletedTask;
    private volatile string? _parted;

    /// <param name="build">Builds a machine of the desktop's configuration, unstarted: the primary first, then each secondary.</param>
    public Lockstep(Func<Machine.Machine> build)
    {
        ArgumentNullException.ThrowIfNull(build);
        _build = build;
        Primary = build();
        Secondary = build();
        Primary.UseJournal(Recording);
        _replay = ExecutionJournal.ForReplay();
        Secondary.UseJournal(_replay);
        Comparator.ComparesCounts = Recording.Exact; // a pair on KVM is quasi: its counts are exits
        Recording.OutputReady += Wake;
        Recording.Progressed += Wake;
        _replay.OutputReady += Wake;
        _replay.Progressed += Wake; // raised once it is promoted and records
        Comparator.Released += o => Released?.Invoke(o);
        Comparator.Mismatched += (p, s) => _parted = $"outputs differ: the primary's {p}, the secondary's {s}";
    }

    /// <summary>The current primary (a failover replaces it by the secondary).</summary>
    public Machine.Machine Primary { get; private set; }

    /// <summary>The current secondary (a resync replaces it).</summary>
    public Machine.Machine Secondary { get; private set; }

    /// <summary>The primary's journal (after a failover, the promoted secondary's).</summary>
    public ExecutionJournal Recording { get; private set; } = ExecutionJournal.ForRecording();

    public OutputComparator Comparator { get; } = new();

    /// <summary>A primary output the secondary matched (or that a resync vouched for): it may leave the machine now.</summary>
    public event Action<GuestOutput>? Released;

    /// <summary>After each resync: the count it resumed at and why it was needed.</summary>
    public event Action<long, string>? Resynchronised;

    /// <summary>True (the default): a parting is resynchronised at once. False leaves the pair parted (tests look at the parting).</summary>
    public bool ResyncOnParting { get; init; } = true;

    /// <summary>After each failover: the count the promoted secondary took over at, and why.</summary>
    public event Action<long, string>? FailedOver;

    public int Resyncs { get; private set; }

    public int Failovers { get; private set; }

    public string? LastResyncReason { get; private set; }

    /// <summary>The last resync's transfer: pages and bytes sent, the state's size, the primary's pause (its downtime).</summary>
    public MigrationOutcome? LastCheckpoint { get; private set; }

    /// <summary>Journal entries of <paramref name="kind"/> handed to the secondaries so far.</summary>
    public long Entries(JournalKind kind)
    {
        lock (_entries)
            return _byKind[(byte)kind];
    }

    /// <summary>How far the secondary trails the primary, in the journal's count (instructions; exits on KVM).</summary>
    public long Lag => (Primary.JournalPosition ?? 0) - (Secondary.JournalPosition ?? 0);

    public void Start()
    {
        Primary.Start();
        Secondary.Start();
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>A host input for the desktop: the primary records it; the secondary replays it.</summary>
    public void Submit(GuestInput input) => Primary.Submit(input);

    /// <summary>Moves entries to the secondary and outputs to the comparator once (the pump does it every 2 ms).</summary>
    public void Pump()
    {
        lock (_entries)
        {
            _entries.Clear();
            var safe = Recording.Drain(_entries);
            foreach (var e in _entries)
                _byKind[(byte)e.Kind]++;
            if (!_replay.Recording) // promoted in a failover: it records now, and the dead primary's journal has nothing for it
                _replay.Feed(_entries, safe);
            _outputs.Clear();
            Recording.DrainOutputs(_outputs);
            Comparator.AddPrimary(_outputs);
            _outputs.Clear();
            _replay.DrainOutputs(_outputs);
            Comparator.AddSecondary(_outputs);
            Comparator.CheckOverdue();
        }
    }

    /// <summary>
    /// Replaces the secondary by one that receives the primary's memory and state and replays from its count; the
    /// primary runs on. Returns the count, or throws <see cref="MigrationException"/> (the primary then runs on as it did).
    /// </summary>
    public async Task<long> ResynchroniseAsync(string reason, CancellationToken cancellationToken = default)
    {
        await _resyncing.WaitAsync(cancellationToken).ConfigureAwait(false);
        Machine.Machine? fresh = null;
        try
        {
            fresh = _build();
            var replay = ExecutionJournal.ForReplay();
            using var pair = await LoopbackPair.OpenAsync(cancellationToken).ConfigureAwait(false);
            var received = MigrationTarget.ReceiveAsync(fresh, pair.Destination, m =>
            {
                m.UseJournal(replay);
                replay.OutputReady += Wake;
                replay.Progressed += Wake;
                m.Start();
                return Task.CompletedTask;
            }, TimeSpan.FromSeconds(30), cancellationToken);
            var outcome = await MigrationSource.SendAsync(Primary, pair.Source, new MigrationOptions(), null, cancellationToken).ConfigureAwait(false);
            LastCheckpoint = outcome;
            if (!outcome.Succeeded)
                throw new MigrationException($"the checkpoint did not reach the new secondary: {outcome.Error}");
            await received.ConfigureAwait(false);

            // The primary is paused at the checkpoint: what it recorded and output so far is settled by it.
            var count = Primary.JournalPosition!.Value;
            Pump(); // the old secondary's last outputs, and the primary's, to the comparator
            Recording.Checkpointed(count);
            var old = Secondary;
            lock (_entries)
            {
                _replay.Dispose();
                _replay = replay;
                Secondary = fresh;
                fresh = null;
                Comparator.Resynchronised(count);
            }
            _parted = null;
            Primary.QuiesceDevices(false);
            Primary.ResumeAll();
            if (old != Primary) // after a failover the old secondary is the primary now
            {
                old.Stop();
                old.Dispose();
            }
            Resyncs++;
            LastResyncReason = reason;
            Resynchronised?.Invoke(count, reason);
            return count;
        }
        finally
        {
            fresh?.Dispose();
            _resyncing.Release();
        }
    }

    /// <summary>
    /// The primary is gone: the secondary replays all it was fed and, caught up at the primary's last published count,
    /// runs free and records — it is the primary now. Outputs the primary released stay released; its held ones never
    /// leave; the secondary's own not yet matched leave now, and until a new secondary is made (a resync, started at once
    /// in the background) the new primary's outputs leave unprotected. Returns the count the secondary took over at.
    /// </summary>
    public async Task<long> FailOverAsync(string reason, CancellationToken cancellationToken = default)
    {
        await _resyncing.WaitAsync(cancellationToken).ConfigureAwait(false);
        long count;
        try
        {
            var dead = Primary;
            var promoted = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            _replay.Promoted += promoted.SetResult;
            Pump(); // the last of what the primary recorded and output
            _replay.Promote();
            count = await promoted.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            lock (_entries)
            {
                Pump(); // the secondary's outputs up to the takeover, matched against the primary's
                Comparator.FailedOver();
                Recording.Dispose();
                Recording = _replay;
                Primary = Secondary;
                _replay = ExecutionJournal.ForReplay(); // fed nothing: the next resync replaces it with the new secondary's
            }
            dead.Stop();
            dead.Dispose();
            Failovers++;
            FailedOver?.Invoke(count, reason);
        }
        finally
        {
            _resyncing.Release();
        }
        RestoreProtection($"a new secondary after the failover ({reason})");
        return count;
    }

    /// <summary>A new secondary in the background: meanwhile the pump goes on and the primary's outputs leave unprotected.</summary>
    private void RestoreProtection(string reason)
    {
        _restoring = Task.Run(async () =>
        {
            try
            {
                await ResynchroniseAsync(reason, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is MigrationException or IOException or SocketException or OperationCanceledException or TimeoutException)
            {
                LastResyncReason = $"no new secondary yet: {e.Message}"; // the pump tries again
            }
        }, CancellationToken.None);
    }

    private void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
                _wake.Release();
        }
        catch (ObjectDisposedException)
        {
            // Disposed with the pair: nobody pumps any more.
        }
    }

    private async Task PumpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                Pump();
                if (Primary.Completion.IsCompleted && ResyncOnParting)
                {
                    await FailOverAsync($"the primary stopped: {await Primary.Completion.ConfigureAwait(false)}", _stop.Token).ConfigureAwait(false);
                    continue;
                }
                if (Secondary == Primary) // failed over: none yet, or the last attempt failed
                {
                    if (_restoring.IsCompleted && ResyncOnParting)
                        RestoreProtection("a new secondary after the failover");
                    await _wake.WaitAsync(s_pumpInterval, _stop.Token).ConfigureAwait(false);
                    continue;
                }
                var why = _parted ?? (Secondary.Completion.IsCompleted ? $"the secondary stopped: {await Secondary.Completion.ConfigureAwait(false)}" : null);
                if (why is not null && ResyncOnParting && Primary.State == Machine.MachineState.Running)
                    await ResynchroniseAsync(why, _stop.Token).ConfigureAwait(false);
                await _wake.WaitAsync(s_pumpInterval, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is MigrationException or IOException or SocketException or JournalException or TimeoutException)
            {
                LastResyncReason = $"a resync failed: {e.Message}"; // tried again at the next pass
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
        await _restoring.ConfigureAwait(false);
        Primary.Stop();
        Secondary.Stop();
        Primary.Dispose();
        Secondary.Dispose();
        Recording.Dispose();
        _replay.Dispose();
        _stop.Dispose();
        _resyncing.Dispose();
        _wake.Dispose();
    }
}
