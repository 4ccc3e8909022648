using Vdi.Vmm.Integrity;

namespace Vdi.Vmm.Host;

/// <summary>A range the desktop's integrity driver protects: guest-virtual start, 4 KiB pages, the action a write gets, the driver's tag.</summary>
public readonly record struct IntegrityRange(ulong Start, ulong Pages, ProtectionAction Action, uint Tag)
{
    public static IntegrityRange Of(ProtectedRange range) => new(range.Start, range.Pages, range.Action, range.Tag);
}

/// <summary>
/// A desktop's guest integrity as the broker sees it: the level, whether the guest's driver registered, what it
/// protects (<see cref="ProtectedTotal"/> may exceed the ranges listed when a host could not send them all), the
/// recent alerts (oldest first, at most <see cref="IntegrityFeed.RecentCapacity"/>) and how many alerts were not
/// passed on because they came faster than <see cref="AlertThrottle.DefaultPerSecond"/> a second.
/// </summary>
public sealed record DesktopIntegrity(
    IntegrityLevel Level,
    bool DriverRegistered,
    IReadOnlyList<IntegrityRange> Protected,
    int ProtectedTotal,
    IReadOnlyList<IntegrityAlert> Alerts,
    long SuppressedAlerts);
