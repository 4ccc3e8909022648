namespace Vdi.Server.Display;

/// <summary>
/// JPEG quality that follows the client's lag, as Apache Guacamole does: 90 while frames are
/// acknowledged promptly, one step of 10 lower for every 10 ms of lag past 20 ms, never below 30.
/// </summary>
/// <remarks>
/// A frame's round trip (sent → acknowledged) is network time plus the client's decoding and
/// painting. The network part is taken as the lowest round trip seen lately (a baseline that rises
/// slowly when the path gets slower), so a distant but fast client keeps full quality and only
/// the time the client spends behind — the lag — lowers it. Not thread-safe.
/// </remarks>
public sealed class AdaptiveJpegQuality
{
    public const int Highest = 90;
    public const int Lowest = 30;
    public const int Step = 10;

    /// <summary>Lag, in ms, up to which quality stays at <see cref="Highest"/>.</summary>
    public const double LagFloorMs = 20;

    private const double Smoothing = 0.3; // weight of the newest lag sample
    private const double BaselineRise = 1 / 256.0; // how slowly the baseline follows round trips that got slower

    private double? _baselineMs;

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
        _baselineMs = _baselineMs is not { } baseline || ms < baseline ? ms : baseline + ((ms - baseline) * BaselineRise);
        var lag = ms - _baselineMs.Value;
        LagMs += (lag - LagMs) * Smoothing;
    }

    /// <summary>Forgets what was measured (a new client).</summary>
    public void Reset()
    {
        _baselineMs = null;
        LagMs = 0;
    }
}
