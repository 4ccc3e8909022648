using Vdi.Vmm.Integrity;

namespace Vdi.Vmm.Host;

/// <summary>The in-process desktop's integrity: straight from the machine's <see cref="IntegrityMonitor"/>, through an <see cref="IntegrityFeed"/>.</summary>
public sealed partial class LocalDesktop
{
    public DesktopIntegrity Integrity => _integrity.Snapshot;

    public event Action<IntegrityAlert>? IntegrityAlertRaised
    {
        add => _integrity.AlertRaised += value;
        remove => _integrity.AlertRaised -= value;
    }

    public event Action? IntegrityChanged
    {
        add => _integrity.Changed += value;
        remove => _integrity.Changed -= value;
    }

    public string? SetIntegrityLevel(IntegrityLevel level)
    {
        var monitor = _machine.Integrity;
        if (IntegrityFeed.CheckLiveChange(monitor.Level, level) is { } refused)
            return refused;
        monitor.Level = level;
        _integrity.SetLevel(level);
        return null;
    }

    private void WatchIntegrity()
    {
        _machine.Integrity.AlertRaised += _integrity.Offer;
        _machine.Integrity.ProtectionChanged += OnProtectionChanged;
    }

    private void UnwatchIntegrity()
    {
        _machine.Integrity.AlertRaised -= _integrity.Offer;
        _machine.Integrity.ProtectionChanged -= OnProtectionChanged;
    }

    private void OnProtectionChanged()
    {
        var monitor = _machine.Integrity;
        var ranges = monitor.Protected.Select(IntegrityRange.Of).ToList();
        _integrity.SetStatus(monitor.Level, monitor.Driver is not null, ranges, ranges.Count);
    }
}
