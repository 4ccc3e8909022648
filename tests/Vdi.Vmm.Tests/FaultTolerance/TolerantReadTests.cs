using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Tests.Guests;
using Vdi.Vmm.Tests.Machine;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>
/// A quasi replay's wall-clock reads (KVM, counted in exits): the recorder's read at the same exit when there is one;
/// else the recorded reading nearest the replay's own clock within 250 ms (the same tick's, read at another exit); else
/// the last recorded at or before the count; else the replay's own — and what is taken goes, with what came before it.
/// </summary>
public sealed class TolerantReadTests
{
    private const ulong Now = 1_800_000_000_000; // ms since the epoch, the replay's own clock

    private static (ExecutionJournal Journal, Vmm.Machine.Machine Holder, Func<long, ulong> Read) Quasi(params JournalEntry[] fed)
    {
        var holder = KvmMachines.Build(TestGuests.PowerOff(0), engine: EngineChoice.Software);
        var journal = ExecutionJournal.ForReplay();
        long count = 0;
        journal.Attach(holder, () => count, exact: false);
        journal.Feed(fed, fed.Length == 0 ? 0 : fed.Max(e => e.Count));
        return (journal, holder, at =>
        {
            count = at;
            return journal.Value(JournalKind.WallClock, () => Now);
        });
    }

    private static JournalEntry Clock(long count, ulong ms) => new(count, JournalKind.WallClock, ms);

    [Fact]
    public void The_read_at_the_same_exit_is_taken_however_far_from_the_replays_own_clock()
    {
        var (journal, holder, read) = Quasi(Clock(10, Now - 900), Clock(20, Now - 5_000));
        using (journal)
        using (holder)
            Assert.Equal(Now - 5_000, read(20));
    }

    [Fact]
    public void Else_the_reading_nearest_its_own_clock_within_250_ms_and_the_older_ones_go()
    {
        var (journal, holder, read) = Quasi(Clock(10, Now - 1_000), Clock(30, Now - 40), Clock(31, Now - 20));
        using (journal)
        using (holder)
        {
            Assert.Equal(Now - 20, read(12)); // the recorder's tick came at other exits: its reading a moment ago
            Assert.Equal(Now, read(40)); // nothing left: its own
        }
    }

    [Fact]
    public void Else_the_last_reading_at_or_before_the_count_and_else_its_own()
    {
        var (journal, holder, read) = Quasi(Clock(10, Now - 3_000), Clock(11, Now - 2_000), Clock(50, Now - 1_000));
        using (journal)
        using (holder)
        {
            Assert.Equal(Now - 2_000, read(12));
            Assert.Equal(Now - 1_000, read(13)); // none at or before 13 is left: the next one
            Assert.Equal(Now, read(60));
        }
    }
}
