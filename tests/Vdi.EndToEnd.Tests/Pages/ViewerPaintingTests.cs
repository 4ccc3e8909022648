using System.Runtime.InteropServices;
using System.Text.Json;
using Vdi.EndToEnd.Tests.Infrastructure;
using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.EndToEnd.Tests.Pages;

/// <summary>
/// The browser's half of the frame protocol without a VM: frames made by the server's real
/// <see cref="FrameComposer"/> — PNG tiles filling cache slots, cache references, a scroll copy,
/// JPEG — are handed to the real frame-painter.js in Chromium, and its canvas must show the screen.
/// </summary>
public sealed class ViewerPaintingTests(SiteWithFailedDesktop site) : IClassFixture<SiteWithFailedDesktop>
{
    private const int Width = 320, Height = 192;

    private const string Script = """
        async ([frames, width, height]) => {
            const { FramePainter } = await import("/js/frame-painter.js");
            const canvas = document.createElement("canvas");
            document.body.append(canvas);
            const painter = new FramePainter(canvas);
            const bytes = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
            let failed = 0;
            for (const f of frames)
                failed += await painter.paint({ ...f, Tiles: f.Tiles.map(t => ({ ...t, Data: bytes(t.Data) })) });
            const rgba = canvas.getContext("2d").getImageData(0, 0, width, height).data;
            let binary = "";
            for (let i = 0; i < rgba.length; i += 8192) binary += String.fromCharCode(...rgba.subarray(i, i + 8192));
            painter.dispose();
            canvas.remove();
            return { failed, size: [canvas.width, canvas.height], pixels: btoa(binary) };
        }
        """;

    [Fact]
    public async Task Png_cache_and_copy_tiles_paint_exactly_what_the_server_shows()
    {
        var composer = new FrameComposer(new TileEncoder());
        composer.Reset(Width, Height);
        var screen = composer.Screen!;
        var frames = new List<FrameUpdate>();
        void Frame(params GpuRect[] damage)
        {
            var tiles = new List<Tile>();
            composer.Compose(damage, lossless: false, 90, tiles);
            frames.Add(new FrameUpdate(frames.Count + 1, Width, Height, [.. tiles]));
        }

        Paint(screen.Next, new GpuRect(0, 0, Width, Height), 0);
        Frame(new GpuRect(0, 0, Width, Height));
        var dialog = new GpuRect(64, 64, 128, 64);
        Paint(screen.Next, dialog, 7); // opens: PNG cells into slots
        Frame(dialog);
        Paint(screen.Next, dialog, 0); // closes: cache references to the first frame's cells
        Frame(dialog);
        var terminal = new GpuRect(0, 16, Width, Height - 16);
        Scroll(screen.Next, terminal, 16);
        Frame(terminal);
        var encodings = frames.SelectMany(f => f.Tiles).Select(t => t.Encoding).ToHashSet();
        Assert.Superset(new HashSet<string> { TileEncodings.Png, TileEncodings.Cache, TileEncodings.Copy }, encodings);

        await using var context = await site.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync("/signin");
        var result = await page.EvaluateAsync<JsonElement>(Script, new object[] { frames.Select(ToJs).ToArray(), Width, Height });

        Assert.Equal(0, result.GetProperty("failed").GetInt32());
        Assert.Equal([Width, Height], result.GetProperty("size").EnumerateArray().Select(e => e.GetInt32()));
        var rgba = Convert.FromBase64String(result.GetProperty("pixels").GetString()!);
        var expected = MemoryMarshal.Cast<byte, uint>(screen.Next.Pixels.AsSpan());
        for (var i = 0; i < Width * Height; i++)
        {
            var (r, g, b) = (rgba[i * 4], rgba[(i * 4) + 1], rgba[(i * 4) + 2]);
            var want = expected[i];
            if ((r, g, b) != ((byte)(want >> 16), (byte)(want >> 8), (byte)want))
                Assert.Fail($"pixel ({i % Width}, {i / Width}) is #{r:X2}{g:X2}{b:X2}, expected #{want & 0xFF_FFFF:X6}");
        }
    }

    /// <summary>The frame as MessagePack hands it to viewer.js: maps keyed by the C# names (Data in base64 here, bytes there).</summary>
    private static object ToJs(FrameUpdate f) => new Dictionary<string, object>
    {
        [nameof(FrameUpdate.FrameId)] = f.FrameId,
        [nameof(FrameUpdate.Width)] = f.Width,
        [nameof(FrameUpdate.Height)] = f.Height,
        [nameof(FrameUpdate.Dpi)] = f.Dpi,
        [nameof(FrameUpdate.Tiles)] = f.Tiles.Select(t => new Dictionary<string, object>
        {
            [nameof(Tile.X)] = t.X,
            [nameof(Tile.Y)] = t.Y,
            [nameof(Tile.Width)] = t.Width,
            [nameof(Tile.Height)] = t.Height,
            [nameof(Tile.Encoding)] = t.Encoding,
            [nameof(Tile.Data)] = Convert.ToBase64String(t.Data),
            [nameof(Tile.Slot)] = t.Slot,
            [nameof(Tile.SourceX)] = t.SourceX,
            [nameof(Tile.SourceY)] = t.SourceY,
        }).ToArray(),
    };

    /// <summary>Text-like: dark strokes on white, different per <paramref name="seed"/>.</summary>
    private static void Paint(PixelBuffer pixels, GpuRect rect, int seed)
    {
        for (var y = rect.Y; y < rect.Y + rect.Height; y++)
        {
            var row = MemoryMarshal.Cast<byte, uint>(pixels.Row(y, rect.X, rect.Width));
            for (var x = 0; x < rect.Width; x++)
                row[x] = (HashCode.Combine((rect.X + x) / 3, y / 2, seed) & 7) == 0 ? 0xFF10_2030u : 0xFFFF_FFFFu;
        }
    }

    /// <summary>Moves <paramref name="area"/>'s content up by <paramref name="rows"/> and paints a new line at its bottom.</summary>
    private static void Scroll(PixelBuffer pixels, GpuRect area, int rows)
    {
        pixels.MoveRows(area with { Y = area.Y + rows, Height = area.Height - rows }, area.Y);
        Paint(pixels, area with { Y = area.Y + area.Height - rows, Height = rows }, 9);
    }
}
