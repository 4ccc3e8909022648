namespace Vdi.Protocol;

/// <summary>
/// Checks a <see cref="FrameUpdate"/>'s tiles before the client paints them: an unknown encoding, a
/// rectangle off the screen, a slot out of range or fields that do not belong to the encoding make a
/// tile invalid. A client skips invalid tiles and counts them, like tiles that fail to decode.
/// </summary>
public static class FrameValidator
{
    /// <summary>Null when <paramref name="tile"/> can be painted on a <paramref name="width"/> x <paramref name="height"/> frame; otherwise why not.</summary>
    public static string? Validate(Tile? tile, int width, int height)
    {
        if (tile is null)
            return "a tile is missing";
        if (!TileEncodings.IsKnown(tile.Encoding))
            return $"encoding '{tile.Encoding}' is not one of png, jpeg, cache, copy";
        if (!Inside(tile.X, tile.Y, tile.Width, tile.Height, width, height))
            return $"tile {tile.Width}x{tile.Height}+{tile.X}+{tile.Y} is not inside the {width}x{height} frame";
        var data = tile.Data?.Length ?? 0;
        return tile.Encoding switch
        {
            TileEncodings.Png when data == 0 => "a png tile carries no image",
            TileEncodings.Png when tile.Slot != TileCache.NoSlot && !IsSlot(tile.Slot) => SlotError(tile.Slot),
            TileEncodings.Png when tile.Slot != TileCache.NoSlot && !FitsSlot(tile) => $"a cached tile is at most {TileCache.MaxTileSize}x{TileCache.MaxTileSize} (was {tile.Width}x{tile.Height})",
            TileEncodings.Jpeg when data == 0 => "a jpeg tile carries no image",
            TileEncodings.Jpeg when tile.Slot != TileCache.NoSlot => "a jpeg tile is never cached (lossy images do not match their hash)",
            TileEncodings.Cache when !IsSlot(tile.Slot) => SlotError(tile.Slot),
            TileEncodings.Cache when !FitsSlot(tile) => $"a cached tile is at most {TileCache.MaxTileSize}x{TileCache.MaxTileSize} (was {tile.Width}x{tile.Height})",
            TileEncodings.Cache when data != 0 => "a cache tile carries no image",
            TileEncodings.Copy when data != 0 || tile.Slot != TileCache.NoSlot => "a copy tile carries no image and no slot",
            TileEncodings.Copy when !Inside(tile.SourceX, tile.SourceY, tile.Width, tile.Height, width, height) =>
                $"copy source {tile.Width}x{tile.Height}+{tile.SourceX}+{tile.SourceY} is not inside the {width}x{height} frame",
            not TileEncodings.Copy when tile.SourceX != 0 || tile.SourceY != 0 => "only a copy tile has a source",
            _ => null,
        };
    }

    private static bool IsSlot(int slot) => slot is >= 0 and < TileCache.Slots;

    private static bool FitsSlot(Tile tile) => tile.Width <= TileCache.MaxTileSize && tile.Height <= TileCache.MaxTileSize;

    private static string SlotError(int slot) => $"slot {slot} is not in 0..{TileCache.Slots - 1}";

    private static bool Inside(int x, int y, int w, int h, int width, int height) =>
        w > 0 && h > 0 && x >= 0 && y >= 0 && (long)x + w <= width && (long)y + h <= height;
}
