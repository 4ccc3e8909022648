namespace Vdi.Server.Display;

/// <summary>
/// JPEG quality that follows the client's lag, as Apache Guacamole does: 90 while frames are
/// acknowledged promptly, one step of 10 lower for every 10 ms of lag past 20 ms, never below 30.
/// </summary>
/// <remarks>
/// A frame's round trip (sent → acknowledged) is network time plus the client's decoding and
/// painting. The network part is taken as the lowest round trip of the last
/// <see cref="BaselineFrames"/> frames, so a distant but fast client keeps full quality and only
/// the time the client spends behind — the lag — lowers it. Not thread-safe.
/// </remarks>
public sealed class AdaptiveJpegQuality
{
    public const int Highest = 90;
    public const int Lowest = 30;
    public const int Step = 10;

    /// <summary>Lag, in ms, up to which quality stays at <see cref="Highest"/>.</summary>
    public const double LagFloorMs = 20;

    /// <summary>Frames over which the lowest round trip is the network's share.</summary>
    public const int BaselineFrames = 512;

    private const double Smoothing = 0.3; // weight of the newest lag sample

    private readonly double[] _recent = new double[BaselineFrames]; // ring of the latest round trips, ms
    private int _count;
    private int _next;

    /// <summary>Smoothed lag in ms: the round trip above the network baseline.</summary>
    public double LagMs { get; private set; }

    /// <summary>The quality to encode with now: <see cref="Highest"/> down to <see cref="Lowest"/> in steps of <see cref="Step"/>.</summary>
    public int Quality
    {
        get
        {
            var raw = Highest - Math.Max(0, LagMs - LagFloorMs);
            var stepped = (int)Math.Floor(raw / Step) * Step;
            return Math.Clamp(stepped, Lowest, Highest);
        }
    }

    /// <summary>One frame was acknowledged <paramref name="roundTrip"/> after it was sent.</summary>
    public void Observe(TimeSpan roundTrip)
    {
        var ms = Math.Max(0, roundTrip.TotalMilliseconds);
        _recent[_next] = ms;
        _next = (_next + 1) % BaselineFrames;
        _count = Math.Min(_count + 1, BaselineFrames);
        var baseline = ms;
        foreach (var recent in _recent.AsSpan(0, _count))
            baseline = Math.Min(baseline, recent);
        var lag = ms - baseline;
        LagMs += (lag - LagMs) * Smoothing;
    }

    /// <summary>Forgets what was measured (a new client).</summary>
    public void Reset()
    {
        _count = _next = 0;
        LagMs = 0;
    }
}
