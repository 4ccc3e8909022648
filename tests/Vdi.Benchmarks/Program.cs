using System.Diagnostics;
using System.Globalization;
using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

// Display-pipeline benchmarks that need no VM: encoder throughput for each encoding, next to a
// plain memory copy of the same pixels in the same run (the physical limit).
// Usage: dotnet run -c Release --project tests/Vdi.Benchmarks -- encoder [--runs N]
var runs = args.SkipWhile(a => a != "--runs").Skip(1).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault(9);
if (args.FirstOrDefault() != "encoder")
{
    Console.Error.WriteLine("usage: Vdi.Benchmarks encoder [--runs N]");
    return 64;
}

const int width = 1920, height = 1080;
var frame = new GpuRect(0, 0, width, height);
var text = TextLike(width, height);
var photo = PhotoLike(width, height);
Console.WriteLine($"encoder throughput, {width}x{height} full frame, 256x256 tiles, median of {runs} runs (one process, one core)");

var destination = new byte[text.Pixels.Length];
var copy = Measure(runs, () =>
{
    text.Pixels.AsSpan().CopyTo(destination);
    return destination.Length;
});
Report("memory copy (reference)", copy, width * height, null);

var png = new TileEncoder();
Report("PNG, text-like content", Measure(runs, () => EncodeAll(png, text, frame, lossless: true)), width * height, copy);

var jpeg = new TileEncoder();
for (var i = 0; i < 4; i++)
    jpeg.BeginFrame(width, height, [frame]); // the whole frame changed in each of the last frames: fast-changing
Report("JPEG q80, photo-like content", Measure(runs, () => EncodeAll(jpeg, photo, frame, lossless: false)), width * height, copy);
return 0;

static long EncodeAll(TileEncoder encoder, ScanoutSnapshot snapshot, GpuRect frame, bool lossless)
{
    var tiles = new List<Tile>();
    encoder.Encode(frame, snapshot, tiles, lossless);
    return tiles.Sum(t => (long)t.Data.Length);
}

static (double Ms, long Bytes) Measure(int runs, Func<long> work)
{
    work(); // warm up
    var samples = new List<(double, long)>();
    for (var i = 0; i < runs; i++)
    {
        var start = Stopwatch.GetTimestamp();
        var bytes = work();
        samples.Add((Stopwatch.GetElapsedTime(start).TotalMilliseconds, bytes));
    }
    return samples.OrderBy(s => s.Item1).ElementAt(samples.Count / 2);
}

static void Report(string name, (double Ms, long Bytes) result, long pixels, (double Ms, long Bytes)? reference)
{
    var mps = pixels / result.Ms / 1000;
    var ratio = reference is { } r ? $"   {result.Ms / r.Ms,6:F0}x the copy" : "";
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-30} {result.Ms,8:F2} ms/frame {mps,9:F1} MP/s {result.Bytes / 1024.0,9:F0} KiB{ratio}"));
}

// Black glyph-like strokes on white, in 8x16 cells: what a terminal or document looks like.
static ScanoutSnapshot TextLike(int width, int height)
{
    var pixels = new byte[width * height * 4];
    pixels.AsSpan().Fill(0xFF);
    var random = new Random(1);
    for (var cy = 0; cy + 16 <= height; cy += 16)
    {
        for (var cx = 0; cx + 8 <= width; cx += 8)
        {
            if (random.Next(4) == 0)
                continue; // spaces
            for (var stroke = 0; stroke < 3; stroke++)
            {
                var x0 = cx + 1 + random.Next(5);
                var y0 = cy + 2 + random.Next(10);
                var horizontal = random.Next(2) == 0;
                for (var k = 0; k < 5; k++)
                {
                    var x = horizontal ? x0 + k : x0;
                    var y = horizontal ? y0 : y0 + k;
                    if (x < cx + 8 && y < cy + 16)
                        pixels.AsSpan(((y * width) + x) * 4, 3).Clear();
                }
            }
        }
    }
    return new ScanoutSnapshot(width, height, GpuFormat.B8G8R8X8, pixels);
}

// Smooth colour gradients with noise: what a video or photograph looks like.
static ScanoutSnapshot PhotoLike(int width, int height)
{
    var pixels = new byte[width * height * 4];
    var random = new Random(2);
    for (var y = 0; y < height; y++)
    {
        for (var x = 0; x < width; x++)
        {
            var i = ((y * width) + x) * 4;
            pixels[i] = (byte)Math.Clamp((x * 255 / width) + random.Next(-12, 13), 0, 255);
            pixels[i + 1] = (byte)Math.Clamp((y * 255 / height) + random.Next(-12, 13), 0, 255);
            pixels[i + 2] = (byte)Math.Clamp(128 + (int)(100 * Math.Sin((x + y) / 90.0)) + random.Next(-12, 13), 0, 255);
        }
    }
    return new ScanoutSnapshot(width, height, GpuFormat.B8G8R8X8, pixels);
}
