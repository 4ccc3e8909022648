using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Storage;

namespace Vdi.Server.Cluster;

/// <summary>
/// One grain per desktop owns its placement: which host runs it. Orleans keeps one activation of it in the cluster and
/// runs its calls one at a time, so two hosts are never both told to run the desktop: the host is written to the
/// desktop's record before it is told, and a host runs a desktop only while its record names it.
/// </summary>
[Alias("Vdi.Desktop")]
public interface IDesktopGrain : IGrainWithGuidKey
{
    /// <summary>
    /// A desktop that should run runs: on its host while that host is an active member, else placed on the active host
    /// with the most room (<see cref="IPlacementGrain"/>) — a new desktop, or one whose host died. Returns the host, or null
    /// when the desktop should not run or fits nowhere now. With <paramref name="lost"/> (the desktop ran and its host
    /// lost it: the host died or restarted), it starts from its latest snapshot where one exists.
    /// </summary>
    [Alias("EnsureRunning")]
    Task<string?> EnsureRunningAsync(bool lost = false);

    [Alias("Stop")]
    Task StopAsync();

    [Alias("Restart")]
    Task RestartAsync();

    /// <summary>
    /// Moves the running desktop off <paramref name="from"/> (its host) to the active host with the most room, by live
    /// migration; a desktop whose move fails stays where it was (<see cref="DesktopMove.Error"/> says why).
    /// </summary>
    [Alias("Move"), ResponseTimeout("00:15:00")]
    Task<DesktopMove> MoveAsync(string from);
}

internal sealed class DesktopGrain(IServiceScopeFactory scopes, IClusterMembershipService membership, IGrainFactory grains, Storage.AuditLog audit,
    Sessions.SessionRecords sessions, SnapshotStore snapshots, ILogger<DesktopGrain> log)
    : Grain, IDesktopGrain
{
    public async Task<string?> EnsureRunningAsync(bool lost = false)
    {
        var id = this.GetPrimaryKey();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        var record = await db.Desktops.FirstOrDefaultAsync(d => d.Id == id);
        if (record is not { ShouldRun: true })
            return null;
        var active = ActiveHosts();
        if (record.HostName is { } current && active.Contains(current))
        {
            await grains.GetGrain<IHostGrain>(current).RunDesktopAsync(id, lost);
            return current;
        }
        var chosen = await grains.GetGrain<IPlacementGrain>(0).ChooseAsync(record.Name, record.Vcpus, record.MemoryMiB);
        if (chosen is null)
        {
            ClusterLog.NoRoom(log, record.Name, record.Vcpus, record.MemoryMiB);
            return null;
        }
        var previous = record.HostName;
        record.HostName = chosen;
        var snapshot = previous is null ? null : snapshots.TakenAt(id);
        audit.Add(db, null, previous is null ? "desktop.placed" : "desktop.restarted-elsewhere",
            previous is null ? $"{record.Name} ({id}) on {chosen}"
            : $"{record.Name} ({id}) on {chosen}: its host {previous} was lost; {(snapshot is { } at ? $"from its snapshot of {at:u}" : "booted afresh (no snapshot)")}");
        await db.SaveChangesAsync();
        ClusterLog.Placed(log, record.Name, chosen, previous ?? "not placed");
        if (previous is not null) // its sessions died with their host: their records end, as after a restart
            await sessions.EndLiveOfDesktopAsync(id, Protocol.SessionEndReasons.ServerRestarted);
        await grains.GetGrain<IHostGrain>(chosen).RunDesktopAsync(id, lost: previous is not null);
        return chosen;
    }

    public async Task StopAsync()
    {
        snapshots.Delete(this.GetPrimaryKey()); // its next start is a fresh boot
        if (await CurrentHostAsync() is { } host)
            await grains.GetGrain<IHostGrain>(host).StopDesktopAsync(this.GetPrimaryKey());
    }

    public async Task RestartAsync()
    {
        if (await CurrentHostAsync() is { } host)
            await grains.GetGrain<IHostGrain>(host).RestartDesktopAsync(this.GetPrimaryKey());
        else
            await EnsureRunningAsync();
    }

    public async Task<DesktopMove> MoveAsync(string from)
    {
        var id = this.GetPrimaryKey();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        var record = await db.Desktops.FirstOrDefaultAsync(d => d.Id == id);
        DesktopMove Failed(string? to, string error) => new(id, record?.Name ?? $"{id}", from, to, false, error, null, clock.Elapsed.TotalMilliseconds);
        if (record is null || record.HostName != from || !ActiveHosts().Contains(from))
            return Failed(null, $"it is not placed on the active host {from}");
        var to = await grains.GetGrain<IPlacementGrain>(0).ChooseAsync(record.Name, record.Vcpus, record.MemoryMiB, except: from);
        if (to is null)
            return Failed(null, $"no other active host has room for it ({record.Vcpus} vCPUs, {record.MemoryMiB} MiB)");
        var (source, destination) = (grains.GetGrain<IHostGrain>(from), grains.GetGrain<IHostGrain>(to));
        ArrivalTicket ticket;
        try
        {
            ticket = await destination.PrepareArrivalAsync(id);
        }
        catch (Exception e) when (e is InvalidOperationException or OrleansException or TimeoutException)
        {
            return Failed(to, $"{to} could not prepare for it: {e.Message}");
        }
        double? paused = null;
        string? departError;
        try
        {
            var departure = await source.DepartAsync(id, ticket);
            paused = departure.DowntimeMs;
            departError = departure.Result == MigrationStatus.Succeeded ? null : departure.Error ?? "the migration failed";
        }
        catch (Exception e) when (e is InvalidOperationException or OrleansException or TimeoutException)
        {
            departError = e.Message;
        }
        if (departError is not null)
        {
            await destination.EndArrivalAsync(id, keep: false);
            return Failed(to, departError);
        }
        if (await destination.AwaitArrivalAsync(id) is { } arrivalError)
        {
            // Sent, but it does not run there: it starts again here, and nothing moved.
            await destination.EndArrivalAsync(id, keep: false);
            await source.FinishDepartureAsync(id, movedTo: null);
            return Failed(to, $"{to}: {arrivalError}");
        }
        record.HostName = to;
        audit.Add(db, null, "desktop.moved", $"{record.Name} ({id}) from {from} to {to}, paused {paused:F1} ms");
        await db.SaveChangesAsync();
        ClusterLog.Placed(log, record.Name, to, from);
        // Together: its viewers reconnect (and reach the desktop on its new host) while the new host settles it.
        await Task.WhenAll(destination.EndArrivalAsync(id, keep: true), source.FinishDepartureAsync(id, movedTo: to));
        return new DesktopMove(id, record.Name, from, to, true, null, paused, clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>The desktop's host while it is an active member; null otherwise.</summary>
    private async Task<string?> CurrentHostAsync()
    {
        var id = this.GetPrimaryKey();
        await using var scope = scopes.CreateAsyncScope();
        var host = await scope.ServiceProvider.GetRequiredService<VdiDbContext>().Desktops.AsNoTracking()
            .Where(d => d.Id == id).Select(d => d.HostName).FirstOrDefaultAsync();
        return host is not null && ActiveHosts().Contains(host) ? host : null;
    }

    private HashSet<string> ActiveHosts() => membership.ActiveHostNames();
}
