namespace Vdi.Protocol;

/// <summary>A desktop as listed by <c>GET /api/desktops</c>.</summary>
/// <param name="Id">The desktop's id.</param>
/// <param name="Name">Display name.</param>
/// <param name="State">Life-cycle state as the server names it (e.g. "Stopped", "Running"); the server owns the set.</param>
/// <param name="Vcpus">Virtual CPUs.</param>
/// <param name="MemoryMiB">Guest memory in MiB.</param>
/// <param name="MaxWidth">Largest display width in device pixels.</param>
/// <param name="MaxHeight">Largest display height in device pixels.</param>
/// <param name="StateReason">Why the desktop is in its state, when that needs saying (a crash, an admin stop).</param>
/// <param name="Engine">The engine the running VM uses and why.</param>
/// <param name="Integrity">Guest integrity: off, audit or enforce (the setting; <c>GET /api/desktops/{id}/integrity</c> has the rest).</param>
/// <param name="IntegrityAlerts">Integrity alerts since the desktop started.</param>
/// <param name="Migration">The desktop's latest live migration (running or ended), or null before any.</param>
/// <param name="FaultTolerance">Whether the desktop runs as a fault-tolerant pair, and the pair's state.</param>
/// <param name="Host">In a cluster, the host the desktop is placed on (it runs there); null on a single host.</param>
/// <param name="Snapshot">In a cluster with a snapshot folder, the desktop's latest live snapshot (what it would start from if its host died).</param>
/// <param name="Sandbox">Where the desktop runs in a host process of its own: the sandbox it got (its level — Full, Partial or None — then one line per step); null in process.</param>
public sealed record DesktopSummary(
    Guid Id,
    string Name,
    string State,
    int Vcpus,
    int MemoryMiB,
    int MaxWidth,
    int MaxHeight,
    string? StateReason = null,
    string? Engine = null,
    string? Sandbox = null,
    string Integrity = IntegrityLevels.Enforce,
    long IntegrityAlerts = 0,
    MigrationStatus? Migration = null,
    FaultToleranceSummary? FaultTolerance = null,
    string? Host = null,
    SnapshotSummary? Snapshot = null);

/// <summary>A desktop's latest live snapshot.</summary>
/// <param name="TakenAt">When it was written.</param>
/// <param name="PausedMs">How long the guest was paused for it (null when another host took it).</param>
/// <param name="TotalMs">From the request to the file in place (null when another host took it).</param>
/// <param name="Bytes">The file's size.</param>
public sealed record SnapshotSummary(DateTimeOffset TakenAt, double? PausedMs, double? TotalMs, long Bytes);
