namespace Vdi.Protocol;

/// <summary>Values of <see cref="Tile.Encoding"/>: one decoder per encoding on the client.</summary>
public static class TileEncodings
{
    /// <summary>Lossless, for text and static areas.</summary>
    public const string Png = "png";

    /// <summary>Lossy, for areas that change quickly (video, scrolling).</summary>
    public const string Jpeg = "jpeg";

    /// <summary>True for an encoding the client can decode.</summary>
    public static bool IsKnown(string? encoding) => encoding is Png or Jpeg;
}
