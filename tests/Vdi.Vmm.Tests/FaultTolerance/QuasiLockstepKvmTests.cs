using System.Diagnostics;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Tests.Machine;
using Vdi.Vmm.Tests.Migration;
using Vdi.Vmm.Tests.Sandbox;
using Xunit.Abstractions;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>
/// Quasi-lockstep on KVM: the journal's count is the vCPU's exits, the kernel's timer is not journaled, and the
/// comparison looks at what left in which order, not at the count. A pair follows what is typed, releases the
/// primary's outputs once the secondary produced the same (resyncs allowed: that is what makes it quasi), and when the
/// primary dies the secondary takes over with everything typed — in one process and across sandboxed hosts.
/// </summary>
[Collection(MigrationCollection.Name)]
public sealed class QuasiLockstepKvmTests(ITestOutputHelper output)
{
    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public async Task A_quasi_pair_releases_what_both_produced_and_its_secondary_takes_over_with_everything_typed()
    {
        await using var lockstep = new Lockstep(LockstepDriver.KvmDesktop);
        Assert.False(lockstep.Recording.Exact);
        Assert.False(lockstep.Comparator.ComparesCounts);
        var released = new List<GuestOutput>();
        lockstep.Released += o =>
        {
            lock (released)
                released.Add(o);
        };
        lockstep.Start();
        await LocalDesktop.WhenIdleAsync(lockstep.Primary, TimeSpan.FromSeconds(60));
        await LockstepDriver.TypeAsync(lockstep, "quasi ");
        await LockstepDriver.UntilTypedAsync(lockstep.Primary, "quasi ", 60);
        await UntilSecondaryShowsAsync(lockstep, "quasi ");
        lock (released)
            Assert.Contains(released, o => o.Kind == OutputKind.Frame);
        Assert.True(lockstep.Entries(JournalKind.Key) >= 12, $"{lockstep.Entries(JournalKind.Key)} keys journaled");
        Assert.Equal(0, lockstep.Entries(JournalKind.Timer)); // the kernel's timer: not journaled on KVM

        var (dead, secondary) = (lockstep.Primary, lockstep.Secondary);
        dead.Stop(); // as if its process died
        for (var deadline = DateTime.UtcNow.AddSeconds(60); lockstep.Failovers == 0 || lockstep.Secondary == lockstep.Primary; await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, $"no failover and new secondary: {lockstep.Failovers}, {lockstep.Resyncs}, {lockstep.LastResyncReason}");
        Assert.Same(secondary, lockstep.Primary);
        await LockstepDriver.TypeAsync(lockstep, "after");
        await LockstepDriver.UntilTypedAsync(lockstep.Primary, "quasi after", 60);
        await UntilSecondaryShowsAsync(lockstep, "quasi after");
        lock (released)
        {
            Assert.Equal(released.Count, released.Distinct().Count()); // no output released twice
            output.WriteLine($"released {released.Count} outputs; resyncs {lockstep.Resyncs} ({lockstep.LastResyncReason}); failovers {lockstep.Failovers}");
        }
    }

    [Theory]
    [Trait("Requires", KvmMachines.Trait)]
    [InlineData("memory")]
    [InlineData("unrecorded input")]
    public async Task A_quasi_pair_that_parts_is_caught_by_the_comparison_and_resynchronised(string how)
    {
        await using var lockstep = new Lockstep(LockstepDriver.KvmDesktop);
        lockstep.Start();
        await LocalDesktop.WhenIdleAsync(lockstep.Primary, TimeSpan.FromSeconds(60));
        await LockstepDriver.TypeAsync(lockstep, "one ");
        await UntilSecondaryShowsAsync(lockstep, "one ");
        var (resyncs, secondary) = (lockstep.Resyncs, lockstep.Secondary);
        if (how == "memory")
        {
            // The cursor three columns on, on the secondary alone: its next glyph lands elsewhere.
            Assert.True(secondary.PauseAll(TimeSpan.FromSeconds(10)));
            var column = secondary.Config.Image.Symbol(DesktopGuest.ColumnSymbol);
            secondary.Memory.Write(column, secondary.Memory.Read<uint>(column) + 3);
            secondary.ResumeAll();
            await LockstepDriver.TypeAsync(lockstep, "x");
        }
        else
        {
            Assert.True(UsKeyboardLayout.TryMap('x', out var code, out _));
            lockstep.Recording.SubmitUnrecorded(new KeyInput(code, KeyAction.Press));
            lockstep.Recording.SubmitUnrecorded(new KeyInput(code, KeyAction.Release));
        }
        // A resync replaces the secondary (one under way before the parting, from the boot's own divergence, may count first).
        for (var deadline = DateTime.UtcNow.AddSeconds(60); lockstep.Secondary == secondary || lockstep.Resyncs == resyncs; await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, $"no resync: {lockstep.LastResyncReason}");
        Assert.Contains("outputs differ", lockstep.LastResyncReason, StringComparison.Ordinal);

        await LockstepDriver.TypeAsync(lockstep, " two");
        await LockstepDriver.UntilTypedAsync(lockstep.Primary, "one x two", 60);
        await UntilSecondaryShowsAsync(lockstep, "one x two");
        output.WriteLine($"resyncs {lockstep.Resyncs}: {lockstep.LastResyncReason}");
    }

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public async Task Killing_a_kvm_primarys_process_while_typing_loses_no_key()
    {
        using var work = VmmProcess.Folder("ft-kvm-kill-primary");
        var log = new List<string>();
        await using var desktop = await ProcessPairDriver.StartProtectedAsync(work.Path, log, EngineChoice.Kvm);
        Assert.False(desktop.Primary.IsSoftware);
        Assert.False(desktop.Secondary!.IsSoftware);
        Assert.False(desktop.Comparator.ComparesCounts);
        await ProcessPairDriver.TypeAsync(desktop, "kvm");
        await ProcessPairDriver.UntilLineAsync(desktop, "kvm");
        var (first, second) = (desktop.Primary, desktop.Secondary!);

        var typing = ProcessPairDriver.TypeAsync(desktop, "pair");
        await Task.Delay(30);
        Process.GetProcessById(first.ProcessId!.Value).Kill(); // a crash of the primary's host, mid-word
        await typing;
        await ProcessPairDriver.UntilAsync(() => desktop.Primary == second, desktop, log, "the failover", 60);
        await ProcessPairDriver.TypeAsync(desktop, "on");
        await ProcessPairDriver.UntilLineAsync(desktop, "kvmpairon");
        Assert.Equal(1, desktop.Failovers);
        await ProcessPairDriver.UntilAsync(() => desktop.Status.State == "protected" && desktop.Secondary is { } s && s != second, desktop, log, "protection after the failover", 90);
        output.WriteLine($"{desktop.Status}");
    }

    /// <summary>The secondary — the first, or one a resync made — shows the text, and no primary output is held any more.</summary>
    private static async Task UntilSecondaryShowsAsync(Lockstep lockstep, string text)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(60); ; await Task.Delay(50))
        {
            var secondary = lockstep.Secondary;
            if (secondary != lockstep.Primary && DesktopText.Read(secondary.Config.Image, secondary.Memory).EndsWith(text, StringComparison.Ordinal) && lockstep.Comparator.Held == 0)
                return;
            Assert.True(DateTime.UtcNow < deadline,
                $"the secondary shows '{DesktopText.Read(secondary.Config.Image, secondary.Memory)}', {lockstep.Comparator.Held} held; resyncs {lockstep.Resyncs} ({lockstep.LastResyncReason}); lag {lockstep.Lag} exits");
        }
    }
}
