using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Vdi.Vmm.Memory;

/// <summary>What became of a device's write into guest memory (<see cref="GuestMemory.TryWriteDma"/>).</summary>
internal enum DmaWriteResult
{
    Written,

    /// <summary>A byte lies outside guest RAM; nothing was written.</summary>
    OutsideRam,

    /// <summary>The write trace refused it; nothing was written.</summary>
    Refused,
}

/// <summary>
/// The DMA path: writes a device makes through its IOMMU domain (<see cref="Iommu.IommuDomain"/>), by the guest-physical
/// address the domain translated. They meet the write trace exactly as <see cref="Write(ulong, ReadOnlySpan{byte}, string)"/>
/// does (the device check, the writer's name, a refusal writing nothing), but they do not mark the slot's host-write
/// bitmap: the domain's dirty bits are their one record, harvested by <see cref="Iommu.VirtualIommu.HarvestDirty"/>.
/// </summary>
public sealed unsafe partial class GuestMemory
{
    /// <summary>Writes <paramref name="source"/> for device <paramref name="writer"/>; nothing is written unless it returns <see cref="DmaWriteResult.Written"/>.</summary>
    internal DmaWriteResult TryWriteDma(ulong address, ReadOnlySpan<byte> source, string writer)
    {
        var result = CheckDmaWrite(address, source, writer);
        if (result == DmaWriteResult.Written)
            CopyDma(address, source);
        return result;
    }

    /// <summary>
    /// The checks of <see cref="TryWriteDma(ulong, ReadOnlySpan{byte}, string)"/> without the write: a DMA split over
    /// several guest-physical runs decides every run before any lands (then <see cref="CopyDma"/> each).
    /// </summary>
    internal DmaWriteResult CheckDmaWrite(ulong address, ReadOnlySpan<byte> source, string writer)
    {
        if (!IsRam(address, (ulong)source.Length))
            return DmaWriteResult.OutsideRam;
        return DeviceWriteAllowed(writer, address, source) ? DmaWriteResult.Written : DmaWriteResult.Refused;
    }

    /// <summary>Copies a checked DMA write into RAM; the host-write bitmap is left alone.</summary>
    internal void CopyDma(ulong address, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            var slot = FindSlot(address) ?? throw new GuestMemoryException(address, (ulong)source.Length);
            var chunk = (int)Math.Min((ulong)source.Length, slot.End - address);
            source[..chunk].CopyTo(HostSpan(slot, address, chunk));
            source = source[chunk..];
            address += (ulong)chunk;
        }
    }

    /// <summary>
    /// Writes a <typeparamref name="T"/> for device <paramref name="writer"/>: inside one slot, one store of its size
    /// (atomic when naturally aligned, as <see cref="Write{T}"/>); checked by the trace as one write.
    /// </summary>
    internal DmaWriteResult TryWriteDma<T>(ulong address, T value, string writer)
        where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value));
        if (_deviceWriteCheck is { } check)
        {
            if (!IsRam(address, (ulong)size))
                return DmaWriteResult.OutsideRam;
            if (!check.AllowDeviceWrite(writer, address, bytes))
                return DmaWriteResult.Refused;
        }
        if (FindSlot(address) is { } slot && slot.End - address >= (ulong)size)
        {
            MemoryMarshal.Write(HostSpan(slot, address, size), in value);
            return DmaWriteResult.Written;
        }
        if (!IsRam(address, (ulong)size))
            return DmaWriteResult.OutsideRam;
        CopyDma(address, bytes);
        return DmaWriteResult.Written;
    }

    /// <summary>The failure a device sees for a write the trace refused.</summary>
    internal static GuestMemoryException RefusedDmaWrite(string writer, ulong address, int length) => RefusedWrite(writer, address, length);
}
