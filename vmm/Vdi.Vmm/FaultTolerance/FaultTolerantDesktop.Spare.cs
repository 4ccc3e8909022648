using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// A spare secondary host for a quasi pair (KVM), which parts now and then: once a secondary runs, the next one's host
/// is started in the background (an incoming host that waits), so a resync or the loss of the secondary costs only the
/// checkpoint's transfer, not a host's start (about a second, its rehearsal included), while the primary's outputs are
/// held. An exact pair (the software engine) parts only when something went wrong, and keeps no host idle for it. A
/// spare that died, or runs another engine than the primary's, is not used.
/// </summary>
public sealed partial class FaultTolerantDesktop
{
    private Task<RemoteDesktop>? _spare;

    /// <summary>A secondary host on <paramref name="engine"/>: the spare when it is (or becomes) ready and alive, else a new one.</summary>
    private async Task<RemoteDesktop> SecondaryHostAsync(EngineChoice engine, CancellationToken cancellationToken)
    {
        Task<RemoteDesktop>? spare;
        lock (_gate)
            (spare, _spare) = (_spare, null);
        if (spare is not null)
        {
            RemoteDesktop? host = null;
            try
            {
                host = await spare.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // A spare that failed to start, for whatever reason, is replaced by a host started now.
            catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
            {
                Log($"the spare secondary host did not start: {e.Message}");
            }
            if (host is not null && !host.Completion.IsCompleted && host.IsSoftware == (engine == EngineChoice.Software))
                return host;
            if (host is not null)
                await host.DisposeAsync().ConfigureAwait(false);
        }
        return await _launch(FaultToleranceRole.Secondary, engine, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>After a quasi pair's secondary runs: the next one's host starts now, unless one waits already or the pair is ending.</summary>
    private void PrepareSpare(EngineChoice engine)
    {
        lock (_gate)
        {
            if (_spare is not null || _stopping || !_protecting || _stop.IsCancellationRequested || Comparator.ComparesCounts)
                return;
            _spare = _launch(FaultToleranceRole.Secondary, engine, _stop.Token);
        }
    }

    /// <summary>The spare, if any, stopped (the pair ends, or stops protecting).</summary>
    private async Task DropSpareAsync()
    {
        Task<RemoteDesktop>? spare;
        lock (_gate)
            (spare, _spare) = (_spare, null);
        if (spare is null)
            return;
        try
        {
            await (await spare.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A spare that never started has nothing to stop, whatever kept it from starting.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
