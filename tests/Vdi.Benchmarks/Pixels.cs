using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Benchmarks;

/// <summary>Content generators for the benchmarks: text, glyphs, colour bands, photos (B8G8R8X8, rows packed).</summary>
internal static class Pixels
{
    public const int GlyphWidth = 12;
    public const int GlyphHeight = 16;

    /// <summary>Black glyph-like strokes on white in <paramref name="cellWidth"/> x <paramref name="cellHeight"/> cells: a terminal or a document.</summary>
    public static void Text(byte[] pixels, int stride, GpuRect area, int seed, int cellWidth = 8, int cellHeight = 16)
    {
        Fill(pixels, stride, area, 0xFFFF_FFFF);
        var random = new Random(seed);
        for (var cy = area.Y; cy + cellHeight <= area.Y + area.Height; cy += cellHeight)
        {
            for (var cx = area.X; cx + cellWidth <= area.X + area.Width; cx += cellWidth)
            {
                if (random.Next(4) == 0)
                    continue; // spaces
                Glyph(pixels, stride, cx, cy, cellWidth, cellHeight, random);
            }
        }
    }

    /// <summary>Three strokes in one cell (cleared to white first).</summary>
    public static void Glyph(byte[] pixels, int stride, int cx, int cy, int cellWidth, int cellHeight, Random random)
    {
        Fill(pixels, stride, new GpuRect(cx, cy, cellWidth, cellHeight), 0xFFFF_FFFF);
        for (var stroke = 0; stroke < 3; stroke++)
        {
            var x0 = cx + 1 + random.Next(cellWidth - 3);
            var y0 = cy + 2 + random.Next(cellHeight - 6);
            var horizontal = random.Next(2) == 0;
            for (var k = 0; k < 5; k++)
            {
                var x = horizontal ? x0 + k : x0;
                var y = horizontal ? y0 : y0 + k;
                if (x < cx + cellWidth && y < cy + cellHeight)
                    pixels.AsSpan((y * stride) + (x * 4), 3).Clear();
            }
        }
    }

    /// <summary>
    /// Smooth colour bands, each channel moving its own way with <paramref name="phase"/> (red
    /// across, green down, blue diagonally): an animation or a video without noise, which no
    /// shift of the previous frame reproduces.
    /// </summary>
    public static void Bands(byte[] pixels, int stride, GpuRect area, int phase)
    {
        Span<byte> wave = stackalloc byte[256];
        for (var i = 0; i < wave.Length; i++)
            wave[i] = (byte)(128 + (100 * Math.Sin(i * Math.PI * 2 / wave.Length)));
        for (var y = 0; y < area.Height; y++)
        {
            var row = pixels.AsSpan(((area.Y + y) * stride) + (area.X * 4), area.Width * 4);
            var g = wave[((y / 2) + (phase * 5)) & 255];
            for (var x = 0; x < area.Width; x++)
            {
                row[(x * 4) + 0] = wave[((x + y) / 3 + (phase * 3)) & 255];
                row[(x * 4) + 1] = g;
                row[(x * 4) + 2] = wave[((x / 2) - (phase * 7)) & 255];
                row[(x * 4) + 3] = 0xFF;
            }
        }
    }

    /// <summary>Smooth colour gradients with noise: what a video or photograph looks like.</summary>
    public static void Photo(byte[] pixels, int stride, GpuRect area, int seed)
    {
        var random = new Random(seed);
        for (var y = 0; y < area.Height; y++)
        {
            for (var x = 0; x < area.Width; x++)
            {
                var i = ((area.Y + y) * stride) + ((area.X + x) * 4);
                pixels[i] = (byte)Math.Clamp((x * 255 / area.Width) + random.Next(-12, 13), 0, 255);
                pixels[i + 1] = (byte)Math.Clamp((y * 255 / area.Height) + random.Next(-12, 13), 0, 255);
                pixels[i + 2] = (byte)Math.Clamp(128 + (int)(100 * Math.Sin((x + y) / 90.0)) + random.Next(-12, 13), 0, 255);
                pixels[i + 3] = 0xFF;
            }
        }
    }

    public static void Fill(byte[] pixels, int stride, GpuRect area, uint bgra)
    {
        for (var y = area.Y; y < area.Y + area.Height; y++)
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(pixels.AsSpan((y * stride) + (area.X * 4), area.Width * 4)).Fill(bgra);
    }

    /// <summary>Copies <paramref name="area"/> between two buffers of the same stride.</summary>
    public static void Copy(byte[] from, byte[] to, int stride, GpuRect area)
    {
        for (var y = area.Y; y < area.Y + area.Height; y++)
            from.AsSpan((y * stride) + (area.X * 4), area.Width * 4).CopyTo(to.AsSpan((y * stride) + (area.X * 4)));
    }
}
