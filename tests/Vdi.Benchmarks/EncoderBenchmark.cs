using System.Globalization;
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
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-30} {result.Ms,8:F2} ms/frame {mps,9:F1} MP/s {result.Bytes / 1024.0,9:F0} KiB{ratio}"));
    }
}
