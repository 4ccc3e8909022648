using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>What a <see cref="FramePump"/> has done so far.</summary>
/// <param name="FramesSent">Frames handed to the send callback.</param>
/// <param name="BytesSent">Encoded tile bytes in those frames.</param>
/// <param name="PngTiles">Tiles sent as PNG.</param>
/// <param name="JpegTiles">Tiles sent as JPEG.</param>
/// <param name="FramesCoalesced">Flushes folded into a frame with others instead of getting their own.</param>
/// <param name="LosslessRefreshes">Frames that only re-sent settled JPEG areas as PNG.</param>
/// <param name="CacheTiles">Tiles sent as a reference to the client's tile cache instead of an image.</param>
/// <param name="CopyTiles">Scrolls sent as a copy of the client's own pixels.</param>
/// <param name="UnchangedFlushes">Flushes that changed nothing the client shows, so sent nothing.</param>
public readonly record struct FramePumpCounters(
    long FramesSent, long BytesSent, long PngTiles, long JpegTiles, long FramesCoalesced, long LosslessRefreshes,
    long CacheTiles = 0, long CopyTiles = 0, long UnchangedFlushes = 0)
{
    /// <summary>These counters plus one frame of <paramref name="tiles"/> that carried <paramref name="flushes"/> flushes.</summary>
    internal FramePumpCounters AddFrame(IReadOnlyList<Tile> tiles, int flushes, bool lossless)
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
        };
    }

    /// <summary>These counters plus <paramref name="flushes"/> flushes that changed nothing.</summary>
    internal FramePumpCounters AddUnchanged(int flushes) => this with { UnchangedFlushes = UnchangedFlushes + flushes };
}
