using Vdi.Vmm.Integrity;

namespace Vdi.Vmm.Host;

/// <summary>
/// The host's side of guest integrity: the status after the welcome and on every change, each alert as a frame — at
/// most <see cref="AlertThrottle.DefaultPerSecond"/> a second, whatever rate the guest raises them at; the rest are
/// counted and the count sent with the counters every second — and the broker's level changes (Audit ↔ Enforce).
/// </summary>
public sealed partial class DesktopHostServer
{
    private readonly AlertThrottle _alertThrottle = new();
    private long _suppressedSent;

    private IntegrityStatusMessage IntegrityStatus()
    {
        var monitor = _machine.Integrity;
        return IntegrityStatusMessage.Of(monitor.Level, monitor.Driver is not null, [.. monitor.Protected.Select(IntegrityRange.Of)]);
    }

    private void WatchIntegrity()
    {
        _machine.Integrity.AlertRaised += OnIntegrityAlert;
        _machine.Integrity.ProtectionChanged += OnProtectionChanged;
    }

    /// <summary>On the vCPU or device thread that caught the write: a rate check and a queued send, nothing more.</summary>
    private void OnIntegrityAlert(IntegrityAlert alert)
    {
        if (_alertThrottle.TryPass())
            Post(() => _channel.Send(new IntegrityAlertMessage(alert)));
    }

    private void OnProtectionChanged() => Post(() => _channel.Send(IntegrityStatus()));

    /// <summary>With the counters, every second: the count of alerts not sent, when it grew.</summary>
    private void SendSuppressed()
    {
        var suppressed = _alertThrottle.Suppressed;
        if (suppressed == _suppressedSent)
            return;
        _suppressedSent = suppressed;
        _channel.Send(new IntegritySuppressedMessage(suppressed));
    }

    private void SetIntegrityLevel(IntegrityLevel level)
    {
        var monitor = _machine.Integrity;
        if (IntegrityFeed.CheckLiveChange(monitor.Level, level) is { } refused)
        {
            Refuse(HostProtocol.ErrorState, $"integrity: {refused}");
            return;
        }
        monitor.Level = level;
        HostLog.Write(_log, $"integrity level {level}");
        Post(() => _channel.Send(IntegrityStatus()));
    }
}
