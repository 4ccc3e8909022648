using System.Globalization;
using SkiaSharp;
using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Benchmarks;

/// <summary>
/// Tile encoder throughput for each encoding on a full 1920x1080 frame, next to a plain memory copy
/// of the same pixels measured in the same run (the physical limit).
/// </summary>
internal static class EncoderBenchmark
{
    private const int Width = 1920, Height = 1080;

    public static void Run(int runs)
    {
        var frame = new GpuRect(0, 0, Width, Height);
        var text = new byte[Width * Height * 4];
        Pixels.Text(text, Width * 4, frame, seed: 1);
        var photo = new byte[Width * Height * 4];
        Pixels.Photo(photo, Width * 4, frame, seed: 2);
        var textShot = new ScanoutSnapshot(Width, Height, GpuFormat.B8G8R8X8, text);
        var photoShot = new ScanoutSnapshot(Width, Height, GpuFormat.B8G8R8X8, photo);
        Console.WriteLine($"encoder throughput, {Width}x{Height} full frame, 256x256 tiles, median of {runs} runs (one process, one core)");

        var destination = new byte[text.Length];
        var copy = Measure(runs, () =>
        {
            text.AsSpan().CopyTo(destination);
            return destination.Length;
        });
        Report("memory copy (reference)", copy, null);

        var png = new TileEncoder();
        Report("PNG, text-like content", Measure(runs, () => EncodeAll(png, textShot, frame, lossless: true)), copy);

        var jpeg = new TileEncoder();
        for (var i = 0; i < 4; i++)
            jpeg.BeginFrame(Width, Height, [frame]); // the whole frame changed in each of the last frames: fast-changing
        Report($"JPEG q{jpeg.Options.JpegQuality}, photo-like content", Measure(runs, () => EncodeAll(jpeg, photoShot, frame, lossless: false)), copy);
        foreach (var quality in new[] { 90, 60, 30 })
            Report($"JPEG q{quality}, 64x64 cells", Measure(runs, () => EncodeCells(photo, 64, buffer => TileEncoder.EncodeJpeg(buffer.Pixels, buffer.Rect, quality))), copy);

        Console.WriteLine("lossless options on the text-like frame: PNG row filters x zlib level, cut in 64x64 cells (the cache grid) or 256x256 tiles");
        foreach (var (filters, level) in new[] { (SKPngEncoderFilterFlags.AllFilters, 6), (SKPngEncoderFilterFlags.NoFilters, 6), (SKPngEncoderFilterFlags.Sub, 6), (SKPngEncoderFilterFlags.Up, 6), (SKPngEncoderFilterFlags.AllFilters, 3), (SKPngEncoderFilterFlags.NoFilters, 3), (SKPngEncoderFilterFlags.Sub, 3), (SKPngEncoderFilterFlags.NoFilters, 1), (SKPngEncoderFilterFlags.Sub, 1) })
        {
            var encoder = new TileEncoder(new TileEncoderOptions { PngFilters = filters, PngCompressionLevel = level });
            foreach (var size in new[] { 64, 256 })
                Report($"PNG {filters} z{level}, {size}x{size}", Measure(runs, () => EncodeCells(text, size, buffer => encoder.EncodePng(buffer.Pixels, buffer.Rect))), copy);
        }
    }

    /// <summary>Encodes the frame cut into <paramref name="size"/> cells, one tile each; returns the bytes.</summary>
    private static long EncodeCells(byte[] pixels, int size, Func<(PixelBuffer Pixels, GpuRect Rect), byte[]> encode)
    {
        var buffer = s_buffers.TryGetValue(pixels, out var b) ? b : s_buffers[pixels] = Load(pixels);
        long bytes = 0;
        for (var y = 0; y < Height; y += size)
        {
            for (var x = 0; x < Width; x += size)
                bytes += encode((buffer, new GpuRect(x, y, Math.Min(size, Width - x), Math.Min(size, Height - y)))).Length;
        }
        return bytes;
    }

    private static readonly Dictionary<byte[], PixelBuffer> s_buffers = [];

    private static PixelBuffer Load(byte[] pixels)
    {
        var buffer = new PixelBuffer(Width, Height);
        pixels.CopyTo(buffer.Pixels, 0);
        buffer.ToOpaqueBgra(buffer.Bounds, GpuFormat.B8G8R8X8);
        return buffer;
    }

    private static long EncodeAll(TileEncoder encoder, ScanoutSnapshot snapshot, GpuRect frame, bool lossless)
    {
        var tiles = new List<Tile>();
        encoder.Encode(frame, snapshot, tiles, lossless);
        return tiles.Sum(t => (long)t.Data.Length);
    }

    private static (double Ms, long Bytes) Measure(int runs, Func<long> work)
    {
        long bytes = 0;
        var ms = Stats.MedianMs(runs, () => bytes = work());
        return (ms, bytes);
    }

    private static void Report(string name, (double Ms, long Bytes) result, (double Ms, long Bytes)? reference)
    {
        var mps = Width * Height / result.Ms / 1000;
        var ratio = reference is { } r ? $"   {result.Ms / r.Ms,6:F0}x the copy" : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-36} {result.Ms,8:F2} ms/frame {mps,9:F1} MP/s {result.Bytes / 1024.0,9:F0} KiB{ratio}"));
    }
}
