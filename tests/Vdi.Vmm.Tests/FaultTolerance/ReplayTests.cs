using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Migration;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>
/// The software engine's execution journal: a desktop booted, typed into, resized, pointed at and set in full motion on
/// a machine that records is replayed by a second machine from its journal alone; at the same instruction count both
/// hold the same memory, page for page, the same registers and scanout, and every output of the primary was matched by
/// the secondary's. Memory changed on the secondary alone is found at its next frame. A replay fed a journal that is
/// not its machine's leaves the recorded path and stops, naming where.
/// </summary>
[Collection(MigrationCollection.Name)] // two desktops busy at once: not beside the timing-sensitive tests
public sealed class ReplayTests
{
    private static MachineConfig Desktop() => new()
    {
        Image = DesktopGuest.Build(), MemoryMiB = 128, Engine = EngineChoice.Software, Display = new(1024, 768, 96),
    };

    [Fact]
    public async Task A_replayed_desktop_reaches_the_same_memory_registers_and_outputs_at_the_same_count()
    {
        await using var pair = new Lockstep(LockstepDriver.Desktop) { ResyncOnParting = false };
        var released = new List<GuestOutput>();
        pair.Released += o =>
        {
            lock (released)
                released.Add(o);
        };
        pair.Start();
        await LocalDesktop.WhenIdleAsync(pair.Primary, TimeSpan.FromSeconds(30));
        var primary = pair.Primary;
        await LockstepDriver.TypeAsync(pair, "replay ");
        primary.Submit(new DisplayInput(new DisplayProperties(1280, 720, 120)));
        primary.Submit(new PointerInput(400, 300, PointerButtons.None));
        await LockstepDriver.TypeAsync(pair, "me");
        primary.Submit(new HostRequestInput(PortMap.HostRequestMotionOn)); // the full-motion panel: a 60 Hz timer, frames drawn
        await Task.Delay(400);
        primary.Submit(new HostRequestInput(PortMap.HostRequestMotionOff));
        await LockstepDriver.UntilTypedAsync(pair.Primary, "replay me");
        for (var deadline = DateTime.UtcNow.AddSeconds(10); pair.Entries(JournalKind.Timer) == 0; await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, "the desktop's timer never fired"); // the clock's tick, once a second

        var at = await LockstepDriver.PauseBothAsync(pair);

        foreach (var kind in new[] { JournalKind.Timer, JournalKind.Key, JournalKind.Display, JournalKind.Tablet, JournalKind.HostRequest, JournalKind.WallClock })
            Assert.True(pair.Entries(kind) > 0, $"no {kind} was recorded");
        var differing = LockstepDriver.DifferingPages(primary, pair.Secondary);
        Assert.True(differing.Count == 0, $"{differing.Count} page(s) differ at count {at}, first at 0x{differing.FirstOrDefault():X}");
        var (va, vb) = (Vmm.State.VcpuSnapshot.Read(Read(primary.SaveState()), 0), Vmm.State.VcpuSnapshot.Read(Read(pair.Secondary.SaveState()), 0));
        Assert.Equal((va.Rip, va.Rflags, va.InstructionsRetired), (vb.Rip, vb.Rflags, vb.InstructionsRetired));
        Assert.Equal(va.Gprs, vb.Gprs);
        var (shown, replayed) = (primary.Devices.Gpu.Capture(), pair.Secondary.Devices.Gpu.Capture());
        Assert.True(shown is not null, $"no scanout on the primary: {primary.Devices.Gpu.LastError}");
        Assert.NotNull(replayed);
        Assert.Equal((1280, 720), (shown.Width, shown.Height));
        Assert.True(shown.Pixels.AsSpan().SequenceEqual(replayed.Pixels), "the scanouts differ");

        // Every output the primary made, the secondary made too: all released, none held, none parted.
        Assert.False(pair.Comparator.Parted);
        Assert.Equal(0, pair.Comparator.Held);
        Assert.Contains(released, o => o.Kind == OutputKind.Frame);
        Assert.Contains(released, o => o.Kind == OutputKind.Serial);
        Assert.All(released, o => Assert.True(o.Count <= at));
    }

    [Fact]
    public async Task Memory_changed_on_the_secondary_alone_is_found_at_its_next_output()
    {
        await using var pair = new Lockstep(LockstepDriver.Desktop) { ResyncOnParting = false };
        var mismatched = new TaskCompletionSource<(GuestOutput Primary, GuestOutput Secondary)>(TaskCreationOptions.RunContinuationsAsynchronously);
        pair.Comparator.Mismatched += (p, s) => mismatched.TrySetResult((p, s));
        pair.Start();
        await LocalDesktop.WhenIdleAsync(pair.Primary, TimeSpan.FromSeconds(30));
        await LockstepDriver.TypeAsync(pair, "same ");
        await LockstepDriver.UntilTypedAsync(pair.Primary, "same ");
        for (var deadline = DateTime.UtcNow.AddSeconds(30); pair.Comparator.Held > 0 || pair.Recording.SafeThrough > pair.Secondary.JournalPosition; await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, "the secondary did not catch up");
        Assert.False(pair.Comparator.Parted);
        var matched = pair.Comparator.ReleasedCount;
        Assert.True(matched > 0);

        // The secondary's terminal cursor three columns further on than the primary's: the next key is drawn elsewhere.
        var image = pair.Secondary.Config.Image;
        Assert.True(pair.Secondary.PauseAll(TimeSpan.FromSeconds(10)));
        var column = image.Symbol(DesktopGuest.ColumnSymbol);
        pair.Secondary.Memory.Write(column, pair.Secondary.Memory.Read<uint>(column) + 3);
        pair.Secondary.ResumeAll();
        await LockstepDriver.TypeAsync(pair, "x");

        await Task.WhenAny(mismatched.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(mismatched.Task.IsCompleted, $"no mismatch: held {pair.Comparator.Held}, released {pair.Comparator.ReleasedCount} (was {matched}), secondary {pair.Secondary.State} {pair.Secondary.Completion.Status} at {pair.Secondary.JournalPosition} of {pair.Recording.SafeThrough}; primary '{DesktopText.Read(image, pair.Primary.Memory)}', secondary '{DesktopText.Read(image, pair.Secondary.Memory)}'");
        var (p, s) = await mismatched.Task;
        Assert.Equal(OutputKind.Frame, p.Kind);
        Assert.NotEqual(p, s);
        Assert.True(pair.Comparator.Parted);
        Assert.Equal(matched, pair.Comparator.ReleasedCount); // nothing of the primary's leaves after the parting
    }

    [Fact]
    public async Task An_input_the_recorder_did_not_record_parts_the_replay_from_it_and_it_is_caught()
    {
        await using var pair = new Lockstep(LockstepDriver.Desktop) { ResyncOnParting = false };
        pair.Start();
        await LocalDesktop.WhenIdleAsync(pair.Primary, TimeSpan.FromSeconds(30));
        await LockstepDriver.TypeAsync(pair, "ab");
        await LockstepDriver.UntilTypedAsync(pair.Primary, "ab");
        Assert.True(UsKeyboardLayout.TryMap('c', out var code, out _));
        pair.Recording.SubmitUnrecorded(new KeyInput(code, KeyAction.Press)); // the test-only switch
        pair.Recording.SubmitUnrecorded(new KeyInput(code, KeyAction.Release));
        await LockstepDriver.UntilTypedAsync(pair.Primary, "abc");

        // Caught either way: the replay halts where the recorder went on (it never saw the key), or its next output differs.
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !pair.Comparator.Parted && !pair.Secondary.Completion.IsCompleted; await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, $"the replay went on unnoticed: held {pair.Comparator.Held}, secondary at {pair.Secondary.JournalPosition} of {pair.Recording.SafeThrough}");
        if (pair.Secondary.Completion.IsCompleted)
            Assert.Contains("left the recorded path", (await pair.Secondary.Completion).Crash?.Reason ?? "", StringComparison.Ordinal);
        pair.Pump();
        Assert.True(pair.Comparator.Held > 0, "the frame that drew the unrecorded key was released: the secondary never drew it"); // held, not sent
    }

    [Fact]
    public async Task A_replay_fed_another_machines_journal_leaves_the_recorded_path_and_stops_saying_where()
    {
        using var secondary = MachineBuilder.Build(Desktop());
        using var replay = ExecutionJournal.ForReplay();
        secondary.UseJournal(replay);
        secondary.Start();
        // The desktop reads the wall clock early in its boot; this journal says it read the timer's count instead.
        replay.Feed([new JournalEntry(1, JournalKind.ApicCount, 5)], 50_000_000);
        var exit = await secondary.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Contains("left the recorded path", exit.Crash?.Reason ?? "", StringComparison.Ordinal);

        using var other = ExecutionJournal.ForReplay();
        Assert.Throws<JournalException>(() => other.Feed([new JournalEntry(10, JournalKind.Timer), new JournalEntry(5, JournalKind.Timer)], 20));
        var unknown = new byte[JournalEntry.Bytes];
        unknown[8] = 99;
        Assert.Throws<JournalException>(() => JournalEntry.Read(unknown));
        Assert.Throws<InvalidOperationException>(() => secondary.Submit(new KeyInput(30, KeyAction.Press)));
    }

    private static Vmm.State.SavedState Read(byte[] state) => Vmm.State.StateReader.Read(new MemoryStream(state));
}
