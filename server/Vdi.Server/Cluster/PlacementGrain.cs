namespace Vdi.Server.Cluster;

/// <summary>
/// The cluster's placement decisions, one at a time (a single grain): each active host is asked for its load, and a
/// desktop placed a moment ago counts on its host until the host's own load shows it, so desktops placed together
/// spread rather than all going to the host that was emptiest before the first of them.
/// </summary>
[Alias("Vdi.Placement")]
public interface IPlacementGrain : IGrainWithIntegerKey
{
    /// <summary>The host for a desktop (<see cref="Placement"/>), or null when it fits on no active host now.</summary>
    /// <param name="except">A host not to choose (the one a desktop moves away from).</param>
    [Alias("Choose")]
    Task<string?> ChooseAsync(string desktop, int vcpus, int memoryMiB, string? except = null);
}

internal sealed class PlacementGrain(IClusterMembershipService membership, IGrainFactory grains, TimeProvider time) : Grain, IPlacementGrain
{
    /// <summary>How long a placement counts on its host without the host's load showing it.</summary>
    private static readonly TimeSpan s_reservation = TimeSpan.FromSeconds(30);

    private readonly List<(string Host, string Desktop, int Vcpus, int MemoryMiB, DateTimeOffset Until)> _recent = [];

    public async Task<string?> ChooseAsync(string desktop, int vcpus, int memoryMiB, string? except = null)
    {
        var now = time.GetUtcNow();
        _recent.RemoveAll(r => r.Until <= now || r.Desktop == desktop);
        var active = membership.ActiveHostNames().Where(h => h != except).ToList();
        var loads = await Task.WhenAll(active.Select(grains.AskLoadAsync));
        var counted = active.Zip(loads).Where(l => l.Second is not null).Select(l => (l.First, WithRecent(l.First, l.Second!))).ToList();
        var chosen = Placement.Choose(counted, vcpus, memoryMiB);
        if (chosen is not null)
            _recent.Add((chosen, desktop, vcpus, memoryMiB, now + s_reservation));
        return chosen;
    }

    /// <summary>The host's load with the desktops placed on it lately that it does not report yet.</summary>
    private HostLoadReport WithRecent(string host, HostLoadReport load)
    {
        var pending = _recent.Where(r => r.Host == host && !load.Desktops.Contains(r.Desktop)).ToList();
        return pending.Count == 0 ? load : load with
        {
            Desktops = [.. load.Desktops, .. pending.Select(r => r.Desktop)],
            Vcpus = load.Vcpus + pending.Sum(r => r.Vcpus),
            MemoryMiB = load.MemoryMiB + pending.Sum(r => r.MemoryMiB),
        };
    }
}
