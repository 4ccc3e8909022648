using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Sandbox;

namespace Vdi.Vmm.Tests.Host;

/// <summary>The broker's view of a desktop in this process: the same test body as <see cref="RemoteDesktopContractTests"/>.</summary>
public sealed class LocalDesktopContractTests : DesktopContractTests
{
    private protected override Task<IDesktopMachine> CreateAsync(string work) => DesktopMachines.CreateAsync(HostedDesktops.Config(EngineChoice.Software), hostDirectory: null);
}

/// <summary>The broker's view of a desktop in a `vdi-vmm serve` process of its own: the same test body as the local one.</summary>
public sealed class RemoteDesktopContractTests : DesktopContractTests
{
    private protected override Task<IDesktopMachine> CreateAsync(string work) => DesktopMachines.CreateAsync(HostedDesktops.Config(EngineChoice.Software), work, sandbox: false);
}

/// <summary>The served desktop on KVM (where KVM emulates every instruction a repaint takes about a second).</summary>
[Trait("Requires", Machine.KvmMachines.Trait)]
public sealed class KvmRemoteDesktopContractTests : DesktopContractTests
{
    private protected override Task<IDesktopMachine> CreateAsync(string work) => DesktopMachines.CreateAsync(HostedDesktops.Config(EngineChoice.Kvm), work, sandbox: false);
}

/// <summary>
/// One functional test of <see cref="IDesktopMachine"/>, run against both implementations: the desktop starts, shows
/// the requested display (read back through <see cref="IDesktopMachine.Capture"/>), types "hello", follows the pointer
/// and powers off on stop.
/// </summary>
public abstract class DesktopContractTests
{
    private protected abstract Task<IDesktopMachine> CreateAsync(string work);

    [Fact]
    public async Task Shows_the_display_types_follows_the_pointer_and_powers_off()
    {
        using var work = VmmProcess.Folder("host");
        await using var desktop = await CreateAsync(work.Path);
        var flushes = new List<ScanoutFlush>();
        var moves = new List<(int, int)>();
        desktop.Flushed += f => { lock (flushes) flushes.Add(f); };
        desktop.CursorMoved += (x, y) => { lock (moves) moves.Add((x, y)); };

        await desktop.StartAsync();
        var mode = new DisplayProperties(1280, 720, 96);
        var ack = await desktop.RequestDisplayAsync(mode, TimeSpan.FromSeconds(30));
        Assert.Equal(mode, ack.Properties);
        Assert.Equal((1280, 720), desktop.Mode);
        Assert.Equal(96, desktop.Dpi);

        var before = HostedDesktops.CaptureAll(desktop, 1280, 720);
        // The top bar: one colour across the full width at its first row, different from the terminal below.
        Assert.Equal(before.ArgbAt(0, 0), before.ArgbAt(1279, 0));
        Assert.NotEqual(before.ArgbAt(0, 0), before.ArgbAt(640, 400));
        Assert.False(desktop.Capture(new GpuRect(0, 0, 1281, 720), new byte[1281 * 720 * 4], 1281 * 4, out _), "a region beyond the scanout is refused");
        await HostedDesktops.UntilAsync(() => desktop.Cursor is { Pixels: not null }, "the guest's cursor image");
        Assert.InRange(desktop.Cursor!.Width, 1, 256);
        Assert.Contains(desktop.Cursor.Pixels!, b => b != 0);

        lock (flushes)
            flushes.Clear();
        foreach (var c in "hello")
        {
            Assert.True(UsKeyboardLayout.TryMap(c, out var code, out _));
            Assert.True(desktop.SendKey(code, true));
            Assert.True(desktop.SendKey(code, false));
        }
        await HostedDesktops.UntilAsync(() => { lock (flushes) return flushes.Any(f => f.Damage.Y > 0 && !f.IsFullFrame); }, "a flush of the typed text");
        await Task.Delay(300); // the rest of the word
        var after = HostedDesktops.CaptureAll(desktop, 1280, 720);
        Assert.True(HostedDesktops.Changed(before, after, new GpuRect(18, 60, 72, 20)) > 50, "'hello' is not drawn on the terminal's first line");

        Assert.True(desktop.SendPointer(640, 360, PointerButtons.None));
        await HostedDesktops.UntilAsync(() => { lock (moves) return moves.Contains((640, 360)); }, "the cursor moving to (640, 360)");

        var exit = await desktop.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(DesktopExitKind.PoweredOff, exit.Kind);
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal(exit, await desktop.Completion);
    }

    [Fact]
    public async Task Pause_holds_the_guest_and_resume_lets_it_run_again()
    {
        using var work = VmmProcess.Folder("host");
        await using var desktop = await CreateAsync(work.Path);
        var flushes = 0;
        desktop.Flushed += _ => Interlocked.Increment(ref flushes);
        await desktop.StartAsync();
        await desktop.RequestDisplayAsync(new DisplayProperties(800, 600), TimeSpan.FromSeconds(30));

        Assert.True(await desktop.PauseAsync());
        await Task.Delay(300); // what was under way when the pause arrived
        var paused = Volatile.Read(ref flushes);
        await Task.Delay(2500); // the top bar's clock repaints every second while running
        Assert.Equal(paused, Volatile.Read(ref flushes));

        Assert.False(await desktop.PauseAsync(), "a paused machine cannot be paused again");
        await desktop.ResumeAsync();
        await HostedDesktops.UntilAsync(() => Volatile.Read(ref flushes) > paused, "a flush after resume");
        Assert.True(desktop.SendKey(30, true) && desktop.SendKey(30, false));
        await HostedDesktops.UntilAsync(() => Volatile.Read(ref flushes) > paused + 1, "a flush of the key after resume");
    }

    [Fact]
    public async Task The_guest_is_read_by_virtual_address_and_a_fault_reads_as_nothing()
    {
        using var work = VmmProcess.Folder("host");
        await using var desktop = await CreateAsync(work.Path);
        await desktop.StartAsync();
        foreach (var c in "hello")
        {
            Assert.True(UsKeyboardLayout.TryMap(c, out var code, out _));
            Assert.True(desktop.SendKey(code, true));
            Assert.True(desktop.SendKey(code, false));
        }

        var image = DesktopGuest.Build();
        DesktopView? view = null;
        await HostedDesktops.UntilAsync(() =>
        {
            view = DesktopInspection.ReadAsync(image, (address, length) => desktop.ReadGuestAsync(address, length), DateTimeOffset.UtcNow).GetAwaiter().GetResult();
            return view?.LastLine == "hello";
        }, "'hello' read from inside the guest", 30);
        Assert.InRange(view!.Uptime, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        Assert.Null(await desktop.ReadGuestAsync(0x7FFF_0000_0000, 8)); // not mapped by the guest's tables
        Assert.Null(await desktop.ReadGuestAsync(0xFFFF_8000_0000_0000 - 0x1000, 16)); // non-canonical
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => desktop.ReadGuestAsync(image.Symbol(DesktopGuest.TextSymbol), 0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => desktop.ReadGuestAsync(image.Symbol(DesktopGuest.TextSymbol), ReadGuestMessage.MaxLength + 1));
        Assert.Equal(MachineState.Running, desktop is LocalDesktop local ? local.Machine.State : MachineState.Running);
    }

    [Fact]
    public async Task A_display_beyond_the_largest_mode_is_refused_naming_the_field()
    {
        using var work = VmmProcess.Folder("host");
        await using var desktop = await CreateAsync(work.Path);
        await desktop.StartAsync();
        var e = await Assert.ThrowsAsync<ArgumentException>(() => desktop.RequestDisplayAsync(new DisplayProperties(3841, 1080), TimeSpan.FromSeconds(5)));
        Assert.Contains("Width", e.Message, StringComparison.Ordinal);
        var ack = await desktop.RequestDisplayAsync(new DisplayProperties(3840, 2160, 192), TimeSpan.FromSeconds(60));
        Assert.Equal((3840, 2160), desktop.Mode);
        Assert.Equal(192, ack.Properties.Dpi);
    }
}

internal static class HostedDesktops
{
    /// <summary>The desktop a host process runs, as a machine configuration.</summary>
    public static MachineConfig Config(EngineChoice engine) => new()
    {
        MemoryMiB = 512, Image = DesktopGuest.Build(), Engine = engine, Gpu = new GpuOptions { MaxWidth = 3840, MaxHeight = 2160 },
    };

    public static LocalDesktop Local() => LocalDesktop.Build(Config(EngineChoice.Software));

    public static Task<RemoteDesktop> LaunchAsync(string work, bool sandbox = false, bool testHooks = false, Action<string>? log = null, EngineChoice engine = EngineChoice.Software, int? arenaKiB = null) =>
        RemoteDesktop.LaunchAsync(new RemoteDesktopOptions
        {
            WorkDirectory = work, Engine = engine, Sandbox = sandbox, TestHooks = testHooks, MemoryLimitMiB = sandbox ? 2048 : 0, CpuLimitPercent = sandbox ? 150 : 0, Log = log,
            ArenaKiB = arenaKiB,
        });

    public static ScanoutSnapshot CaptureAll(IDesktopMachine desktop, int width, int height)
    {
        var pixels = new byte[width * height * 4];
        Assert.True(desktop.Capture(new GpuRect(0, 0, width, height), pixels, width * 4, out var format), "no scanout to capture");
        return new ScanoutSnapshot(width, height, format, pixels);
    }

    public static int Changed(ScanoutSnapshot a, ScanoutSnapshot b, GpuRect area)
    {
        var changed = 0;
        for (var y = area.Y; y < area.Y + area.Height; y++)
        {
            for (var x = area.X; x < area.X + area.Width; x++)
                changed += a.ArgbAt(x, y) != b.ArgbAt(x, y) ? 1 : 0;
        }
        return changed;
    }

    public static async Task UntilAsync(Func<bool> condition, string what, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"no {what} within {seconds} s");
            await Task.Delay(10);
        }
    }
}
