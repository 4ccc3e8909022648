using SkiaSharp;

namespace Vdi.Server.Display;

/// <summary>How <see cref="TileEncoder"/> cuts and encodes damage.</summary>
public sealed record TileEncoderOptions
{
    /// <summary>JPEG quality, 1..100.</summary>
    public int JpegQuality { get; init; } = 80;

    /// <summary>
    /// zlib level for PNG, 0..9; higher is smaller and slower. 3 is the last of zlib's fast levels:
    /// on text-like 64x64 cells it encodes about 3-4x faster than 6 for about a third more bytes,
    /// which is less time to the screen at any link faster than ~15 Mbit/s (see the encoder benchmark).
    /// </summary>
    public int PngCompressionLevel { get; init; } = 3;

    /// <summary>Row filters PNG may try; fewer filters encode faster. Sub alone suits text and flat UI best (smaller and faster than trying all).</summary>
    public SKPngEncoderFilterFlags PngFilters { get; init; } = SKPngEncoderFilterFlags.Sub;

    /// <summary>Cell size of the change-frequency grid, in pixels.</summary>
    public int CellSize { get; init; } = 64;

    /// <summary>Damage rectangles are cut into tiles of at most this size, aligned to a grid of this pitch.</summary>
    public int MaxTileSize { get; init; } = 256;

    /// <summary>A damage rectangle smaller than this many pixels is always PNG (cursor blinks, typing).</summary>
    public int JpegMinArea { get; init; } = 128 * 128;

    /// <summary>A tile is JPEG only when at least this share of its cells is fast-changing, 0..1.</summary>
    public double JpegMinFastShare { get; init; } = 0.5;

    /// <summary>A tile whose pixel sample holds at most this many colours is text-like and stays PNG.</summary>
    public int TextColorLimit { get; init; } = 32;

    /// <summary>Throws when a value is out of range; the message names it.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(JpegQuality, 1, nameof(JpegQuality));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(JpegQuality, 100, nameof(JpegQuality));
        ArgumentOutOfRangeException.ThrowIfNegative(PngCompressionLevel, nameof(PngCompressionLevel));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(PngCompressionLevel, 9, nameof(PngCompressionLevel));
        ArgumentOutOfRangeException.ThrowIfLessThan(CellSize, 1, nameof(CellSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTileSize, 1, nameof(MaxTileSize));
        ArgumentOutOfRangeException.ThrowIfNegative(JpegMinArea, nameof(JpegMinArea));
        ArgumentOutOfRangeException.ThrowIfNegative(TextColorLimit, nameof(TextColorLimit));
    }
}
