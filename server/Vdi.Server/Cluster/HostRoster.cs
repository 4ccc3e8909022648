using System.Diagnostics;
using Microsoft.Extensions.Options;
using Vdi.Protocol;

namespace Vdi.Server.Cluster;

/// <summary>The broker's hosts, with their state and load (<c>GET /api/hosts</c>).</summary>
public interface IHostRoster
{
    Task<IReadOnlyList<HostSummary>> ListAsync(CancellationToken cancellationToken);
}

/// <summary>Without a cluster: this host alone.</summary>
internal sealed class LocalHostRoster(HostLoad load, IOptions<ClusterSettings> settings) : IHostRoster
{
    private static readonly DateTimeOffset s_started = new(Process.GetCurrentProcess().StartTime.ToUniversalTime());

    public Task<IReadOnlyList<HostSummary>> ListAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<HostSummary>>([new HostSummary(settings.Value.ResolveHostName(), "Active", null, s_started, load.Measure().ToSummary())]);
}

/// <summary>
/// In a cluster: every host the membership table knows, its latest incarnation only (a host restarted under its name
/// is one row), read from the table itself (not through a grain, which may live on the host that just died); each
/// active host is asked for its load through its <see cref="IHostGrain"/>.
/// </summary>
internal sealed class ClusterHostRoster(IGrainFactory grains, IMembershipTable table) : IHostRoster
{
    public async Task<IReadOnlyList<HostSummary>> ListAsync(CancellationToken cancellationToken)
    {
        var entries = (await table.ReadAllAsync(cancellationToken).ConfigureAwait(false)).Members
            .Select(m => m.Item1)
            .GroupBy(e => e.SiloName)
            .Select(g => g.MaxBy(e => e.StartTime)!)
            .OrderBy(e => e.SiloName, StringComparer.Ordinal)
            .ToList();
        var loads = await Task.WhenAll(entries.Select(e => e.Status == SiloStatus.Active ? grains.AskLoadAsync(e.SiloName) : Task.FromResult<HostLoadReport?>(null))).ConfigureAwait(false);
        return [.. entries.Zip(loads, (e, load) => new HostSummary(
            e.SiloName, e.Status == SiloStatus.Active && load is { Draining: true } ? "Draining" : e.Status.ToString(), $"{e.SiloAddress.Endpoint}", new DateTimeOffset(DateTime.SpecifyKind(e.StartTime, DateTimeKind.Utc)), load?.ToSummary()))];
    }
}
