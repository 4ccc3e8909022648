using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Vmm.Host;
using Vdi.Vmm.Integrity;
using static Vdi.Server.Integrity.IntegrityNames;

namespace Vdi.Server.Integrity;

/// <summary>A desktop's integrity as the API answers it (<see cref="IntegrityReport"/>).</summary>
public static class IntegrityReports
{
    /// <param name="setting">The level stored with the desktop.</param>
    /// <param name="host">The desktop's host, or null when the pool does not know it.</param>
    public static IntegrityReport Of(string setting, DesktopHost? host)
    {
        var desktop = host?.Desktop;
        var integrity = desktop?.Integrity.Snapshot;
        return new IntegrityReport(
            IntegrityLevels.Normalize(setting) ?? IntegrityLevels.Enforce,
            integrity is null ? null : Name(integrity.Level),
            integrity?.DriverRegistered ?? false,
            integrity?.Protected.Select(Range).ToList() ?? [],
            integrity?.ProtectedTotal ?? 0,
            integrity?.Alerts.Reverse().Select(Alert).ToList() ?? [],
            host?.IntegrityAlertCount ?? 0,
            integrity?.SuppressedAlerts ?? 0);
    }

    public static IntegrityRangeSummary Range(IntegrityRange range) =>
        new(Hex(range.Start), (long)range.Pages, Name(range.Action), range.Tag);

    public static IntegrityAlertSummary Alert(IntegrityAlert a) => new(
        a.Sequence, a.Time, Name(a.Kind), a.Vcpu, a.Device, a.Rip is { } rip ? Hex(rip) : null, Hex(a.Physical),
        a.Virtual is { } v ? Hex(v) : null, Convert.ToHexString(a.Before), Convert.ToHexString(a.After), Name(a.Action), a.Applied, a.Detail);
}
