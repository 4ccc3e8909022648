using System.Buffers.Binary;

namespace Vdi.Vmm.Devices;

/// <summary>
/// An address space of devices (I/O ports or MMIO). Ranges never overlap. Lookups read an
/// immutable sorted array, so vCPU threads dispatch without locking; registration takes
/// <c>_gate</c>. Every access that no device carries out is answered with defined behaviour
/// (all ones / dropped) and recorded in the <see cref="AccessLog"/>.
/// </summary>
public sealed class Bus
{
    private readonly Lock _gate = new();
    private readonly AccessLog _log;
    private volatile Range[] _ranges = [];

    public Bus(AccessSpace space, AccessLog log)
    {
        Space = space;
        _log = log;
    }

    public AccessSpace Space { get; }

    private sealed record Range(ulong Start, ulong Length, IBusDevice Device)
    {
        public ulong End => Start + Length;
    }

    /// <summary>Registers a device for [start, start + length); refuses a range that overlaps another.</summary>
    public void Register(ulong start, ulong length, IBusDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (length == 0 || start + length < start)
            throw new ArgumentOutOfRangeException(nameof(length), $"empty or wrapping range 0x{start:X}+0x{length:X}");
        lock (_gate)
        {
            var clash = _ranges.FirstOrDefault(r => start < r.End && r.Start < start + length);
            if (clash is not null)
                throw new InvalidOperationException($"{Space} range [0x{start:X}, 0x{start + length:X}) overlaps [0x{clash.Start:X}, 0x{clash.End:X}) of {clash.Device.GetType().Name}");
            _ranges = [.. _ranges.Append(new Range(start, length, device)).OrderBy(r => r.Start)];
        }
    }

    public IBusDevice? DeviceAt(ulong address) => Find(address)?.Device;

    /// <summary>Dispatches a read; on any refusal the data is all ones. Returns whether a device answered.</summary>
    public bool Read(ulong address, int vcpuId, Span<byte> data)
    {
        var outcome = Dispatch(address, vcpuId, data, isWrite: false);
        if (outcome is null)
            return true;
        data.Fill(0xFF);
        _log.Record(new GuestAccess(Space, address, data.Length, 0, false, vcpuId, outcome.Value));
        return false;
    }

    /// <summary>Dispatches a write; a refused write is dropped. Returns whether a device took it.</summary>
    public bool Write(ulong address, int vcpuId, ReadOnlySpan<byte> data)
    {
        var copy = (stackalloc byte[8]);
        copy.Clear();
        data[..Math.Min(data.Length, 8)].CopyTo(copy);
        var outcome = data.Length > 8 ? AccessOutcome.Unmapped : Dispatch(address, vcpuId, copy[..data.Length], isWrite: true);
        if (outcome is null)
            return true;
        _log.Record(new GuestAccess(Space, address, data.Length, BinaryPrimitives.ReadUInt64LittleEndian(copy), true, vcpuId, outcome.Value));
        return false;
    }

    private AccessOutcome? Dispatch(ulong address, int vcpuId, Span<byte> data, bool isWrite)
    {
        var range = Find(address);
        if (range is null || data.IsEmpty || data.Length > 8 || address + (ulong)data.Length > range.End)
            return AccessOutcome.Unmapped;
        var access = new BusAccess(address - range.Start, address, vcpuId);
        try
        {
            var ok = isWrite ? range.Device.Write(access, data) : range.Device.Read(access, data);
            return ok ? null : AccessOutcome.RefusedByDevice;
        }
#pragma warning disable CA1031 // A device bug must cost the guest one access, not the VMM its process.
        catch (Exception)
#pragma warning restore CA1031
        {
            return AccessOutcome.DeviceFault;
        }
    }

    private Range? Find(ulong address)
    {
        var ranges = _ranges;
        int lo = 0, hi = ranges.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var r = ranges[mid];
            if (address < r.Start)
                hi = mid - 1;
            else if (address >= r.End)
                lo = mid + 1;
            else
                return r;
        }
        return null;
    }
}
