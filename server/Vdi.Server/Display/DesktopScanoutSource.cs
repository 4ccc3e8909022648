using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;

namespace Vdi.Server.Display;

/// <summary>
/// Adapts an <see cref="IDesktopMachine"/> — a VM in this process or in a host process of its own — to
/// <see cref="IScanoutSource"/>: its events pass straight through, captures go to <see cref="IDesktopMachine.Capture"/>
/// (under the machine's lease in process; from the read-only shared scanout otherwise). A live migration
/// <see cref="Repoint"/>s it at the desktop's new machine: the handlers move over, and the whole screen is damaged.
/// </summary>
public sealed class DesktopScanoutSource(IDesktopMachine desktop) : IScanoutSource
{
    private readonly Lock _gate = new(); // handlers and the machine change together
    private IDesktopMachine _desktop = desktop ?? throw new ArgumentNullException(nameof(desktop));
    private Action<ScanoutFlush>? _flushed;
    private Action<ScanoutChange>? _changed;

    public IDesktopMachine Desktop => Volatile.Read(ref _desktop);

    public event Action<ScanoutFlush>? Flushed
    {
        add
        {
            lock (_gate)
            {
                _flushed += value;
                _desktop.Flushed += value;
            }
        }
        remove
        {
            lock (_gate)
            {
                _flushed -= value;
                _desktop.Flushed -= value;
            }
        }
    }

    public event Action<ScanoutChange>? ScanoutChanged
    {
        add
        {
            lock (_gate)
            {
                _changed += value;
                _desktop.ScanoutChanged += value;
            }
        }
        remove
        {
            lock (_gate)
            {
                _changed -= value;
                _desktop.ScanoutChanged -= value;
            }
        }
    }

    public (int Width, int Height)? Mode => Desktop.Mode;

    public double Dpi => Desktop.Dpi;

    /// <summary>
    /// From now on events and captures are <paramref name="next"/>'s; the subscribers are told its mode as a scanout
    /// change (the same size damages the whole screen), so the next version is captured whole from it.
    /// </summary>
    public void Repoint(IDesktopMachine next)
    {
        ArgumentNullException.ThrowIfNull(next);
        Action<ScanoutChange>? changed;
        lock (_gate)
        {
            _desktop.Flushed -= _flushed;
            _desktop.ScanoutChanged -= _changed;
            next.Flushed += _flushed;
            next.ScanoutChanged += _changed;
            Volatile.Write(ref _desktop, next);
            changed = _changed;
        }
        if (next.Mode is { } mode)
            changed?.Invoke(new ScanoutChange(true, mode.Width, mode.Height, 0));
    }

    public bool TryCapture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format) =>
        Desktop.Capture(region, destination, stride, out format);

    public ScanoutSnapshot? Capture(GpuRect region)
    {
        if (Desktop.Mode is not { } mode)
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
        Desktop.Mode is { } mode ? CaptureAt(new GpuRect(0, 0, mode.Width, mode.Height)) : null;

    private ScanoutSnapshot? CaptureAt(GpuRect rect)
    {
        // Rows at the region's own position in a buffer as wide as the region: shift it left and up.
        var pixels = new byte[rect.Width * rect.Height * 4];
        var stride = rect.Width * 4;
        var origin = (rect.Y * stride) + (rect.X * 4);
        var scratch = new byte[origin + pixels.Length];
        if (!Desktop.Capture(rect, scratch, stride, out var format))
            return null;
        scratch.AsSpan(origin, pixels.Length).CopyTo(pixels);
        return new ScanoutSnapshot(rect.Width, rect.Height, format, pixels);
    }
}
