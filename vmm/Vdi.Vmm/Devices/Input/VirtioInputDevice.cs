using Vdi.Vmm.Devices.Virtio;

namespace Vdi.Vmm.Devices.Input;

/// <summary>
/// A virtio-input device (device id 18, virtio 1.x §5.8). The host submits whole reports (events
/// ending in SYN_REPORT); they wait in a bounded queue until the driver posts eventq buffers and
/// are then written one event per buffer. The statusq carries the driver's LED state back.
/// </summary>
/// <remarks>
/// Lock order: everything runs under the transport's <see cref="VirtioHost.Gate"/> — register
/// accesses and notifications already hold it, and host-side calls take it through
/// <see cref="VirtioHost.Guard"/>, so a hostile eventq found while delivering from a host thread
/// puts the device into DEVICE_NEEDS_RESET instead of throwing at the caller.
/// A report that does not fit the pending queue is dropped whole (never half a report), and
/// counted in <see cref="DroppedEvents"/>. A reset drops pending events, so input typed before
/// the driver starts (its probe resets the device) is discarded rather than replayed late.
/// </remarks>
public abstract partial class VirtioInputDevice : IVirtioDevice
{
    public const int EventQueue = 0;
    public const int StatusQueue = 1;
    /// <summary>
    /// Events a device holds for a guest that falls behind: 64 Ki events (512 KiB) — a burst of 16,000 keystrokes. Pointer
    /// motion is folded into the newest waiting report, so only keys, buttons and wheel steps take room.
    /// </summary>
    public const int DefaultPendingCapacity = 65_536;

    private readonly VirtioInputConfig _config;
    private readonly PendingInput _pending = new();
    private readonly bool[] _intended = new bool[PendingInput.KeyCodes]; // pressed, as the host last said, dropped reports included
    private bool _resync;
    private readonly byte[] _eventBytes = new byte[InputEvent.Size];
    private VirtioHost? _host;
    private long _delivered, _dropped, _refused, _clamped;
    private uint _leds;

    protected VirtioInputDevice(InputCapabilities capabilities, int pendingCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pendingCapacity, 2);
        Capabilities = capabilities;
        PendingCapacity = pendingCapacity;
        _config = new VirtioInputConfig(capabilities);
    }

    public uint DeviceId => VirtioDeviceIds.Input;

    public ulong DeviceFeatures => 0;

    public int QueueCount => 2;

    public ushort MaxQueueSize => 64;

    public int ConfigSize => VirtioInputConfig.Size;

    /// <summary>Events a full pending queue can hold before reports are dropped.</summary>
    public int PendingCapacity { get; }

    protected InputCapabilities Capabilities { get; }

    protected VirtioHost Host => _host ?? throw new InvalidOperationException("the device is not attached to a transport");

    /// <summary>Events waiting for eventq buffers.</summary>
    public int PendingEvents => Locked(() => _pending.Count);

    /// <summary>Events written into eventq buffers.</summary>
    public long DeliveredEvents => Locked(() => _delivered);

    /// <summary>Events dropped because the pending queue was full (whole reports at a time).</summary>
    public long DroppedEvents => Locked(() => _dropped);

    /// <summary>Host inputs refused as invalid (a code the device does not advertise, an unknown action).</summary>
    public long RefusedInputs => Locked(() => _refused);

    /// <summary>Host inputs accepted after clamping an out-of-range value.</summary>
    public long ClampedInputs => Locked(() => _clamped);

    /// <summary>The LEDs the driver last set through the statusq (bit n = LED code n).</summary>
    public uint Leds => Locked(() => _leds);

    void IVirtioDevice.Attach(VirtioHost host) => _host = host;

    void IVirtioDevice.ReadConfig(int offset, Span<byte> data) => _config.Read(offset, data);

    bool IVirtioDevice.WriteConfig(int offset, ReadOnlySpan<byte> data) => _config.Write(offset, data);

    void IVirtioDevice.Activate(VirtioContext context) => DeliverLocked();

    void IVirtioDevice.Unquiesced() => DeliverLocked();

    void IVirtioDevice.QueueNotify(int queue)
    {
        if (queue == EventQueue)
        {
            DeliverLocked();
            if (ResyncLocked())
                DeliverLocked();
        }
        else
        {
            ConsumeStatusLocked();
        }
    }

    void IVirtioDevice.Reset()
    {
        _pending.Clear();
        Array.Clear(_intended);
        _resync = false;
        _leds = 0;
        _config.Reset();
        OnReset();
    }

    /// <summary>The device was reset: forget host-side state the driver no longer shares (held buttons). Called under the gate.</summary>
    protected virtual void OnReset()
    {
    }

    /// <summary>Runs <paramref name="work"/> under the gate (through <see cref="VirtioHost.Guard"/>) and returns its result.</summary>
    protected T Locked<T>(Func<T> work)
    {
        var result = default(T)!;
        Host.Guard(() => result = work());
        return result;
    }

    protected void CountRefused() => _refused++;

    protected void CountClamped() => _clamped++;

    /// <summary>
    /// Runs a host input under the gate: <paramref name="build"/> validates it and queues its
    /// report with <see cref="EnqueueLocked"/>; then whatever the posted buffers allow is
    /// delivered. Returns what <paramref name="build"/> returned — whether the report was queued —
    /// even when delivery found a hostile eventq (the device then needs a reset, which drops it).
    /// </summary>
    protected bool Submit(Func<bool> build)
    {
        var queued = false;
        Host.Guard(() =>
        {
            queued = build();
            DeliverLocked();
        });
        return queued;
    }

    /// <summary>
    /// Queues one report (the caller ends it with SYN_REPORT). False when the pending queue cannot take all of it: it
    /// is dropped whole and counted, and the keys and buttons it changed are remembered, so that as soon as there is
    /// room the guest is told their state as the host last set it — no key or button stays held because its release
    /// was dropped.
    /// </summary>
    protected bool EnqueueLocked(ReadOnlySpan<InputEvent> report)
    {
        foreach (var e in report)
        {
            if (e.Type == Evdev.EvKey && e.Code < PendingInput.KeyCodes && e.Value is Evdev.KeyPressed or Evdev.KeyReleased)
                _intended[e.Code] = e.Value == Evdev.KeyPressed;
        }
        if (_resync)
            ResyncLocked();
        if (_resync || _pending.Count + report.Length > PendingCapacity)
        {
            _dropped += report.Length;
            _resync = true;
            ResyncLocked();
            return false;
        }
        _pending.Enqueue(report);
        return true;
    }

    /// <summary>Whether the guest, once it has read every queued event, sees key or button <paramref name="code"/> pressed.</summary>
    protected bool IsQueuedPressedLocked(ushort code) => _pending.IsPressed(code);

    /// <summary>The newest waiting report, when it is motion only, moves to (x, y) instead of a new report queuing.</summary>
    protected bool TryCoalesceMotionLocked(int x, int y) => _pending.TryCoalesceMotion(x, y);

    /// <summary>
    /// After a dropped report: when the queue has room, queues one report that sets every key and button whose queued
    /// state differs from the host's to the host's state. True when it queued one.
    /// </summary>
    private bool ResyncLocked()
    {
        if (!_resync)
            return false;
        Span<InputEvent> corrections = stackalloc InputEvent[PendingInput.KeyCodes + 1];
        var n = 0;
        for (var code = 0; code < PendingInput.KeyCodes; code++)
        {
            if (_pending.IsPressed((ushort)code) != _intended[code])
                corrections[n++] = new InputEvent(Evdev.EvKey, (ushort)code, _intended[code] ? Evdev.KeyPressed : Evdev.KeyReleased);
        }
        if (n == 0)
        {
            _resync = false;
            return false;
        }
        corrections[n++] = InputEvent.SynReport;
        if (_pending.Count + n > PendingCapacity)
            return false;
        _pending.Enqueue(corrections[..n]);
        _resync = false;
        return true;
    }

    /// <summary>Moves pending events into posted eventq buffers, one event per buffer.</summary>
    private void DeliverLocked()
    {
        if (_pending.Count == 0 || Host.Quiesced || Host.Active is not { } active)
            return; // while quiesced events wait here: they are saved with the device
        var queue = active.Queues[EventQueue];
        var delivered = 0;
        try
        {
            while (_pending.Count > 0 && queue.TryPop(out var chain))
            {
                // §5.8.6.1: eventq buffers are device-writable and hold at least one event.
                if (chain.ReadableLength != 0)
                    throw new VirtioException($"eventq buffer {chain.Head} has {chain.ReadableLength} device-readable bytes");
                if (chain.WritableLength < InputEvent.Size)
                    throw new VirtioException($"eventq buffer {chain.Head} holds {chain.WritableLength} bytes, an event needs {InputEvent.Size}");
                _pending.Peek().WriteTo(_eventBytes);
                chain.Write(0, _eventBytes);
                queue.PushUsed(chain, InputEvent.Size);
                _pending.Dequeue();
                delivered++;
            }
        }
        finally
        {
            if (delivered > 0)
            {
                _delivered += delivered;
                Host.SignalUsedBuffers();
            }
        }
    }

    /// <summary>Takes the driver's status events (LED state) and returns their buffers.</summary>
    private void ConsumeStatusLocked()
    {
        if (Host.Active is not { } active)
            return;
        var queue = active.Queues[StatusQueue];
        var consumed = 0;
        try
        {
            while (queue.TryPop(out var chain))
            {
                if (chain.ReadableLength < InputEvent.Size)
                    throw new VirtioException($"statusq buffer {chain.Head} holds {chain.ReadableLength} readable bytes, an event needs {InputEvent.Size}");
                chain.ReadExactly(0, _eventBytes);
                var e = InputEvent.Read(_eventBytes);
                if (e.Type == Evdev.EvLed && e.Code < 32 && Capabilities.Supports(Evdev.EvLed, e.Code))
                    _leds = e.Value != 0 ? _leds | (1u << e.Code) : _leds & ~(1u << e.Code);
                queue.PushUsed(chain, 0);
                consumed++;
            }
        }
        finally
        {
            if (consumed > 0)
                Host.SignalUsedBuffers();
        }
    }
}
