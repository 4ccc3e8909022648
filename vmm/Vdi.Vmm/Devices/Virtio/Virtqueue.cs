using Vdi.Vmm.Iommu;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Devices.Virtio;

/// <summary>
/// A split virtqueue (virtio 1.x §2.7) as the device sees it. Every guest-supplied value is
/// checked: ring placement and alignment, queue size, avail index progress, descriptor indexes,
/// chain length (loops), buffer placement inside what the device's IOMMU domain maps (all of guest RAM for the
/// VMM's identity domains) and readable-before-writable order. A violation throws <see cref="VirtioException"/>;
/// nothing outside the domain is ever touched. Every ring access is DMA through the domain.
/// </summary>
public sealed class Virtqueue
{
    private const ushort DescFlagNext = 1, DescFlagWrite = 2, DescFlagIndirect = 4;
    private const int DescriptorSize = 16;

    private readonly IommuDomain _dma; // the device's DMA: its name is the writer the write trace sees
    private ushort _lastAvail;
    private ushort _used;

    internal Virtqueue(IommuDomain dma, int index, ushort maxSize)
    {
        _dma = dma;
        Index = index;
        MaxSize = maxSize;
        Size = maxSize;
    }

    public int Index { get; }

    public ushort MaxSize { get; }

    public ushort Size { get; internal set; }

    public bool Ready { get; internal set; }

    public ulong DescriptorTable { get; internal set; }

    public ulong AvailRing { get; internal set; }

    public ulong UsedRing { get; internal set; }

    /// <summary>The next available-ring index the device will take, and the used-ring index it last published (state).</summary>
    internal (ushort LastAvail, ushort Used) Indexes
    {
        get => (_lastAvail, _used);
        set => (_lastAvail, _used) = value;
    }

    /// <summary>Checks placement before the queue goes live (QueueReady = 1).</summary>
    internal void Validate()
    {
        if (Size == 0 || Size > MaxSize || (Size & (Size - 1)) != 0)
            throw new VirtioException($"queue {Index}: size {Size} is not a power of two up to {MaxSize}");
        Require(DescriptorTable, (ulong)Size * DescriptorSize, 16, "descriptor table");
        Require(AvailRing, 6 + (2UL * Size), 2, "available ring");
        Require(UsedRing, 6 + (8UL * Size), 4, "used ring");
    }

    private void Require(ulong address, ulong length, ulong alignment, string what)
    {
        if ((address & (alignment - 1)) != 0)
            throw new VirtioException($"queue {Index}: {what} at 0x{address:X} is not {alignment}-byte aligned");
        if (address + length < address || !_dma.IsMapped(address, length))
            throw new VirtioException($"queue {Index}: {what} [0x{address:X}, +0x{length:X}) is outside guest RAM");
    }

    internal void ResetIndexes()
    {
        _lastAvail = 0;
        _used = 0;
        Ready = false;
        Size = MaxSize;
        DescriptorTable = AvailRing = UsedRing = 0;
    }

    /// <summary>Buffers the driver made available and the device has not taken yet.</summary>
    public int PendingCount
    {
        get
        {
            if (!Ready)
                return 0;
            var pending = (ushort)(_dma.Read<ushort>(AvailRing + 2) - _lastAvail);
            if (pending > Size)
                throw new VirtioException($"queue {Index}: available index moved {pending} entries ahead of a {Size}-entry ring");
            return pending;
        }
    }

    /// <summary>Takes the next available chain; false when none is pending.</summary>
    public bool TryPop(out DescriptorChain chain)
    {
        chain = null!;
        if (!Ready || PendingCount == 0)
            return false;
        Interlocked.MemoryBarrier(); // read the ring entry only after the index that published it
        var head = _dma.Read<ushort>(AvailRing + 4 + (2UL * (ulong)(_lastAvail % Size)));
        _lastAvail++;
        chain = Walk(head);
        return true;
    }

    private DescriptorChain Walk(ushort head)
    {
        var segments = new List<DescriptorSegment>();
        var index = head;
        var sawWritable = false;
        ulong total = 0;
        while (true)
        {
            if (index >= Size)
                throw new VirtioException($"queue {Index}: descriptor index {index} out of range (size {Size})");
            if (segments.Count == Size)
                throw new VirtioException($"queue {Index}: descriptor chain from {head} loops or exceeds the ring size");
            var d = DescriptorTable + ((ulong)index * DescriptorSize);
            var address = _dma.Read<ulong>(d);
            var length = _dma.Read<uint>(d + 8);
            var flags = _dma.Read<ushort>(d + 12);
            var next = _dma.Read<ushort>(d + 14);
            if ((flags & DescFlagIndirect) != 0)
                throw new VirtioException($"queue {Index}: indirect descriptors were not negotiated");
            var writable = (flags & DescFlagWrite) != 0;
            if (sawWritable && !writable)
                throw new VirtioException($"queue {Index}: readable descriptor {index} follows a writable one");
            sawWritable |= writable;
            total += length;
            if (total > 1UL << 32)
                throw new VirtioException($"queue {Index}: chain from {head} is longer than 4 GiB");
            if (length > 0 && (address + length < address || !_dma.IsMapped(address, length)))
                throw new VirtioException($"queue {Index}: buffer [0x{address:X}, +0x{length:X}) of descriptor {index} is outside guest RAM");
            segments.Add(new DescriptorSegment(address, length, writable));
            if ((flags & DescFlagNext) == 0)
                return new DescriptorChain(_dma, head, [.. segments]);
            index = next;
        }
    }

    /// <summary>
    /// Returns a chain to the driver with the number of bytes the device wrote into it. A used ring on a write-traced
    /// page whose write is refused throws <see cref="GuestMemoryException"/>, which the transport turns into
    /// DEVICE_NEEDS_RESET; the used index is then not published.
    /// </summary>
    public void PushUsed(DescriptorChain chain, uint written)
    {
        var slot = UsedRing + 4 + (8UL * (ulong)(_used % Size));
        _dma.Write(slot, (uint)chain.Head);
        _dma.Write(slot + 4, written);
        Interlocked.MemoryBarrier(); // the entry is visible before the index that publishes it
        _dma.Write(UsedRing + 2, (ushort)(_used + 1));
        _used++;
    }
}
