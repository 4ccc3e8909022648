namespace Vdi.Protocol;

/// <summary>Values of <see cref="Tile.Encoding"/>: one decoder or drawing operation per value on the client.</summary>
public static class TileEncodings
{
    /// <summary>Lossless image, for text and static areas; may be kept in a tile cache slot.</summary>
    public const string Png = "png";

    /// <summary>Lossy image, for areas that change quickly (video, animation).</summary>
    public const string Jpeg = "jpeg";

    /// <summary>Paint the image kept in <see cref="Tile.Slot"/> (sent earlier as <c>png</c> with that slot).</summary>
    public const string Cache = "cache";

    /// <summary>Copy the client's own picture from (<see cref="Tile.SourceX"/>, <see cref="Tile.SourceY"/>), e.g. a scroll.</summary>
    public const string Copy = "copy";

    /// <summary>True for an encoding the client can decode.</summary>
    public static bool IsKnown(string? encoding) => encoding is Png or Jpeg or Cache or Copy;
}
