namespace Vdi.Protocol;

/// <summary>A host of the broker as listed by <c>GET /api/hosts</c>: one process that runs desktops.</summary>
/// <param name="Name">The host's name in the cluster (<c>Vdi:Cluster:HostName</c>; the machine's name by default).</param>
/// <param name="State">Its membership state as the cluster sees it: Joining, Active, Draining (active, but taking no desktops while its own move away), ShuttingDown, Stopping or Dead; Active for a host without a cluster.</param>
/// <param name="Address">Where the cluster reaches it (address:port), or null without a cluster.</param>
/// <param name="StartedAt">When it joined.</param>
/// <param name="Load">What it runs and may run; null when it could not be asked (it is not Active, or did not answer).</param>
public sealed record HostSummary(string Name, string State, string? Address, DateTimeOffset StartedAt, HostLoadSummary? Load);

/// <summary>A host's load: the desktops it runs (Starting or Running) and what they take, against its limits.</summary>
/// <param name="Desktops">The names of the desktops it runs.</param>
/// <param name="Vcpus">Their virtual CPUs.</param>
/// <param name="MemoryMiB">Their guest memory.</param>
/// <param name="MaxDesktops">How many desktops it may run (<c>Vdi:Host:MaxDesktops</c>).</param>
/// <param name="MaxVcpus">How many virtual CPUs it may give (<c>Vdi:Host:MaxVcpus</c>).</param>
/// <param name="MaxMemoryMiB">How much guest memory it may give (<c>Vdi:Host:MaxMemoryMiB</c>).</param>
public sealed record HostLoadSummary(IReadOnlyList<string> Desktops, int Vcpus, int MemoryMiB, int MaxDesktops, int MaxVcpus, int MaxMemoryMiB);
