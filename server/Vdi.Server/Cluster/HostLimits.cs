namespace Vdi.Server.Cluster;

/// <summary>What one host may run; placement compares hosts by what is left. Bound from "Vdi:Host".</summary>
public sealed class HostLimits
{
    public int MaxDesktops { get; set; } = 100;

    /// <summary>Virtual CPUs in all its desktops; by default four per core.</summary>
    public int MaxVcpus { get; set; } = Environment.ProcessorCount * 4;

    /// <summary>Guest memory in all its desktops; by default 80 % of the memory the process may use.</summary>
    public int MaxMemoryMiB { get; set; } = (int)Math.Min(int.MaxValue, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes * 8 / 10 / (1024 * 1024));
}
