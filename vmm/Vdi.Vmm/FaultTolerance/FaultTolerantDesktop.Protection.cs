using System.Diagnostics;
using Vdi.Vmm.Host;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// Keeping a secondary: the journal relayed from the primary to it, a new one made from a checkpoint of the primary
/// (at the start, after a mismatch, after it died, after a failover), and the state the broker shows.
/// </summary>
public sealed partial class FaultTolerantDesktop
{
    private static readonly TimeSpan s_receiveConfirm = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_retryMax = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim _changing = new(1, 1); // one new secondary at a time
    private RemoteDesktop? _candidate; // a secondary receiving its checkpoint
    private bool _feeding; // the secondary has its checkpoint: the primary's entries go to it
    private volatile bool _protecting = true; // false once fault tolerance is switched off while the desktop runs
    private Task _restoring = Task.CompletedTask;
    private long _primaryCount, _secondaryCount;

    /// <summary>Raised for each event the broker logs: its kind ("protected", "resynchronised", "secondary-lost", "failed-over", "unprotected") and what happened.</summary>
    public event Action<string, string>? Changed;

    public int Resyncs { get; private set; }

    public int Failovers { get; private set; }

    public int SecondariesLost { get; private set; }

    /// <summary>The last checkpoint's transfer (its pause is the primary's downtime).</summary>
    public MigrationOutcome? LastCheckpoint { get; private set; }

    public FaultToleranceStatus Status
    {
        get
        {
            lock (_gate)
            {
                var state = _completion.Task.IsCompleted ? "stopped"
                    : !_protecting ? "off"
                    : _failingOver ? "failing-over"
                    : _feeding && _secondary is not null && Comparator.Parted ? "resynchronising"
                    : _feeding && _secondary is not null ? (_display == _secondary ? "protected" : "protecting") // fed, not yet shown
                    : _restoring.IsCompleted ? "unprotected" : "protecting";
                return new FaultToleranceStatus(state, _primary.ProcessId, _secondary?.ProcessId, _primaryCount, _feeding ? _secondaryCount : null,
                    Comparator.Held, Comparator.ReleasedCount, Resyncs, Failovers, SecondariesLost, _lastEvent, _lastEventAt, LastCheckpoint?.Downtime.TotalMilliseconds);
            }
        }
    }

    private string? _lastEvent;
    private DateTimeOffset? _lastEventAt;

    private void Raise(string kind, string detail, bool noted = false)
    {
        if (!noted)
        {
            lock (_gate)
                Note(kind, detail);
        }
        Log($"{kind}: {detail}");
        Changed?.Invoke(kind, detail);
    }

    /// <summary>Under the gate: the event becomes the status's last, with the state change it goes with.</summary>
    private void Note(string kind, string detail) => (_lastEvent, _lastEventAt) = ($"{kind}: {detail}", DateTimeOffset.UtcNow);

    /// <summary>A journal frame from any of the desktop's hosts: a primary's is relayed and compared, a secondary's compared.</summary>
    private void OnJournal(RemoteDesktop host, IReadOnlyList<JournalEntry> entries, IReadOnlyList<GuestOutput> outputs, long count)
    {
        lock (_gate)
        {
            _heard[host] = Stopwatch.GetTimestamp();
            if (host == _primary)
            {
                Retire(entries);
                if (_feeding && _secondary is { } secondary && (entries.Count > 0 || count > _primaryCount))
                    secondary.Feed(entries, count);
                _primaryCount = count;
                Comparator.AddPrimary(outputs);
            }
            else if (host == _secondary && _feeding)
            {
                _secondaryCount = count;
                Comparator.AddSecondary(outputs);
            }
            // Else a secondary being replaced, or one still receiving its checkpoint (it has not run yet).
        }
    }

    /// <summary>The primary paused for the checkpoint the candidate starts from: in the primary's order, the candidate is fed from here on.</summary>
    private void OnCheckpointed(RemoteDesktop host, long count)
    {
        RemoteDesktop? replaced;
        lock (_gate)
        {
            if (host != _primary || _candidate is not { } candidate)
                return;
            replaced = _secondary;
            (_secondary, _feeding, _secondaryCount) = (candidate, true, count);
            _heard[candidate] = Stopwatch.GetTimestamp();
            Comparator.Resynchronised(count);
            if (_display == replaced)
                _displayReplays = false; // until the candidate runs and shows; then the viewers read it whole
        }
        TestPoint?.Invoke("checkpointed");
        if (replaced is not null)
            _ = replaced.DisposeAsync().AsTask();
    }

    private void OnMismatched(GuestOutput primary, GuestOutput secondary)
    {
        var why = $"outputs differ: the primary's {primary}, the secondary's {secondary}";
        _ = Task.Run(() => ProtectAsync(why, Need.Parted));
    }

    /// <summary>
    /// A checkpoint now: a new secondary replaces the one following (which follows on if this fails). True once the new
    /// one runs; false when it could not be made (the reason is in the log).
    /// </summary>
    public Task<bool> ResynchroniseAsync(string why) => ProtectAsync(why, Need.Always);

    /// <summary>Tests: the secondary receiving a checkpoint, while one is sent.</summary>
    internal RemoteDesktop? Candidate
    {
        get
        {
            lock (_gate)
                return _candidate;
        }
    }

    /// <summary>Tests: called at "checkpoint-sending" (the new secondary listens; the primary is about to send) and "checkpointed".</summary>
    internal Action<string>? TestPoint { get; set; }

    /// <summary>When a new secondary is still wanted: none follows, the pair parted, or always (asked for).</summary>
    private enum Need
    {
        NoSecondary,
        Parted,
        Always,
    }

    /// <summary>A new secondary in the background, tried again (after 1 s, doubling to 30 s) until one runs or the desktop stops.</summary>
    private void RestoreProtection(string why)
    {
        lock (_gate)
        {
            if (!_restoring.IsCompleted)
                return;
            _restoring = Task.Run(async () =>
            {
                var wait = TimeSpan.FromSeconds(1);
                while (!_stopping && !await ProtectAsync(why, Need.NoSecondary).ConfigureAwait(false))
                {
                    try
                    {
                        await Task.Delay(wait, _stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                    wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, s_retryMax.Ticks));
                }
            });
        }
    }

    /// <summary>Makes a secondary from a checkpoint of the primary (replacing the current one on a resync); false when it did not.</summary>
    private async Task<bool> ProtectAsync(string why, Need need)
    {
        var resync = need != Need.NoSecondary;
        try
        {
            await _changing.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        RemoteDesktop? candidate = null;
        try
        {
            lock (_gate)
            {
                if (_stopping || _failingOver || !_protecting)
                    return !_protecting; // switched off: nothing more to make
                if (need == Need.Parted ? !Comparator.Parted : need == Need.NoSecondary && _secondary is not null)
                    return true; // nothing to do any more (a resync already made)
            }
            var primary = _primary;
            var engine = primary.IsSoftware ? Execution.EngineChoice.Software : Execution.EngineChoice.Kvm;
            candidate = await SecondaryHostAsync(engine, _stop.Token).ConfigureAwait(false);
            if (candidate.IsSoftware != primary.IsSoftware)
                throw new InvalidOperationException($"the new secondary runs on {candidate.Engine}, its primary on {primary.Engine}: a replay follows its own engine's journal only");
            Attach(candidate);
            _ = WatchSecondaryAsync(candidate);
            var token = MigrateListenMessage.NewToken();
            var incoming = await candidate.AcceptMigrationAsync(token, _stop.Token).ConfigureAwait(false);
            lock (_gate)
                _candidate = candidate;
            TestPoint?.Invoke("checkpoint-sending");
            var outcome = await primary.CheckpointToAsync(incoming.Endpoint, token, new MigrationOptions(), _stop.Token).ConfigureAwait(false);
            var received = await incoming.Received.WaitAsync(s_receiveConfirm, _stop.Token).ConfigureAwait(false);
            lock (_gate)
            {
                _candidate = null;
                if (!outcome.Succeeded || !received.Succeeded)
                    throw new MigrationException($"the checkpoint did not reach the new secondary: {outcome.Error ?? received.Error}");
                if (_secondary != candidate || _primary != primary)
                    throw new MigrationException("the desktop changed while the checkpoint was sent");
                ShowFrom(candidate, replays: true);
                LastCheckpoint = outcome;
                if (resync)
                    Resyncs++;
            }
            candidate = null; // the desktop's now
            Raise(resync ? "resynchronised" : "protected", $"{why}; checkpoint of {outcome.BytesSent / 1024} KiB, the primary paused {outcome.Downtime.TotalMilliseconds:F1} ms");
            PrepareSpare(engine); // the next secondary's host, ready before it is needed
            return true;
        }
        catch (Exception e) when (e is MigrationException or InvalidOperationException or IOException or TimeoutException or HostProtocolException or OperationCanceledException)
        {
            if (!_stopping)
                Log($"no new secondary ({why}): {e.Message}");
            return false;
        }
        finally
        {
            if (candidate is not null)
            {
                lock (_gate)
                {
                    if (_candidate == candidate)
                        _candidate = null;
                }
                await candidate.DisposeAsync().ConfigureAwait(false); // its end, if it had become the secondary, is a loss
            }
            _changing.Release();
        }
    }

    /// <summary>A secondary that ends while it is the desktop's: the desktop goes on unprotected, shown from the primary, and a new one is made.</summary>
    private async Task WatchSecondaryAsync(RemoteDesktop host)
    {
        var exit = await host.Completion.ConfigureAwait(false);
        lock (_gate)
        {
            if (_stopping || host != _secondary || _failingOver)
                return;
            (_secondary, _feeding) = (null, false);
            Comparator.Unprotect();
            SecondariesLost++;
            if (_display == host)
                ShowFrom(_primary, replays: false);
            Note("secondary-lost", LostText(exit));
        }
        Raise("secondary-lost", LostText(exit), noted: true);
        _ = host.DisposeAsync().AsTask();
        if (_protecting)
            RestoreProtection("a new secondary after the last was lost");
    }

    /// <summary>
    /// Fault tolerance switched off while the desktop runs: the secondary goes, none is made again, and the primary runs
    /// on alone (it still records; its journal is dropped here) until <see cref="ProtectAgain"/> or the desktop's end.
    /// </summary>
    public async Task StopProtectingAsync(string why)
    {
        lock (_gate)
        {
            if (!_protecting)
                return;
            _protecting = false;
            if (_display != _primary)
                ShowFrom(_primary, replays: false);
            Comparator.Unprotect();
        }
        await DropSecondaryAsync().ConfigureAwait(false);
        Raise("unprotected", why);
    }

    /// <summary>Fault tolerance switched on again: a secondary is made from the primary.</summary>
    public void ProtectAgain(string why)
    {
        lock (_gate)
        {
            if (_protecting)
                return;
            _protecting = true;
        }
        RestoreProtection(why);
    }

    private static string LostText(DesktopExit exit) => $"the secondary ended ({exit.Reason}); the desktop runs unprotected until a new one runs";

    /// <summary>Stops and forgets the secondary, any candidate and the spare (the desktop stops, or stops protecting).</summary>
    private async Task DropSecondaryAsync()
    {
        await DropSpareAsync().ConfigureAwait(false);
        RemoteDesktop? secondary, candidate;
        lock (_gate)
        {
            (secondary, candidate) = (_secondary, _candidate);
            (_secondary, _candidate, _feeding) = (null, null, false);
        }
        if (secondary is not null)
            await secondary.DisposeAsync().ConfigureAwait(false);
        if (candidate is not null)
            await candidate.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// A fault-tolerant desktop's state for the API and the dashboard: protected (a secondary follows), resynchronising,
/// protecting (a secondary is being made), unprotected, failing-over or stopped; the hosts' process ids; how far each
/// has run (the journal's count: instructions, or exits on KVM) — the lag is their difference; outputs held and
/// released; and the event counts.
/// </summary>
public sealed record FaultToleranceStatus(string State, int? PrimaryProcessId, int? SecondaryProcessId, long PrimaryCount, long? SecondaryCount,
    int HeldOutputs, long ReleasedOutputs, int Resyncs, int Failovers, int SecondariesLost, string? LastEvent, DateTimeOffset? LastEventAt, double? LastCheckpointPauseMs)
{
    public long? Lag => SecondaryCount is { } s ? Math.Max(0, PrimaryCount - s) : null;
}
