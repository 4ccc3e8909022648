using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Tests.Migration;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>
/// Resync: when primary and secondary part — memory changed on the secondary alone, an input left unrecorded, a
/// secondary that stops — a fresh secondary receives the primary's state by the migration's transfer and replays from
/// its count; the primary runs on, its held outputs go out, and afterwards both again hold the same memory at the same
/// count. Each resync is counted with its reason.
/// </summary>
[Collection(MigrationCollection.Name)]
public sealed class LockstepTests
{
    [Theory]
    [InlineData("memory")]
    [InlineData("unrecorded input")]
    [InlineData("secondary stopped")]
    public async Task After_they_part_a_resync_brings_them_together_again(string how)
    {
        await using var lockstep = new Lockstep(LockstepDriver.Desktop);
        var released = 0L;
        lockstep.Released += _ => Interlocked.Increment(ref released);
        lockstep.Start();
        await LocalDesktop.WhenIdleAsync(lockstep.Primary, TimeSpan.FromSeconds(30));
        await LockstepDriver.TypeAsync(lockstep, "one ");
        await LockstepDriver.UntilTypedAsync(lockstep.Primary, "one ");
        Assert.Equal(0, lockstep.Resyncs);

        var secondary = lockstep.Secondary;
        switch (how)
        {
            case "memory": // the cursor three columns on, on the secondary alone: its next glyph lands elsewhere
                Assert.True(secondary.PauseAll(TimeSpan.FromSeconds(10)));
                var column = secondary.Config.Image.Symbol(DesktopGuest.ColumnSymbol);
                secondary.Memory.Write(column, secondary.Memory.Read<uint>(column) + 3);
                secondary.ResumeAll();
                await LockstepDriver.TypeAsync(lockstep, "x");
                break;
            case "unrecorded input":
                Assert.True(UsKeyboardLayout.TryMap('x', out var code, out _));
                lockstep.Recording.SubmitUnrecorded(new KeyInput(code, KeyAction.Press));
                lockstep.Recording.SubmitUnrecorded(new KeyInput(code, KeyAction.Release));
                break;
            default:
                secondary.Stop(); // as if its process died: the primary goes on, unprotected until the resync
                await LockstepDriver.TypeAsync(lockstep, "x");
                break;
        }
        for (var deadline = DateTime.UtcNow.AddSeconds(60); lockstep.Resyncs == 0; await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, $"no resync: {lockstep.LastResyncReason}");
        Assert.NotSame(secondary, lockstep.Secondary);
        var reason = lockstep.LastResyncReason!;
        Assert.True(how switch
        {
            "memory" => reason.Contains("outputs differ", StringComparison.Ordinal),
            "unrecorded input" => reason.Contains("outputs differ", StringComparison.Ordinal) || reason.Contains("left the recorded path", StringComparison.Ordinal),
            _ => reason.Contains("the secondary stopped", StringComparison.Ordinal),
        }, reason);
        Assert.True(lockstep.LastCheckpoint is { Succeeded: true, StateBytes: > 0 } checkpoint && checkpoint.Downtime > TimeSpan.Zero, $"{lockstep.LastCheckpoint}");

        // Protected again: typing goes on, everything is released, and both hold the same memory at the same count.
        await LockstepDriver.TypeAsync(lockstep, " two");
        await LockstepDriver.UntilTypedAsync(lockstep.Primary, "x two");
        var at = await LockstepDriver.PauseBothAsync(lockstep);
        Assert.False(lockstep.Comparator.Parted);
        Assert.Equal(0, lockstep.Comparator.Held);
        Assert.True(Interlocked.Read(ref released) > 0);
        Assert.Equal(1, lockstep.Resyncs);
        Assert.Equal(at, lockstep.Secondary.JournalPosition);
        var differing = LockstepDriver.DifferingPages(lockstep.Primary, lockstep.Secondary);
        Assert.True(differing.Count == 0, $"{differing.Count} page(s) differ after the resync, first at 0x{differing.FirstOrDefault():X}");
    }

    [Fact]
    public async Task When_the_primary_dies_the_secondary_takes_over_releases_nothing_twice_and_is_protected_again()
    {
        await using var lockstep = new Lockstep(LockstepDriver.Desktop);
        var released = new List<GuestOutput>();
        lockstep.Released += o =>
        {
            lock (released)
                released.Add(o);
        };
        lockstep.Start();
        await LocalDesktop.WhenIdleAsync(lockstep.Primary, TimeSpan.FromSeconds(30));
        await LockstepDriver.TypeAsync(lockstep, "before ");
        await LockstepDriver.UntilTypedAsync(lockstep.Primary, "before ");
        var (primary, secondary) = (lockstep.Primary, lockstep.Secondary);

        primary.Stop(); // as if its process died
        for (var deadline = DateTime.UtcNow.AddSeconds(60); lockstep.Failovers == 0 || lockstep.Resyncs == 0; await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, $"no failover and new secondary: {lockstep.Failovers}, {lockstep.Resyncs}, {lockstep.LastResyncReason}");
        Assert.Same(secondary, lockstep.Primary);
        Assert.NotSame(secondary, lockstep.Secondary);
        Assert.False(lockstep.Comparator.Unprotected);

        // The promoted secondary is the desktop: what was typed is there, typing goes on, and it is protected again.
        await LockstepDriver.TypeAsync(lockstep, "after");
        await LockstepDriver.UntilTypedAsync(lockstep.Primary, "before after");
        var at = await LockstepDriver.PauseBothAsync(lockstep);
        Assert.Equal(0, lockstep.Comparator.Held);
        Assert.Empty(LockstepDriver.DifferingPages(lockstep.Primary, lockstep.Secondary));
        lock (released)
        {
            Assert.NotEmpty(released);
            Assert.Equal(released.Count, released.Distinct().Count()); // no output released twice
            Assert.True(released.Zip(released.Skip(1)).All(p => p.First.Count <= p.Second.Count), "outputs released out of order");
            Assert.All(released, o => Assert.True(o.Count <= at));
        }
    }
}
