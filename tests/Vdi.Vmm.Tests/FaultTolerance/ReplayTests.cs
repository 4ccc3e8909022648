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
/// The software engine's execution journal: a desktop booted, typed into, resized, pointed at and set in full motion on a machine that
/// records is replayed by a second machine from its journal alone, and at the same instruction count both hold the
/// same memory, page for page, and the same registers. A replay fed a journal that is not its machine's leaves the
/// recorded path and stops, naming where.
/// </summary>
[Collection(MigrationCollection.Name)] // two desktops busy at once: not beside the timing-sensitive tests
public sealed class ReplayTests
{
    private static MachineConfig Desktop() => new()
    {
        Image = DesktopGuest.Build(), MemoryMiB = 128, Engine = EngineChoice.Software, Display = new(1024, 768, 96),
    };

    [Fact]
    public async Task A_replayed_desktop_reaches_the_same_memory_and_registers_at_the_same_count()
    {
        using var primary = MachineBuilder.Build(Desktop());
        using var secondary = MachineBuilder.Build(Desktop());
        using var recording = ExecutionJournal.ForRecording();
        using var replay = ExecutionJournal.ForReplay();
        primary.UseJournal(recording);
        secondary.UseJournal(replay);
        var kinds = new HashSet<JournalKind>();
        bool Recorded(JournalKind kind)
        {
            lock (kinds)
                return kinds.Contains(kind);
        }
        void Pump()
        {
            var batch = new List<JournalEntry>();
            var safe = recording.Drain(batch);
            lock (kinds)
                kinds.UnionWith(batch.Select(e => e.Kind));
            replay.Feed(batch, safe);
        }
        using var stop = new CancellationTokenSource();
        var pump = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Pump();
                await Task.Delay(2);
            }
        });
        primary.Start();
        secondary.Start();
        await LocalDesktop.WhenIdleAsync(primary, TimeSpan.FromSeconds(30));

        await TypeAsync(primary, "replay ");
        primary.Submit(new DisplayInput(new DisplayProperties(1280, 720, 120)));
        primary.Submit(new PointerInput(400, 300, PointerButtons.None));
        await TypeAsync(primary, "me");
        primary.Submit(new HostRequestInput(PortMap.HostRequestMotionOn)); // the full-motion panel: a 60 Hz timer, frames drawn
        await Task.Delay(400);
        primary.Submit(new HostRequestInput(PortMap.HostRequestMotionOff));
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !DesktopText.Read(primary.Config.Image, primary.Memory).EndsWith("replay me", StringComparison.Ordinal); await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, $"the primary shows '{DesktopText.Read(primary.Config.Image, primary.Memory)}'");
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !Recorded(JournalKind.Timer); await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, "the desktop's timer never fired"); // the clock's tick, once a second

        Assert.True(primary.PauseAll(TimeSpan.FromSeconds(10)));
        await stop.CancelAsync();
        await pump;
        Pump();
        var at = primary.InstructionsRetired!.Value;
        Assert.Equal(at, replay.SafeThrough);
        for (var deadline = DateTime.UtcNow.AddSeconds(60); secondary.InstructionsRetired < at; await Task.Delay(10))
            Assert.True(DateTime.UtcNow < deadline, $"the secondary is at {secondary.InstructionsRetired} of {at}; {secondary.State} {secondary.Completion.Status}");
        Assert.True(secondary.PauseAll(TimeSpan.FromSeconds(10)));
        Assert.Equal(at, secondary.InstructionsRetired);

        Assert.Superset(new HashSet<JournalKind> { JournalKind.Timer, JournalKind.Key, JournalKind.Display, JournalKind.Tablet, JournalKind.HostRequest, JournalKind.WallClock }, kinds);
        var differing = DifferingPages(primary, secondary);
        Assert.True(differing.Count == 0, $"{differing.Count} page(s) differ at count {at}, first at 0x{differing.FirstOrDefault():X}");
        var (a, b) = (primary.SaveState(), secondary.SaveState());
        var (va, vb) = (Vmm.State.VcpuSnapshot.Read(Read(a), 0), Vmm.State.VcpuSnapshot.Read(Read(b), 0));
        Assert.Equal((va.Rip, va.Rflags, va.InstructionsRetired), (vb.Rip, vb.Rflags, vb.InstructionsRetired));
        Assert.Equal(va.Gprs, vb.Gprs);
        var (shown, replayed) = (primary.Devices.Gpu.Capture(), secondary.Devices.Gpu.Capture());
        Assert.True(shown is not null, $"no scanout on the primary: errors {primary.Devices.Gpu.ErrorResponses}, last {primary.Devices.Gpu.LastError}; serial: {primary.Devices.Com1.Output.Text}");
        Assert.NotNull(replayed);
        Assert.Equal((1280, 720), (shown.Width, shown.Height));
        Assert.True(shown.Pixels.AsSpan().SequenceEqual(replayed.Pixels), "the scanouts differ");
        primary.Stop();
        secondary.Stop();
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

    private static async Task TypeAsync(Vmm.Machine.Machine machine, string text)
    {
        foreach (var c in text)
        {
            Assert.True(UsKeyboardLayout.TryMap(c, out var code, out _));
            machine.Submit(new KeyInput(code, KeyAction.Press));
            machine.Submit(new KeyInput(code, KeyAction.Release));
            await Task.Delay(20);
        }
    }

    private static Vmm.State.SavedState Read(byte[] state) => Vmm.State.StateReader.Read(new MemoryStream(state));

    private static List<ulong> DifferingPages(Vmm.Machine.Machine a, Vmm.Machine.Machine b)
    {
        var (pa, pb) = (new byte[4096], new byte[4096]);
        var differing = new List<ulong>();
        for (ulong page = 0; page < a.Config.MemoryBytes; page += 4096)
        {
            Assert.True(a.Memory.TryRead(page, pa) && b.Memory.TryRead(page, pb));
            if (!pa.AsSpan().SequenceEqual(pb))
                differing.Add(page);
        }
        return differing;
    }
}
