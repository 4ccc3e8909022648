namespace Vdi.Protocol;

/// <summary>
/// <c>GET /api/desktops/{id}/integrity</c>: a desktop's guest integrity. Addresses are hexadecimal strings
/// (<c>0x…</c>): 64-bit values do not fit a JSON number a browser reads exactly.
/// </summary>
/// <param name="Level">The setting stored with the desktop (off, audit, enforce): what its next start uses.</param>
/// <param name="RunningLevel">The level the running desktop applies now; null when it does not run.</param>
/// <param name="DriverRegistered">Whether the guest's integrity driver registered with the VMM.</param>
/// <param name="Protected">What the driver protects, in address order (at most the first 190 ranges of a desktop in a host process).</param>
/// <param name="ProtectedTotal">How many ranges the driver protects.</param>
/// <param name="Alerts">The recent alerts, newest first (at most 100).</param>
/// <param name="AlertCount">Alerts since the desktop started, those over the rate limit included.</param>
/// <param name="SuppressedAlerts">Alerts over the rate limit (20 a second): counted, not listed.</param>
/// <param name="Inside">What the VMM reads from inside the running guest (fault-safe introspection); null when it does not run or a read failed.</param>
public sealed record IntegrityReport(
    string Level,
    string? RunningLevel,
    bool DriverRegistered,
    IReadOnlyList<IntegrityRangeSummary> Protected,
    int ProtectedTotal,
    IReadOnlyList<IntegrityAlertSummary> Alerts,
    long AlertCount,
    long SuppressedAlerts,
    GuestViewSummary? Inside = null);

/// <summary>From inside the guest: seconds since it booted, and its terminal's last line (printable ASCII, at most 200 characters).</summary>
public sealed record GuestViewSummary(long UptimeSeconds, string LastLine);

/// <summary>A protected range: guest-virtual start, 4 KiB pages, the action a write gets (alert, refuse, stop), the driver's tag.</summary>
public sealed record IntegrityRangeSummary(string Start, long Pages, string Action, uint Tag);

/// <summary>
/// One integrity alert. <paramref name="Kind"/>: protected-page, page-table, tree, entry-point or protocol.
/// <paramref name="Vcpu"/> and <paramref name="Rip"/> name the writer, or <paramref name="Device"/> for DMA.
/// <paramref name="Before"/> and <paramref name="After"/> are the bytes in hex (a long write's first 64).
/// <paramref name="Applied"/>: the write landed (audit, or an alert-only protection); false: it was refused.
/// </summary>
public sealed record IntegrityAlertSummary(
    long Sequence,
    DateTimeOffset Time,
    string Kind,
    int Vcpu,
    string? Device,
    string? Rip,
    string Physical,
    string? Virtual,
    string Before,
    string After,
    string Action,
    bool Applied,
    string Detail);

/// <summary>Body of <c>PUT /api/desktops/{id}/integrity</c> (admin).</summary>
/// <param name="Level">off, audit or enforce.</param>
public sealed record SetIntegrityRequest(string? Level);

/// <summary>
/// The answer to a change of the setting: the stored level, and when it applies — <c>now</c> (audit ↔ enforce on a
/// running desktop, or a desktop that is not running: at its start) or <c>next-start</c> (switching integrity off or
/// on under a running desktop), said in <paramref name="Message"/>.
/// </summary>
public sealed record IntegritySettingResult(string Level, string? RunningLevel, string Applies, string Message);
