using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>What a <see cref="FramePump"/> has done so far.</summary>
/// <param name="FramesSent">Frames handed to the send callback.</param>
/// <param name="BytesSent">Encoded tile bytes in those frames.</param>
/// <param name="PngTiles">Tiles sent as PNG.</param>
/// <param name="JpegTiles">Tiles sent as JPEG.</param>
/// <param name="FramesCoalesced">Flushes folded into a frame with others instead of getting their own.</param>
/// <param name="LosslessRefreshes">Frames that only re-sent settled JPEG areas as PNG.</param>
public readonly record struct FramePumpCounters(long FramesSent, long BytesSent, long PngTiles, long JpegTiles, long FramesCoalesced, long LosslessRefreshes)
{
    /// <summary>These counters plus one frame of <paramref name="tiles"/> that carried <paramref name="flushes"/> flushes.</summary>
    internal FramePumpCounters AddFrame(IReadOnlyList<Tile> tiles, int flushes, bool lossless)
    {
        long bytes = 0, jpeg = 0;
        foreach (var tile in tiles)
        {
            bytes += tile.Data.Length;
            jpeg += tile.Encoding == TileEncodings.Jpeg ? 1 : 0;
        }
        return new FramePumpCounters(
            FramesSent + 1,
            BytesSent + bytes,
            PngTiles + tiles.Count - jpeg,
            JpegTiles + jpeg,
            FramesCoalesced + Math.Max(0, flushes - 1),
            LosslessRefreshes + (lossless ? 1 : 0));
    }
}
