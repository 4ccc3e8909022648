namespace Vdi.Vmm.Devices;

public enum AccessSpace
{
    Pio,
    Mmio,
}

public enum AccessOutcome
{
    /// <summary>No device at that address: reads return all ones, writes are dropped.</summary>
    Unmapped,

    /// <summary>The device rejected the access (bad register, size or value).</summary>
    RefusedByDevice,

    /// <summary>The device failed while handling the access; the guest saw an unmapped access.</summary>
    DeviceFault,

    /// <summary>A guest write to read-only memory, captured with its data.</summary>
    ReadOnlyMemoryWrite,

    /// <summary>A hypercall number nobody registered.</summary>
    UnknownHypercall,
}

/// <summary>A guest access the VMM did not carry out normally.</summary>
public readonly record struct GuestAccess(AccessSpace Space, ulong Address, int Size, ulong Data, bool IsWrite, int VcpuId, AccessOutcome Outcome)
{
    public override string ToString() =>
        $"{Space} {(IsWrite ? "write" : "read")} 0x{Address:X} size {Size}{(IsWrite ? $" data 0x{Data:X}" : "")} vcpu {VcpuId}: {Outcome}";
}

/// <summary>
/// Counts every refused or unusual guest access and keeps the most recent ones. A hostile guest
/// can fill it at exit speed, so it is bounded and cheap; nothing here ever throws.
/// </summary>
public sealed class AccessLog
{
    private readonly Lock _gate = new();
    private readonly GuestAccess[] _recent;
    private readonly long[] _counts = new long[Enum.GetValues<AccessOutcome>().Length];
    private long _total;

    public AccessLog(int capacity = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _recent = new GuestAccess[capacity];
    }

    public long Total => Interlocked.Read(ref _total);

    public long Count(AccessOutcome outcome) => Interlocked.Read(ref _counts[(int)outcome]);

    public void Record(in GuestAccess access)
    {
        lock (_gate)
        {
            _recent[_total % _recent.Length] = access;
            _counts[(int)access.Outcome]++;
            _total++;
        }
    }

    /// <summary>The retained entries, oldest first.</summary>
    public IReadOnlyList<GuestAccess> Recent()
    {
        lock (_gate)
        {
            var n = (int)Math.Min(_total, _recent.Length);
            var start = _total - n;
            var list = new List<GuestAccess>(n);
            for (var i = 0; i < n; i++)
                list.Add(_recent[(start + i) % _recent.Length]);
            return list;
        }
    }
}
