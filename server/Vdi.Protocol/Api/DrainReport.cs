namespace Vdi.Protocol;

/// <summary>
/// What <c>POST /api/hosts/{name}/drain</c> did: each running desktop of the host moved to another host by live
/// migration, or stayed where it was (its failure says why).
/// </summary>
/// <param name="Host">The drained host; it takes no desktops until it restarts or the drain is undone.</param>
/// <param name="Moved">The desktops that run on other hosts now.</param>
/// <param name="Failed">The desktops that stayed on the host.</param>
/// <param name="Unplaced">The desktops placed on the host that were not running (they start on another host when started).</param>
/// <param name="TotalMs">From the request to the last desktop's move.</param>
public sealed record DrainReport(string Host, IReadOnlyList<DesktopMove> Moved, IReadOnlyList<DesktopMove> Failed, IReadOnlyList<string> Unplaced, double TotalMs);

/// <summary>One desktop's move to another host.</summary>
/// <param name="To">The host it went to, or would have (null when no host had room).</param>
/// <param name="Error">Why it stayed, when it did.</param>
/// <param name="DowntimeMs">How long its guest was paused (a move that succeeded).</param>
/// <param name="TotalMs">From the choice of its new host to its viewers being told.</param>
public sealed record DesktopMove(Guid DesktopId, string Name, string From, string? To, bool Succeeded, string? Error, double? DowntimeMs, double TotalMs);
