namespace Vdi.Vmm.Memory;

/// <summary>A contiguous range of guest-physical RAM backed by host memory: one KVM memory slot.</summary>
public sealed class MemorySlot
{
    internal MemorySlot(uint id, ulong guestAddress, ulong size, MemoryMapping mapping, ulong mappingOffset, MemorySlotFlags flags)
    {
        Id = id;
        GuestAddress = guestAddress;
        Size = size;
        Mapping = mapping;
        MappingOffset = mappingOffset;
        Flags = flags;
        HostWrites = new DirtyBitmap(size >> DirtyBitmap.PageShift);
    }

    public uint Id { get; }

    public ulong GuestAddress { get; }

    public ulong Size { get; }

    public ulong End => GuestAddress + Size;

    public MemorySlotFlags Flags { get; internal set; }

    public bool IsReadOnly => (Flags & MemorySlotFlags.ReadOnly) != 0;

    /// <summary>Host address of the slot's first byte.</summary>
    public nint HostAddress => Mapping.Address + (nint)MappingOffset;

    public ulong PageCount => Size >> DirtyBitmap.PageShift;

    /// <summary>
    /// Pages written by the VMM through <see cref="GuestMemory"/> and by the software engine's stores; KVM cannot see
    /// those. Device DMA is not here: the IOMMU domains' dirty bits record it (<see cref="Iommu.VirtualIommu.HarvestDirty"/>).
    /// </summary>
    internal DirtyBitmap HostWrites { get; }

    internal MemoryMapping Mapping { get; }

    /// <summary>A second view of RAM (<see cref="GuestMemory.AddAlias"/>): its writes are RAM's, counted at RAM's address.</summary>
    internal bool IsAlias { get; init; }

    internal ulong MappingOffset { get; }

    public bool Contains(ulong address) => address >= GuestAddress && address < End;

    public override string ToString() => $"slot {Id} [0x{GuestAddress:X}, 0x{End:X}) {Flags}";
}
