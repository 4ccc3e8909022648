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
        if (gpu.Capture() is not { } shot)
        {
            _scanout.SetMode(0, 0);
            _channel.Send(new ScanoutChangedMessage(false, 0, 0, gpu.Display.Dpi, 0));
            return;
        }
        _scanout.SetMode(shot.Width, shot.Height);
        _channel.Send(new ScanoutChangedMessage(true, shot.Width, shot.Height, gpu.Display.Dpi, 0));
        var frame = new GpuRect(0, 0, shot.Width, shot.Height);
        if (_scanout.Copy(gpu, frame) is { } sequence)
            _channel.Send(new FlushedMessage(sequence, shot.Width, shot.Height, frame));
    }

    private void OnScanoutChanged(ScanoutChange change) => Post(() =>
    {
        _scanout.SetMode(change.Enabled ? change.Width : 0, change.Enabled ? change.Height : 0);
        _channel.Send(new ScanoutChangedMessage(change.Enabled, change.Width, change.Height, _machine.Devices.Gpu.Display.Dpi, change.ResourceId));
    });

    private void OnFlushed(ScanoutFlush flush) => Post(() =>
    {
        if (_scanout.Copy(_machine.Devices.Gpu, flush.Damage) is not { } sequence)
            return;
        Interlocked.Increment(ref _flushes);
        _channel.Send(new FlushedMessage(sequence, flush.ScanoutWidth, flush.ScanoutHeight, flush.Damage));
    });

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
