using Vdi.Protocol;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// The whole of a desktop stream's newest picture for a viewer that has none of it (it joined, asked for the full
/// screen, or fell too far behind): every cell whose pixels a shared tile-cache slot holds goes out as that slot's
/// PNG, filling the slot (no encoding: the PNG is kept); cells that went out lossy are JPEG, merged along each row of
/// cells; the rest is PNG. Made once per version however many viewers need it.
/// </summary>
internal static class Keyframe
{
    /// <summary>The operations that paint all of <paramref name="screen"/>'s picture (its <see cref="ClientScreen.Shown"/>).</summary>
    public static Tile[] Build(ClientScreen screen, FrameComposer composer, TileEncoder encoder, VersionRing ring, int jpegQuality)
    {
        var shown = screen.Shown;
        var tiles = new List<Tile>(screen.Cells);
        var filled = new HashSet<int>();
        for (var row = 0; row < screen.Rows; row++)
        {
            var lossyRun = default(GpuRect);
            for (var column = 0; column < screen.Columns; column++)
            {
                var cell = (row * screen.Columns) + column;
                var rect = screen.CellRect(cell);
                if (screen.IsLossy(cell))
                {
                    lossyRun = lossyRun.IsEmpty ? rect : lossyRun with { Width = lossyRun.Width + rect.Width };
                    continue;
                }
                AddJpeg(tiles, shown, ref lossyRun, jpegQuality);
                if (composer.TryFindSlot(shown, rect, out var slot) && ring.Slot(slot) is { } image && image.Width == rect.Width && image.Height == rect.Height)
                {
                    // The first cell of this content fills the slot; the same content elsewhere is a reference to it.
                    tiles.Add(filled.Add(slot)
                        ? new Tile(rect.X, rect.Y, rect.Width, rect.Height, TileEncodings.Png, image.Png, slot)
                        : new Tile(rect.X, rect.Y, rect.Width, rect.Height, TileEncodings.Cache, [], slot));
                }
                else
                    tiles.Add(new Tile(rect.X, rect.Y, rect.Width, rect.Height, TileEncodings.Png, encoder.EncodePng(shown, rect)));
            }
            AddJpeg(tiles, shown, ref lossyRun, jpegQuality);
        }
        return [.. tiles];
    }

    private static void AddJpeg(List<Tile> tiles, PixelBuffer pixels, ref GpuRect run, int quality)
    {
        if (run.IsEmpty)
            return;
        tiles.Add(new Tile(run.X, run.Y, run.Width, run.Height, TileEncodings.Jpeg, TileEncoder.EncodeJpeg(pixels, run, quality)));
        run = default;
    }
}
