using System.Runtime.InteropServices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Virtio;
using static Vdi.Vmm.Devices.Gpu.GpuCommands;

namespace Vdi.Vmm.Devices.Gpu;

/// <summary>
/// A virtio-gpu device, 2D only, one scanout, with EDID. The host chooses the display mode with
/// <see cref="RequestDisplay"/>: the device regenerates the EDID, reports the mode in
/// GET_DISPLAY_INFO and raises VIRTIO_GPU_EVENT_DISPLAY; the guest then builds a resource of that
/// size, sets the scanout and flushes. Resource memory is bounded per device.
/// </summary>
/// <remarks>
/// Guest commands run on the notifying vCPU's thread under the transport's gate, and the events
/// below are raised there too: handlers must be quick and must not call back into the device.
/// </remarks>
public sealed partial class VirtioGpu : IVirtioDevice, State.IDeviceState
{
    private const int ControlQueue = 0, CursorQueue = 1;

    private readonly GpuOptions _options;
    private readonly Dictionary<uint, GpuResource> _resources = [];
    private VirtioHost? _host;
    private VirtioContext? _active;
    private long _resourceBytes;
    private uint _eventsRead;
    private long _displayGeneration; // bumped by every RequestDisplay
    private long _displaySeen; // the generation the guest last read the mode of (GET_DISPLAY_INFO or GET_EDID)
    private DisplayProperties _display;
    private byte[] _edid;
    private GpuResource? _scanout;
    private GpuRect _scanoutRect;
    private long _errorResponses;
    private IGpuResourceMemory _resourceMemory = HeapResourceMemory.Instance;

    public VirtioGpu(GpuOptions? options = null, DisplayProperties? initial = null)
    {
        _options = options ?? new GpuOptions();
        _display = initial ?? new DisplayProperties(1280, 720);
        if (DisplayProperties.Validate(_display, _options.MaxWidth, _options.MaxHeight) is { } error)
            throw new ArgumentException(error, nameof(initial));
        _edid = EdidGenerator.Generate(_display);
    }

    public uint DeviceId => VirtioDeviceIds.Gpu;

    public ulong DeviceFeatures => 1UL << VIRTIO_GPU_F_EDID;

    public int QueueCount => 2;

    public ushort MaxQueueSize => 256;

    public int ConfigSize => Marshal.SizeOf<virtio_gpu_config>();

    public GpuOptions Options => _options;

    /// <summary>The display mode the host asked for last.</summary>
    public DisplayProperties Display
    {
        get
        {
            lock (Gate)
                return _display;
        }
    }

    /// <summary>The EDID the guest reads for the current request.</summary>
    public byte[] Edid
    {
        get
        {
            lock (Gate)
                return [.. _edid];
        }
    }

    public long ResourceBytes
    {
        get
        {
            lock (Gate)
                return _resourceBytes;
        }
    }

    /// <summary>Commands answered with an error (bad ids, out of memory, bad rectangles...).</summary>
    public long ErrorResponses => Interlocked.Read(ref _errorResponses);

    public string? LastError { get; private set; }

    public event Action<ScanoutChange>? ScanoutChanged;

    public event Action<ScanoutFlush>? Flushed;

    public event Action<CursorImage>? CursorChanged;

    /// <summary>The cursor's hot spot moved to (x, y) in scanout coordinates.</summary>
    public event Action<int, int>? CursorMoved;

    /// <summary>
    /// Where resource images are allocated (default: private arrays). Set before the guest creates any resource — a
    /// desktop host places them in the memory it shares with its broker.
    /// </summary>
    public IGpuResourceMemory ResourceMemory
    {
        get => _resourceMemory;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            lock (Gate)
            {
                if (_resources.Count != 0)
                    throw new InvalidOperationException("resource memory is chosen before the guest creates resources");
                _resourceMemory = value;
            }
        }
    }

    /// <summary>The device's gate, for a host that must order its own writes with the guest's commands.</summary>
    internal Lock DeviceGate => Gate;

    /// <summary>The visible scanout's image and rectangle within its resource (width of a row: the resource's); call under <see cref="DeviceGate"/>.</summary>
    internal (GpuResourceImage Image, int ResourceWidth, GpuFormat Format, GpuRect Rect)? ScanoutPlacement =>
        _scanout is { } resource ? (resource.Image, resource.Width, resource.Format, _scanoutRect) : null;

    private Lock Gate => _host?.Gate ?? throw new InvalidOperationException("the GPU is not attached to a transport");

    /// <summary>Asks the guest for a new mode: stores it, regenerates the EDID and raises the display event.</summary>
    /// <param name="properties">The mode.</param>
    /// <param name="queued">
    /// Called under the device's lock with the request's generation, before the guest can react: a
    /// <see cref="ScanoutChange"/> whose <see cref="ScanoutChange.DisplayGeneration"/> is at least this one was set up
    /// after the guest read this request.
    /// </param>
    /// <returns>The request's generation.</returns>
    /// <exception cref="ArgumentException">The properties are invalid or over this device's limits; the message names the field.</exception>
    public long RequestDisplay(DisplayProperties properties, Action<long>? queued = null)
    {
        CheckDisplay(properties);
        var edid = EdidGenerator.Generate(properties);
        lock (Gate)
        {
            _display = properties;
            _edid = edid;
            var generation = ++_displayGeneration;
            queued?.Invoke(generation);
            _eventsRead |= VIRTIO_GPU_EVENT_DISPLAY;
            _host!.SignalConfigChange();
            return generation;
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> (naming the field) for properties this device cannot show.</summary>
    public void CheckDisplay(DisplayProperties properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        if (DisplayProperties.Validate(properties, _options.MaxWidth, _options.MaxHeight) is { } error)
            throw new ArgumentException(error, nameof(properties));
    }

    /// <summary>A copy of the visible scanout, or null when the guest has none.</summary>
    public ScanoutSnapshot? Capture()
    {
        lock (Gate)
        {
            if (_scanout is not { } resource)
                return null;
            var r = _scanoutRect;
            var pixels = GC.AllocateUninitializedArray<byte>(r.Width * r.Height * 4);
            for (var row = 0; row < r.Height; row++)
                resource.Pixels.Slice((((r.Y + row) * resource.Width) + r.X) * 4, r.Width * 4).CopyTo(pixels.AsSpan(row * r.Width * 4));
            return new ScanoutSnapshot(r.Width, r.Height, resource.Format, pixels);
        }
    }

    /// <summary>
    /// A copy of <paramref name="region"/> of the visible scanout (in scanout coordinates), clipped to
    /// the scanout: the snapshot starts at (max(X, 0), max(Y, 0)) and is 0x0 when nothing is left; null
    /// when the guest has no scanout. Encoders use it to read just the damaged area.
    /// </summary>
    public ScanoutSnapshot? Capture(GpuRect region)
    {
        lock (Gate)
        {
            if (_scanout is not { } resource)
                return null;
            var r = region.Intersect(new GpuRect(0, 0, _scanoutRect.Width, _scanoutRect.Height));
            var pixels = GC.AllocateUninitializedArray<byte>(r.Width * r.Height * 4);
            for (var row = 0; row < r.Height; row++)
            {
                var source = (((_scanoutRect.Y + r.Y + row) * resource.Width) + _scanoutRect.X + r.X) * 4;
                resource.Pixels.Slice(source, r.Width * 4).CopyTo(pixels.AsSpan(row * r.Width * 4));
            }
            return new ScanoutSnapshot(r.Width, r.Height, resource.Format, pixels);
        }
    }

    /// <summary>
    /// Copies <paramref name="region"/> of the visible scanout into <paramref name="destination"/> (rows
    /// <paramref name="stride"/> bytes apart, the region at its own position): only the region's rows, no
    /// allocation, so the gate is held for the copy alone. False when there is no scanout or the region
    /// is not inside it (the scanout changed size).
    /// </summary>
    public bool Capture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format)
    {
        format = default;
        if (region.IsEmpty || region.X < 0 || region.Y < 0 || stride < (long)(region.X + region.Width) * 4
            || (long)(region.Y + region.Height - 1) * stride + ((long)(region.X + region.Width) * 4) > destination.Length)
            throw new ArgumentOutOfRangeException(nameof(region), region, "the region does not fit the destination");
        lock (Gate)
        {
            if (_scanout is not { } resource || !new GpuRect(0, 0, _scanoutRect.Width, _scanoutRect.Height).Contains(region))
                return false;
            for (var row = 0; row < region.Height; row++)
            {
                var source = (((_scanoutRect.Y + region.Y + row) * resource.Width) + _scanoutRect.X + region.X) * 4;
                resource.Pixels.Slice(source, region.Width * 4).CopyTo(destination[(((region.Y + row) * stride) + (region.X * 4))..]);
            }
            format = resource.Format;
            return true;
        }
    }

    public void Attach(VirtioHost host) => _host = host;

    public void ReadConfig(int offset, Span<byte> data)
    {
        var config = new virtio_gpu_config { events_read = _eventsRead, num_scanouts = 1 };
        MemoryMarshal.AsBytes(new Span<virtio_gpu_config>(ref config)).Slice(offset, data.Length).CopyTo(data);
    }

    public bool WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        if (offset != 4 || data.Length != 4)
            return false; // only events_clear is writable
        _eventsRead &= ~MemoryMarshal.Read<uint>(data);
        return true;
    }

    public void Activate(VirtioContext context) => _active = context;

    public void QueueNotify(int queue)
    {
        if (_active is null)
            return;
        var q = _active.Queues[queue];
        var any = false;
        while (q.TryPop(out var chain))
        {
            var written = queue == ControlQueue ? HandleControl(chain) : HandleCursor(chain);
            q.PushUsed(chain, written);
            any = true;
        }
        if (any)
            _host!.SignalUsedBuffers();
    }

    public void Reset()
    {
        _active = null;
        foreach (var resource in _resources.Values)
        {
            resource.Image.Release();
            _tracking?.Destroyed(resource.Id);
        }
        _resources.Clear();
        _resourceBytes = 0;
        _eventsRead = 0;
        (_cursor, _cursorPos) = (new CursorImage(0, 0, 0, 0, null, GpuFormat.B8G8R8A8), default);
        if (_scanout is not null)
        {
            _scanout = null;
            ScanoutChanged?.Invoke(new ScanoutChange(false, 0, 0, 0));
        }
    }
}
