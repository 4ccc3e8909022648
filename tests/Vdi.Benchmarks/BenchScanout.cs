using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Benchmarks;

/// <summary>
/// A scanout for the pump benchmark: a B8G8R8X8 framebuffer that a <see cref="Scene"/> paints into,
/// flushed the way the virtio-gpu device raises its events, and read the way the device copies
/// regions out under its lock.
/// </summary>
internal sealed class BenchScanout : IScanoutSource
{
    private readonly Lock _gate = new();

    public BenchScanout(int width, int height)
    {
        (Width, Height) = (width, height);
        Pixels = new byte[width * height * 4];
    }

    public event Action<ScanoutFlush>? Flushed;

    public event Action<ScanoutChange>? ScanoutChanged;

    public int Width { get; }

    public int Height { get; }

    /// <summary>The framebuffer; paint only between flushes (the benchmark waits for each frame).</summary>
    public byte[] Pixels { get; }

    public (int Width, int Height)? Mode => (Width, Height);

    public void Flush(GpuRect damage)
    {
        lock (_gate)
            Flushed?.Invoke(new ScanoutFlush(Width, Height, damage));
    }

    public void Show()
    {
        lock (_gate)
            ScanoutChanged?.Invoke(new ScanoutChange(true, Width, Height, 1));
    }

    /// <summary>As the device does (<see cref="VirtioGpu.Capture(GpuRect, Span{byte}, int, out GpuFormat)"/>): the region's rows, under the lock, no allocation.</summary>
    public bool TryCapture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format)
    {
        lock (_gate)
        {
            format = GpuFormat.B8G8R8X8;
            if (!new GpuRect(0, 0, Width, Height).Contains(region))
                return false;
            for (var row = 0; row < region.Height; row++)
                Pixels.AsSpan((((region.Y + row) * Width) + region.X) * 4, region.Width * 4).CopyTo(destination[(((region.Y + row) * stride) + (region.X * 4))..]);
            return true;
        }
    }

    /// <summary>As the device does: a new array holding the region's rows, copied under the lock.</summary>
    public ScanoutSnapshot? Capture(GpuRect region)
    {
        lock (_gate)
        {
            var r = region.Intersect(new GpuRect(0, 0, Width, Height));
            var pixels = GC.AllocateUninitializedArray<byte>(r.Width * r.Height * 4);
            for (var row = 0; row < r.Height; row++)
                Pixels.AsSpan((((r.Y + row) * Width) + r.X) * 4, r.Width * 4).CopyTo(pixels.AsSpan(row * r.Width * 4));
            return new ScanoutSnapshot(r.Width, r.Height, GpuFormat.B8G8R8X8, pixels);
        }
    }
}
