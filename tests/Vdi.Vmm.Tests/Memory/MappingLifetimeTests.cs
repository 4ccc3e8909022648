using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Memory;

/// <summary>Runs alone: it measures the whole process's address space.</summary>
[CollectionDefinition(nameof(AddressSpaceCollection), DisableParallelization = true)]
public sealed class AddressSpaceCollection;

[Collection(nameof(AddressSpaceCollection))]
public sealed class MappingLifetimeTests
{
    private const ulong Page = DirtyBitmap.PageSize;

    // Large enough that a leak of even a few mappings dwarfs whatever else the process maps meanwhile.
    private const ulong SlotSize = 64UL << 20;

    private static int MapsLines() => File.ReadAllLines("/proc/self/maps").Length;

    /// <summary>VmSize from /proc/self/status, in bytes. Adjacent leaked mappings merge into one maps line; their size does not hide.</summary>
    private static ulong VirtualSize()
    {
        var line = File.ReadLines("/proc/self/status").Single(l => l.StartsWith("VmSize:", StringComparison.Ordinal));
        return ulong.Parse(line["VmSize:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) << 10;
    }

    [Fact]
    public void AddRemoveAndDisposeCyclesDoNotLeakMappings()
    {
        Cycle(); // warm up allocations the runtime makes once
        var lines = MapsLines();
        var size = VirtualSize();

        for (var i = 0; i < 200; i++)
            Cycle();

        Assert.InRange(MapsLines(), 0, lines + 20);
        Assert.InRange(VirtualSize(), 0UL, size + (SlotSize * 4)); // a leak of one slot per cycle would be 200 × 64 MiB

        static void Cycle()
        {
            var memory = new GuestMemory(new RecordingSlotSink());
            var removed = memory.AddRam(0, SlotSize);
            memory.Write(0x100, (byte)1);
            var kept = memory.AddRam(SlotSize, SlotSize);
            memory.Write(SlotSize + 0x100, (byte)1);
            var (low, high) = memory.Split(kept, SlotSize + (SlotSize / 2));
            memory.Remove(removed);
            memory.Remove(low);
            memory.Write(high.GuestAddress, (byte)2);
            memory.Dispose();
        }
    }

    [Fact]
    public void SplitHalvesKeepTheMappingUntilTheLastOneGoes()
    {
        const ulong size = 1UL << 30;
        using var memory = new GuestMemory();
        var before = VirtualSize();
        var (low, high) = memory.Split(memory.AddRam(0, size), size / 2);
        memory.Write(size - 1, (byte)0x99);
        var mapped = VirtualSize();

        memory.Remove(low);

        Assert.Equal(0x99, memory.Read<byte>(size - 1)); // the high half still reads its memory
        Assert.InRange(VirtualSize(), mapped - (size / 4), ulong.MaxValue);

        memory.Remove(high);

        Assert.InRange(mapped, before + size, ulong.MaxValue);
        Assert.InRange(VirtualSize(), 0UL, mapped - (size * 3 / 4));
    }

    [Fact]
    public void DisposeUnmapsEverySlot()
    {
        const ulong size = 1UL << 30;
        var memory = new GuestMemory();
        memory.AddRam(0, size);
        memory.AddRam(size, size);
        var mapped = VirtualSize();

        memory.Dispose();

        Assert.InRange(VirtualSize(), 0UL, mapped - (size * 3 / 2));
    }
}
