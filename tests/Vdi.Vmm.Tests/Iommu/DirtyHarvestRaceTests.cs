using Vdi.Vmm.Iommu;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Iommu;

/// <summary>
/// DMA writers on threads of their own racing a harvester that copies the pages it harvests, as pre-copy migration
/// does: once the writers stop and a last harvest ran, every copied page must equal guest memory — a write whose dirty
/// bit a harvest lost (or saw before its data) leaves a stale copy.
/// </summary>
public sealed class DirtyHarvestRaceTests
{
    private const int Pages = 2048;
    private const ulong Ram = Pages * IoPageTable.PageSize;

    [Fact]
    public void Dma_writes_racing_harvests_lose_no_page()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, Ram);
        var iommu = new VirtualIommu(memory, Ram);
        IommuDomain[] domains = [iommu.CreateIdentityDomain("A"), iommu.CreateIdentityDomain("B")];
        iommu.StartDirtyTracking();
        var copy = new byte[Ram]; // the destination: all zero, as guest RAM starts
        var ram = new byte[Ram];
        var harvests = 0;
        var copiedDuringWrites = 0;
        // Every round writes every page once, so a lost dirty bit is not hidden by a later write to the same page:
        // after each round, the copy must equal memory. Rounds go on (up to a limit) until harvests were seen to copy
        // pages while writers ran: on a loaded machine a round's writers may finish before the harvester runs.
        for (var round = 1; round <= 20 || (copiedDuringWrites == 0 && round <= 500); round++)
        {
            var running = domains.Length;
            var go = 0;
            var writers = domains.Select((domain, w) => new Thread(() =>
            {
                while (Volatile.Read(ref go) == 0)
                    Thread.SpinWait(10); // start once the harvester runs
                for (var page = w; page < Pages; page += domains.Length)
                {
                    var address = ((ulong)page * IoPageTable.PageSize) + ((ulong)(round * 8) % IoPageTable.PageSize);
                    if (page % 8 == w)
                        domain.Write(address, BitConverter.GetBytes((ulong)round)); // the byte path
                    else
                        domain.Write(address, (ulong)round);
                }
                Interlocked.Decrement(ref running);
            })).ToArray();
            foreach (var t in writers)
                t.Start();
            while (Volatile.Read(ref running) > 0)
            {
                var copied = HarvestAndCopy(iommu, memory, copy);
                Volatile.Write(ref go, 1);
                if (Volatile.Read(ref running) > 0)
                    copiedDuringWrites += copied;
                harvests++;
            }
            foreach (var t in writers)
                t.Join();
            HarvestAndCopy(iommu, memory, copy);

            memory.Read(0, ram);
            for (var page = 0; page < Pages; page++)
            {
                var range = new Range(page * 4096, (page + 1) * 4096);
                Assert.True(ram.AsSpan(range).SequenceEqual(copy.AsSpan(range)), $"round {round}: page {page} was written after its last copy and no harvest reported it");
            }
        }
        Assert.True(copiedDuringWrites > 0, $"the harvests did not race the writers ({harvests} harvests, {copiedDuringWrites} pages)");
    }

    [Fact]
    public void Without_the_harvest_the_copy_is_stale()
    {
        using var memory = new GuestMemory();
        memory.AddRam(0, Ram);
        var iommu = new VirtualIommu(memory, Ram);
        var domain = iommu.CreateIdentityDomain("A");
        iommu.StartDirtyTracking();
        var copy = new byte[Ram];
        domain.Write<ulong>(0x3000, 1);

        iommu.HarvestSwitchedOff = true;
        HarvestAndCopy(iommu, memory, copy);

        Assert.NotEqual(memory.Read<ulong>(0x3000), BitConverter.ToUInt64(copy, 0x3000));
    }

    private static int HarvestAndCopy(VirtualIommu iommu, GuestMemory memory, byte[] copy)
    {
        var bitmap = new ulong[DirtyBitmap.WordsFor(Pages)];
        iommu.HarvestDirty(bitmap);
        var copied = 0;
        for (var page = 0; page < Pages; page++)
        {
            if ((bitmap[page >> 6] & (1UL << (page & 63))) == 0)
                continue;
            memory.Read((ulong)page * IoPageTable.PageSize, copy.AsSpan(page * 4096, 4096));
            copied++;
        }
        return copied;
    }
}
