namespace Vdi.Server.Desktops;

/// <summary>
/// A desktop's automatic restarts after crashes (<see cref="DesktopOptions.RestartOnCrash"/>): at most
/// <see cref="DesktopOptions.MaxAutomaticRestarts"/> within <see cref="DesktopOptions.AutomaticRestartWindow"/>, the
/// wait doubling from <see cref="DesktopOptions.AutomaticRestartDelay"/> with each one in the window; beyond the limit
/// the desktop stays Crashed. A start by hand clears the history.
/// </summary>
internal sealed class CrashRestarts(DesktopOptions options, TimeProvider time)
{
    private readonly Queue<DateTimeOffset> _recent = new();

    public int Limit => options.MaxAutomaticRestarts;

    public TimeSpan Window => options.AutomaticRestartWindow;

    /// <summary>Counts a restart and says how long to wait before it (and which one it is), or null past the limit.</summary>
    public (TimeSpan Delay, int Attempt)? Next()
    {
        lock (_recent)
        {
            var now = time.GetUtcNow();
            while (_recent.TryPeek(out var oldest) && now - oldest > Window)
                _recent.Dequeue();
            if (_recent.Count >= Limit)
                return null;
            var delay = options.AutomaticRestartDelay * Math.Pow(2, _recent.Count);
            _recent.Enqueue(now);
            return (delay, _recent.Count);
        }
    }

    public void Clear()
    {
        lock (_recent)
            _recent.Clear();
    }
}
