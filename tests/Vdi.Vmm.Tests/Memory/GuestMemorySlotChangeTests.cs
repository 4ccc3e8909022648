using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Memory;

public sealed class GuestMemorySlotChangeTests
{
    private const ulong Page = DirtyBitmap.PageSize;
    private const ulong Base = 0x10_0000;

    private static byte[] Pattern(int length) => Enumerable.Range(0, length).Select(i => (byte)((i * 7) + (i >> 12))).ToArray();

    [Fact]
    public void SplitKeepsContentsVisibleAtTheSameGuestAddresses()
    {
        using var memory = new GuestMemory();
        var slot = memory.AddRam(Base, 16 * Page);
        var pattern = Pattern((int)(16 * Page));
        memory.Write(Base, pattern);

        var (low, high) = memory.Split(slot, Base + (5 * Page));

        Assert.Equal([low, high], memory.Slots);
        Assert.Equal((Base, 5 * Page), (low.GuestAddress, low.Size));
        Assert.Equal((Base + (5 * Page), 11 * Page), (high.GuestAddress, high.Size));
        Assert.Equal(low.HostAddress + (nint)(5 * Page), high.HostAddress); // same host memory, not a copy
        var back = new byte[pattern.Length];
        memory.Read(Base, back);
        Assert.Equal(pattern, back);
    }

    [Fact]
    public void SplitHalvesStillShareWritesWithEachOther()
    {
        using var memory = new GuestMemory();
        var (low, high) = memory.Split(memory.AddRam(Base, 4 * Page), Base + (2 * Page));

        memory.Write(high.GuestAddress - 2, (uint)0xAABB_CCDD); // straddles the split

        Assert.Equal(0xCCDD, memory.Read<ushort>(low.End - 2));
        Assert.Equal(0xAABB, memory.Read<ushort>(high.GuestAddress));
    }

    [Fact]
    public void SplitRemovesTheSlotThenAddsBothHalvesWithItsFlags()
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var slot = memory.AddRam(Base, 8 * Page, MemorySlotFlags.LogDirty);
        var before = SlotEvent.Set(slot);
        sink.ClearEvents();

        var (low, high) = memory.Split(slot, Base + (3 * Page));

        Assert.Equal(
            [
                before with { Kind = SlotEventKind.Remove },
                new SlotEvent(SlotEventKind.Set, low.Id, Base, 3 * Page, MemorySlotFlags.LogDirty, slot.HostAddress),
                new SlotEvent(SlotEventKind.Set, high.Id, Base + (3 * Page), 5 * Page, MemorySlotFlags.LogDirty, slot.HostAddress + (nint)(3 * Page)),
            ],
            sink.Events);
        Assert.NotEqual(low.Id, high.Id);
        Assert.DoesNotContain(slot, memory.Slots);
    }

    [Theory]
    [InlineData(0UL)] // at the start: nothing below
    [InlineData(8 * Page)] // at the end: nothing above
    [InlineData(3 * Page + 1)] // not a page boundary
    [InlineData(20 * Page)] // outside the slot
    public void SplitRefusesPointsThatAreNotAPageBoundaryStrictlyInside(ulong offset)
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var slot = memory.AddRam(Base, 8 * Page);
        sink.ClearEvents();

        Assert.Throws<GuestMemoryException>(() => memory.Split(slot, Base + offset));

        Assert.Equal([slot], memory.Slots);
        Assert.Empty(sink.Events);
    }

    [Fact]
    public void TogglingLogDirtyUpdatesTheSlotInPlace()
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var slot = memory.AddRam(Base, 4 * Page);
        sink.ClearEvents();

        memory.SetFlags(slot, MemorySlotFlags.LogDirty);
        memory.SetFlags(slot, MemorySlotFlags.None);

        Assert.Equal(
            [
                new SlotEvent(SlotEventKind.Set, slot.Id, Base, 4 * Page, MemorySlotFlags.LogDirty, slot.HostAddress),
                new SlotEvent(SlotEventKind.Set, slot.Id, Base, 4 * Page, MemorySlotFlags.None, slot.HostAddress),
            ],
            sink.Events);
        Assert.Equal([slot], memory.Slots);
    }

    [Fact]
    public void TogglingReadOnlyRemovesTheSlotThenAddsItBack()
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var slot = memory.AddRam(Base, 4 * Page, MemorySlotFlags.LogDirty);
        memory.Write(Base, (byte)0x42);
        sink.ClearEvents();

        memory.SetFlags(slot, MemorySlotFlags.LogDirty | MemorySlotFlags.ReadOnly);

        var ro = MemorySlotFlags.LogDirty | MemorySlotFlags.ReadOnly;
        Assert.Equal(
            [
                new SlotEvent(SlotEventKind.Remove, slot.Id, Base, 4 * Page, MemorySlotFlags.LogDirty, slot.HostAddress),
                new SlotEvent(SlotEventKind.Set, slot.Id, Base, 4 * Page, ro, slot.HostAddress),
            ],
            sink.Events);
        Assert.True(slot.IsReadOnly);
        Assert.Equal(0x42, memory.Read<byte>(Base)); // contents survive the re-creation
        sink.ClearEvents();

        memory.SetFlags(slot, MemorySlotFlags.None);

        Assert.Equal([SlotEventKind.Remove, SlotEventKind.Set], sink.Events.Select(e => e.Kind));
        Assert.Equal(MemorySlotFlags.None, sink.Events[1].Flags);
        Assert.False(slot.IsReadOnly);
    }

    [Fact]
    public void SetFlagsRefusesASlotThatIsNotInTheMap()
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var (low, _) = memory.Split(memory.AddRam(Base, 2 * Page), Base + Page);
        memory.Remove(low);
        sink.ClearEvents();

        Assert.Throws<GuestMemoryException>(() => memory.SetFlags(low, MemorySlotFlags.ReadOnly));

        Assert.Empty(sink.Events);
        Assert.Equal(MemorySlotFlags.None, low.Flags);
    }
}
