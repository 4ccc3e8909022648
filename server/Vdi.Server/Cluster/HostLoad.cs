using Microsoft.Extensions.Options;
using Vdi.Protocol;
using Vdi.Server.Desktops;

namespace Vdi.Server.Cluster;

/// <summary>
/// This host's load: the desktops its pool runs (Starting or Running) against its <see cref="HostLimits"/>, and whether
/// it is draining (then placement passes it by).
/// </summary>
public sealed class HostLoad(DesktopPool pool, IOptions<HostLimits> limits)
{
    private volatile bool _draining;

    /// <summary>Set by a drain (<c>POST /api/hosts/{name}/drain</c>), cleared by its undoing or a restart.</summary>
    public bool Draining
    {
        get => _draining;
        set => _draining = value;
    }

    public HostLoadReport Measure()
    {
        var running = pool.Hosts.Where(h => h.State is DesktopState.Starting or DesktopState.Running).ToList();
        var max = limits.Value;
        return new HostLoadReport(
            [.. running.Select(h => h.Name).Order(StringComparer.Ordinal)], running.Sum(h => h.Vcpus), running.Sum(h => h.MemoryMiB),
            max.MaxDesktops, max.MaxVcpus, max.MaxMemoryMiB, _draining);
    }
}

/// <summary>A host's load as it crosses the cluster (<see cref="HostLoadSummary"/> in the API).</summary>
[GenerateSerializer, Immutable, Alias("Vdi.HostLoad")]
public sealed record HostLoadReport(
    [property: Id(0)] string[] Desktops,
    [property: Id(1)] int Vcpus,
    [property: Id(2)] int MemoryMiB,
    [property: Id(3)] int MaxDesktops,
    [property: Id(4)] int MaxVcpus,
    [property: Id(5)] int MaxMemoryMiB,
    [property: Id(6)] bool Draining = false)
{
    public HostLoadSummary ToSummary() => new(Desktops, Vcpus, MemoryMiB, MaxDesktops, MaxVcpus, MaxMemoryMiB);
}
