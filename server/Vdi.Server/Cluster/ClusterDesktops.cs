using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Server.Storage;

namespace Vdi.Server.Cluster;

/// <summary>
/// This host's side of the cluster's desktops: it runs a desktop only when the desktop's grain placed it here (its
/// record names this host) and tells it to, and it gives up a desktop whose record names another host.
/// </summary>
public sealed partial class ClusterDesktops(DesktopPool pool, IServiceScopeFactory scopes, IOptions<ClusterSettings> settings, MigrationGateway gateway,
    SnapshotStore snapshots, ILogger<ClusterDesktops> log)
{
    public string Me => settings.Value.ResolveHostName();

    /// <summary>
    /// Runs the desktop here (started now unless already starting or running): with <paramref name="lost"/>, from its
    /// latest snapshot where one exists (restored, else booted afresh when that fails); otherwise afresh, its snapshot
    /// forgotten.
    /// </summary>
    public async Task RunAsync(Guid id, bool lost = false)
    {
        var record = await LoadAsync(id).ConfigureAwait(false) ?? throw new InvalidOperationException($"desktop {id} does not exist");
        if (record.HostName != Me)
            throw new InvalidOperationException($"desktop '{record.Name}' is placed on {record.HostName ?? "no host"}, not {Me}");
        var host = pool.Add(record);
        if (host.State is not (DesktopState.Starting or DesktopState.Running))
        {
            if (lost && snapshots.TakenAt(id) is not null && host.Isolation == DesktopIsolation.Process)
                _ = RestoreAsync(host);
            else
            {
                snapshots.Delete(id);
                _ = host.StartAsync(); // Starting at once (the load counts it), running once its VM is up
            }
        }
        ClusterLog.Running(log, record.Name, Me);
    }

    /// <summary>The desktop's latest snapshot, sent as a migration into a machine never booted; a fresh boot if that fails.</summary>
    private async Task RestoreAsync(DesktopHost host)
    {
        string? error;
        try
        {
            var (token, local, arrived) = await host.PrepareArrivalAsync("restoring from its snapshot").ConfigureAwait(false);
            var sent = snapshots.ReplayAsync(host.Id, local, token);
            error = await arrived.ConfigureAwait(false);
            try
            {
                await sent.ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or Vdi.Vmm.Migration.MigrationException or OperationCanceledException)
            {
                error ??= e.Message;
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or Vdi.Vmm.Host.HostProtocolException)
        {
            error = e.Message;
        }
        if (error is null)
            return;
        ClusterLog.RestoreFailed(log, host.Name, error);
        await host.StartAsync().ConfigureAwait(false);
    }

    public async Task StopAsync(Guid id)
    {
        snapshots.Delete(id); // stopped on purpose: its next start is a fresh boot
        if (pool.Get(id) is { } host)
            await host.StopAsync().ConfigureAwait(false);
    }

    public async Task RestartAsync(Guid id)
    {
        snapshots.Delete(id); // a restart is a fresh boot
        if (pool.Get(id) is { } host)
            await host.RestartAsync().ConfigureAwait(false);
        else
            await RunAsync(id).ConfigureAwait(false);
    }

    /// <summary>The desktops placed on this host, as the API shows them.</summary>
    public async Task<DesktopSummary[]> SummariesAsync()
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        var me = Me;
        var records = await db.Desktops.AsNoTracking().Where(d => d.HostName == me).ToListAsync().ConfigureAwait(false);
        return [.. records.Select(r => Api.DesktopEndpoints.Summary(r, pool) with { Host = me, Snapshot = snapshots.Latest(r.Id) })];
    }

    /// <summary>
    /// Ends the desktops this host runs whose record now names another host (placed elsewhere while this host was
    /// thought dead), and the ones deleted; returns the ids placed here that it does not run yet.
    /// </summary>
    public async Task<List<Guid>> ReconcileAsync()
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        var me = Me;
        var placed = await db.Desktops.AsNoTracking().Select(d => new { d.Id, d.Name, d.HostName, d.ShouldRun }).ToListAsync().ConfigureAwait(false);
        var byId = placed.ToDictionary(d => d.Id);
        foreach (var host in pool.Hosts)
        {
            if (byId.TryGetValue(host.Id, out var record) && record.HostName == me || _moving.ContainsKey(host.Id))
                continue; // placed here, or arriving or departing (its record names its host once the move is done)
            ClusterLog.GivingUp(log, host.Name, record?.HostName ?? "nowhere (deleted)");
            await host.StopAsync($"The desktop moved to {record?.HostName ?? "no host"}.").ConfigureAwait(false);
            await pool.RemoveAsync(host.Id).ConfigureAwait(false);
        }
        return [.. placed.Where(d => d.HostName == me && d.ShouldRun && pool.Get(d.Id) is null && !_moving.ContainsKey(d.Id)).Select(d => d.Id)];
    }

    private async Task<DesktopRecord?> LoadAsync(Guid id)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<VdiDbContext>().Desktops.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id).ConfigureAwait(false);
    }
}

internal static partial class ClusterLog
{
    [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "Desktop {Name} runs on this host ({Host})")]
    public static partial void Running(ILogger logger, string name, string host);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Desktop {Name} is placed on {Host} now: stopping it here")]
    public static partial void GivingUp(ILogger logger, string name, string host);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Information, Message = "Desktop {Name} placed on {Host} (was {Previous})")]
    public static partial void Placed(ILogger logger, string name, string host, string previous);

    [LoggerMessage(EventId = 1604, Level = LogLevel.Warning, Message = "Desktop {Name} fits on no active host ({Vcpus} vCPUs, {MemoryMiB} MiB); it waits")]
    public static partial void NoRoom(ILogger logger, string name, int vcpus, int memoryMiB);

    [LoggerMessage(EventId = 1605, Level = LogLevel.Warning, Message = "Supervising the cluster's desktops failed: {Reason}")]
    public static partial void SuperviseFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1607, Level = LogLevel.Warning, Message = "A migration connection from {Remote} presented no expected token; closed")]
    public static partial void MigrationRefused(ILogger logger, string remote);

    [LoggerMessage(EventId = 1608, Level = LogLevel.Debug, Message = "Snapshot of desktop {Name} taken in {Ms:F0} ms, the guest paused {PausedMs:F1} ms")]
    public static partial void SnapshotTaken(ILogger logger, string name, double ms, double pausedMs);

    [LoggerMessage(EventId = 1609, Level = LogLevel.Warning, Message = "Snapshot of desktop {Name} failed: {Reason}")]
    public static partial void SnapshotFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 1610, Level = LogLevel.Warning, Message = "Desktop {Name} could not be restored from its snapshot ({Reason}); it boots afresh")]
    public static partial void RestoreFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 1606, Level = LogLevel.Warning, Message = "Forwarding {Path} to {Host} failed: {Error}")]
    public static partial void ForwardFailed(ILogger logger, string path, string host, string error);
}
