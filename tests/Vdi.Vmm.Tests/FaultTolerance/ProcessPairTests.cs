using System.Diagnostics;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Tests.Host;
using Vdi.Vmm.Tests.Migration;
using Vdi.Vmm.Tests.Sandbox;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>
/// A fault-tolerant desktop across sandboxed host processes (<see cref="FaultTolerantDesktop"/>): the primary's process
/// killed while keys are typed — the secondary takes over, everything typed is on its terminal, the viewers' frames go
/// on and protection comes back; the secondary's process killed — the desktop goes on unprotected, then protected
/// again; a failover asked for by hand.
/// </summary>
[Collection(MigrationCollection.Name)]
public sealed class ProcessPairTests
{
    [Fact]
    public async Task Killing_the_primarys_process_while_typing_loses_no_key_and_the_viewers_frames_go_on()
    {
        using var work = VmmProcess.Folder("ft-kill-primary");
        var log = new List<string>();
        await using var desktop = await ProcessPairDriver.StartProtectedAsync(work.Path, log);
        var flushes = 0;
        desktop.Flushed += _ => Interlocked.Increment(ref flushes);
        await ProcessPairDriver.TypeAsync(desktop, "before");
        await ProcessPairDriver.UntilLineAsync(desktop, "before");

        // A display request completes once the screen the viewers see — the secondary's — shows it too.
        await desktop.RequestDisplayAsync(new Vmm.Devices.Display.DisplayProperties(1024, 768, 96));
        Assert.Equal((1024, 768), desktop.Mode);
        var (first, second) = (desktop.Primary, desktop.Secondary!);

        var typing = ProcessPairDriver.TypeAsync(desktop, "during");
        await Task.Delay(30);
        Process.GetProcessById(first.ProcessId!.Value).Kill(); // a crash of the primary's host, mid-word
        await typing;
        await ProcessPairDriver.UntilAsync(() => desktop.Primary == second, desktop, log, "the failover");
        var flushesAtFailover = Volatile.Read(ref flushes);
        await ProcessPairDriver.TypeAsync(desktop, "after");
        await ProcessPairDriver.UntilLineAsync(desktop, "beforeduringafter");
        await ProcessPairDriver.UntilAsync(() => Volatile.Read(ref flushes) > flushesAtFailover, desktop, log, "a frame after the failover");
        Assert.Equal(1, desktop.Failovers);
        Assert.False(desktop.Completion.IsCompleted);

        // Protected again: a new secondary follows the promoted one, and a key typed now shows on both.
        await ProcessPairDriver.UntilAsync(() => desktop.Status.State == "protected" && desktop.Secondary is { } s && s != second, desktop, log, "protection after the failover", 60);
        await ProcessPairDriver.TypeAsync(desktop, "x");
        await ProcessPairDriver.UntilLineAsync(desktop, "beforeduringafterx");
        await ProcessPairDriver.UntilAsync(() => desktop.Status is { HeldOutputs: 0 } s && s.Lag < 50_000_000, desktop, log, "the new secondary catching up");
    }

    [Fact]
    public async Task Killing_the_secondarys_process_leaves_the_desktop_running_unprotected_until_a_new_one_follows()
    {
        using var work = VmmProcess.Folder("ft-kill-secondary");
        var log = new List<string>();
        await using var desktop = await ProcessPairDriver.StartProtectedAsync(work.Path, log);
        var events = new List<string>();
        desktop.Changed += (kind, _) => { lock (events) events.Add(kind); };
        var secondary = desktop.Secondary!;
        Process.GetProcessById(secondary.ProcessId!.Value).Kill();
        await ProcessPairDriver.UntilAsync(() => desktop.SecondariesLost == 1, desktop, log, "the loss of the secondary");
        await ProcessPairDriver.TypeAsync(desktop, "alone");
        await ProcessPairDriver.UntilLineAsync(desktop, "alone");
        await ProcessPairDriver.UntilAsync(() => desktop.Status.State == "protected" && desktop.Secondary != secondary, desktop, log, "a new secondary", 60);
        await ProcessPairDriver.TypeAsync(desktop, "again");
        await ProcessPairDriver.UntilLineAsync(desktop, "aloneagain");
        lock (events)
            Assert.Equal(["secondary-lost", "protected"], events);
        Assert.Equal(0, desktop.Failovers);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_host_that_stops_answering_is_killed_and_replaced(bool primary)
    {
        using var work = VmmProcess.Folder("ft-silent");
        var log = new List<string>();
        await using var desktop = await ProcessPairDriver.StartProtectedAsync(work.Path, log);
        await ProcessPairDriver.TypeAsync(desktop, "one");
        await ProcessPairDriver.UntilLineAsync(desktop, "one");
        var (first, second) = (desktop.Primary, desktop.Secondary!);
        var silent = primary ? first : second;
        using (var stop = Process.Start("kill", $"-STOP {silent.ProcessId}"))
            await stop.WaitForExitAsync(); // alive, but it answers nothing: no heartbeat
        await ProcessPairDriver.TypeAsync(desktop, "two");
        if (primary)
        {
            await ProcessPairDriver.UntilAsync(() => desktop.Primary == second, desktop, log, "the failover", 10);
            Assert.Contains("stopped answering", desktop.Status.LastEvent, StringComparison.Ordinal);
        }
        else
        {
            await ProcessPairDriver.UntilAsync(() => desktop.SecondariesLost == 1, desktop, log, "the silent secondary replaced", 10);
        }
        await ProcessPairDriver.UntilLineAsync(desktop, "onetwo");
        await ProcessPairDriver.UntilAsync(() => desktop.Status.State == "protected" && desktop.Secondary is { } s && s != second, desktop, log, "protection again", 60);
        Assert.True(silent.Completion.IsCompleted, "the silent host was not ended");
    }

    [Fact]
    public async Task A_failover_asked_for_kills_the_primary_and_the_secondary_takes_over()
    {
        using var work = VmmProcess.Folder("ft-ask");
        var log = new List<string>();
        await using var desktop = await ProcessPairDriver.StartProtectedAsync(work.Path, log);
        await ProcessPairDriver.TypeAsync(desktop, "one");
        await ProcessPairDriver.UntilLineAsync(desktop, "one");
        var second = desktop.Secondary!;
        desktop.FailOver("a test asked");
        await ProcessPairDriver.UntilAsync(() => desktop.Primary == second, desktop, log, "the failover");
        Assert.Contains("asked: a test asked", desktop.Status.LastEvent, StringComparison.Ordinal);
        await ProcessPairDriver.TypeAsync(desktop, "two");
        await ProcessPairDriver.UntilLineAsync(desktop, "onetwo");

        // The pair's integrity is the new primary's: its driver registered, and an attack typed now raises an alert.
        Assert.True(desktop.Integrity.Snapshot is { DriverRegistered: true, Level: Vmm.Integrity.IntegrityLevel.Enforce }, $"{desktop.Integrity.Snapshot}");
        await ProcessPairDriver.TypeAsync(desktop, "\nattack idt\n");
        await ProcessPairDriver.UntilAsync(() => desktop.Integrity.Snapshot.Alerts.Count > 0, desktop, log, "an integrity alert from the promoted primary");
        var mode = desktop.Mode!.Value;
        var pixels = new byte[mode.Width * mode.Height * 4];
        Assert.True(desktop.Capture(new GpuRect(0, 0, mode.Width, mode.Height), pixels, mode.Width * 4, out _));
    }
}
