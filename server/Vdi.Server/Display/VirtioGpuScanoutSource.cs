using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// Adapts a <see cref="VirtioGpu"/> to <see cref="IScanoutSource"/>. One adapter per GPU can serve
/// every viewer; handlers added to its events go straight to the device's events.
/// </summary>
public sealed class VirtioGpuScanoutSource : IScanoutSource, IDisposable
{
    private readonly Lock _gate = new();
    private readonly VirtioGpu _gpu;
    private readonly Func<Vmm.Machine.MachineLease>? _lease;
    private (int Width, int Height)? _mode;
    private bool _modeSeen; // a ScanoutChanged arrived: it beats the initial read

    /// <param name="lease">When given, every capture runs under a lease of the machine's guest memory and is skipped
    /// (nothing captured) once the machine is being disposed.</param>
    public VirtioGpuScanoutSource(VirtioGpu gpu, Func<Vmm.Machine.MachineLease>? lease = null)
    {
        ArgumentNullException.ThrowIfNull(gpu);
        _gpu = gpu;
        _lease = lease;
        // Subscribed before any pump, so Mode is current by the time a pump's handler runs.
        gpu.ScanoutChanged += OnScanoutChanged;
        // The device has no mode query; one full read gives the size of a scanout that predates us.
        (int, int)? initial = null;
        try
        {
            if (Capture(default, whole: true) is { } shot)
                initial = (shot.Width, shot.Height);
        }
        catch (InvalidOperationException)
        {
            // Not attached to a transport yet: no guest, no scanout; ScanoutChanged will tell.
        }
        lock (_gate)
        {
            if (!_modeSeen)
                _mode = initial;
        }
    }

    public event Action<ScanoutFlush>? Flushed
    {
        add => _gpu.Flushed += value;
        remove => _gpu.Flushed -= value;
    }

    public event Action<ScanoutChange>? ScanoutChanged
    {
        add => _gpu.ScanoutChanged += value;
        remove => _gpu.ScanoutChanged -= value;
    }

    public (int Width, int Height)? Mode
    {
        get
        {
            lock (_gate)
                return _mode;
        }
    }

    public double Dpi => _gpu.Display.Dpi;

    public ScanoutSnapshot? Capture(GpuRect region) => Capture(region, whole: false);

    public bool TryCapture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format)
    {
        using var lease = _lease?.Invoke();
        if (lease is { IsHeld: false })
        {
            format = default;
            return false;
        }
        return _gpu.Capture(region, destination, stride, out format);
    }

    private ScanoutSnapshot? Capture(GpuRect region, bool whole)
    {
        using var lease = _lease?.Invoke();
        if (lease is { IsHeld: false })
            return null;
        return whole ? _gpu.Capture() : _gpu.Capture(region);
    }

    public void Dispose() => _gpu.ScanoutChanged -= OnScanoutChanged;

    private void OnScanoutChanged(ScanoutChange change)
    {
        lock (_gate)
        {
            _modeSeen = true;
            _mode = change.Enabled ? (change.Width, change.Height) : null;
        }
    }
}
