using System.Buffers.Binary;
using System.Diagnostics;

namespace Vdi.Vmm.Devices;

/// <summary>A boot-progress marker and when the host saw it.</summary>
public readonly record struct BootMarker(byte Value, TimeSpan SinceCreation);

/// <summary>
/// The power / debug port block at <see cref="PortMap.PowerBase"/>: guest power-off with an exit
/// code, boot-progress markers the host timestamps, and the host's request mailbox (read by the
/// guest after the host pulses <see cref="PortMap.HostRequestIrq"/>). The mailbox is a queue, so
/// requests posted in quick succession (motion on, then power off) are all seen, in order: each
/// read takes the oldest one, and reads <see cref="PortMap.HostRequestNone"/> once it is empty.
/// </summary>
public sealed class PowerDebugPort : IBusDevice, State.IDeviceState
{
    private readonly Lock _gate = new();
    private readonly long _createdTimestamp;
    private readonly Action<int> _powerOff;
    private readonly IInterruptLine? _requestLine;
    private readonly List<BootMarker> _markers = [];
    private readonly Queue<byte> _hostRequests = new(PortMap.HostRequestQueueLength);

    /// <param name="powerOff">Called on the vCPU thread with the guest's exit code.</param>
    public PowerDebugPort(long createdTimestamp, Action<int> powerOff, IInterruptLine? requestLine)
    {
        _createdTimestamp = createdTimestamp;
        _powerOff = powerOff;
        _requestLine = requestLine;
    }

    public IReadOnlyList<BootMarker> Markers
    {
        get
        {
            lock (_gate)
                return [.. _markers];
        }
    }

    public event Action<BootMarker>? MarkerReached;

    /// <summary>Requests posted and not yet read by the guest.</summary>
    public int PendingRequests
    {
        get
        {
            lock (_gate)
                return _hostRequests.Count;
        }
    }

    /// <summary>
    /// Queues a request for the guest and pulses its interrupt (edge: high, then low). Returns false, and
    /// queues nothing, when <see cref="PortMap.HostRequestQueueLength"/> requests are still unread.
    /// </summary>
    public bool PostRequest(byte request)
    {
        lock (_gate)
        {
            if (_hostRequests.Count >= PortMap.HostRequestQueueLength)
                return false;
            _hostRequests.Enqueue(request);
        }
        _requestLine?.SetLevel(true);
        _requestLine?.SetLevel(false);
        return true;
    }

    public string SectionName => "power";

    public ushort SectionVersion => 1;

    /// <summary>The host requests the guest has not read yet (boot markers are the host's record, not the device's state).</summary>
    public void SaveState(State.SectionWriter section)
    {
        lock (_gate)
            section.Bytes("requests", _hostRequests.ToArray());
    }

    /// <summary>Takes the unread requests; the guest learns of them as of a post (the line pulses once).</summary>
    public void RestoreState(State.SavedSection section)
    {
        var requests = section.Bytes("requests");
        if (requests.Length > PortMap.HostRequestQueueLength)
            throw new State.StateFormatException($"section '{section.Name}': {requests.Length} requests, more than the queue's {PortMap.HostRequestQueueLength}");
        section.EnsureAllRead();
        lock (_gate)
        {
            _hostRequests.Clear();
            foreach (var r in requests)
                _hostRequests.Enqueue(r);
        }
        if (requests.Length > 0)
        {
            _requestLine?.SetLevel(true);
            _requestLine?.SetLevel(false);
        }
    }

    public bool Read(in BusAccess access, Span<byte> data)
    {
        if (access.Offset != PortMap.HostRequest - PortMap.PowerBase || data.Length != 1)
            return false;
        lock (_gate)
            data[0] = _hostRequests.TryDequeue(out var request) ? request : PortMap.HostRequestNone;
        return true;
    }

    public bool Write(in BusAccess access, ReadOnlySpan<byte> data)
    {
        switch (access.Offset)
        {
            case PortMap.PowerOff - PortMap.PowerBase:
                Span<byte> code = stackalloc byte[4];
                code.Clear();
                data[..Math.Min(4, data.Length)].CopyTo(code);
                _powerOff(BinaryPrimitives.ReadInt32LittleEndian(code));
                return true;
            case PortMap.BootMarker - PortMap.PowerBase when data.Length == 1:
                var marker = new BootMarker(data[0], Stopwatch.GetElapsedTime(_createdTimestamp));
                lock (_gate)
                {
                    if (_markers.Count < 256)
                        _markers.Add(marker);
                }
                MarkerReached?.Invoke(marker);
                return true;
            default:
                return false;
        }
    }
}
