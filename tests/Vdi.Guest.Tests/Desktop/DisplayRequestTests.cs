using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>The desktop guest follows display requests: a scanout of exactly the mode, a full-frame flush, a full desktop.</summary>
public sealed class DisplayRequestTests
{
    [Fact]
    public async Task Each_request_is_shown_at_exactly_its_size_and_flushed_whole()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        AssertShowsDesktop(desktop, 640, 480);
        Assert.Contains("desktop 640x480 @ 96 dpi\n", desktop.Machine.Serial, StringComparison.Ordinal);

        foreach (var mode in new[] { new DisplayProperties(800, 600, 192), new DisplayProperties(1366, 768, 120), new DisplayProperties(640, 480, 96) })
        {
            var ack = await desktop.RequestAsync(mode);
            Assert.Equal(mode, ack.Properties);
            AssertShowsDesktop(desktop, mode.Width, mode.Height);
            Assert.Contains($"desktop {mode.Width}x{mode.Height} @ {mode.Dpi:0} dpi\n", desktop.Machine.Serial, StringComparison.Ordinal);
            Assert.True(desktop.Flushes[^1].IsFullFrame);
        }

        Assert.Equal(0, desktop.Gpu.ErrorResponses);
        // Old frames are released: only the cursor and the shown resource remain.
        Assert.Equal((64 * 64 * 4) + (640 * 480 * 4), desktop.Gpu.ResourceBytes);
    }

    [Fact]
    public void The_initial_mode_is_shown_with_the_cursor_defined()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        Assert.Equal(new ScanoutChange(true, 640, 480, 2), desktop.ScanoutChanges.Single());
        Assert.True(desktop.Flushes.Single().IsFullFrame);
        Assert.Equal((0, 0), desktop.CursorMoves.Single()); // UPDATE_CURSOR places it at the origin
    }

    [Theory]
    [InlineData(3840, 2160, 192, 4)]
    [InlineData(320, 200, 1200, 1)] // the top bar's line needs 180 units: one dot per unit at 320 px
    public async Task Extreme_modes_are_shown_with_a_layout_that_fits(int width, int height, int dpi, int unit)
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        var mode = new DisplayProperties(width, height, dpi);
        await desktop.RequestAsync(mode);
        AssertShowsDesktop(desktop, width, height);
        // Where whole millimetres cannot carry the DPI, the DisplayID extension gives 0.1 mm: 320 px at 1200 dpi is
        // 67.7 tenths, stored as 68, read back as 1195 dpi (whole millimetres: 7 mm, 1161 dpi).
        var tenths = (int)Math.Round(width * 254.0 / dpi, MidpointRounding.AwayFromZero);
        var expected = EdidGenerator.MillimetresKeepDpi(mode) ? dpi : ((width * 254) + (tenths / 2)) / tenths;
        Assert.Equal((uint)expected, desktop.Symbol(DesktopGuest.DpiSymbol));
        Assert.Equal(unit, desktop.Unit);
        Assert.Equal((unit, (int)desktop.Symbol(DesktopGuest.ClockXSymbol)), DesktopGuest.TopBar(width, height, expected));
        Assert.Equal(0, desktop.Gpu.ErrorResponses);
    }

    [Theory]
    [InlineData(800, 1280, 288)]
    [InlineData(320, 200, 1200)]
    [InlineData(390 * 3, 844 * 3, 3 * 96)]
    [InlineData(3840, 2160, 1200)]
    [InlineData(1366, 768, 144)]
    public async Task The_top_bar_fits_any_width_the_clock_after_the_mode_and_inside_the_screen(int width, int height, int dpi)
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        await desktop.RequestAsync(new DisplayProperties(width, height, dpi));
        var unit = desktop.Unit;
        var clockX = (int)desktop.Symbol(DesktopGuest.ClockXSymbol);
        var line = $"{width}x{height}  {dpi} dpi  ".Length;
        Assert.Equal(unit * (DesktopLayout.BarTextX + (line * DesktopFont.CellColumns)), clockX); // right after the mode
        Assert.True(clockX + (DesktopLayout.ClockCells * DesktopFont.CellColumns * unit) <= width - (DesktopLayout.BarTextX * unit),
            $"the clock ends past the screen at {width} px (unit {unit})");
        // What hosts that cannot read guest memory compute, from the DPI the guest read.
        Assert.Equal((unit, clockX), DesktopGuest.TopBar(width, height, (int)desktop.Symbol(DesktopGuest.DpiSymbol)));
    }

    [Theory]
    [InlineData(800, 1280, 288)]
    [InlineData(1170, 2532, 460)]
    [InlineData(1080, 2400, 420)]
    [InlineData(1366, 768, 120)]
    [InlineData(2560, 1600, 227)]
    [InlineData(1920, 1080, 96)]
    [InlineData(390 * 3, 844 * 3, 3 * 96)]
    public async Task The_desktop_shows_the_dpi_the_client_asked_for(int width, int height, int dpi)
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        await desktop.RequestAsync(new DisplayProperties(width, height, dpi));
        Assert.Equal((uint)dpi, desktop.Symbol(DesktopGuest.DpiSymbol));
    }

    [Fact]
    public async Task An_8k_mode_fits_in_the_ram_the_memory_map_asks_for()
    {
        var memory = (DesktopMemoryMap.RequiredMemory(7680, 4320) + 0xFFFFF) & ~0xFFFFFUL;
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96), memory);
        await desktop.RequestAsync(new DisplayProperties(7680, 4320, 96));
        AssertShowsDesktop(desktop, 7680, 4320);
        Assert.Equal(96u, desktop.Symbol(DesktopGuest.DpiSymbol));
        Assert.Equal(0, desktop.Gpu.ErrorResponses);
    }

    [Fact]
    public async Task A_mode_whose_framebuffer_is_not_all_ram_is_refused_and_the_old_one_stays()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96), memory: 70UL << 20);
        var request = desktop.Machine.Devices.Display.RequestAsync(new DisplayProperties(1920, 1080, 192), TimeSpan.FromMilliseconds(300));
        desktop.Machine.RunUntilIdle();
        await Assert.ThrowsAsync<TimeoutException>(() => request);
        Assert.Contains("desktop: the GPU refused 1920x1080", desktop.Machine.Serial, StringComparison.Ordinal);
        Assert.Equal(1, desktop.Gpu.ErrorResponses); // the ATTACH_BACKING, nothing after it
        Assert.Equal((64 * 64 * 4) + (640 * 480 * 4), desktop.Gpu.ResourceBytes);
        Assert.Equal(2, desktop.Unit);
        AssertShowsDesktop(desktop, 640, 480);

        desktop.Flushes.Clear();
        desktop.Type(35);
        Assert.Equal(DesktopFont.CellColumns * 2, desktop.Flushes.Single().Damage.Width);
        await desktop.RequestAsync(new DisplayProperties(800, 600, 96));
        AssertShowsDesktop(desktop, 800, 600);
    }

    private static void AssertShowsDesktop(DesktopHarness desktop, int width, int height)
    {
        var frame = desktop.Capture();
        Assert.Equal((width, height), (frame.Width, frame.Height));
        for (var y = 0; y < height; y++)
            Assert.NotEqual(0xFF000000u, frame.ArgbAt(width - 1, y));
        for (var x = 0; x < width; x++)
            Assert.NotEqual(0xFF000000u, frame.ArgbAt(x, height - 1));
        Assert.Equal(0xFF000000u | DesktopPalette.Background, frame.ArgbAt(width - 1, height - 1));
        Assert.Equal(0xFF000000u | DesktopPalette.Bar, frame.ArgbAt(width - 1, 0));
    }
}
