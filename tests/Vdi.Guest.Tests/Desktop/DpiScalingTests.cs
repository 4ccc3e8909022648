using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>The desktop's size follows the display's DPI: at 192 dpi every element is exactly twice its 96-dpi size.</summary>
public sealed class DpiScalingTests
{
    [Theory]
    [InlineData(96, 2)]
    [InlineData(100, 2)]
    [InlineData(120, 3)] // 2.5 rounds up
    [InlineData(144, 3)]
    [InlineData(192, 4)]
    public async Task The_unit_is_dpi_over_48_rounded_half_up_at_least_2(int dpi, int unit)
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        await desktop.RequestAsync(new DisplayProperties(800, 600, dpi));
        Assert.Equal((uint)dpi, desktop.Symbol(DesktopGuest.DpiSymbol));
        Assert.Equal(unit, desktop.Unit);
    }

    [Fact]
    public async Task Top_bar_and_glyphs_at_192_dpi_are_twice_their_96_dpi_size()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(800, 600, 96));
        var at96 = Measure(desktop.Capture());
        await desktop.RequestAsync(new DisplayProperties(800, 600, 192));
        var at192 = Measure(desktop.Capture());

        Assert.Equal(DesktopLayout.BarHeight * 2, at96.BarHeight);
        Assert.Equal(DesktopFont.GlyphRows * 2, at96.GlyphHeight);
        Assert.Equal(2 * at96.BarHeight, at192.BarHeight);
        Assert.Equal(2 * at96.GlyphHeight, at192.GlyphHeight);
        Assert.Equal(2 * at96.GlyphWidth, at192.GlyphWidth);
        Assert.Equal(2 * at96.WindowLeft, at192.WindowLeft);
    }

    /// <summary>Bar height at x = 0; the extent of the bar's first glyph ('8' of "800x600"); where the window starts.</summary>
    private static (int BarHeight, int GlyphHeight, int GlyphWidth, int WindowLeft) Measure(ScanoutSnapshot frame)
    {
        var bar = 0xFF000000u | DesktopPalette.Bar;
        var text = 0xFF000000u | DesktopPalette.BarText;
        var barHeight = 0;
        while (frame.ArgbAt(0, barHeight) == bar)
            barHeight++;

        int top = int.MaxValue, bottom = -1, left = int.MaxValue, right = -1;
        for (var y = 0; y < barHeight; y++)
        {
            // The first cell: text starts at 3 units, a cell is 6 units wide, so the first 8·unit columns hold only it.
            for (var x = 0; x < barHeight; x++)
            {
                if (frame.ArgbAt(x, y) != text)
                    continue;
                (top, bottom, left, right) = (Math.Min(top, y), Math.Max(bottom, y), Math.Min(left, x), Math.Max(right, x));
            }
        }

        var windowLeft = 0;
        var middle = frame.Height / 2;
        while (frame.ArgbAt(windowLeft, middle) == (0xFF000000u | DesktopPalette.Background))
            windowLeft++;
        return (barHeight, bottom - top + 1, right - left + 1, windowLeft);
    }
}
