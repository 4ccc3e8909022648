using Vdi.Guest.Desktop;
using Vdi.Guest.Drivers;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>The terminal's text model: keymap with Shift and repeat, and wrapping (scrolling: <see cref="TerminalScrollTests"/>).</summary>
public sealed class TerminalTests
{
    private const ushort KeyH = 35, KeyI = 23, Key1 = 2, KeyX = 45;

    [Fact]
    public void Shift_and_key_repeat_type_what_a_us_keyboard_would()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        var keyboard = desktop.Machine.Devices.Keyboard;
        keyboard.InjectKey(UsKeymap.KeyLeftShift, KeyAction.Press);
        keyboard.InjectKey(KeyH, KeyAction.Press);
        keyboard.InjectKey(KeyH, KeyAction.Release);
        keyboard.InjectKey(Key1, KeyAction.Press);
        keyboard.InjectKey(Key1, KeyAction.Release);
        keyboard.InjectKey(UsKeymap.KeyLeftShift, KeyAction.Release);
        keyboard.InjectKey(KeyI, KeyAction.Press);
        keyboard.InjectKey(KeyI, KeyAction.Repeat);
        keyboard.InjectKey(KeyI, KeyAction.Release);
        desktop.Machine.RunUntilIdle();
        Assert.Equal("H!ii", desktop.Text);
    }

    [Fact]
    public void A_full_line_wraps_to_the_next_row()
    {
        using var desktop = new DesktopHarness(new DisplayProperties(640, 480, 96));
        var unit = desktop.Unit;
        // The window is 640 − 16 units wide; the grid loses 3 units each side; cells are 6 units.
        var columns = (640 - (2 * DesktopLayout.WindowMargin * unit) - (2 * DesktopLayout.TextX * unit)) / (DesktopFont.CellColumns * unit);
        desktop.Type([.. Enumerable.Repeat(KeyX, columns + 1)]);
        var cells = desktop.Flushes.Skip(1).Select(f => f.Damage).ToList();
        Assert.Equal(columns + 1, cells.Count);
        Assert.Equal(cells[0].X, cells[^1].X);
        Assert.Equal(cells[0].Y + (DesktopFont.CellRows * unit), cells[^1].Y);
        Assert.Equal(new string('x', columns + 1), desktop.Text);
    }
}
