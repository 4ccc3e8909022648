using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;
using Vdi.Vmm.Migration;
using Vdi.Vmm.Tests.Sandbox;

namespace Vdi.Vmm.Tests.Host;

/// <summary>Live migration between two desktops in this process (the same test body as <see cref="RemoteDesktopMigrationTests"/>).</summary>
public sealed class LocalDesktopMigrationTests : DesktopMigrationTests
{
    private protected override Task<IDesktopMachine> CreateAsync(string work, bool incoming, string? socketName = null) => incoming
        ? DesktopMachines.CreateIncomingAsync(HostedDesktops.Config(EngineChoice.Software), hostDirectory: null)
        : DesktopMachines.CreateAsync(HostedDesktops.Config(EngineChoice.Software), hostDirectory: null);
}

/// <summary>Live migration between two sandboxed `vdi-vmm serve` processes: the source sends over the socket it is handed,
/// the destination (`--incoming`) receives on the loopback listener it made before its sandbox.</summary>
public sealed class RemoteDesktopMigrationTests : DesktopMigrationTests
{
    private protected override Task<IDesktopMachine> CreateAsync(string work, bool incoming, string? socketName = null)
    {
        Func<RemoteDesktopOptions, RemoteDesktopOptions> configure = o => o with
        {
            MemoryLimitMiB = 2048, CpuLimitPercent = 150, SocketName = socketName ?? (incoming ? "incoming.sock" : "host.sock"),
        };
        return incoming
            ? DesktopMachines.CreateIncomingAsync(HostedDesktops.Config(EngineChoice.Software), work, sandbox: true, configure: configure)
            : DesktopMachines.CreateAsync(HostedDesktops.Config(EngineChoice.Software), work, sandbox: true, configure: configure);
    }
}

/// <summary>
/// A running desktop moves to a receiving one with the real <see cref="MigrationSource"/> and <see cref="MigrationTarget"/>:
/// what was typed before is on the destination's terminal, what is typed after lands there too, and it paints; a
/// connection without the token is refused and the source runs on.
/// </summary>
public abstract class DesktopMigrationTests
{
    private protected abstract Task<IDesktopMachine> CreateAsync(string work, bool incoming, string? socketName = null);

    [Fact]
    public async Task A_running_desktop_moves_and_keeps_its_terminal_and_takes_input_after()
    {
        using var work = VmmProcess.Folder("migrate");
        await using var source = await CreateAsync(work.Path, incoming: false);
        await source.StartAsync();
        await TypeAsync(source, "hello");
        await UntilLineAsync(source, "hello");

        await using var destination = await CreateAsync(work.Path, incoming: true);
        var token = MigrateListenMessage.NewToken();
        var incoming = await destination.AcceptMigrationAsync(token);
        var phases = new List<string>();
        var outcome = await source.MigrateToAsync(incoming.Endpoint, token, new MigrationOptions { DowntimeTarget = TimeSpan.FromMilliseconds(50) },
            new Progress(p => { lock (phases) phases.Add(p.Phase); }));
        Assert.True(outcome.Succeeded, outcome.Error);
        var received = await incoming.Received.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(received.Succeeded, received.Error);
        Assert.True(outcome.PagesSent > 0 && outcome.StateBytes > 0, outcome.ToString());
        lock (phases)
            Assert.Contains("copying", phases);

        var flushes = 0;
        destination.Flushed += _ => Interlocked.Increment(ref flushes);
        await UntilLineAsync(destination, "hello");
        await TypeAsync(destination, " world");
        await UntilLineAsync(destination, "hello world");
        await HostedDesktops.UntilAsync(() => Volatile.Read(ref flushes) > 0, "a flush from the destination");
        Assert.NotNull(destination.Mode);
        var (width, height) = destination.Mode!.Value;
        Assert.True(destination.Capture(new GpuRect(0, 0, width, height), new byte[width * height * 4], width * 4, out _));
        Assert.Equal(DesktopExitKind.Stopped, (await source.StopAsync(TimeSpan.FromSeconds(5))).Kind);

        // A received desktop moves on like any other.
        await using var third = await CreateAsync(work.Path, incoming: true, "third.sock");
        var again = await third.AcceptMigrationAsync(token);
        var second = await destination.MigrateToAsync(again.Endpoint, token, new MigrationOptions(), null);
        Assert.True(second.Succeeded, second.Error);
        Assert.True((await again.Received.WaitAsync(TimeSpan.FromSeconds(30))).Succeeded);
        await TypeAsync(third, "x");
        await UntilLineAsync(third, "hello worldx");
    }

    [Fact]
    public async Task A_connection_without_the_token_is_refused_and_the_source_runs_on()
    {
        using var work = VmmProcess.Folder("migrate");
        await using var source = await CreateAsync(work.Path, incoming: false);
        await source.StartAsync();
        await using var destination = await CreateAsync(work.Path, incoming: true);
        var incoming = await destination.AcceptMigrationAsync(MigrateListenMessage.NewToken());

        var outcome = await source.MigrateToAsync(incoming.Endpoint, MigrateListenMessage.NewToken(), new MigrationOptions(), null);
        Assert.False(outcome.Succeeded);
        var received = await incoming.Received.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(received.Succeeded);
        Assert.Contains("token", received.Error, StringComparison.Ordinal);

        await TypeAsync(source, "still");
        await UntilLineAsync(source, "still");
    }

    private static async Task TypeAsync(IDesktopMachine desktop, string text)
    {
        foreach (var c in text)
        {
            Assert.True(UsKeyboardLayout.TryMap(c, out var code, out var shift));
            Assert.False(shift);
            Assert.True(desktop.SendKey(code, true));
            Assert.True(desktop.SendKey(code, false));
            await Task.Delay(5);
        }
    }

    private static async Task UntilLineAsync(IDesktopMachine desktop, string line)
    {
        var image = DesktopGuest.Build();
        DesktopView? view = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            view = await DesktopInspection.ReadAsync(image, (address, length) => desktop.ReadGuestAsync(address, length), DateTimeOffset.UtcNow);
            if (view?.LastLine == line)
                return;
            await Task.Delay(50);
        }
        Assert.Fail($"the terminal's last line is '{view?.LastLine}', not '{line}'");
    }

    private sealed class Progress(Action<MigrationProgress> report) : IProgress<MigrationProgress>
    {
        public void Report(MigrationProgress value) => report(value);
    }
}
