using Vdi.Vmm.Tracing;

namespace Vdi.Vmm.Tests.Tracing;

public sealed class TraceRingTests
{
    [Fact]
    public void Entries_are_numbered_from_one_and_read_back_in_order()
    {
        var ring = new TraceRing(8);
        ring.RecordHypercall(0, 0x1000, 1, [5, 0, 0, 0], 5);
        ring.RecordRefused(1, null, "read-only");

        var snapshot = ring.Snapshot();

        Assert.Equal([1L, 2L], snapshot.Entries.Select(e => e.Sequence));
        Assert.Equal(TraceEntryKind.Hypercall, snapshot.Entries[0].Kind);
        Assert.Equal(TraceEntryKind.RefusedAccess, snapshot.Entries[1].Kind);
        Assert.Equal(2, snapshot.LastSequence);
        Assert.Equal(0, snapshot.Missed);
        Assert.Equal(0, snapshot.Dropped);
    }

    [Fact]
    public void A_full_ring_keeps_the_newest_entries_and_counts_the_dropped_ones()
    {
        var ring = new TraceRing(4);
        for (uint n = 0; n < 10; n++)
            ring.RecordHypercall(0, 0, n, [], n);

        var snapshot = ring.Snapshot();

        Assert.Equal([6u, 7u, 8u, 9u], snapshot.Entries.Select(e => e.HypercallNumber));
        Assert.Equal([7L, 8L, 9L, 10L], snapshot.Entries.Select(e => e.Sequence));
        Assert.Equal(6, ring.Dropped);
        Assert.Equal(6, snapshot.Dropped);
        Assert.Equal(6, snapshot.Missed); // a reader starting from nothing missed the first six
    }

    [Fact]
    public void A_reader_polls_for_entries_after_the_last_number_it_saw()
    {
        var ring = new TraceRing(4);
        ring.RecordRefused(0, null, "a");
        var first = ring.Since(0);
        ring.RecordRefused(0, null, "b");
        ring.RecordRefused(0, null, "c");

        var next = ring.Since(first.LastSequence);

        Assert.Equal(["b", "c"], next.Entries.Select(e => e.Detail));
        Assert.Equal(0, next.Missed);
        Assert.Empty(ring.Since(next.LastSequence).Entries);

        for (var n = 0; n < 6; n++)
            ring.RecordRefused(0, null, $"x{n}");
        var late = ring.Since(next.LastSequence);
        Assert.Equal(4, late.Entries.Count);
        Assert.Equal(2, late.Missed); // six new, four kept
    }
}
