using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Storage;

namespace Vdi.Server.Cluster;

/// <summary>Where the API finds a desktop's live state and sends its life-cycle actions: this host, or the cluster.</summary>
public interface IDesktopDirectory
{
    /// <summary>How to show each desktop now (one question to each host, for a whole list).</summary>
    Task<Func<DesktopRecord, DesktopSummary>> SummarizerAsync();

    /// <summary>A desktop just created, to run.</summary>
    Task LaunchAsync(DesktopRecord record);

    /// <summary>Whether a life-cycle action can reach the desktop (on one host, a desktop its pool has).</summary>
    bool Knows(Guid id);

    /// <summary>start, stop or restart (its record's ShouldRun already saved).</summary>
    Task ActAsync(DesktopRecord record, string action);

    /// <summary>A desktop about to be deleted: stopped wherever it runs.</summary>
    Task RemoveAsync(Guid id);
}

/// <summary>One host: the desktops are this host's pool.</summary>
internal sealed class LocalDesktopDirectory(DesktopPool pool) : IDesktopDirectory
{
    public Task<Func<DesktopRecord, DesktopSummary>> SummarizerAsync() =>
        Task.FromResult<Func<DesktopRecord, DesktopSummary>>(r => Api.DesktopEndpoints.Summary(r, pool));

    public Task LaunchAsync(DesktopRecord record)
    {
        var host = pool.Add(record);
        _ = Task.Run(host.StartAsync);
        return Task.CompletedTask;
    }

    public bool Knows(Guid id) => pool.Get(id) is not null;

    public async Task ActAsync(DesktopRecord record, string action)
    {
        if (pool.Get(record.Id) is { } host)
            await (action switch { "start" => host.StartAsync(), "stop" => host.StopAsync(), _ => host.RestartAsync() }).ConfigureAwait(false);
    }

    public Task RemoveAsync(Guid id) => pool.RemoveAsync(id);
}

/// <summary>
/// A cluster: each desktop's grain places and acts on it; its live state comes from the host it is placed on. A desktop
/// that should run but whose host is not an active member is Lost until its grain places it again.
/// </summary>
internal sealed class ClusterDesktopDirectory(IGrainFactory grains, IClusterMembershipService membership, DesktopPool pool, SnapshotStore snapshots,
    ILogger<ClusterDesktopDirectory> log)
    : IDesktopDirectory
{
    public async Task<Func<DesktopRecord, DesktopSummary>> SummarizerAsync()
    {
        var active = membership.ActiveHostNames();
        var reports = await Task.WhenAll(active.Select(grains.AskDesktopsAsync)).ConfigureAwait(false);
        var live = reports.SelectMany(r => r ?? []).ToDictionary(s => s.Id); // a host that did not answer: its desktops from their records
        return r => live.TryGetValue(r.Id, out var summary) ? summary
            : r.ShouldRun && r.HostName is { } host && !active.Contains(host)
                ? Lost(r, host)
                : Api.DesktopEndpoints.Summary(r, pool) with { Host = r.HostName };
    }

    private DesktopSummary Lost(DesktopRecord record, string host)
    {
        var snapshot = snapshots.Latest(record.Id);
        var from = snapshot is null ? "" : $" from its snapshot of {snapshot.TakenAt:u}";
        return Api.DesktopEndpoints.Summary(record, pool) with
        {
            State = "Lost", StateReason = $"Its host {host} is gone; it starts again on another host{from}.", Host = host, Snapshot = snapshot,
        };
    }

    public Task LaunchAsync(DesktopRecord record)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await grains.GetGrain<IDesktopGrain>(record.Id).EnsureRunningAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
            {
                ClusterLog.SuperviseFailed(log, e.Message); // the supervisor's next round places it
            }
        });
        return Task.CompletedTask;
    }

    public bool Knows(Guid id) => true; // its grain is reachable from every host

    public Task ActAsync(DesktopRecord record, string action)
    {
        var grain = grains.GetGrain<IDesktopGrain>(record.Id);
        return action switch { "start" => grain.EnsureRunningAsync(), "stop" => grain.StopAsync(), _ => grain.RestartAsync() };
    }

    public Task RemoveAsync(Guid id) => grains.GetGrain<IDesktopGrain>(id).StopAsync();
}
