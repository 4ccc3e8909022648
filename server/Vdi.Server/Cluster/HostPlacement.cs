using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Vdi.Server.Cluster;

/// <summary>
/// Places a grain keyed by a host's name on that host: how the cluster reaches one host in particular (its
/// <see cref="IHostGrain"/>). A host that is not an active member cannot be reached: the call fails, saying so.
/// </summary>
[GenerateSerializer, Immutable]
public sealed class HostPlacement : PlacementStrategy;

/// <summary>Marks a grain class placed by <see cref="HostPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class HostPlacementAttribute() : PlacementAttribute(new HostPlacement());

internal sealed class HostPlacementDirector(IClusterMembershipService membership) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var name = target.GrainIdentity.Key.ToString();
        var compatible = context.GetCompatibleSilos(target);
        var silo = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && m.Name == name && compatible.Contains(m.SiloAddress))
            .Select(m => m.SiloAddress)
            .FirstOrDefault();
        return silo is not null
            ? Task.FromResult(silo)
            : Task.FromException<SiloAddress>(new OrleansException($"host '{name}' is not an active member of the cluster"));
    }
}
