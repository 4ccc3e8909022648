namespace Vdi.Vmm.Host;

/// <summary>
/// At most <see cref="PerSecond"/> alerts pass in any one-second window; the rest are counted. A hostile guest can
/// raise alerts at the rate it exits; this keeps what follows (frames on the host's socket, the broker's events, the
/// audit log) at a fixed rate. Called on vCPU and device threads: one short lock, no allocation, never blocks for long.
/// </summary>
public sealed class AlertThrottle(int perSecond = AlertThrottle.DefaultPerSecond, TimeProvider? time = null)
{
    public const int DefaultPerSecond = 20;

    private readonly Lock _gate = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long _windowStart = long.MinValue;
    private int _passed;
    private long _suppressed;

    public int PerSecond { get; } = perSecond > 0 ? perSecond : throw new ArgumentOutOfRangeException(nameof(perSecond), "at least one alert a second must pass");

    /// <summary>Alerts refused so far.</summary>
    public long Suppressed => Interlocked.Read(ref _suppressed);

    /// <summary>True when this alert may pass; otherwise it is counted in <see cref="Suppressed"/>.</summary>
    public bool TryPass()
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_windowStart == long.MinValue || _time.GetElapsedTime(_windowStart, now) >= TimeSpan.FromSeconds(1))
                (_windowStart, _passed) = (now, 0);
            if (_passed < PerSecond)
            {
                _passed++;
                return true;
            }
        }
        Interlocked.Increment(ref _suppressed);
        return false;
    }
}
