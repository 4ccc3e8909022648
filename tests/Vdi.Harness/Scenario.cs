using Vdi.Guest.Desktop;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Vmm.Host;

namespace Vdi.Harness;

/// <summary>What every scenario gets: the broker, the built-in desktop, the run length, and helpers.</summary>
internal sealed class Scenario(HarnessBroker broker, DesktopSummary desktop, bool quick)
{
    public HarnessBroker Broker { get; } = broker;

    public DesktopSummary Desktop { get; } = desktop;

    public bool Quick { get; } = quick;

    /// <summary>Where the broker runs its desktops, as the figures' columns say it.</summary>
    public string Label => IsolationLabel(Broker.Isolation);

    /// <summary>How long each steady-state measurement runs.</summary>
    public TimeSpan Window => Quick ? TimeSpan.FromSeconds(1.5) : TimeSpan.FromSeconds(5);

    /// <summary>The built-in desktop's host in the broker.</summary>
    public DesktopHost Host => Broker.Host(Desktop.Id);

    /// <summary>The built-in desktop as the broker reaches it (the motion switch, its mode and DPI), in process or not.</summary>
    public IDesktopMachine Machine => Host.Desktop ?? throw new InvalidOperationException($"desktop {Desktop.Id} is not running");

    public static ClientDisplay Display(int width, int height) => new(width, height, 1);

    public static string IsolationLabel(DesktopIsolation isolation) => isolation == DesktopIsolation.Process ? "out of process" : "in process";

    /// <summary>The top bar's height in device pixels at the desktop's current mode and DPI (the clock lives there).</summary>
    public int TopBarHeight() => DesktopGuest.TopBarUnits * TopBar().Unit;

    /// <summary>The top bar's clock (it changes once a second), in device pixels at the desktop's current mode.</summary>
    public Vmm.Devices.Gpu.GpuRect ClockArea()
    {
        var (unit, x) = TopBar();
        return new(x, 0, DesktopGuest.ClockWidthUnits * unit, DesktopGuest.TopBarUnits * unit);
    }

    /// <summary>
    /// The top bar's unit and clock position, computed from the mode and DPI the desktop reports as the guest computes
    /// them (out of process there is no guest memory to read). In process, checked against the guest's own values.
    /// </summary>
    private (int Unit, int ClockX) TopBar()
    {
        var machine = Machine;
        var (width, height) = machine.Mode ?? throw new InvalidOperationException("the desktop shows no scanout");
        var dpi = (int)Math.Round(machine.Dpi);
        var computed = DesktopGuest.TopBar(width, height, dpi);
        if (Host.LocalMachine is { } local)
        {
            uint Read(string symbol) => local.Memory.Read<uint>(local.Config.Image.Symbol(symbol));
            var guest = ((int)Read(DesktopGuest.UnitSymbol), (int)Read(DesktopGuest.ClockXSymbol));
            if (guest != computed || Read(DesktopGuest.DpiSymbol) != dpi)
                throw new InvalidOperationException($"the top bar computed for {width}x{height} at {dpi} dpi, {computed}, is not the guest's: {guest} at {Read(DesktopGuest.DpiSymbol)} dpi");
        }
        return computed;
    }

    /// <summary>A viewer that controls the desktop's display, connected and shown its first frame.</summary>
    public async Task<HubViewer> ControllerAsync(int width, int height, bool paint = true)
    {
        var viewer = await HubViewer.ConnectAsync(Broker, await Broker.SessionTokenAsync(Desktop.Id, Display(width, height)), Display(width, height), paint);
        await viewer.FrameOfAsync(width, height);
        return viewer;
    }

    /// <summary>Waits until the desktop has sent nothing for <paramref name="quiet"/> (lossless refreshes done), clock ticks aside.</summary>
    public static async Task SettleAsync(HubViewer viewer, int topBar, TimeSpan? quiet = null)
    {
        var span = quiet ?? TimeSpan.FromMilliseconds(400);
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline;)
        {
            var count = viewer.Frames.Count(f => f.MinY >= topBar);
            await Task.Delay(span);
            if (viewer.Frames.Count(f => f.MinY >= topBar) == count)
                return;
        }
    }
}
