using Vdi.Vmm.Integrity;

namespace Vdi.Vmm.Host;

/// <summary>The in-process desktop's integrity: straight from the machine's <see cref="IntegrityMonitor"/>, through an <see cref="IntegrityFeed"/>.</summary>
public sealed partial class LocalDesktop
{
    public IntegrityFeed Integrity => _integrity;

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
