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

    private void WatchIntegrity(IDesktopMachine desktop)
    {
        Interlocked.Exchange(ref _alertCount, 0);
        desktop.Integrity.AlertRaised += alert =>
        {
            Interlocked.Increment(ref _alertCount);
            IntegrityAlerted?.Invoke(this, alert);
        };
    }
}
