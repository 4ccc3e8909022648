using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>
/// A desktop recording into its journal and a second one replaying it, in this process: a pump feeds the replay the
/// recorder's entries every 2 ms and hands both sides' outputs to an <see cref="OutputComparator"/>.
/// </summary>
internal sealed class JournaledPair : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<JournalKind> _kinds = [];
    private readonly List<GuestOutput> _released = [];
    private Task _pump = Task.CompletedTask;

    public JournaledPair()
    {
        var config = new MachineConfig { Image = DesktopGuest.Build(), MemoryMiB = 128, Engine = EngineChoice.Software, Display = new(1024, 768, 96) };
        Primary = MachineBuilder.Build(config);
        Secondary = MachineBuilder.Build(config);
        Primary.UseJournal(Recording);
        Secondary.UseJournal(Replay);
        Comparator.Released += o =>
        {
            lock (_released)
                _released.Add(o);
        };
    }

    public Vmm.Machine.Machine Primary { get; }

    public Vmm.Machine.Machine Secondary { get; }

    public ExecutionJournal Recording { get; } = ExecutionJournal.ForRecording();

    public ExecutionJournal Replay { get; } = ExecutionJournal.ForReplay();

    public OutputComparator Comparator { get; } = new();

    public IReadOnlyList<GuestOutput> Released
    {
        get
        {
            lock (_released)
                return [.. _released];
        }
    }

    public bool Recorded(JournalKind kind)
    {
        lock (_kinds)
            return _kinds.Contains(kind);
    }

    /// <summary>Both started, the pump running; returns once the primary's desktop idles.</summary>
    public async Task StartAsync()
    {
        Primary.Start();
        Secondary.Start();
        _pump = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Pump();
                await Task.Delay(2);
            }
        });
        await LocalDesktop.WhenIdleAsync(Primary, TimeSpan.FromSeconds(30));
    }

    /// <summary>Moves the journal's new entries to the replay and both sides' outputs to the comparator.</summary>
    public void Pump()
    {
        var batch = new List<JournalEntry>();
        var safe = Recording.Drain(batch);
        lock (_kinds)
            _kinds.UnionWith(batch.Select(e => e.Kind));
        Replay.Feed(batch, safe);
        var outputs = new List<GuestOutput>();
        Recording.DrainOutputs(outputs);
        Comparator.AddPrimary(outputs);
        outputs.Clear();
        Replay.DrainOutputs(outputs);
        Comparator.AddSecondary(outputs);
    }

    /// <summary>Pauses the primary, stops the pump, lets the secondary catch up to the primary's count and pauses it; returns the count.</summary>
    public async Task<long> PauseBothAsync()
    {
        Assert.True(Primary.PauseAll(TimeSpan.FromSeconds(10)));
        await _stop.CancelAsync();
        await _pump;
        Pump();
        var at = Primary.InstructionsRetired!.Value;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); Secondary.InstructionsRetired < at; await Task.Delay(10))
            Assert.True(DateTime.UtcNow < deadline, $"the secondary is at {Secondary.InstructionsRetired} of {at}; {Secondary.State}, {Secondary.Completion.Status}");
        Assert.True(Secondary.PauseAll(TimeSpan.FromSeconds(10)));
        Pump();
        return at;
    }

    public async Task TypeAsync(string text)
    {
        foreach (var c in text)
        {
            Assert.True(UsKeyboardLayout.TryMap(c, out var code, out _));
            Primary.Submit(new KeyInput(code, KeyAction.Press));
            Primary.Submit(new KeyInput(code, KeyAction.Release));
            await Task.Delay(20);
        }
    }

    public async Task UntilTypedAsync(string text)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !DesktopText.Read(Primary.Config.Image, Primary.Memory).EndsWith(text, StringComparison.Ordinal); await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, $"the primary shows '{DesktopText.Read(Primary.Config.Image, Primary.Memory)}'");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _pump;
        Primary.Stop();
        Secondary.Stop();
        Primary.Dispose();
        Secondary.Dispose();
        Recording.Dispose();
        Replay.Dispose();
        _stop.Dispose();
    }
}
