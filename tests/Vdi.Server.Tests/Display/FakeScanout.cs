using System.Buffers.Binary;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

/// <summary>
/// Stands in for the GPU: a B8G8R8X8 framebuffer the test paints into (colours as 0x00RRGGBB) and
/// flushes, raising the events the way the device does.
/// </summary>
internal sealed class FakeScanout : IScanoutSource
{
    private readonly Lock _gate = new();
    private byte[] _pixels = [];
    private bool _enabled;

    public FakeScanout(int width, int height) => SetMode(width, height, raise: false);

    public event Action<ScanoutFlush>? Flushed;

    public event Action<ScanoutChange>? ScanoutChanged;

    public int Width { get; private set; }

    public int Height { get; private set; }

    public int Captures { get; private set; }

    public int Subscribers => (Flushed?.GetInvocationList().Length ?? 0) + (ScanoutChanged?.GetInvocationList().Length ?? 0);

    public (int Width, int Height)? Mode
    {
        get
        {
            lock (_gate)
                return _enabled ? (Width, Height) : null;
        }
    }

    public static uint Pattern(int x, int y) => (uint)((((x * 7) & 0xFF) << 16) | (((y * 13) & 0xFF) << 8) | ((x + y) & 0xFF));

    /// <summary>Pseudo-random, photo-like: many colours, so the encoder does not take it for text.</summary>
    public static Func<int, int, uint> Noise(int seed) => (x, y) => (uint)(HashCode.Combine(x, y, seed) & 0xFF_FFFF);

    public void Paint(GpuRect rect, Func<int, int, uint> pixel)
    {
        lock (_gate)
        {
            for (var y = rect.Y; y < rect.Y + rect.Height; y++)
            {
                for (var x = rect.X; x < rect.X + rect.Width; x++)
                    BinaryPrimitives.WriteUInt32LittleEndian(_pixels.AsSpan(((y * Width) + x) * 4), pixel(x, y));
            }
        }
    }

    public void Paint(GpuRect rect, uint color) => Paint(rect, (_, _) => color);

    public void Flush(GpuRect damage) => Flushed?.Invoke(new ScanoutFlush(Width, Height, damage));

    public void PaintAndFlush(GpuRect rect, Func<int, int, uint> pixel)
    {
        Paint(rect, pixel);
        Flush(rect);
    }

    /// <summary>What a guest does for a new mode: a new (black) buffer, shown, then painted and flushed by the caller.</summary>
    public void SetMode(int width, int height, bool raise = true)
    {
        lock (_gate)
        {
            (Width, Height, _enabled) = (width, height, true);
            _pixels = new byte[width * height * 4];
        }
        if (raise)
            ScanoutChanged?.Invoke(new ScanoutChange(true, width, height, 1));
    }

    public void Disable()
    {
        lock (_gate)
            _enabled = false;
        ScanoutChanged?.Invoke(new ScanoutChange(false, 0, 0, 0));
    }

    public ScanoutSnapshot? Capture(GpuRect region)
    {
        lock (_gate)
        {
            Captures++;
            if (!_enabled)
                return null;
            var r = region.Intersect(new GpuRect(0, 0, Width, Height));
            var pixels = new byte[r.Width * r.Height * 4];
            for (var row = 0; row < r.Height; row++)
                _pixels.AsSpan((((r.Y + row) * Width) + r.X) * 4, r.Width * 4).CopyTo(pixels.AsSpan(row * r.Width * 4));
            return new ScanoutSnapshot(r.Width, r.Height, GpuFormat.B8G8R8X8, pixels);
        }
    }
}
