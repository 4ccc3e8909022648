using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Tests.Devices;

/// <summary>One access a <see cref="RecordingDevice"/> saw.</summary>
internal sealed record DeviceCall(bool IsWrite, BusAccess Access, byte[] Data);

/// <summary>A device that records every access, answers reads with <see cref="ReadByte"/>, and can refuse or throw on demand.</summary>
internal sealed class RecordingDevice : IBusDevice
{
    private readonly Lock _gate = new();
    private readonly List<DeviceCall> _calls = [];

    public byte ReadByte { get; set; } = 0x5A;

    public bool Refuse { get; set; }

    public bool Throw { get; set; }

    public IReadOnlyList<DeviceCall> Calls
    {
        get
        {
            lock (_gate)
                return [.. _calls];
        }
    }

    public bool Read(in BusAccess access, Span<byte> data)
    {
        data.Fill(ReadByte);
        lock (_gate)
            _calls.Add(new DeviceCall(false, access, data.ToArray()));
        if (Throw)
            throw new InvalidOperationException("device bug");
        return !Refuse;
    }

    public bool Write(in BusAccess access, ReadOnlySpan<byte> data)
    {
        lock (_gate)
            _calls.Add(new DeviceCall(true, access, data.ToArray()));
        if (Throw)
            throw new InvalidOperationException("device bug");
        return !Refuse;
    }
}

/// <summary>Records every level an interrupt line is driven to.</summary>
internal sealed class RecordingInterruptLine : IInterruptLine
{
    private readonly Lock _gate = new();
    private readonly List<bool> _levels = [];

    public IReadOnlyList<bool> Levels
    {
        get
        {
            lock (_gate)
                return [.. _levels];
        }
    }

    /// <summary>The last level driven; low before any.</summary>
    public bool Level
    {
        get
        {
            lock (_gate)
                return _levels.Count > 0 && _levels[^1];
        }
    }

    public void SetLevel(bool level)
    {
        lock (_gate)
            _levels.Add(level);
    }
}
