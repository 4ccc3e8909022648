using Vdi.Guest.Desktop;
using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>The clock (timer tick → its own rectangle only), interrupt plumbing, and host power-off.</summary>
public sealed class DesktopClockAndPowerTests
{
    [Fact]
    public void The_top_bar_shows_the_utc_time_from_the_wall_clock_hypercall()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        var unit = desktop.Unit;
        // "640x480  96 dpi  " is 17 cells after the 3-unit margin.
        var clock = new GpuRect((DesktopLayout.BarTextX + (17 * DesktopFont.CellColumns)) * unit, DesktopLayout.BarTextY * unit, 0, 0);
        AssertText(desktop.Capture(), clock.X, clock.Y, unit, DesktopHarness.Now.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_timer_tick_redraws_and_flushes_only_the_clock()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        desktop.Flushes.Clear();
        desktop.Machine.Cpu.PostInterrupt(DesktopInterruptEmitter.TimerVector);
        desktop.Machine.RunUntilIdle();

        var unit = desktop.Unit;
        var flush = Assert.Single(desktop.Flushes);
        Assert.Equal(
            new GpuRect((DesktopLayout.BarTextX + (17 * DesktopFont.CellColumns)) * unit, DesktopLayout.BarTextY * unit, DesktopLayout.ClockCells * DesktopFont.CellColumns * unit, DesktopFont.CellRows * unit),
            flush.Damage);
    }

    [Fact]
    public void Virtio_pins_are_level_triggered_and_left_low_and_the_timer_runs_each_second()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        var machine = desktop.Machine;
        desktop.Type(30);
        foreach (var (slot, vector) in new[] { (MmioMap.GpuSlot, DesktopInterruptEmitter.GpuVector), (MmioMap.KeyboardSlot, DesktopInterruptEmitter.KeyboardVector), (MmioMap.TabletSlot, DesktopInterruptEmitter.TabletVector) })
        {
            var pin = MmioMap.VirtioGsi(slot);
            Assert.Equal(vector | ApicRegisters.RedirectionLevelTriggered, machine.IoApic.RedirectionLow(pin));
            Assert.False(machine.IoApic.LineLevel(pin), $"pin {pin} still high: its interrupt was not acknowledged");
        }
        Assert.Contains(DesktopInterruptEmitter.KeyboardVector, machine.IoApic.Delivered);
        Assert.Contains(DesktopInterruptEmitter.GpuVector, machine.IoApic.Delivered);
        Assert.False(machine.Cpu.HasInterruptInService);

        var apic = machine.Cpu.LocalApicWrites;
        Assert.Equal(ApicRegisters.TimerPeriodic | DesktopInterruptEmitter.TimerVector, apic[ApicRegisters.LvtTimerRegister]);
        Assert.Equal(ApicRegisters.TimerDivideBy1, apic[ApicRegisters.TimerDivideRegister]);
        Assert.Equal(1_000_000_000u, apic[ApicRegisters.TimerInitialCountRegister]);
    }

    [Fact]
    public void A_host_power_off_request_still_powers_off()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        desktop.Machine.Devices.Power.PostRequest(PortMap.HostRequestPowerOff);
        Assert.Equal(EmulationOutcome.PoweredOff, desktop.Machine.Run());
        Assert.Equal(0, desktop.Machine.ExitCode);
        Assert.EndsWith("power off\n", desktop.Machine.Serial, StringComparison.Ordinal);
    }

    /// <summary>Checks the cells at (x, y) show <paramref name="text"/> in the bar's colours, dot by dot.</summary>
    private static void AssertText(ScanoutSnapshot frame, int x, int y, int unit, string text)
    {
        var font = DesktopFont.Build();
        for (var i = 0; i < text.Length; i++)
        {
            for (var row = 0; row < DesktopFont.CellRows; row++)
            {
                for (var column = 0; column < DesktopFont.CellColumns; column++)
                {
                    var on = row < DesktopFont.GlyphRows && column < DesktopFont.GlyphColumns
                        && (font[(text[i] * DesktopFont.BytesPerGlyph) + row] & (1 << (DesktopFont.GlyphColumns - 1 - column))) != 0;
                    var expected = 0xFF000000u | (on ? DesktopPalette.BarText : DesktopPalette.Bar);
                    var px = x + (((i * DesktopFont.CellColumns) + column) * unit);
                    var py = y + (row * unit);
                    Assert.True(expected == frame.ArgbAt(px, py), $"'{text[i]}' dot ({column}, {row}) at ({px}, {py})");
                    Assert.Equal(frame.ArgbAt(px, py), frame.ArgbAt(px + unit - 1, py + unit - 1));
                }
            }
        }
    }
}
