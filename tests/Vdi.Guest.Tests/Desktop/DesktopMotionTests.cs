using Vdi.Guest.Desktop;
using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Xunit.Abstractions;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>The workload mode: the host switches a 60 Hz full-motion panel over the bottom-right quadrant on and off.</summary>
public sealed class DesktopMotionTests(ITestOutputHelper output)
{
    private static readonly DisplayProperties s_vga = new(640, 480, 96);

    [Fact]
    public void Each_tick_redraws_every_pixel_of_the_panel_and_flushes_only_the_panel()
    {
        using var desktop = new DesktopHarness(s_vga);
        var desktopFrame = desktop.Capture();
        desktop.Flushes.Clear();

        desktop.SetMotion(true);
        Assert.Equal(1u, desktop.Symbol(DesktopGuest.MotionOnSymbol));
        Assert.Equal(DesktopInterruptEmitter.MotionTimerPeriod, desktop.TimerInitialCount);
        Assert.Equal(16_666_667u, DesktopInterruptEmitter.MotionTimerPeriod);
        Assert.Empty(desktop.Flushes); // frames come with the ticks

        var panel = Panel(640, 480);
        Assert.Equal(new GpuRect(320, 240, 320, 240), panel);
        var previous = desktopFrame;
        for (var tick = 1; tick <= 4; tick++)
        {
            desktop.Tick();
            Assert.Equal(tick, desktop.Flushes.Count);
            Assert.Equal(panel, desktop.Flushes[^1].Damage);
            Assert.Equal((uint)tick, desktop.Symbol(DesktopGuest.MotionFramesSymbol));
            var frame = desktop.Capture();
            Assert.Equal(panel.Width * panel.Height, DesktopHarness.ChangedPixels(previous, frame, panel));
            Assert.Equal(0, DesktopHarness.ChangedPixels(desktopFrame, frame, new GpuRect(0, 0, 640, 480)) - DesktopHarness.ChangedPixels(desktopFrame, frame, panel));
            AssertBands(frame, panel);
            previous = frame;
        }
    }

    [Fact]
    public void The_clock_still_redraws_once_every_60_ticks()
    {
        using var desktop = new DesktopHarness(s_vga);
        var clock = ClockRect(desktop);
        desktop.SetMotion(true);
        var panel = Panel(640, 480);

        desktop.Tick(59);
        Assert.Equal(59, desktop.Flushes.Count(f => f.Damage == panel));
        Assert.DoesNotContain(desktop.Flushes, f => f.Damage == clock);
        desktop.Tick();
        Assert.Equal(clock, desktop.Flushes[^1].Damage);
        Assert.Equal(panel, desktop.Flushes[^2].Damage);
        desktop.Tick(60);
        Assert.Equal(2, desktop.Flushes.Count(f => f.Damage == clock));
        Assert.Equal(1 + 120 + 2, desktop.Flushes.Count); // the boot frame, 120 panels, two clocks
    }

    [Fact]
    public void Ticks_that_pile_up_draw_one_frame_and_still_count_for_the_clock()
    {
        using var desktop = new DesktopHarness(s_vga);
        desktop.SetMotion(true);
        desktop.Tick(58);
        desktop.Flushes.Clear();
        // Two ticks before the guest wakes: one late frame, and the clock is due.
        desktop.Machine.Cpu.PostInterrupt(DesktopInterruptEmitter.TimerVector);
        desktop.Machine.Cpu.Step(); // delivered: the handler counts it
        desktop.Machine.Cpu.PostInterrupt(DesktopInterruptEmitter.TimerVector);
        desktop.Machine.RunUntilIdle();
        Assert.Equal(new[] { Panel(640, 480), ClockRect(desktop) }, desktop.Flushes.Select(f => f.Damage));
    }

    [Fact]
    public void Switching_off_restores_the_one_second_timer_and_repaints_the_whole_desktop()
    {
        using var desktop = new DesktopHarness(s_vga);
        var desktopFrame = desktop.Capture();
        desktop.SetMotion(true);
        desktop.Tick(3);
        desktop.Flushes.Clear();

        desktop.SetMotion(false);

        Assert.Equal(0u, desktop.Symbol(DesktopGuest.MotionOnSymbol));
        Assert.Equal(DesktopInterruptEmitter.TimerPeriod, desktop.TimerInitialCount);
        Assert.True(Assert.Single(desktop.Flushes).IsFullFrame);
        Assert.Equal(desktopFrame.Pixels, desktop.Capture().Pixels);

        desktop.Tick(); // back to one tick a second: the clock only
        Assert.Equal(ClockRect(desktop), desktop.Flushes[^1].Damage);
        Assert.Equal(3u, desktop.Symbol(DesktopGuest.MotionFramesSymbol));
    }

    [Fact]
    public void Asking_twice_changes_nothing_the_second_time()
    {
        using var desktop = new DesktopHarness(s_vga);
        desktop.SetMotion(false);
        Assert.Single(desktop.Flushes); // off while off: no repaint
        desktop.SetMotion(true);
        desktop.Tick(30);
        desktop.SetMotion(true); // on while on: the clock's count goes on
        desktop.Tick(30);
        Assert.Contains(desktop.Flushes, f => f.Damage == ClockRect(desktop));
    }

    [Fact]
    public async Task A_mode_change_keeps_motion_on_and_the_panel_follows_the_new_quadrant()
    {
        using var desktop = new DesktopHarness(s_vga);
        desktop.SetMotion(true);
        desktop.Tick(2);

        await desktop.RequestAsync(new DisplayProperties(1024, 768, 96));
        var panel = Panel(1024, 768);
        Assert.True(desktop.Flushes[^1].IsFullFrame);
        AssertBands(desktop.Capture(), panel); // the new mode's first frame already shows the panel
        var shown = desktop.Capture();
        desktop.Flushes.Clear();

        desktop.Tick();
        Assert.Equal(panel, Assert.Single(desktop.Flushes).Damage);
        Assert.Equal(1u, desktop.Symbol(DesktopGuest.MotionOnSymbol));
        Assert.Equal(DesktopInterruptEmitter.MotionTimerPeriod, desktop.TimerInitialCount);
        var frame = desktop.Capture();
        Assert.Equal(panel.Width * panel.Height, DesktopHarness.ChangedPixels(shown, frame, panel));
        Assert.Equal(0, DesktopHarness.ChangedPixels(shown, frame, new GpuRect(0, 0, 1024, 768)) - DesktopHarness.ChangedPixels(shown, frame, panel));
    }

    [Fact]
    public void A_power_off_request_still_powers_off_with_motion_on()
    {
        using var desktop = new DesktopHarness(s_vga);
        desktop.SetMotion(true);
        desktop.Tick();
        Assert.True(desktop.Machine.Devices.Power.PostRequest(PortMap.HostRequestPowerOff));
        Assert.Equal(EmulationOutcome.PoweredOff, desktop.Machine.Run());
        Assert.Equal(0, desktop.Machine.ExitCode);
        Assert.EndsWith("power off\n", desktop.Machine.Serial, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_requests_are_ignored_and_requests_are_served_in_order()
    {
        using var desktop = new DesktopHarness(s_vga);
        var serial = desktop.Machine.Serial;
        var power = desktop.Machine.Devices.Power;
        Assert.True(power.PostRequest(4));
        Assert.True(power.PostRequest(0xFF));
        desktop.Machine.RunUntilIdle();
        Assert.Single(desktop.Flushes);
        Assert.Equal(0u, desktop.Symbol(DesktopGuest.MotionOnSymbol));
        Assert.Equal(serial, desktop.Machine.Serial);
        Assert.Equal(0, power.PendingRequests);

        // Posted back to back, before the guest runs: all three are seen, in order.
        Assert.True(power.PostRequest(PortMap.HostRequestMotionOn));
        Assert.True(power.PostRequest(9));
        Assert.True(power.PostRequest(PortMap.HostRequestMotionOff));
        desktop.Machine.RunUntilIdle();
        Assert.Equal(0u, desktop.Symbol(DesktopGuest.MotionOnSymbol));
        Assert.Equal(DesktopInterruptEmitter.TimerPeriod, desktop.TimerInitialCount);
    }

    [Fact]
    public void One_motion_frame_at_1080p_is_a_few_thousand_instructions()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(1920, 1080, 96));
        desktop.SetMotion(true);
        desktop.Tick(); // warm: the first frame takes the same path, but keep the measured one typical
        var cpu = desktop.Machine.Cpu;
        var before = cpu.InstructionsRetired;
        desktop.Tick();
        var perFrame = cpu.InstructionsRetired - before;
        // Measured: 6,208 instructions from the tick to the next hlt (5,940 of them the 540 row fills, 11 each).
        output.WriteLine($"one motion frame at 1920x1080 (960x540 panel, one rep stosd per row, transfer + flush): {perFrame} instructions");
        Assert.Equal(Panel(1920, 1080), desktop.Flushes[^1].Damage);
        Assert.InRange(perFrame, 540, 30_000);
    }

    internal static GpuRect Panel(int width, int height)
    {
        var (x, y, w, h) = DesktopGuest.MotionPanel(width, height);
        return new GpuRect(x, y, w, h);
    }

    private static GpuRect ClockRect(DesktopHarness desktop)
    {
        var unit = desktop.Unit;
        // "640x480  96 dpi  " is 17 cells after the 3-unit margin.
        return new GpuRect((DesktopLayout.BarTextX + (17 * DesktopFont.CellColumns)) * unit, DesktopLayout.BarTextY * unit, DesktopLayout.ClockCells * DesktopFont.CellColumns * unit, DesktopFont.CellRows * unit);
    }

    /// <summary>Every row of the panel is one colour, and the rows form bands of <see cref="MotionEmitter.BandRows"/>.</summary>
    internal static void AssertBands(ScanoutSnapshot frame, GpuRect panel)
    {
        for (var y = panel.Y; y < panel.Y + panel.Height; y++)
        {
            var colour = frame.ArgbAt(panel.X, y);
            Assert.Equal(colour, frame.ArgbAt(panel.X + panel.Width - 1, y));
            Assert.Equal(colour, frame.ArgbAt(panel.X + (panel.Width / 2), y));
        }
        var distinct = Enumerable.Range(panel.Y, panel.Height).Select(y => frame.ArgbAt(panel.X, y)).Distinct().Count();
        Assert.InRange(distinct, panel.Height / MotionEmitter.BandRows, (panel.Height / MotionEmitter.BandRows) + 1);
    }
}
