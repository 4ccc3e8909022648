namespace Vdi.Vmm.Devices;

/// <summary>Accepts and drops writes, reads as zero: the cheapest device, the target of the exit benchmark.</summary>
public sealed class NullDevice : IBusDevice
{
    private long _writes;

    public long Writes => Interlocked.Read(ref _writes);

    public bool Read(in BusAccess access, Span<byte> data)
    {
        data.Clear();
        return true;
    }

    public bool Write(in BusAccess access, ReadOnlySpan<byte> data)
    {
        _writes++; // only the writing vCPU's thread updates it; readers tolerate a stale value
        return true;
    }
}
