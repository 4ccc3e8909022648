namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// The rate rule's measurement for one vCPU: exits from a small set of guest RIPs inside a time window. An exit from
/// a RIP outside the set when the set is full, or after the window has passed, starts a new window, so only a storm
/// that keeps hitting the same few addresses fast trips it. O(set size) per exit, no allocation.
/// </summary>
internal sealed class ExitRateWindow
{
    private readonly ulong[] _rips;
    private readonly int _threshold;
    private readonly long _windowTicks;
    private int _distinct;
    private int _count;
    private long _windowStart;

    public ExitRateWindow(int addresses, int threshold, long windowTicks)
    {
        _rips = new ulong[addresses];
        _threshold = threshold;
        _windowTicks = windowTicks;
    }

    /// <summary>Records an exit at <paramref name="rip"/> at time <paramref name="now"/> (Stopwatch ticks); true when the rate trips.</summary>
    public bool Record(ulong rip, long now)
    {
        if (_count == 0 || now - _windowStart > _windowTicks || !Known(rip) && _distinct == _rips.Length)
        {
            Reset(now);
        }
        if (!Known(rip))
            _rips[_distinct++] = rip;
        return ++_count >= _threshold;
    }

    public void Reset(long now)
    {
        _distinct = 0;
        _count = 0;
        _windowStart = now;
    }

    private bool Known(ulong rip)
    {
        for (var n = 0; n < _distinct; n++)
        {
            if (_rips[n] == rip)
                return true;
        }
        return false;
    }
}
