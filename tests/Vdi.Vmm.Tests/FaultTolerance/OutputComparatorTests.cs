using Vdi.Vmm.FaultTolerance;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>
/// The output comparison. Exact (the software engine): one for one, in order, counts included. Quasi (KVM): frames
/// match their twins wherever they are held — a clock drawn by each machine's own timer may come before an input's
/// frame on one side and after it on the other — serial bytes only in their order, and a pair parts when an output
/// waited past the patience for a twin while the other side went on, or five times that in any case.
/// </summary>
public sealed class OutputComparatorTests
{
    private static GuestOutput Frame(long count, int x, ulong hash) => new(count, OutputKind.Frame, GuestOutput.Rect(x, 0, 16, 16), hash);

    private static GuestOutput Serial(long count, byte b) => new(count, OutputKind.Serial, b, 0);

    [Fact]
    public void Exact_pairs_match_in_order_and_part_at_the_first_count_that_differs()
    {
        var comparator = new OutputComparator();
        var (released, parted) = (new List<GuestOutput>(), new List<(GuestOutput, GuestOutput)>());
        comparator.Released += released.Add;
        comparator.Mismatched += (p, s) => parted.Add((p, s));
        comparator.AddPrimary([Frame(10, 0, 1), Frame(20, 16, 2)]);
        comparator.AddSecondary([Frame(10, 0, 1)]);
        Assert.Equal([Frame(10, 0, 1)], released);
        comparator.AddSecondary([Frame(21, 16, 2)]); // the same frame one instruction later: they parted
        Assert.Equal([(Frame(20, 16, 2), Frame(21, 16, 2))], parted);
        Assert.True(comparator.Parted);
        Assert.Equal(1, comparator.Held);
    }

    [Fact]
    public void A_quasi_pair_matches_frames_out_of_order_and_ignores_counts()
    {
        var comparator = new OutputComparator { ComparesCounts = false };
        var released = new List<GuestOutput>();
        comparator.Released += released.Add;
        comparator.Mismatched += (p, s) => Assert.Fail($"parted: {p} / {s}");
        var (glyph, clock) = (Frame(100, 0, 7), Frame(101, 200, 9));
        comparator.AddPrimary([glyph, clock]);
        comparator.AddSecondary([Frame(80, 200, 9)]); // its clock came first, at another exit count
        Assert.Equal([clock], released);
        Assert.Equal(1, comparator.Held);
        comparator.AddSecondary([Frame(95, 0, 7)]);
        Assert.Equal([clock, glyph], released);
        Assert.Equal(0, comparator.Held);
        Assert.False(comparator.Parted);
    }

    [Fact]
    public void A_quasi_pair_releases_serial_bytes_only_in_their_order()
    {
        var comparator = new OutputComparator { ComparesCounts = false };
        var released = new List<GuestOutput>();
        comparator.Released += released.Add;
        comparator.AddPrimary([Serial(1, (byte)'a'), Serial(2, (byte)'b')]);
        comparator.AddSecondary([Serial(5, (byte)'b')]); // 'b' before 'a': no twin for it while 'a' waits
        Assert.Empty(released);
        comparator.AddSecondary([Serial(6, (byte)'a')]);
        Assert.Empty(released); // the secondary's first byte is still 'b'
        Assert.Equal(2, comparator.Held);
    }

    [Fact]
    public void A_quasi_output_without_its_twin_parts_the_pair_once_the_other_side_went_on_past_the_patience()
    {
        var clock = new ManualClock();
        var comparator = new OutputComparator { ComparesCounts = false, QuasiPatience = TimeSpan.FromSeconds(2), Time = clock };
        var parted = new List<(GuestOutput, GuestOutput)>();
        comparator.Mismatched += (p, s) => parted.Add((p, s));
        comparator.AddPrimary([Frame(1, 0, 1)]);
        clock.Advance(TimeSpan.FromSeconds(3));
        comparator.CheckOverdue();
        Assert.Empty(parted); // the secondary produced nothing since: it is busy getting there (a long repaint), not parted
        comparator.AddSecondary([Frame(2, 0, 2)]); // it went on, and drew something else
        comparator.CheckOverdue();
        Assert.Equal([(Frame(1, 0, 1), Frame(2, 0, 2))], parted);
        Assert.True(comparator.Parted);
    }

    [Fact]
    public void A_quasi_output_parts_a_stuck_pair_after_five_times_the_patience()
    {
        var clock = new ManualClock();
        var comparator = new OutputComparator { ComparesCounts = false, QuasiPatience = TimeSpan.FromSeconds(2), Time = clock };
        var parted = new List<(GuestOutput, GuestOutput)>();
        comparator.Mismatched += (p, s) => parted.Add((p, s));
        comparator.AddPrimary([Frame(1, 0, 1)]);
        clock.Advance(TimeSpan.FromSeconds(9));
        comparator.CheckOverdue();
        Assert.Empty(parted);
        clock.Advance(TimeSpan.FromSeconds(2));
        comparator.CheckOverdue();
        Assert.Equal([(Frame(1, 0, 1), default)], parted);
    }

    /// <summary>A clock that moves only when told.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _now = 1;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _now;

        public void Advance(TimeSpan by) => _now += by.Ticks;
    }
}
