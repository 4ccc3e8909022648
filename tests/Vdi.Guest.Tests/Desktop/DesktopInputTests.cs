using Vdi.Guest.Desktop;
using Vdi.Guest.Drivers;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>Keys reach the terminal with glyph-sized damage; the tablet moves the cursor.</summary>
public sealed class DesktopInputTests
{
    private const ushort KeyH = 35, KeyI = 23, KeyA = 30, KeyB = 48;

    [Fact]
    public void Typing_hi_flushes_only_the_two_glyph_cells_and_shows_them()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        var before = desktop.Capture();
        desktop.Flushes.Clear();

        desktop.Type(KeyH, KeyI);

        var after = desktop.Capture();
        var cell = new GpuRect(0, 0, DesktopFont.CellColumns * desktop.Unit, DesktopFont.CellRows * desktop.Unit);
        Assert.Equal(2, desktop.Flushes.Count);
        Assert.All(desktop.Flushes, f => Assert.Equal((cell.Width, cell.Height), (f.Damage.Width, f.Damage.Height)));
        var (first, second) = (desktop.Flushes[0].Damage, desktop.Flushes[1].Damage);
        Assert.Equal(first.Y, second.Y);
        Assert.Equal(first.X + cell.Width, second.X);
        foreach (var damage in new[] { first, second })
            Assert.True(ChangedPixels(before, after, damage) > 0, $"nothing changed inside {damage}");
        Assert.Equal(0, ChangedPixels(before, after, new GpuRect(0, 0, 640, 480)) - ChangedPixels(before, after, first) - ChangedPixels(before, after, second));
        Assert.Equal(2, desktop.TextLength);
    }

    [Fact]
    public void Enter_starts_a_new_line_and_backspace_erases()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        desktop.Type(KeyA, UsKeymap.KeyEnter, KeyB);
        var flushes = desktop.Flushes.Skip(1).Select(f => f.Damage).ToList();
        Assert.Equal(2, flushes.Count); // Enter draws nothing
        Assert.Equal(flushes[0].X, flushes[1].X);
        Assert.Equal(flushes[0].Y + (DesktopFont.CellRows * desktop.Unit), flushes[1].Y);
        var withB = desktop.Capture();

        desktop.Type(UsKeymap.KeyBackspace);
        Assert.Equal(flushes[1], desktop.Flushes[^1].Damage);
        Assert.Equal(2, desktop.TextLength);
        var erased = desktop.Capture();
        Assert.True(ChangedPixels(withB, erased, flushes[1]) > 0);
        var body = 0xFF000000u | DesktopPalette.Body;
        for (var y = flushes[1].Y; y < flushes[1].Y + flushes[1].Height; y++)
        {
            for (var x = flushes[1].X; x < flushes[1].X + flushes[1].Width; x++)
                Assert.Equal(body, erased.ArgbAt(x, y));
        }
    }

    [Fact]
    public async Task Typed_text_survives_a_mode_change()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        desktop.Type(KeyH, KeyI);
        await desktop.RequestAsync(new DisplayProperties(800, 600, 192));
        Assert.Equal(2, desktop.TextLength);
        var frame = desktop.Capture();
        var text = 0xFF000000u | DesktopPalette.Text;
        var found = 0;
        for (var y = 0; y < frame.Height; y++)
        {
            for (var x = 0; x < frame.Width; x++)
                found += frame.ArgbAt(x, y) == text ? 1 : 0;
        }
        // Each dot of 'h' and 'i' is 4x4 pixels at 192 dpi.
        Assert.Equal((Dots('h') + Dots('i')) * 16, found);
    }

    [Fact]
    public void A_tablet_event_moves_the_cursor_there()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        Assert.True(desktop.Machine.Devices.Tablet.InjectPointer(123, 45, PointerButtons.None));
        desktop.Machine.RunUntilIdle();
        Assert.Equal((123, 45), desktop.CursorMoves[^1]);

        Assert.True(desktop.Machine.Devices.Tablet.InjectPointer(639, 479, PointerButtons.None));
        desktop.Machine.RunUntilIdle();
        Assert.Equal((639, 479), desktop.CursorMoves[^1]);
    }

    private static int Dots(char c) =>
        DesktopFont.Build().AsSpan(c * DesktopFont.BytesPerGlyph, DesktopFont.BytesPerGlyph).ToArray().Sum(row => int.PopCount(row));

    private static int ChangedPixels(ScanoutSnapshot before, ScanoutSnapshot after, GpuRect area)
    {
        var changed = 0;
        for (var y = area.Y; y < area.Y + area.Height; y++)
        {
            for (var x = area.X; x < area.X + area.Width; x++)
                changed += before.ArgbAt(x, y) != after.ArgbAt(x, y) ? 1 : 0;
        }
        return changed;
    }
}
