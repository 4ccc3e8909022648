using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Storage;

namespace Vdi.Server.Cluster;

/// <summary>Why a host cannot be drained (the API's 404 or 409).</summary>
public sealed class DrainRefusedException(string message, bool notFound) : Exception(message)
{
    public bool NotFound { get; } = notFound;
}

/// <summary>Draining a host for maintenance (<c>POST /api/hosts/{name}/drain</c>), and undoing it.</summary>
public interface IHostDrain
{
    /// <summary>
    /// Marks the host draining (placement passes it by), then moves each running desktop placed on it to another host by
    /// live migration, one at a time; desktops placed on it that do not run are unplaced. Throws
    /// <see cref="DrainRefusedException"/> when there is no such active host or nowhere to move to.
    /// </summary>
    Task<DrainReport> DrainAsync(string host, string? userId);

    /// <summary>The host takes desktops again.</summary>
    Task UndrainAsync(string host, string? userId);
}

/// <summary>Without a cluster, the one host has nowhere to send its desktops.</summary>
internal sealed class LocalHostDrain : IHostDrain
{
    public Task<DrainReport> DrainAsync(string host, string? userId) =>
        throw new DrainRefusedException("draining a host needs a cluster (Vdi:Cluster:Enabled): this host is the only one", notFound: false);

    public Task UndrainAsync(string host, string? userId) => DrainAsync(host, userId);
}

internal sealed class ClusterHostDrain(IGrainFactory grains, IClusterMembershipService membership, ClusterDesktops desktops, IServiceScopeFactory scopes,
    Storage.AuditLog audit) : IHostDrain
{
    public async Task<DrainReport> DrainAsync(string host, string? userId)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var active = membership.ActiveHostNames();
        if (!active.Contains(host))
            throw new DrainRefusedException($"no active host is named '{host}'", notFound: true);
        if (active.Count < 2)
            throw new DrainRefusedException($"{host} is the only active host: there is nowhere to move its desktops", notFound: false);
        await grains.GetGrain<IHostGrain>(host).SetDrainingAsync(true).ConfigureAwait(false);
        var placed = await desktops.PlacedHereAsync(host).ConfigureAwait(false);
        var unplaced = placed.Where(d => !d.ShouldRun).Select(d => d.Name).ToList();
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
            // A stopped desktop is placed anew when it starts, and not on a draining host.
            await db.Desktops.Where(d => d.HostName == host && !d.ShouldRun).ExecuteUpdateAsync(u => u.SetProperty(d => d.HostName, (string?)null)).ConfigureAwait(false);
            audit.Add(db, userId, "host.drain", $"{host}: moving {placed.Count - unplaced.Count} desktop(s)");
            await db.SaveChangesAsync().ConfigureAwait(false);
        }
        var moves = new List<DesktopMove>();
        foreach (var desktop in placed.Where(d => d.ShouldRun))
            moves.Add(await grains.GetGrain<IDesktopGrain>(desktop.Id).MoveAsync(host).ConfigureAwait(false));
        return new DrainReport(host, [.. moves.Where(m => m.Succeeded)], [.. moves.Where(m => !m.Succeeded)], unplaced, clock.Elapsed.TotalMilliseconds);
    }

    public async Task UndrainAsync(string host, string? userId)
    {
        if (!membership.ActiveHostNames().Contains(host))
            throw new DrainRefusedException($"no active host is named '{host}'", notFound: true);
        await grains.GetGrain<IHostGrain>(host).SetDrainingAsync(false).ConfigureAwait(false);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        audit.Add(db, userId, "host.undrain", host);
        await db.SaveChangesAsync().ConfigureAwait(false);
    }
}
