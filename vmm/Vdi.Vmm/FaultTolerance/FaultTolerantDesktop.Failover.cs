using Vdi.Vmm.Host;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// Failover: the primary's host died (or was killed on request) while a secondary followed. The secondary is promoted:
/// it replays everything it was fed — up to the primary's last safe count the broker relayed — its frames not yet
/// matched are announced, and it records from then on. It was already what the viewers saw, so they stay; the input the
/// dead primary never handed over goes to it, and a new secondary is made from it.
/// </summary>
public sealed partial class FaultTolerantDesktop
{
    private static readonly TimeSpan s_promotionTimeout = TimeSpan.FromSeconds(10);
    private bool _failingOver;
    private TaskCompletionSource<RemoteDesktop?>? _promotion;
    private volatile string? _failoverAsked;
    private string? _failoverWhy; // the failover under way's reason

    private static string FailedOverText(string why, RemoteDesktop promoted, long count) =>
        $"{why}; the secondary (host {promoted.ProcessId}) took over at instruction {count}";

    /// <summary>
    /// "Fail over now": the primary's host is killed and the secondary takes over. Throws
    /// <see cref="InvalidOperationException"/> when no secondary follows (the desktop is not protected).
    /// </summary>
    public void FailOver(string why)
    {
        RemoteDesktop primary;
        lock (_gate)
        {
            if (_stopping || _failingOver || !_feeding || _secondary is null || Comparator.Parted)
                throw new InvalidOperationException("no secondary follows the primary right now: the desktop is not protected");
            primary = _primary;
            _failoverAsked = why;
        }
        primary.Kill($"failover asked: {why}");
    }

    private async Task WatchPrimaryAsync(RemoteDesktop primary)
    {
        var exit = await primary.Completion.ConfigureAwait(false);
        if (_stopping)
            return;
        if (exit.Kind is DesktopExitKind.ProcessDied or DesktopExitKind.ProtocolError)
        {
            var why = _failoverAsked is { } asked ? $"asked: {asked}" : $"the primary's host died: {exit.Reason}";
            _failoverAsked = null;
            if (await FailOverAsync(primary, why).ConfigureAwait(false) is { } promoted)
            {
                _ = primary.DisposeAsync().AsTask();
                _ = WatchPrimaryAsync(promoted);
                return;
            }
        }
        // The guest powered off or crashed (a secondary would do the same), or nothing could take over: the desktop ends.
        _stopping = true;
        StopHeartbeat();
        await _stop.CancelAsync().ConfigureAwait(false);
        await DropSecondaryAsync().ConfigureAwait(false);
        _completion.TrySetResult(exit);
    }

    /// <summary>Promotes the secondary in place of <paramref name="dead"/>; null when there is none, or it did not take over in time.</summary>
    private async Task<RemoteDesktop?> FailOverAsync(RemoteDesktop dead, string why)
    {
        RemoteDesktop secondary;
        TaskCompletionSource<RemoteDesktop?> promotion;
        lock (_gate)
        {
            if (!_feeding || _secondary is null || dead != _primary)
                return null;
            secondary = _secondary;
            promotion = _promotion = new TaskCompletionSource<RemoteDesktop?>(TaskCreationOptions.RunContinuationsAsynchronously);
            _failingOver = true;
            _failoverWhy = why;
        }
        Log($"failing over ({why}): promoting the secondary (host {secondary.ProcessId})");
        if (secondary.Promote())
            await Task.WhenAny(promotion.Task, secondary.Completion, Task.Delay(s_promotionTimeout)).ConfigureAwait(false);
        lock (_gate)
        {
            if (!promotion.Task.IsCompleted)
            {
                _failingOver = false;
                promotion.TrySetResult(null);
            }
        }
        if (await promotion.Task.ConfigureAwait(false) is not { } promoted)
        {
            Raise("unprotected", $"{why}; the secondary did not take over");
            return null;
        }
        Raise("failed-over", FailedOverText(why, promoted, _primaryCount), noted: true); // noted with the switch, in OnPromoted
        RestoreProtection("a new secondary after the failover");
        return promoted;
    }

    /// <summary>The secondary caught up (on its receive thread, after its outputs up to <paramref name="count"/>): it is the primary now.</summary>
    private void OnPromoted(RemoteDesktop host, long count)
    {
        lock (_gate)
        {
            if (host != _secondary || _promotion is not { } promotion || promotion.Task.IsCompleted)
                return;
            Comparator.FailedOver(); // its frames the dead primary had not matched: announced now, while it still counts as replaying
            (_primary, _secondary, _feeding, _primaryCount) = (host, null, false, count);
            if (_display != host)
                ShowFrom(host, replays: false);
            _displayReplays = false; // it announces its own flushes from now on
            foreach (var input in _pending)
                SendTo(host, input); // the dead primary never recorded these
            MirrorIntegrity(host);
            _failingOver = false;
            Failovers++;
            Note("failed-over", FailedOverText(_failoverWhy ?? "", host, count));
            promotion.TrySetResult(host);
        }
    }

    /// <summary>
    /// A request the dead <paramref name="primary"/> had under way: the promoted secondary once a failover completes,
    /// or null when none does.
    /// </summary>
    private async Task<RemoteDesktop?> WhenFailedOverAsync(RemoteDesktop primary)
    {
        var deadline = DateTime.UtcNow + s_promotionTimeout + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < deadline && !_completion.Task.IsCompleted)
        {
            TaskCompletionSource<RemoteDesktop?>? promotion;
            lock (_gate)
            {
                if (_primary != primary)
                    return _primary;
                promotion = _promotion;
            }
            if (!primary.Completion.IsCompleted)
                return null; // the primary runs: the request failed for its own reasons
            if (promotion is not null && !promotion.Task.IsCompleted)
                await promotion.Task.ConfigureAwait(false);
            else
                await Task.Delay(20).ConfigureAwait(false);
        }
        return null;
    }
}
