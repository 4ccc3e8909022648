using Vdi.Vmm.Integrity;

namespace Vdi.Vmm.Host;

/// <summary>
/// The broker's view of one desktop's integrity, for <see cref="LocalDesktop"/> and <see cref="RemoteDesktop"/> alike:
/// the status last known (level, driver, protected set), the newest alerts, and the events. Alerts pass an
/// <see cref="AlertThrottle"/> here too — a host is not trusted to keep its own rate limit — and those over it are
/// only counted. <see cref="Offer"/> runs on vCPU threads in process: it is quick and never blocks for long.
/// </summary>
public sealed class IntegrityFeed(IntegrityLevel level, TimeProvider? time = null)
{
    public const int RecentCapacity = 100;

    private readonly Lock _gate = new(); // _recent, _status
    private readonly AlertThrottle _throttle = new(AlertThrottle.DefaultPerSecond, time);
    private readonly Queue<IntegrityAlert> _recent = new();
    private (IntegrityLevel Level, bool Driver, IReadOnlyList<IntegrityRange> Ranges, int Total) _status = (level, false, [], 0);
    private long _hostSuppressed;

    /// <summary>An alert that passed the rate limit; raised on the thread that offered it.</summary>
    public event Action<IntegrityAlert>? AlertRaised;

    /// <summary>The level, the driver's registration or the protected set changed.</summary>
    public event Action? Changed;

    public IntegrityLevel Level
    {
        get
        {
            lock (_gate)
                return _status.Level;
        }
    }

    public DesktopIntegrity Snapshot
    {
        get
        {
            lock (_gate)
                return new DesktopIntegrity(_status.Level, _status.Driver, _status.Ranges, _status.Total, [.. _recent], SuppressedAlerts);
        }
    }

    /// <summary>Alerts not passed on: over this side's rate limit, and those the host reported it did not send.</summary>
    public long SuppressedAlerts => _throttle.Suppressed + Interlocked.Read(ref _hostSuppressed);

    internal void Offer(IntegrityAlert alert)
    {
        if (!_throttle.TryPass())
            return;
        lock (_gate)
        {
            _recent.Enqueue(alert);
            if (_recent.Count > RecentCapacity)
                _recent.Dequeue();
        }
        AlertRaised?.Invoke(alert);
    }

    internal void SetStatus(IntegrityLevel level, bool driver, IReadOnlyList<IntegrityRange> ranges, int total)
    {
        lock (_gate)
            _status = (level, driver, ranges, Math.Max(total, ranges.Count));
        Changed?.Invoke();
    }

    internal void SetLevel(IntegrityLevel level)
    {
        lock (_gate)
            _status = _status with { Level = level };
        Changed?.Invoke();
    }

    /// <summary>The host's own count of alerts it did not send (it only grows; a smaller number is ignored).</summary>
    internal void SetHostSuppressed(long total)
    {
        long seen;
        while ((seen = Interlocked.Read(ref _hostSuppressed)) < total && Interlocked.CompareExchange(ref _hostSuppressed, total, seen) != seen)
        {
        }
    }

    /// <summary>Whether <paramref name="level"/> can replace <paramref name="current"/> while the desktop runs: Audit and Enforce swap; Off neither comes nor goes.</summary>
    internal static string? CheckLiveChange(IntegrityLevel current, IntegrityLevel level) => (current, level) switch
    {
        _ when !Enum.IsDefined(level) => $"integrity level {(int)level} is not off, audit or enforce",
        _ when current == level => null,
        (IntegrityLevel.Off, _) => "integrity is off for this run of the desktop: it comes on at the next start",
        (_, IntegrityLevel.Off) => "integrity cannot be switched off while the desktop runs: it goes off at the next start",
        _ => null,
    };
}
