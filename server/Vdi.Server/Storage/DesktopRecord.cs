namespace Vdi.Server.Storage;

/// <summary>A desktop as persisted: its configuration, whether it should run, and who may use it.</summary>
public sealed class DesktopRecord
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    public int Vcpus { get; set; } = 1;

    public int MemoryMiB { get; set; } = 512;

    public int MaxWidth { get; set; } = 7680;

    public int MaxHeight { get; set; } = 4320;

    /// <summary>Started again when the server starts.</summary>
    public bool ShouldRun { get; set; } = true;

    /// <summary>The user the desktop is assigned to (administrators reach every desktop).</summary>
    public string? OwnerUserId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Guest integrity: off, audit or enforce (<see cref="Protocol.IntegrityLevels"/>); used at each start.</summary>
    public string Integrity { get; set; } = Protocol.IntegrityLevels.Enforce;

    /// <summary>Runs as a fault-tolerant pair (a primary host and a secondary that follows it); used at each start.</summary>
    public bool FaultTolerant { get; set; }

    /// <summary>
    /// In a cluster: the host its desktop grain placed it on (Vdi:Cluster:HostName), which runs it while it is an active
    /// member; null before it is placed, and always without a cluster.
    /// </summary>
    public string? HostName { get; set; }
}
