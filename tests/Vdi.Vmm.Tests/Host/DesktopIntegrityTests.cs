using Iced.Intel;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Tests.Integrity;
using Vdi.Vmm.Tests.Sandbox;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Host;

/// <summary>
/// A desktop's integrity as the broker sees it, in process and served: the status (level, driver, protected set),
/// the alerts of a guest that writes a protected page in a loop — at most the rate limit's worth a second, the rest
/// counted —, and the live Audit ↔ Enforce switch (Off is refused while the desktop runs).
/// </summary>
public sealed class DesktopIntegrityTests
{
    /// <summary>After registering, writes the refused kernel data page for ever: an alert per write.</summary>
    private static Vmm.Machine.Machine FloodingGuest() => IntegrityGuest.Machine(EngineChoice.Software, IntegrityGuest.Build((a, _) =>
    {
        var loop = a.CreateLabel("flood");
        a.mov(rdx, IntegrityGuest.KernelData);
        a.Label(ref loop);
        a.mov(__qword_ptr[rdx], rax);
        a.inc(rax);
        a.jmp(loop);
    }));

    [Fact]
    public async Task In_process_a_flood_of_alerts_is_bounded_and_counted()
    {
        await using var desktop = new LocalDesktop(FloodingGuest());
        await AssertBoundedFloodAsync(desktop, () => desktop.Machine.Start());
    }

    [Fact]
    public async Task Served_a_flood_of_alerts_crosses_the_socket_bounded_and_the_level_changes_live()
    {
        using var work = VmmProcess.Folder("host");
        using var listener = FakeHost.Listen(work.Path, out var path);
        using var scanout = ScanoutWriter.Create(640, 480);
        using var machine = FloodingGuest();
        var served = Task.Run(() =>
        {
            using var connection = listener.Accept();
            using var server = new DesktopHostServer(machine, new FrameChannel((int)connection.SafeHandle.DangerousGetHandle()), scanout, TextWriter.Null);
            return server.Run();
        });
        await using (var desktop = RemoteDesktop.Connect(path))
        {
            // This guest never reports the idle marker, so Started comes late: the alerts come first.
            await AssertBoundedFloodAsync(desktop, () => _ = desktop.StartAsync());
            await WaitForAsync(() => desktop.Integrity.SuppressedAlerts > 0, "the host's count of alerts it did not send");

            Assert.Null(desktop.SetIntegrityLevel(IntegrityLevel.Audit));
            await WaitForAsync(() => machine.Integrity.Level == IntegrityLevel.Audit, "the host's level to change");
            Assert.Equal(IntegrityLevel.Audit, desktop.Integrity.Level);
            await WaitForAsync(() => desktop.Integrity.Snapshot.Alerts[^1].Applied, "an alert whose write landed (audit)");
            Assert.Contains("cannot be switched off", desktop.SetIntegrityLevel(IntegrityLevel.Off), StringComparison.Ordinal);
        }
        await served.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task AssertBoundedFloodAsync(IDesktopMachine desktop, Action start)
    {
        var received = 0;
        desktop.Integrity.AlertRaised += _ => Interlocked.Increment(ref received);
        var started = DateTime.UtcNow;
        start();
        await WaitForAsync(() => desktop.Integrity.Snapshot is { DriverRegistered: true, Protected.Count: 4 }, "the driver's registration");
        Assert.Equal(IntegrityLevel.Enforce, desktop.Integrity.Level);
        Assert.Equal([IntegrityGuest.CodeTag, IntegrityGuest.IdtTag, IntegrityGuest.DataTag, IntegrityGuest.TreeTag], desktop.Integrity.Snapshot.Protected.Select(r => r.Tag));
        await WaitForAsync(() => Volatile.Read(ref received) > 0, "the first alert");
        await Task.Delay(1500);
        var seconds = (DateTime.UtcNow - started).TotalSeconds;
        var integrity = desktop.Integrity.Snapshot;
        Assert.InRange(Volatile.Read(ref received), 1, (int)Math.Ceiling(seconds + 1) * AlertThrottle.DefaultPerSecond);
        var alert = integrity.Alerts[^1];
        Assert.Equal((IntegrityAlertKind.ProtectedPage, ProtectionAction.Refuse, false), (alert.Kind, alert.Action, alert.Applied));
        Assert.Equal(IntegrityGuest.KernelData, alert.Virtual);
        Assert.Equal(8, alert.After.Length);
        Assert.True(integrity.Alerts.Count <= IntegrityFeed.RecentCapacity);
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 300 && !condition(); i++)
            await Task.Delay(20);
        Assert.True(condition(), $"waited 6 s for {what}");
    }
}
