namespace Vdi.WebClient.Display;

/// <summary>What the status panel shows, as <c>viewer.js</c> reports it twice a second and when the mode changes.</summary>
/// <param name="Width">The canvas's size in device pixels: the mode of the frames painted (0 before the first).</param>
/// <param name="Height">The canvas's height.</param>
/// <param name="FramesPerSecond">Frames painted during the last second.</param>
/// <param name="LatencyMs">The round trip of the latest frame acknowledgement.</param>
/// <param name="BytesPerSecond">Tile bytes received during the last second.</param>
/// <param name="TilesFailed">Tiles skipped (invalid or undecodable) since the connection started.</param>
public sealed record ViewerFigures(int Width, int Height, int FramesPerSecond, double? LatencyMs, long BytesPerSecond, long TilesFailed)
{
    public static ViewerFigures None { get; } = new(0, 0, 0, null, 0, 0);

    public string Resolution => Width > 0 ? $"{Width}x{Height}" : "—";

    public string Latency => LatencyMs is { } ms ? $"{ms:0} ms" : "—";

    public string Bandwidth => BytesPerSecond switch
    {
        >= 1_000_000 and var b => $"{b / 1_000_000.0:0.0} MB/s",
        >= 1_000 and var b => $"{b / 1_000.0:0} kB/s",
        var b => $"{b} B/s",
    };
}
