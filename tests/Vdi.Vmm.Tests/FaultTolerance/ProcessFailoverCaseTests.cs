using System.Diagnostics;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Tests.Migration;
using Vdi.Vmm.Tests.Sandbox;
using static Vdi.Vmm.Tests.FaultTolerance.ProcessPairDriver;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>
/// COLO's failover walkthrough as automated cases, across sandboxed host processes: the primary dies, or the secondary
/// dies, during normal running, during a checkpoint, and while outputs are held. In every case the desktop goes on with
/// everything typed on its terminal once — nothing lost, nothing twice — no output is released twice and none out of
/// order, and protection comes back (a new secondary follows) and works.
/// </summary>
[Collection(MigrationCollection.Name)]
public sealed class ProcessFailoverCaseTests
{
    public enum Where
    {
        Running,
        DuringCheckpoint,
        WhileOutputsHeld,
    }

    [Theory]
    [InlineData(Where.Running)]
    [InlineData(Where.DuringCheckpoint)]
    [InlineData(Where.WhileOutputsHeld)]
    public async Task The_primary_dies(Where where)
    {
        using var work = VmmProcess.Folder("ft-primary-" + where);
        var log = new List<string>();
        await using var desktop = await StartProtectedAsync(work.Path, log);
        var released = Watch(desktop);
        await TypeAsync(desktop, "ab");
        await UntilLineAsync(desktop, "ab");
        var (primary, secondary) = (desktop.Primary, desktop.Secondary!);

        switch (where)
        {
            case Where.Running:
                Kill(primary);
                break;
            case Where.DuringCheckpoint:
                // The old secondary still follows while the checkpoint is sent: it takes over; the new one never runs.
                desktop.TestPoint = point =>
                {
                    if (point == "checkpoint-sending")
                        KillDuringTransfer(primary);
                };
                Assert.False(await desktop.ResynchroniseAsync("a test's checkpoint"));
                desktop.TestPoint = null;
                break;
            case Where.WhileOutputsHeld:
                Assert.True(await secondary.PauseAsync()); // it stops following: the primary's frames wait for it
                await TypeAsync(desktop, "cd");
                await UntilAsync(() => desktop.Status.HeldOutputs > 0, desktop, log, "held outputs");
                Kill(primary);
                await Task.Delay(100);
                await secondary.ResumeAsync(); // it replays what it was fed, then takes over
                break;
        }
        await UntilAsync(() => desktop.Primary == secondary && desktop.Failovers == 1, desktop, log, "the failover");
        var typed = where == Where.WhileOutputsHeld ? "abcd" : "ab";
        await UntilLineAsync(desktop, typed);
        await TypeAsync(desktop, "x");
        await UntilLineAsync(desktop, typed + "x");
        await UntilAsync(() => desktop.Status.State == "protected", desktop, log, "protection again", 60);
        await TypeAsync(desktop, "y");
        await UntilLineAsync(desktop, typed + "xy");
        AssertReleasedOnceInOrder(released);
        Assert.False(desktop.Completion.IsCompleted);
    }

    [Theory]
    [InlineData(Where.Running)]
    [InlineData(Where.DuringCheckpoint)]
    [InlineData(Where.WhileOutputsHeld)]
    public async Task The_secondary_dies(Where where)
    {
        using var work = VmmProcess.Folder("ft-secondary-" + where);
        var log = new List<string>();
        await using var desktop = await StartProtectedAsync(work.Path, log);
        var released = Watch(desktop);
        await TypeAsync(desktop, "ab");
        await UntilLineAsync(desktop, "ab");
        var (primary, secondary) = (desktop.Primary, desktop.Secondary!);
        var typed = "ab";

        switch (where)
        {
            case Where.Running:
                Kill(secondary);
                await UntilAsync(() => desktop.SecondariesLost == 1, desktop, log, "the loss");
                break;
            case Where.DuringCheckpoint:
                // The new secondary dies as it receives: the checkpoint fails, the primary runs on, the old one follows on.
                desktop.TestPoint = point =>
                {
                    if (point == "checkpoint-sending" && desktop.Candidate is { } candidate)
                        KillDuringTransfer(candidate);
                };
                Assert.False(await desktop.ResynchroniseAsync("a test's checkpoint"));
                desktop.TestPoint = null;
                break;
            case Where.WhileOutputsHeld:
                Assert.True(await secondary.PauseAsync());
                await TypeAsync(desktop, "cd");
                typed = "abcd";
                await UntilAsync(() => desktop.Status.HeldOutputs > 0, desktop, log, "held outputs");
                var before = desktop.Comparator.ReleasedCount;
                Kill(secondary);
                await UntilAsync(() => desktop.SecondariesLost == 1, desktop, log, "the loss");
                Assert.True(desktop.Comparator.ReleasedCount > before, "the primary's held outputs were not released when its secondary died");
                break;
        }
        Assert.Same(primary, desktop.Primary);
        Assert.Equal(0, desktop.Failovers);
        await UntilLineAsync(desktop, typed);
        await UntilAsync(() => desktop.Status.State == "protected", desktop, log, "protection again", 60);
        await TypeAsync(desktop, "z");
        await UntilLineAsync(desktop, typed + "z");
        AssertReleasedOnceInOrder(released);

        // Protected by the new secondary: a failover now goes to it and keeps what was typed.
        desktop.FailOver("a test asks after the loss");
        await UntilAsync(() => desktop.Failovers == 1, desktop, log, "a failover to the new secondary");
        await TypeAsync(desktop, "w");
        await UntilLineAsync(desktop, typed + "zw");
    }

    private static void Kill(RemoteDesktop host) => Process.GetProcessById(host.ProcessId!.Value).Kill();

    /// <summary>
    /// Kills the host 15 ms after the checkpoint starts — inside its pre-copy, which takes about 60 ms here — from a
    /// thread of its own: a delay on a thread pool busy with the pair's frames can come after the checkpoint ended.
    /// </summary>
    private static void KillDuringTransfer(RemoteDesktop host) => new Thread(() =>
    {
        Thread.Sleep(15);
        Kill(host);
    }) { IsBackground = true }.Start();

    private static List<GuestOutput> Watch(FaultTolerantDesktop desktop)
    {
        var released = new List<GuestOutput>();
        desktop.Comparator.Released += o =>
        {
            lock (released)
                released.Add(o);
        };
        return released;
    }

    /// <summary>No output released twice, and their counts never go back (a failover resumes where the last release was).</summary>
    private static void AssertReleasedOnceInOrder(List<GuestOutput> released)
    {
        lock (released)
        {
            Assert.NotEmpty(released);
            for (var i = 1; i < released.Count; i++)
                Assert.True(released[i].Count >= released[i - 1].Count, $"released {released[i]} after {released[i - 1]}");
            var twice = released.GroupBy(o => o).FirstOrDefault(g => g.Count() > 1);
            Assert.True(twice is null, $"released twice: {twice?.Key}");
        }
    }
}
