using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Memory;

public sealed class DirtyHarvestTests
{
    private const ulong Page = DirtyBitmap.PageSize;
    private const ulong Base = 0x20_0000;

    private static ulong[] Pages(params ulong[] indices) => [.. indices.Select(i => Base + (i * Page))];

    [Fact]
    public void HarvestReportsExactlyThePagesHostWritesTouched()
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var slot = memory.AddRam(Base, 16 * Page);

        memory.Write(Base + (3 * Page) + 0x10, (byte)1);
        memory.Write(Base + (6 * Page) - 1, (ushort)0xFFFF); // straddles pages 5 and 6
        memory.Write(Base + (9 * Page), new byte[Page]); // exactly one whole page
        memory.Write(Base + (9 * Page) + 8, (byte)2); // same page again

        Assert.Equal(Pages(3, 5, 6, 9), memory.HarvestDirty(slot));
        Assert.Empty(memory.HarvestDirty(slot));
        Assert.Equal(0, sink.DirtyLogCalls); // the slot does not log dirty pages: KVM is not asked
    }

    [Fact]
    public void HarvestCoversEveryWordOfALargeSlot()
    {
        using var memory = new GuestMemory();
        var slot = memory.AddRam(Base, 200 * Page);

        foreach (var page in new ulong[] { 0, 63, 64, 127, 130, 199 })
            memory.Write(Base + (page * Page) + 100, (byte)page);

        Assert.Equal(Pages(0, 63, 64, 127, 130, 199), memory.HarvestDirty(slot));
    }

    [Fact]
    public void WriteAcrossTwoSlotsDirtiesOnePageInEach()
    {
        using var memory = new GuestMemory();
        var low = memory.AddRam(Base, 4 * Page);
        var high = memory.AddRam(Base + (4 * Page), 4 * Page);

        memory.Write(high.GuestAddress - 4, 0x0102_0304_0506_0708UL);

        Assert.Equal(Pages(3), memory.HarvestDirty(low));
        Assert.Equal(Pages(4), memory.HarvestDirty(high));
    }

    [Fact]
    public void HarvestMergesTheGuestDirtyLogWhenTheSlotLogsDirtyPages()
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var slot = memory.AddRam(Base, 80 * Page, MemorySlotFlags.LogDirty);
        sink.GuestWrote(slot, 0);
        sink.GuestWrote(slot, 15);
        sink.GuestWrote(slot, 70);
        memory.Write(Base + (3 * Page), (byte)1);
        memory.Write(Base + (15 * Page), (byte)1); // the guest wrote this page too: reported once

        Assert.Equal(Pages(0, 3, 15, 70), memory.HarvestDirty(slot));
        Assert.Equal(1, sink.DirtyLogCalls);
        Assert.Empty(memory.HarvestDirty(slot));
        Assert.Equal(2, sink.DirtyLogCalls);
    }

    [Fact]
    public void HarvestIgnoresTheGuestDirtyLogWhenTheSlotDoesNotLogDirtyPages()
    {
        var sink = new RecordingSlotSink();
        using var memory = new GuestMemory(sink);
        var slot = memory.AddRam(Base, 8 * Page);
        sink.GuestWrote(slot, 2);
        memory.Write(Base + (5 * Page), (byte)1);

        Assert.Equal(Pages(5), memory.HarvestDirty(slot));
        Assert.Equal(0, sink.DirtyLogCalls);
    }

    [Fact]
    public void HostWritesToAReadOnlySlotAreStillRecorded()
    {
        using var memory = new GuestMemory();
        var slot = memory.AddRam(Base, 4 * Page, MemorySlotFlags.ReadOnly);

        memory.Write(Base + (2 * Page), (byte)0xC3);

        Assert.Equal(Pages(2), memory.HarvestDirty(slot));
    }

    [Fact]
    public void SplitCarriesUnharvestedHostWritesIntoTheHalves()
    {
        using var memory = new GuestMemory();
        var slot = memory.AddRam(Base, 8 * Page);
        memory.Write(Base + (1 * Page), (byte)1);
        memory.Write(Base + (6 * Page), (byte)1);

        var (low, high) = memory.Split(slot, Base + (4 * Page));

        Assert.Equal(Pages(1), memory.HarvestDirty(low));
        Assert.Equal(Pages(6), memory.HarvestDirty(high));
    }

    [Fact]
    public void BitmapMarksEveryPageARangeTouchesAndNothingBeyondTheSlot()
    {
        var bitmap = new DirtyBitmap(70);
        var taken = new ulong[2];

        bitmap.MarkRange(Page - 1, 2); // pages 0 and 1
        bitmap.MarkRange(10 * Page, 0); // empty: nothing
        bitmap.MarkRange(68 * Page, 10 * Page); // pages 68, 69 and past the end
        bitmap.TakeInto(taken);

        Assert.Equal(0b11UL, taken[0]);
        Assert.Equal(0b11_0000UL, taken[1]);
        var again = new ulong[2];
        bitmap.TakeInto(again);
        Assert.Equal(new ulong[2], again);
    }

    [Fact]
    public void ConcurrentMarksAreNeverLostByAConcurrentHarvest()
    {
        const int threads = 8, pagesPerThread = 512, rounds = 50;
        var pageCount = (ulong)(threads * pagesPerThread);
        for (var round = 0; round < rounds; round++)
        {
            var bitmap = new DirtyBitmap(pageCount);
            var harvested = new ulong[DirtyBitmap.WordsFor(pageCount)];
            using var start = new Barrier(threads + 1);
            var writers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                start.SignalAndWait();
                for (var i = 0; i < pagesPerThread; i++)
                    bitmap.MarkRange((ulong)((i * threads) + t) << DirtyBitmap.PageShift, 1); // interleaved: threads share words
            })).ToList();
            writers.ForEach(w => w.Start());

            start.SignalAndWait();
            while (writers.Any(w => w.IsAlive))
                bitmap.TakeInto(harvested);
            writers.ForEach(w => w.Join());
            bitmap.TakeInto(harvested);

            Assert.All(harvested, word => Assert.Equal(ulong.MaxValue, word));
        }
    }

    [Fact]
    public void ConcurrentHostWritesAreAllHarvestedExactlyOnce()
    {
        const int threads = 4, pagesPerThread = 256;
        using var memory = new GuestMemory();
        var slot = memory.AddRam(Base, threads * pagesPerThread * Page);
        var seen = new List<ulong>();
        using var start = new Barrier(threads + 1);
        var writers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < pagesPerThread; i++)
                memory.Write(Base + ((ulong)((i * threads) + t) * Page) + 7, (byte)t);
        })).ToList();
        writers.ForEach(w => w.Start());

        start.SignalAndWait();
        while (writers.Any(w => w.IsAlive))
            seen.AddRange(memory.HarvestDirty(slot));
        writers.ForEach(w => w.Join());
        seen.AddRange(memory.HarvestDirty(slot));

        Assert.Equal(threads * pagesPerThread, seen.Count);
        Assert.Equal(Enumerable.Range(0, threads * pagesPerThread).Select(i => Base + ((ulong)i * Page)), seen.Order());
    }
}
