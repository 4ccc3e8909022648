using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Vmm.Host;

/// <summary>
/// The host's display events: GPU events queued by the vCPU thread that raises them (never blocking it; a full queue
/// drops and later resynchronises the broker) and sent in order from one event thread, each flushed rectangle copied
/// into the shared scanout before its damage goes out.
/// </summary>
public sealed partial class DesktopHostServer
{
    private void Post(Action action)
    {
        // A full queue means the event thread is stuck behind a broker that does not read: drop rather than block a
        // vCPU, and resynchronise the broker (mode and a full frame) once the queue has drained.
        if (!_events.IsAddingCompleted && !_events.TryAdd(action))
            Volatile.Write(ref _overflowed, 1);
    }

    private void EventLoop()
    {
        foreach (var action in _events.GetConsumingEnumerable())
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                // One event that could not be sent must not end the thread every later event needs.
                HostLog.Write(_log, $"event dropped: {e.Message}");
                Volatile.Write(ref _overflowed, 1);
            }
            if (_events.Count == 0 && Interlocked.Exchange(ref _overflowed, 0) == 1)
            {
                HostLog.Write(_log, "events were dropped (the broker did not read): sending the mode and a full frame");
                Resynchronise();
            }
        }
    }

    /// <summary>After dropped events: the current mode and a full frame, as if the guest had just set and flushed them.</summary>
    private void Resynchronise()
    {
        var gpu = _machine.Devices.Gpu;
        ScanoutLocation location;
        lock (gpu.DeviceGate)
        {
            location = Locate();
            Publish(location);
        }
        _channel.Send(location.Message(gpu.Display.Dpi, 0));
        if (location.Width == 0)
            return;
        var frame = new GpuRect(0, 0, location.Width, location.Height);
        if (FlushedSequence(frame) is { } sequence)
            _channel.Send(new FlushedMessage(sequence, location.Width, location.Height, frame));
    }

    /// <summary>Where the visible scanout's pixels go in the shared scanout: its own arena image, or the copy area; under the GPU's gate.</summary>
    private ScanoutLocation Locate()
    {
        if (_machine.Devices.Gpu.ScanoutPlacement is not { } p)
            return new ScanoutLocation(0, 0, ScanoutLayout.PixelOffset, _scanout.Stride, default);
        var (w, h) = (p.Rect.Width, p.Rect.Height);
        if (p.Image is SharedResourceArena.ArenaImage image)
        {
            var offset = image.Offset + ((long)p.Rect.Y * p.ResourceWidth * 4) + (p.Rect.X * 4L);
            if (ScanoutLayout.CheckLocation(_scanout.MaxWidth, _scanout.MaxHeight, w, h, offset, p.ResourceWidth * 4) is null)
                return new ScanoutLocation(w, h, offset, p.ResourceWidth * 4, p.Format);
        }
        return new ScanoutLocation(w, h, ScanoutLayout.PixelOffset, _scanout.Stride, p.Format);
    }

    private void Publish(ScanoutLocation location) =>
        _scanout.SetMode(location.Width, location.Height, location.Offset, location.Stride, location.Width == 0 ? null : location.Format);

    /// <summary>The sequence a flush of <paramref name="damage"/> is consistent with: an arena image's damage is already in place, other damage is copied.</summary>
    private long? FlushedSequence(GpuRect damage) => _scanout.Direct ? _scanout.Published : _scanout.Copy(_machine.Devices.Gpu, damage);

    private void OnScanoutChanged(ScanoutChange change)
    {
        // Raised on the vCPU thread under the GPU's gate: where the new scanout's pixels are is known now.
        var location = change.Enabled ? Locate() : new ScanoutLocation(0, 0, ScanoutLayout.PixelOffset, _scanout.Stride, default);
        Post(() =>
        {
            Publish(location);
            _channel.Send(location.Message(_machine.Devices.Gpu.Display.Dpi, change.ResourceId));
        });
    }

    private void OnFlushed(ScanoutFlush flush)
    {
        // Read on the vCPU thread: a secondary promoted between the flush and its turn on the event thread had
        // replayed this one (the broker announces it).
        var announce = AnnouncesFlushes;
        Post(() =>
        {
            if (FlushedSequence(flush.Damage) is not { } sequence)
                return;
            Interlocked.Increment(ref _flushes);
            if (announce)
                _channel.Send(new FlushedMessage(sequence, flush.ScanoutWidth, flush.ScanoutHeight, flush.Damage));
        });
    }

    /// <summary>A mode (0×0: none) and where its pixels are in the shared scanout.</summary>
    private readonly record struct ScanoutLocation(int Width, int Height, long Offset, int Stride, GpuFormat Format)
    {
        public ScanoutChangedMessage Message(double dpi, uint resourceId) => new(Width > 0, Width, Height, dpi, resourceId, Offset, Stride);
    }

    private void OnCursorChanged(CursorImage cursor) => Post(() =>
    {
        Volatile.Write(ref _cursor, cursor);
        SendCursor(cursor);
    });

    private void SendCursor(CursorImage cursor)
    {
        var sequence = _scanout.SetCursor(cursor);
        _channel.Send(new CursorChangedMessage(sequence, cursor.Pixels is not null, cursor.Width, cursor.Height, cursor.HotX, cursor.HotY, (uint)cursor.Format));
    }

    private void OnCursorMoved(int x, int y) => Post(() => _channel.Send(new CursorMovedMessage(x, y)));
}
