using Vdi.Guest.Desktop;
using Vdi.Vmm.Host;
using Vdi.Vmm.Integrity;

namespace Vdi.Server.Desktops;

/// <summary>
/// A desktop's guest integrity: the stored setting (used at each start), the live Audit ↔ Enforce switch, and its
/// alerts, counted for the dashboard's badge and handed to the audit log (<see cref="IntegrityAlerted"/>).
/// </summary>
public sealed partial class DesktopHost
{
    private long _alertCount; // alerts raised since the desktop last started
    private Inspection? _inspection; // the last look inside the guest
    private volatile IntegrityLevel _integrity = IntegrityLevel.Enforce;

    /// <summary>The stored setting: the level the next start uses.</summary>
    public IntegrityLevel Integrity
    {
        get => _integrity;
        set => _integrity = value;
    }

    /// <summary>Called on the thread that raised each alert (a vCPU's in process): must be quick. Set by the pool.</summary>
    public Action<DesktopHost, IntegrityAlert>? IntegrityAlerted { get; set; }

    /// <summary>Alerts since the desktop last started, those over the rate limit included.</summary>
    public long IntegrityAlertCount => Interlocked.Read(ref _alertCount) + (Desktop?.Integrity.SuppressedAlerts ?? 0);

    /// <summary>
    /// Stores <paramref name="level"/> as the setting and, when the desktop runs, applies it now if it can (Audit ↔
    /// Enforce). Returns whether it applies now; false: at the next start (integrity switched off or on).
    /// </summary>
    public bool SetIntegrity(IntegrityLevel level)
    {
        Integrity = level;
        return Desktop is not { } desktop || desktop.SetIntegrityLevel(level) is null;
    }

    /// <summary>
    /// What the dashboard shows from inside the running guest — its uptime and its terminal's last line — read through
    /// the VMM's fault-safe introspection; null when the desktop does not run or a read failed.
    /// </summary>
    /// <remarks>
    /// Each read pauses the guest for a moment (its CR3 is read with the vCPUs parked), so one view serves every caller
    /// for <see cref="InspectionReuse"/>: however many dashboards poll, the guest is looked into a few times a second at most.
    /// </remarks>
    public async Task<DesktopView?> InspectAsync(CancellationToken cancellationToken = default)
    {
        if (Desktop is not { } desktop)
            return null;
        if (Volatile.Read(ref _inspection) is { } last && last.Desktop == desktop && Environment.TickCount64 - last.At < InspectionReuse.TotalMilliseconds)
            return last.View;
        var view = await DesktopInspection.ReadAsync(s_image.Value, (address, length) => desktop.ReadGuestAsync(address, length, cancellationToken), DateTimeOffset.UtcNow).ConfigureAwait(false);
        Volatile.Write(ref _inspection, new Inspection(desktop, Environment.TickCount64, view));
        return view;
    }

    /// <summary>How long one look inside the guest is reused.</summary>
    public static TimeSpan InspectionReuse { get; } = TimeSpan.FromSeconds(1);

    private sealed record Inspection(IDesktopMachine Desktop, long At, DesktopView? View);

    /// <param name="reset">Count from zero (a start); false for a migration's destination, the same guest running on.</param>
    private void WatchIntegrity(IDesktopMachine desktop, bool reset = true)
    {
        if (reset)
            Interlocked.Exchange(ref _alertCount, 0);
        desktop.Integrity.AlertRaised += alert =>
        {
            Interlocked.Increment(ref _alertCount);
            IntegrityAlerted?.Invoke(this, alert);
        };
    }
}
