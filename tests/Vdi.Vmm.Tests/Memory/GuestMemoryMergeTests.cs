using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Memory;

public sealed class GuestMemoryMergeTests
{
    [Fact]
    public void Merging_split_halves_gives_back_one_slot_with_the_data_and_the_unharvested_dirty_pages()
    {
        using var memory = new GuestMemory();
        var slot = memory.AddRam(0, 0x10000);
        var (low, high) = memory.Split(slot, 0x4000);
        memory.Write(0x1000, 0x1111UL);
        memory.Write(0x8000, 0x2222UL);

        var merged = memory.Merge(low, high);

        Assert.Same(merged, Assert.Single(memory.Slots));
        Assert.Equal((0UL, 0x10000UL), (merged.GuestAddress, merged.End));
        Assert.Equal(0x1111UL, memory.Read<ulong>(0x1000));
        Assert.Equal(0x2222UL, memory.Read<ulong>(0x8000));
        Assert.Equal([0x1000UL, 0x8000UL], memory.HarvestDirty(merged));
    }

    [Fact]
    public void Slots_with_different_flags_or_not_adjacent_are_not_merged()
    {
        using var memory = new GuestMemory();
        var (low, high) = memory.Split(memory.AddRam(0, 0x10000), 0x4000);
        memory.SetFlags(high, MemorySlotFlags.ReadOnly);
        var other = memory.AddRam(0x20000, 0x1000);

        Assert.False(GuestMemory.CanMerge(low, high));
        Assert.Throws<GuestMemoryException>(() => memory.Merge(low, high));
        Assert.False(GuestMemory.CanMerge(high, other));
        Assert.Equal(3, memory.Slots.Count);
    }
}
