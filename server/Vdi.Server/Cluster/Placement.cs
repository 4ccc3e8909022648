namespace Vdi.Server.Cluster;

/// <summary>
/// Where a new desktop goes: among the hosts it fits on that are not draining (one desktop, its vCPUs and memory more stay within the host's
/// limits), the one with the most room left, room being the scarcest of the three as a fraction of its limit; a tie
/// goes to the host running fewer desktops, then to the first name.
/// </summary>
public static class Placement
{
    public static string? Choose(IEnumerable<(string Host, HostLoadReport Load)> hosts, int vcpus, int memoryMiB)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        return hosts
            .Where(h => !h.Load.Draining)
            .Where(h => h.Load.Desktops.Length + 1 <= h.Load.MaxDesktops && h.Load.Vcpus + vcpus <= h.Load.MaxVcpus && h.Load.MemoryMiB + memoryMiB <= h.Load.MaxMemoryMiB)
            .OrderByDescending(h => Room(h.Load, vcpus, memoryMiB))
            .ThenBy(h => h.Load.Desktops.Length)
            .ThenBy(h => h.Host, StringComparer.Ordinal)
            .Select(h => h.Host)
            .FirstOrDefault();
    }

    /// <summary>The scarcest resource left once the desktop is there, as a fraction of its limit.</summary>
    private static double Room(HostLoadReport load, int vcpus, int memoryMiB) => Math.Min(
        Left(load.Desktops.Length + 1, load.MaxDesktops),
        Math.Min(Left(load.Vcpus + vcpus, load.MaxVcpus), Left(load.MemoryMiB + memoryMiB, load.MaxMemoryMiB)));

    private static double Left(int used, int limit) => limit <= 0 ? 0 : (double)(limit - used) / limit;
}
