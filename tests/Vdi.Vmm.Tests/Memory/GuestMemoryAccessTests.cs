using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Memory;

public sealed unsafe class GuestMemoryAccessTests
{
    private const ulong Page = DirtyBitmap.PageSize;

    [Theory]
    [InlineData(0x1001UL, 0x1000UL)]
    [InlineData(0x1000UL, 0x1800UL)]
    [InlineData(0x1000UL, 0x0UL)]
    [InlineData(0x0800UL, 0x0800UL)]
    public void AddRamRefusesUnalignedOrEmptyRanges(ulong address, ulong size)
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);

        Assert.Throws<GuestMemoryException>(() => memory.AddRam(address, size));

        Assert.Empty(memory.Slots);
        Assert.Empty(sink.Events);
    }

    [Theory]
    [InlineData(0x10_0000UL, 0x10_0000UL)] // the same range
    [InlineData(0x0F_F000UL, 0x2000UL)] // straddles the start
    [InlineData(0x1F_F000UL, 0x2000UL)] // straddles the end
    [InlineData(0x14_0000UL, 0x1000UL)] // strictly inside
    [InlineData(0x0UL, 0x100_0000UL)] // covers it
    public void AddRamRefusesAnyOverlapWithAnExistingSlot(ulong address, ulong size)
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var existing = memory.AddRam(0x10_0000, 0x10_0000);

        Assert.Throws<GuestMemoryException>(() => memory.AddRam(address, size));

        Assert.Equal([existing], memory.Slots);
        Assert.Equal([SlotEvent.Set(existing)], sink.Events);
    }

    [Fact]
    public void AdjacentSlotsAreAcceptedAndKeptSortedByAddress()
    {
        using var memory = new GuestMemory();
        var high = memory.AddRam(0x20_0000, 0x10_0000);
        var low = memory.AddRam(0x0, 0x10_0000);
        var middle = memory.AddRam(0x10_0000, 0x10_0000);

        Assert.Equal([low, middle, high], memory.Slots);
        Assert.Equal(0x30_0000UL, memory.Size);
        Assert.Same(middle, memory.FindSlot(0x10_0000));
        Assert.Same(low, memory.FindSlot(0x0F_FFFF));
        Assert.Same(high, memory.FindSlot(0x2F_FFFF));
        Assert.Null(memory.FindSlot(0x30_0000));
        Assert.Equal(3, memory.Slots.Select(s => s.Id).Distinct().Count());
    }

    [Fact]
    public void FreshRamReadsAsZeroAndWritesReadBack()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0x1000, 4 * Page);

        var fresh = new byte[4 * Page];
        memory.Read(0x1000, fresh);
        Assert.All(fresh, b => Assert.Equal(0, b));

        byte[] payload = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        memory.Write(0x2FFD, payload);
        var back = new byte[payload.Length];
        memory.Read(0x2FFD, back);
        Assert.Equal(payload, back);
        Assert.Equal(0, memory.Read<byte>(0x2FFC));
        Assert.Equal(0, memory.Read<byte>(0x3006));
    }

    [Fact]
    public void TypedAccessIsLittleEndian()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, Page);

        memory.Write(0x10, 0x1122_3344_5566_7788UL);

        var bytes = new byte[8];
        memory.Read(0x10, bytes);
        Assert.Equal(new byte[] { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, bytes);
        Assert.Equal(0x5566_7788u, memory.Read<uint>(0x10));
        Assert.Equal(0x1122_3344_5566_7788UL, memory.Read<ulong>(0x10));
    }

    [Fact]
    public void AccessAcrossTwoAdjacentSlotsLandsInEachSlotsOwnHostMemory()
    {
        using var memory = new GuestMemory();
        var high = memory.AddRam(0x2000, 2 * Page);
        var low = memory.AddRam(0x0, 2 * Page);
        var payload = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();

        memory.Write(0x1FF8, payload);

        var back = new byte[16];
        memory.Read(0x1FF8, back);
        Assert.Equal(payload, back);
        // SAFETY: both slots are alive (memory is not disposed) and the offsets are inside them.
        var lowTail = new ReadOnlySpan<byte>((byte*)low.HostAddress + 0x1FF8, 8).ToArray();
        // SAFETY: as above; the first 8 bytes of the high slot.
        var highHead = new ReadOnlySpan<byte>((byte*)high.HostAddress, 8).ToArray();
        Assert.Equal(payload[..8], lowTail);
        Assert.Equal(payload[8..], highHead);
    }

    [Theory]
    [InlineData(0x2FFCUL, 8)] // runs off the end of the first slot into the hole
    [InlineData(0x0FFCUL, 8)] // starts below RAM
    [InlineData(0x3FFCUL, 8)] // starts in the hole, ends in the second slot
    [InlineData(0x1000UL, 0x4000)] // spans both slots and the hole between them
    [InlineData(0x4FFFUL, 2)] // last byte of RAM plus one
    [InlineData(0x10_0000UL, 1)] // nowhere near RAM
    public void TryWriteOutsideRamFailsAndWritesNothing(ulong address, int length)
    {
        using var memory = new GuestMemory();
        var first = memory.AddRam(0x1000, 2 * Page); // [0x1000, 0x3000)
        var second = memory.AddRam(0x4000, Page); // [0x4000, 0x5000); hole at [0x3000, 0x4000)
        var payload = Enumerable.Repeat((byte)0x5A, length).ToArray();

        Assert.False(memory.TryWrite(address, payload));
        var e = Assert.Throws<GuestMemoryException>(() => memory.Write(address, payload));

        Assert.Equal(address, e.Address);
        Assert.Equal((ulong)length, e.Length);
        foreach (var slot in new[] { first, second })
        {
            var contents = new byte[slot.Size];
            memory.Read(slot.GuestAddress, contents);
            Assert.All(contents, b => Assert.Equal(0, b));
            Assert.Empty(memory.HarvestDirty(slot));
        }
    }

    [Theory]
    [InlineData(0x2FFCUL, 8)]
    [InlineData(0x0FFFUL, 2)]
    [InlineData(0x3FFFUL, 2)]
    [InlineData(0x1000UL, 0x4000)]
    public void TryReadOutsideRamFailsAndLeavesTheDestinationAlone(ulong address, int length)
    {
        using var memory = new GuestMemory();
        memory.AddRam(0x1000, 2 * Page);
        memory.AddRam(0x4000, Page);
        var destination = Enumerable.Repeat((byte)0x77, length).ToArray();

        Assert.False(memory.TryRead(address, destination));
        var e = Assert.Throws<GuestMemoryException>(() => memory.Read(address, destination));

        Assert.All(destination, b => Assert.Equal(0x77, b));
        Assert.Equal(address, e.Address);
        Assert.Equal((ulong)length, e.Length);
    }

    [Fact]
    public void IsRamFollowsSlotsAndHoles()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0x1000, Page);
        memory.AddRam(0x2000, Page);
        memory.AddRam(0x4000, Page);

        Assert.True(memory.IsRam(0x1000, 2 * Page)); // two adjacent slots
        Assert.False(memory.IsRam(0x1000, 3 * Page)); // into the hole
        Assert.True(memory.IsRam(0x4FFF, 1));
        Assert.False(memory.IsRam(0x4FFF, 2));
        Assert.False(memory.IsRam(0x0, 1));
    }

    [Fact]
    public void RemovedRamIsNoLongerReachable()
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var slot = memory.AddRam(0x1000, Page);
        memory.Write(0x1000, (byte)1);

        memory.Remove(slot);

        Assert.Empty(memory.Slots);
        Assert.False(memory.TryRead(0x1000, new byte[1]));
        Assert.Equal([SlotEvent.Set(slot), SlotEvent.Remove(slot)], sink.Events);
        Assert.Throws<GuestMemoryException>(() => memory.Remove(slot));
    }

    [Fact]
    public void AddRamReusesTheLowestFreeSlotId()
    {
        using var memory = new GuestMemory();
        var a = memory.AddRam(0x0000, Page);
        var b = memory.AddRam(0x1000, Page);
        memory.AddRam(0x2000, Page);

        memory.Remove(a);
        var d = memory.AddRam(0x8000, Page);

        Assert.Equal(0u, a.Id);
        Assert.Equal(1u, b.Id);
        Assert.Equal(0u, d.Id);
    }

    [Fact]
    public void SinkRefusingASlotLeavesTheMapUnchanged()
    {
        var sink = new RecordingSlotSink { FailSetSlot = _ => new InvalidOperationException("no more slots") };
        using var memory = new GuestMemory(sink);

        Assert.Throws<InvalidOperationException>(() => memory.AddRam(0x1000, Page));

        Assert.Empty(memory.Slots);
        Assert.False(memory.IsRam(0x1000, 1));
    }

    [Fact]
    public void DisposedMemoryRefusesNewRam()
    {
        var memory = new GuestMemory();
        memory.AddRam(0, Page);

        memory.Dispose();
        memory.Dispose();

        Assert.Empty(memory.Slots);
        Assert.Throws<ObjectDisposedException>(() => memory.AddRam(0, Page));
    }
}
