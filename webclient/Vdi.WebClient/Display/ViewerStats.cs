using System.Diagnostics;

namespace Vdi.WebClient.Display;

/// <summary>
/// Figures for the overlay: frames painted and tile bytes received over the last second, and the
/// round trip of the latest frame acknowledgement.
/// </summary>
public sealed class ViewerStats
{
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(1);

    private readonly Queue<(long At, int Bytes)> _frames = new();
    private long _windowBytes;

    public double? LatencyMs { get; private set; }

    public long FramesPainted { get; private set; }

    public long TilesFailed { get; private set; }

    public void FramePainted(int bytes, int failedTiles)
    {
        var now = Stopwatch.GetTimestamp();
        _frames.Enqueue((now, bytes));
        _windowBytes += bytes;
        FramesPainted++;
        TilesFailed += failedTiles;
        Trim(now);
    }

    public void AckRoundTrip(TimeSpan elapsed) => LatencyMs = elapsed.TotalMilliseconds;

    /// <summary>Frames painted during the last second.</summary>
    public int FramesPerSecond
    {
        get
        {
            Trim(Stopwatch.GetTimestamp());
            return _frames.Count;
        }
    }

    /// <summary>Tile bytes received during the last second.</summary>
    public long BytesPerSecond
    {
        get
        {
            Trim(Stopwatch.GetTimestamp());
            return _windowBytes;
        }
    }

    public void Reset()
    {
        _frames.Clear();
        _windowBytes = 0;
        LatencyMs = null;
    }

    private void Trim(long now)
    {
        while (_frames.TryPeek(out var oldest) && Stopwatch.GetElapsedTime(oldest.At, now) > s_window)
        {
            _frames.Dequeue();
            _windowBytes -= oldest.Bytes;
        }
    }
}
