using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Tests.Host;

namespace Vdi.Vmm.Tests.FaultTolerance;

/// <summary>The process tests' fault-tolerant desktop (sandboxed hosts in a test folder) and what they do to it: type, read its terminal, wait.</summary>
internal static class ProcessPairDriver
{
    /// <param name="desktopEngine">The engine of the pair's first primary (a secondary is launched on its primary's).</param>
    public static PairHostLauncher Launcher(string work, List<string> log, EngineChoice desktopEngine = EngineChoice.Software)
    {
        var hosts = 0;
        return async (role, engine, cancellationToken) =>
        {
            Func<RemoteDesktopOptions, RemoteDesktopOptions> configure = o => o with
            {
                MemoryLimitMiB = 2048, CpuLimitPercent = 150, FaultTolerance = role, SocketName = $"host-{Interlocked.Increment(ref hosts)}.sock",
            };
            var config = HostedDesktops.Config(engine == EngineChoice.Auto ? desktopEngine : engine);
            if (config.Engine == EngineChoice.Kvm)
                config = config with { Display = new(640, 480, 96) }; // a KVM that emulates every instruction paints slowly
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

    public static async Task<FaultTolerantDesktop> StartProtectedAsync(string work, List<string> log, EngineChoice engine = EngineChoice.Software)
    {
        var desktop = await FaultTolerantDesktop.CreateAsync(Launcher(work, log, engine), l => { lock (log) log.Add(l); });
        await desktop.StartAsync();
        await UntilAsync(() => desktop.Status is { State: "protected", LastEvent: { } e } && e.StartsWith("protected", StringComparison.Ordinal), desktop, log, "protection");
        return desktop;
    }

    public static async Task TypeAsync(FaultTolerantDesktop desktop, string text)
    {
        foreach (var c in text)
        {
            Assert.True(UsKeyboardLayout.TryMap(c, out var code, out _));
            Assert.True(desktop.SendKey(code, true));
            Assert.True(desktop.SendKey(code, false));
            await Task.Delay(15);
        }
    }

    public static async Task UntilLineAsync(FaultTolerantDesktop desktop, string line)
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

    public static async Task UntilAsync(Func<bool> condition, FaultTolerantDesktop desktop, List<string> log, string what, int seconds = 30)
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
