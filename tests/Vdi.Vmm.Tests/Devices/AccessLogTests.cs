using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Tests.Devices;

public sealed class AccessLogTests
{
    private static GuestAccess Access(int n, AccessOutcome outcome) =>
        new(AccessSpace.Pio, (ulong)n, 1, 0, false, 0, outcome);

    [Fact]
    public void RingKeepsTheNewestEntriesOldestFirst()
    {
        var log = new AccessLog(capacity: 4);

        for (var n = 0; n < 10; n++)
            log.Record(Access(n, AccessOutcome.Unmapped));

        Assert.Equal(10, log.Total);
        Assert.Equal(new ulong[] { 6, 7, 8, 9 }, log.Recent().Select(a => a.Address));
    }

    [Fact]
    public void PartlyFilledRingReturnsEverythingInOrder()
    {
        var log = new AccessLog(capacity: 8);

        for (var n = 0; n < 3; n++)
            log.Record(Access(n, AccessOutcome.Unmapped));

        Assert.Equal(new ulong[] { 0, 1, 2 }, log.Recent().Select(a => a.Address));
        Assert.Empty(new AccessLog().Recent());
    }

    [Fact]
    public void CountsEveryOutcomeIncludingEntriesTheRingDropped()
    {
        var log = new AccessLog(capacity: 2);
        var outcomes = new[]
        {
            AccessOutcome.Unmapped, AccessOutcome.Unmapped, AccessOutcome.Unmapped,
            AccessOutcome.DeviceFault, AccessOutcome.UnknownHypercall, AccessOutcome.UnknownHypercall,
            AccessOutcome.ReadOnlyMemoryWrite,
        };

        for (var n = 0; n < outcomes.Length; n++)
            log.Record(Access(n, outcomes[n]));

        Assert.Equal(3, log.Count(AccessOutcome.Unmapped));
        Assert.Equal(0, log.Count(AccessOutcome.RefusedByDevice));
        Assert.Equal(1, log.Count(AccessOutcome.DeviceFault));
        Assert.Equal(2, log.Count(AccessOutcome.UnknownHypercall));
        Assert.Equal(1, log.Count(AccessOutcome.ReadOnlyMemoryWrite));
        Assert.Equal(7, log.Total);
        Assert.Equal([AccessOutcome.UnknownHypercall, AccessOutcome.ReadOnlyMemoryWrite], log.Recent().Select(a => a.Outcome));
    }

    [Fact]
    public void ConcurrentRecordersLoseNothing()
    {
        const int threads = 4, each = 5000;
        var log = new AccessLog(capacity: 16);

        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (var n = 0; n < each; n++)
                log.Record(Access(n, (AccessOutcome)(t % 2)));
        });

        Assert.Equal(threads * each, log.Total);
        Assert.Equal(threads / 2 * each, log.Count(AccessOutcome.Unmapped));
        Assert.Equal(threads / 2 * each, log.Count(AccessOutcome.RefusedByDevice));
        Assert.Equal(16, log.Recent().Count);
    }

    [Fact]
    public void EntriesDescribeThemselves()
    {
        var write = new GuestAccess(AccessSpace.Mmio, 0xFEB0_0000, 4, 0xAB, true, 2, AccessOutcome.ReadOnlyMemoryWrite);
        var read = new GuestAccess(AccessSpace.Pio, 0x80, 1, 0, false, 0, AccessOutcome.Unmapped);

        Assert.Equal("Mmio write 0xFEB00000 size 4 data 0xAB vcpu 2: ReadOnlyMemoryWrite", write.ToString());
        Assert.Equal("Pio read 0x80 size 1 vcpu 0: Unmapped", read.ToString());
    }
}
