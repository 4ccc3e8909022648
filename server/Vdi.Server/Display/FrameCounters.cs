using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>
/// What a <see cref="DesktopStream"/> encoded (<see cref="DesktopStream.Counters"/>: one "frame" per version of the
/// desktop's picture) or what one viewer received (<see cref="StreamViewer.Counters"/>: one frame per
/// <see cref="FrameUpdate"/> sent to it).
/// </summary>
/// <param name="FramesSent">Versions encoded (stream) or frames handed to the viewer's send callback (viewer).</param>
/// <param name="BytesSent">Encoded tile bytes in those versions or frames.</param>
/// <param name="PngTiles">Tiles sent as PNG.</param>
/// <param name="JpegTiles">Tiles sent as JPEG.</param>
/// <param name="FramesCoalesced">Flushes folded into a version with others instead of getting their own (stream).</param>
/// <param name="LosslessRefreshes">Versions that only re-sent settled JPEG areas as PNG (stream).</param>
/// <param name="CacheTiles">Tiles sent as a reference to the client's tile cache instead of an image.</param>
/// <param name="CopyTiles">Scrolls sent as a copy of the client's own pixels.</param>
/// <param name="UnchangedFlushes">Flushes that changed nothing the clients show, so made no version (stream).</param>
/// <param name="Flushes">Flushes looked at (stream).</param>
/// <param name="Keyframes">Full-screen keyframes encoded (stream) or received (viewer).</param>
public readonly record struct FrameCounters(
    long FramesSent, long BytesSent, long PngTiles, long JpegTiles, long FramesCoalesced, long LosslessRefreshes,
    long CacheTiles = 0, long CopyTiles = 0, long UnchangedFlushes = 0, long Flushes = 0, long Keyframes = 0)
{
    /// <summary>These counters plus one frame of <paramref name="tiles"/> that carried <paramref name="flushes"/> flushes.</summary>
    internal FrameCounters AddFrame(IReadOnlyList<Tile> tiles, int flushes, bool lossless, bool keyframe = false)
    {
        long bytes = 0, png = 0, jpeg = 0, cache = 0, copy = 0;
        foreach (var tile in tiles)
        {
            bytes += tile.Data.Length;
            switch (tile.Encoding)
            {
                case TileEncodings.Png: png++; break;
                case TileEncodings.Jpeg: jpeg++; break;
                case TileEncodings.Cache: cache++; break;
                default: copy++; break;
            }
        }
        return this with
        {
            FramesSent = FramesSent + 1,
            BytesSent = BytesSent + bytes,
            PngTiles = PngTiles + png,
            JpegTiles = JpegTiles + jpeg,
            CacheTiles = CacheTiles + cache,
            CopyTiles = CopyTiles + copy,
            FramesCoalesced = FramesCoalesced + Math.Max(0, flushes - 1),
            LosslessRefreshes = LosslessRefreshes + (lossless ? 1 : 0),
            Flushes = Flushes + flushes,
            Keyframes = Keyframes + (keyframe ? 1 : 0),
        };
    }

    /// <summary>These counters plus <paramref name="flushes"/> flushes that changed nothing.</summary>
    internal FrameCounters AddUnchanged(int flushes) => this with { UnchangedFlushes = UnchangedFlushes + flushes, Flushes = Flushes + flushes };

    /// <summary>These counters plus one keyframe encoded.</summary>
    internal FrameCounters AddKeyframe() => this with { Keyframes = Keyframes + 1 };
}
