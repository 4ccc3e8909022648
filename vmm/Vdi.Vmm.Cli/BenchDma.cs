using System.Diagnostics;
using Vdi.Vmm.Iommu;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench dma`: the GPU's repaint hot path — a frame's rows read from guest backing as TRANSFER_TO_HOST_2D reads
/// them — through an identity IOMMU domain, against the same reads by guest-physical address through
/// <see cref="GuestMemory"/> (the reference), interleaved in this process; then a dirty harvest of the domain over all
/// RAM with every page of one frame dirty.
/// </summary>
internal static class BenchDma
{
    private const ulong RamBytes = 512UL << 20;
    private const ulong Framebuffer = 0x100_0000;
    private static readonly (int Width, int Height)[] s_modes = [(1920, 1080), (3840, 2160)];

    public static Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var runs = options.Int("runs", 300, 10, 100_000);
        options.EnsureConsumed();
        using var memory = new GuestMemory();
        memory.AddRam(0, RamBytes);
        var iommu = new VirtualIommu(memory, RamBytes);
        var dma = iommu.CreateIdentityDomain("VirtioGpu");
        stdout.WriteLine($"DMA row reads of a frame (as TRANSFER_TO_HOST_2D), median/p10 of {runs} interleaved frames");
        foreach (var (width, height) in s_modes)
        {
            var pixels = new byte[width * height * 4];
            var reference = new List<double>(runs);
            var domain = new List<double>(runs);
            for (var run = -runs / 10; run < runs; run++) // the first tenth warms up
            {
                var a = Frame(pixels, width, height, (address, row) => memory.TryRead(address, row));
                var b = Frame(pixels, width, height, (address, row) => dma.TryRead(address, row));
                if (run >= 0)
                {
                    reference.Add(a);
                    domain.Add(b);
                }
            }
            stdout.WriteLine($"  {width}x{height}  GuestMemory {Statistics.Median(reference),7:F3} ms (p10 {Statistics.Percentile(reference, 0.10):F3})"
                + $"  IommuDomain {Statistics.Median(domain),7:F3} ms (p10 {Statistics.Percentile(domain, 0.10):F3})"
                + $"  ratio {Statistics.Median(domain) / Statistics.Median(reference):F3} (p10 {Statistics.Percentile(domain, 0.10) / Statistics.Percentile(reference, 0.10):F3})");
        }

        iommu.StartDirtyTracking();
        var frame = new byte[3840 * 2160 * 4];
        dma.Write(Framebuffer, frame);
        var bitmap = new ulong[DirtyBitmap.WordsFor(RamBytes >> 12)];
        var watch = Stopwatch.StartNew();
        var pages = iommu.HarvestDirty(bitmap);
        stdout.WriteLine($"  harvest of {RamBytes >> 20} MiB with {pages} dirty pages: {watch.Elapsed.TotalMilliseconds:F3} ms");
        return Task.FromResult(0);
    }

    private delegate bool RowReader(ulong address, Span<byte> row);

    private static double Frame(byte[] pixels, int width, int height, RowReader read)
    {
        var rowBytes = width * 4;
        var watch = Stopwatch.StartNew();
        for (var y = 0; y < height; y++)
        {
            if (!read(Framebuffer + (ulong)(y * rowBytes), pixels.AsSpan(y * rowBytes, rowBytes)))
                throw new InvalidOperationException($"row {y} is outside guest RAM");
        }
        return watch.Elapsed.TotalMilliseconds;
    }
}
