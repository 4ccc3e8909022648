using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Vdi.Server.Storage;

namespace Vdi.Server.Cluster;

/// <summary>
/// Keeps the cluster's desktops running, every <see cref="ClusterSettings.SuperviseEvery"/>: each host gives up what is
/// placed elsewhere now and asks for what is placed on it but not running there (a host that restarted); the leader —
/// the longest-standing active host — asks for every desktop that should run and has no active host: new ones, and the
/// ones of a host the cluster declared dead, which their grains place on other hosts.
/// </summary>
internal sealed class ClusterSupervisor(
    IClusterMembershipService membership, IGrainFactory grains, ClusterDesktops desktops, IServiceScopeFactory scopes,
    IOptions<ClusterSettings> settings, ILogger<ClusterSupervisor> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(settings.Value.SuperviseEvery);
        do
        {
            try
            {
                await SuperviseAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Whatever one round meets (a host gone mid-call, the database away), the next round tries again: the
                // supervisor never stops the host.
                ClusterLog.SuperviseFailed(log, e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task SuperviseAsync()
    {
        // Placed here and not running: this host restarted and lost them.
        foreach (var id in await desktops.ReconcileAsync().ConfigureAwait(false))
            await grains.GetGrain<IDesktopGrain>(id).EnsureRunningAsync(lost: true).ConfigureAwait(false);
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).ToList();
        var leader = active.OrderBy(m => m.SiloAddress.Generation).ThenBy(m => m.SiloAddress.ToString(), StringComparer.Ordinal).FirstOrDefault();
        if (leader?.Name != desktops.Me)
            return;
        var names = active.Select(m => m.Name).ToList();
        List<Guid> homeless;
        await using (var scope = scopes.CreateAsyncScope())
        {
            homeless = await scope.ServiceProvider.GetRequiredService<VdiDbContext>().Desktops.AsNoTracking()
                .Where(d => d.ShouldRun && (d.HostName == null || !names.Contains(d.HostName)))
                .Select(d => d.Id).ToListAsync().ConfigureAwait(false);
        }
        foreach (var id in homeless)
            await grains.GetGrain<IDesktopGrain>(id).EnsureRunningAsync().ConfigureAwait(false);
    }
}
