using Vdi.Protocol;
using Vdi.Vmm.Guest.Desktop;

namespace Vdi.Harness;

/// <summary>What every scenario gets: the broker, the built-in desktop, the run length, and helpers.</summary>
internal sealed class Scenario(HarnessBroker broker, DesktopSummary desktop, bool quick)
{
    public HarnessBroker Broker { get; } = broker;

    public DesktopSummary Desktop { get; } = desktop;

    public bool Quick { get; } = quick;

    /// <summary>How long each steady-state measurement runs.</summary>
    public TimeSpan Window => Quick ? TimeSpan.FromSeconds(1.5) : TimeSpan.FromSeconds(5);

    public Vmm.Machine.Machine Machine => Broker.Machine(Desktop.Id);

    public static ClientDisplay Display(int width, int height) => new(width, height, 1);

    /// <summary>The top bar's height in device pixels at the desktop's current DPI (the clock lives there).</summary>
    public int TopBarHeight()
    {
        var unit = Machine.Memory.Read<uint>(Machine.Config.Image.Symbol(DesktopGuest.UnitSymbol));
        return DesktopGuest.TopBarUnits * (int)unit;
    }

    /// <summary>The top bar's clock (it changes once a second), in device pixels at the desktop's current mode.</summary>
    public Vmm.Devices.Gpu.GpuRect ClockArea()
    {
        var unit = (int)Machine.Memory.Read<uint>(Machine.Config.Image.Symbol(DesktopGuest.UnitSymbol));
        var x = (int)Machine.Memory.Read<uint>(Machine.Config.Image.Symbol(DesktopGuest.ClockXSymbol));
        return new(x, 0, DesktopGuest.ClockWidthUnits * unit, TopBarHeight());
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
