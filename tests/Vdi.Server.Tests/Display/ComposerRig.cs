using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

/// <summary>A <see cref="FrameComposer"/> on a screen the test paints directly, and the client that applies its frames.</summary>
internal sealed class ComposerRig
{
    private long _frameId;

    public ComposerRig(int width, int height, int cacheSlots = TileCache.Slots)
    {
        Composer = new FrameComposer(new TileEncoder(), new TileSlotCache(cacheSlots));
        Composer.Reset(width, height);
        Screen = new GpuRect(0, 0, width, height);
    }

    public FrameComposer Composer { get; }

    public ClientCanvas Client { get; } = new();

    public GpuRect Screen { get; }

    public PixelBuffer Next => Composer.Screen!.Next;

    /// <summary>Paints 0x00RRGGBB colours into the scanout's latest pixels.</summary>
    public void Paint(GpuRect rect, Func<int, int, uint> pixel)
    {
        for (var y = rect.Y; y < rect.Y + rect.Height; y++)
        {
            var row = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(Next.Row(y, rect.X, rect.Width));
            for (var x = 0; x < rect.Width; x++)
                row[x] = 0xFF00_0000 | pixel(rect.X + x, y);
        }
    }

    public uint At(int x, int y) => BitConverter.ToUInt32(Next.Row(y, x, 1)) & 0xFF_FFFF;

    /// <summary>Composes one frame for <paramref name="damage"/> and applies it to the client (when it has tiles).</summary>
    public List<Tile> Frame(params GpuRect[] damage) => Compose(lossless: false, 90, damage);

    public List<Tile> Compose(bool lossless, int quality, params GpuRect[] damage)
    {
        var tiles = new List<Tile>();
        Composer.Compose(damage, lossless, quality, tiles);
        if (tiles.Count > 0)
            Client.Apply(new FrameUpdate(++_frameId, Screen.Width, Screen.Height, [.. tiles]));
        return tiles;
    }

    public void AssertClientShowsTheScreen() => Client.AssertShows(At);

    /// <summary>Text-like: dark strokes on white in 8x16 cells, different per <paramref name="seed"/>.</summary>
    public static Func<int, int, uint> Text(int seed) =>
        (x, y) => (HashCode.Combine(x / 3, y / 2, seed) & 7) == 0 ? 0x10_1010u : 0xFF_FFFFu;
}
