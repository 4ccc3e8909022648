namespace Vdi.Server.Display;

/// <summary>
/// JPEG quality that follows the client's lag, as Apache Guacamole does: 90 while frames are
/// acknowledged promptly, one step of 10 lower for every 10 ms of lag past 20 ms, never below 30.
/// </summary>
/// <remarks>
/// A frame's round trip (sent → acknowledged) is the network's latency plus the time to carry,
/// decode and paint the frame. Only the latter is lag. The latency is measured on small frames
/// (at most <see cref="SmallFrameBytes"/>: typing, the cursor, UI details), which cost the client
/// next to nothing: the lowest of their last <see cref="BaselineFrames"/> round trips. A distant
/// but fast client thus keeps full quality, while a slow one — big frames acknowledged late — gets
/// smaller frames; until a small frame has been seen, the whole round trip counts as lag.
/// Frames are acknowledged one at a time, so a slow client shows as long round trips, not as a
/// growing queue. Not thread-safe.
/// </remarks>
public sealed class AdaptiveJpegQuality
{
    public const int Highest = 90;
    public const int Lowest = 30;
    public const int Step = 10;

    /// <summary>Lag, in ms, up to which quality stays at <see cref="Highest"/>.</summary>
    public const double LagFloorMs = 20;

    /// <summary>Frames this small (encoded bytes) measure the network's latency.</summary>
    public const long SmallFrameBytes = 4096;

    /// <summary>Small frames over which the lowest round trip is the network's latency.</summary>
    public const int BaselineFrames = 512;

    private const double Smoothing = 0.3; // weight of the newest lag sample

    private readonly double[] _small = new double[BaselineFrames]; // ring of small frames' round trips, ms
    private int _count;
    private int _next;

    /// <summary>Smoothed lag in ms: the round trip above the network's latency.</summary>
    public double LagMs { get; private set; }

    /// <summary>The network's latency as measured on small frames, in ms; 0 before the first.</summary>
    public double BaselineMs
    {
        get
        {
            if (_count == 0)
                return 0;
            var baseline = double.MaxValue;
            foreach (var ms in _small.AsSpan(0, _count))
                baseline = Math.Min(baseline, ms);
            return baseline;
        }
    }

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

    /// <summary>A frame of <paramref name="bytes"/> encoded bytes was acknowledged <paramref name="roundTrip"/> after it was sent.</summary>
    public void Observe(TimeSpan roundTrip, long bytes)
    {
        var ms = Math.Max(0, roundTrip.TotalMilliseconds);
        if (bytes <= SmallFrameBytes)
        {
            _small[_next] = ms;
            _next = (_next + 1) % BaselineFrames;
            _count = Math.Min(_count + 1, BaselineFrames);
        }
        var lag = Math.Max(0, ms - BaselineMs);
        LagMs += (lag - LagMs) * Smoothing;
    }

    /// <summary>Forgets what was measured (a new client).</summary>
    public void Reset()
    {
        _count = _next = 0;
        LagMs = 0;
    }
}
