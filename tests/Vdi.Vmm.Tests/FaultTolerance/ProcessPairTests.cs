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
    private static Func<FaultToleranceRole, CancellationToken, Task<RemoteDesktop>> Launcher(string work, List<string> log)
    {
        var hosts = 0;
        return async (role, cancellationToken) =>
        {
            Func<RemoteDesktopOptions, RemoteDesktopOptions> configure = o => o with
            {
                MemoryLimitMiB = 2048, CpuLimitPercent = 150, FaultTolerance = role, SocketName = $"host-{Interlocked.Increment(ref hosts)}.sock",
            };
            var config = HostedDesktops.Config(EngineChoice.Software);
            void Log(string line)
            {
                lock (log)
                    log.Add(line);
            }
            var machine = role == FaultToleranceRole.Secondary
                ? await DesktopMachines.CreateIncomingAsync(config, work, sandbox: true, Log, configure, cancellationToken)
                : await DesktopMachines.CreateAsync(config, work, sandbox: true, Log, configure, cancellationToken);
            return (RemoteDesktop)machine;
        };
    }

    private static async Task<FaultTolerantDesktop> StartProtectedAsync(string work, List<string> log)
    {
        var desktop = await FaultTolerantDesktop.CreateAsync(Launcher(work, log), l => { lock (log) log.Add(l); });
        await desktop.StartAsync();
        await UntilAsync(() => desktop.Status.State == "protected", desktop, log, "protection");
        return desktop;
    }

    [Fact]
    public async Task Killing_the_primarys_process_while_typing_loses_no_key_and_the_viewers_frames_go_on()
    {
        using var work = VmmProcess.Folder("ft-kill-primary");
        var log = new List<string>();
        await using var desktop = await StartProtectedAsync(work.Path, log);
        var flushes = 0;
        desktop.Flushed += _ => Interlocked.Increment(ref flushes);
        await TypeAsync(desktop, "before");
        await UntilLineAsync(desktop, "before");
        var (first, second) = (desktop.Primary, desktop.Secondary!);

        var typing = TypeAsync(desktop, "during");
        await Task.Delay(30);
        Process.GetProcessById(first.ProcessId!.Value).Kill(); // a crash of the primary's host, mid-word
        await typing;
        await UntilAsync(() => desktop.Primary == second, desktop, log, "the failover");
        var flushesAtFailover = Volatile.Read(ref flushes);
        await TypeAsync(desktop, "after");
        await UntilLineAsync(desktop, "beforeduringafter");
        await UntilAsync(() => Volatile.Read(ref flushes) > flushesAtFailover, desktop, log, "a frame after the failover");
        Assert.Equal(1, desktop.Failovers);
        Assert.False(desktop.Completion.IsCompleted);

        // Protected again: a new secondary follows the promoted one, and a key typed now shows on both.
        await UntilAsync(() => desktop.Status.State == "protected" && desktop.Secondary is { } s && s != second, desktop, log, "protection after the failover", 60);
        await TypeAsync(desktop, "x");
        await UntilLineAsync(desktop, "beforeduringafterx");
        await UntilAsync(() => desktop.Status is { HeldOutputs: 0 } s && s.Lag < 50_000_000, desktop, log, "the new secondary catching up");
    }

    [Fact]
    public async Task Killing_the_secondarys_process_leaves_the_desktop_running_unprotected_until_a_new_one_follows()
    {
        using var work = VmmProcess.Folder("ft-kill-secondary");
        var log = new List<string>();
        await using var desktop = await StartProtectedAsync(work.Path, log);
        var events = new List<string>();
        desktop.Changed += (kind, _) => { lock (events) events.Add(kind); };
        var secondary = desktop.Secondary!;
        Process.GetProcessById(secondary.ProcessId!.Value).Kill();
        await UntilAsync(() => desktop.SecondariesLost == 1, desktop, log, "the loss of the secondary");
        await TypeAsync(desktop, "alone");
        await UntilLineAsync(desktop, "alone");
        await UntilAsync(() => desktop.Status.State == "protected" && desktop.Secondary != secondary, desktop, log, "a new secondary", 60);
        await TypeAsync(desktop, "again");
        await UntilLineAsync(desktop, "aloneagain");
        lock (events)
            Assert.Equal(["secondary-lost", "protected"], events);
        Assert.Equal(0, desktop.Failovers);
    }

    [Fact]
    public async Task A_failover_asked_for_kills_the_primary_and_the_secondary_takes_over()
    {
        using var work = VmmProcess.Folder("ft-ask");
        var log = new List<string>();
        await using var desktop = await StartProtectedAsync(work.Path, log);
        await TypeAsync(desktop, "one");
        await UntilLineAsync(desktop, "one");
        var second = desktop.Secondary!;
        desktop.FailOver("a test asked");
        await UntilAsync(() => desktop.Primary == second, desktop, log, "the failover");
        Assert.Contains("asked: a test asked", desktop.Status.LastEvent, StringComparison.Ordinal);
        await TypeAsync(desktop, "two");
        await UntilLineAsync(desktop, "onetwo");
        var mode = desktop.Mode!.Value;
        var pixels = new byte[mode.Width * mode.Height * 4];
        Assert.True(desktop.Capture(new GpuRect(0, 0, mode.Width, mode.Height), pixels, mode.Width * 4, out _));
    }

    private static async Task TypeAsync(FaultTolerantDesktop desktop, string text)
    {
        foreach (var c in text)
        {
            Assert.True(UsKeyboardLayout.TryMap(c, out var code, out _));
            Assert.True(desktop.SendKey(code, true));
            Assert.True(desktop.SendKey(code, false));
            await Task.Delay(15);
        }
    }

    private static async Task UntilLineAsync(FaultTolerantDesktop desktop, string line)
    {
        var image = DesktopGuest.Build();
        DesktopView? view = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            view = await DesktopInspection.ReadAsync(image, (address, length) => desktop.ReadGuestAsync(address, length), DateTimeOffset.UtcNow);
            if (view?.LastLine == line)
                return;
        }
        Assert.Fail($"the terminal's last line is '{view?.LastLine}', not '{line}'");
    }

    private static async Task UntilAsync(Func<bool> condition, FaultTolerantDesktop desktop, List<string> log, string what, int seconds = 30)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); !condition(); await Task.Delay(20))
        {
            if (DateTime.UtcNow > deadline)
            {
                lock (log)
                    Assert.Fail($"no {what} within {seconds} s: {desktop.Status}\n{string.Join('\n', log.TakeLast(40))}");
            }
        }
    }
}
