using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;

namespace Vdi.Server.Display;

/// <summary>
/// Adapts an <see cref="IDesktopMachine"/> — a VM in this process or in a host process of its own — to
/// <see cref="IScanoutSource"/>: its events pass straight through, captures go to <see cref="IDesktopMachine.Capture"/>
/// (under the machine's lease in process; from the read-only shared scanout otherwise).
/// </summary>
public sealed class DesktopScanoutSource(IDesktopMachine desktop) : IScanoutSource
{
    private readonly IDesktopMachine _desktop = desktop ?? throw new ArgumentNullException(nameof(desktop));

    public event Action<ScanoutFlush>? Flushed
    {
        add => _desktop.Flushed += value;
        remove => _desktop.Flushed -= value;
    }

    public event Action<ScanoutChange>? ScanoutChanged
    {
        add => _desktop.ScanoutChanged += value;
        remove => _desktop.ScanoutChanged -= value;
    }

    public (int Width, int Height)? Mode => _desktop.Mode;

    public double Dpi => _desktop.Dpi;

    public bool TryCapture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format) =>
        _desktop.Capture(region, destination, stride, out format);

    public ScanoutSnapshot? Capture(GpuRect region)
    {
        if (_desktop.Mode is not { } mode)
            return null;
        var x = Math.Max(region.X, 0);
        var y = Math.Max(region.Y, 0);
        var width = Math.Min(region.X + region.Width, mode.Width) - x;
        var height = Math.Min(region.Y + region.Height, mode.Height) - y;
        if (width <= 0 || height <= 0)
            return null;
        return CaptureAt(new GpuRect(x, y, width, height));
    }

    /// <summary>The whole visible scanout, or null when there is none.</summary>
    public ScanoutSnapshot? CaptureAll() =>
        _desktop.Mode is { } mode ? CaptureAt(new GpuRect(0, 0, mode.Width, mode.Height)) : null;

    private ScanoutSnapshot? CaptureAt(GpuRect rect)
    {
        // Rows at the region's own position in a buffer as wide as the region: shift it left and up.
        var pixels = new byte[rect.Width * rect.Height * 4];
        var stride = rect.Width * 4;
        var origin = (rect.Y * stride) + (rect.X * 4);
        var scratch = new byte[origin + pixels.Length];
        if (!_desktop.Capture(rect, scratch, stride, out var format))
            return null;
        scratch.AsSpan(origin, pixels.Length).CopyTo(pixels);
        return new ScanoutSnapshot(rect.Width, rect.Height, format, pixels);
    }
}
