using SkiaSharp;
using Vdi.Protocol;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

/// <summary>
/// What viewer.js does with frames, in C#: paints PNG/JPEG tiles, keeps PNG tiles in the slots the
/// server names, paints cache tiles from their slot and copies its own pixels for copy tiles, all in
/// order. Pixels are 0x00RRGGBB. Every tile must pass <see cref="FrameValidator"/>.
/// </summary>
internal sealed class ClientCanvas
{
    private readonly Dictionary<int, (int Width, int Height, uint[] Pixels)> _slots = [];
    private uint[] _pixels = [];

    public int Width { get; private set; }

    public int Height { get; private set; }

    public uint this[int x, int y] => _pixels[(y * Width) + x];

    public void Apply(FrameUpdate frame)
    {
        if (frame.Width != Width || frame.Height != Height)
            (Width, Height, _pixels) = (frame.Width, frame.Height, new uint[frame.Width * frame.Height]);
        foreach (var t in frame.Tiles)
        {
            Assert.Null(FrameValidator.Validate(t, frame.Width, frame.Height));
            switch (t.Encoding)
            {
                case TileEncodings.Png or TileEncodings.Jpeg:
                    var image = Decode(t);
                    Draw(image, t.Width, t.Height, t.X, t.Y);
                    if (t.Slot != TileCache.NoSlot)
                        _slots[t.Slot] = (t.Width, t.Height, image);
                    break;
                case TileEncodings.Cache:
                    Assert.True(_slots.TryGetValue(t.Slot, out var kept), $"slot {t.Slot} painted before it was filled");
                    Assert.True(kept.Width >= t.Width && kept.Height >= t.Height, $"slot {t.Slot} holds {kept.Width}x{kept.Height}, painted {t.Width}x{t.Height}");
                    Draw(Crop(kept.Pixels, kept.Width, t.Width, t.Height), t.Width, t.Height, t.X, t.Y);
                    break;
                case TileEncodings.Copy:
                    var source = new uint[t.Width * t.Height];
                    for (var y = 0; y < t.Height; y++)
                        _pixels.AsSpan(((t.SourceY + y) * Width) + t.SourceX, t.Width).CopyTo(source.AsSpan(y * t.Width));
                    Draw(source, t.Width, t.Height, t.X, t.Y);
                    break;
                default:
                    Assert.Fail($"unknown encoding {t.Encoding}");
                    break;
            }
        }
    }

    /// <summary>Asserts the canvas shows <paramref name="pixel"/> exactly in <paramref name="area"/> (default: everywhere).</summary>
    public void AssertShows(Func<int, int, uint> pixel, GpuRect? area = null)
    {
        var a = area ?? new GpuRect(0, 0, Width, Height);
        for (var y = a.Y; y < a.Y + a.Height; y++)
        {
            for (var x = a.X; x < a.X + a.Width; x++)
            {
                if (this[x, y] != pixel(x, y))
                    Assert.Fail($"pixel ({x}, {y}) is {this[x, y]:X6}, expected {pixel(x, y):X6}");
            }
        }
    }

    /// <summary>The largest difference of any channel between the canvas and <paramref name="pixel"/> in <paramref name="area"/>.</summary>
    public int MaxError(Func<int, int, uint> pixel, GpuRect area)
    {
        var worst = 0;
        for (var y = area.Y; y < area.Y + area.Height; y++)
        {
            for (var x = area.X; x < area.X + area.Width; x++)
            {
                var (a, b) = (this[x, y], pixel(x, y));
                for (var shift = 0; shift < 24; shift += 8)
                    worst = Math.Max(worst, Math.Abs((int)((a >> shift) & 0xFF) - (int)((b >> shift) & 0xFF)));
            }
        }
        return worst;
    }

    private static uint[] Decode(Tile t)
    {
        using var decoded = SKBitmap.Decode(t.Data);
        Assert.NotNull(decoded);
        Assert.Equal((t.Width, t.Height), (decoded.Width, decoded.Height));
        using var bitmap = new SKBitmap(new SKImageInfo(t.Width, t.Height, SKColorType.Bgra8888, SKAlphaType.Opaque));
        Assert.True(decoded.CopyTo(bitmap, SKColorType.Bgra8888));
        var pixels = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(bitmap.GetPixelSpan()).ToArray();
        for (var i = 0; i < pixels.Length; i++)
            pixels[i] &= 0xFF_FFFF; // BGRA in memory: 0xAARRGGBB as a little-endian word
        return pixels;
    }

    private static uint[] Crop(uint[] pixels, int stride, int width, int height)
    {
        var result = new uint[width * height];
        for (var y = 0; y < height; y++)
            pixels.AsSpan(y * stride, width).CopyTo(result.AsSpan(y * width));
        return result;
    }

    private void Draw(uint[] image, int width, int height, int x, int y)
    {
        for (var row = 0; row < height; row++)
            image.AsSpan(row * width, width).CopyTo(_pixels.AsSpan(((y + row) * Width) + x));
    }
}
