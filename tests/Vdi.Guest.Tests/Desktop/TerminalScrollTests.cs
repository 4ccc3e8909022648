using Vdi.Guest.Desktop;
using Vdi.Guest.Drivers;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Images;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>The terminal scrolls when text reaches past its last row, keeps only what its grid shows, and stays in its buffers.</summary>
public sealed class TerminalScrollTests
{
    private static readonly DisplayProperties s_vga = new(640, 480, 96);
    private static readonly Dictionary<char, ushort> s_keys = KeysOf(UsKeymap.Build());

    [Fact]
    public void A_new_line_below_the_last_row_moves_the_grid_up_one_row_and_flushes_it()
    {
        using var desktop = new DesktopHarness(s_vga);
        var grid = Grid(desktop);
        var (rows, rowHeight) = (Rows(desktop), DesktopFont.CellRows * desktop.Unit);
        Type(desktop, "h" + new string('\n', rows - 1) + "i");
        var before = desktop.Capture();
        Assert.Equal(rows + 1, desktop.TextLength); // the cursor is on the last row

        Type(desktop, "\n");

        Assert.Equal(grid, desktop.Flushes[^1].Damage);
        var after = desktop.Capture();
        for (var y = grid.Y; y < grid.Y + grid.Height; y++)
        {
            for (var x = grid.X; x < grid.X + grid.Width; x++)
            {
                var expected = y < grid.Y + grid.Height - rowHeight ? before.ArgbAt(x, y + rowHeight) : 0xFF000000u | DesktopPalette.Body;
                Assert.True(expected == after.ArgbAt(x, y), $"pixel ({x}, {y})");
            }
        }
        Assert.Equal(0, DesktopHarness.ChangedPixels(before, after, new GpuRect(0, 0, 640, 480)) - DesktopHarness.ChangedPixels(before, after, grid));
        Assert.Equal(new string('\n', rows - 2) + "i\n", desktop.Text); // the top row ("h\n") is gone

        Type(desktop, "x");
        Assert.Equal(new GpuRect(grid.X, grid.Y + grid.Height - rowHeight, DesktopFont.CellColumns * desktop.Unit, rowHeight), desktop.Flushes[^1].Damage);
    }

    [Fact]
    public void Many_lines_keep_scrolling_show_the_newest_at_the_bottom_and_write_nothing_outside_the_terminal()
    {
        using var desktop = new DesktopHarness(s_vga);
        var grid = Grid(desktop);
        var rows = Rows(desktop);
        var columns = Columns(desktop);
        var image = DesktopHarness.Image;
        var imageBefore = ReadImage(desktop, image);
        var framebufferBefore = ReadFramebuffer(desktop, 640, 480);

        // 3·rows lines: short ones, and every fifth longer than a row so it wraps.
        var lines = Enumerable.Range(0, 3 * rows)
            .Select(i => i % 5 == 2 ? new string((char)('a' + (i % 26)), columns + 3) : $"{(char)('a' + (i % 26))}{i % 10}")
            .ToList();
        Type(desktop, string.Concat(lines.Select(l => l + "\n")));

        // The grid keeps the newest rows: the last line sits on the row above the (empty) cursor row.
        var kept = Expected(lines, columns, rows);
        Assert.Equal(kept, desktop.Text);
        Assert.EndsWith(lines[^1] + "\n", kept, StringComparison.Ordinal);
        Assert.DoesNotContain(lines[0] + "\n", kept, StringComparison.Ordinal);
        var scrolled = desktop.Capture();

        // It looks exactly like the kept text typed into a fresh terminal.
        using (var fresh = new DesktopHarness(s_vga))
        {
            Type(fresh, kept);
            Assert.Equal(0, DesktopHarness.ChangedPixels(fresh.Capture(), scrolled, grid));
        }

        // Nothing outside the terminal's grid, its variables and its text buffer was written.
        var framebufferAfter = ReadFramebuffer(desktop, 640, 480);
        for (var y = 0; y < 480; y++)
        {
            var inside = y >= grid.Y && y < grid.Y + grid.Height;
            for (var x = 0; x < 640; x++)
            {
                if (inside && x >= grid.X && x < grid.X + grid.Width)
                    continue;
                Assert.True(framebufferBefore[(y * 640) + x] == framebufferAfter[(y * 640) + x], $"framebuffer ({x}, {y}) written");
            }
        }
        var imageAfter = ReadImage(desktop, image);
        var variables = (Start: image.Symbol(DesktopGuest.WidthSymbol), End: image.Symbol(DesktopGuest.MotionFramesSymbol) + 4);
        var text = (Start: image.Symbol(DesktopGuest.TextSymbol), End: image.Symbol(DesktopGuest.TextSymbol) + DesktopState.TextCapacity + DesktopState.TextSlack);
        for (var i = 0; i < imageBefore.Length; i++)
        {
            var address = image.LoadAddress + (ulong)i;
            if ((address >= variables.Start && address < variables.End) || (address >= text.Start && address < text.End))
                continue;
            Assert.True(imageBefore[i] == imageAfter[i], $"image byte at 0x{address:X} written");
        }
    }

    [Fact]
    public async Task Wrapping_text_scrolls_too_and_a_mode_change_replays_only_what_the_grid_kept()
    {
        using var desktop = new DesktopHarness(s_vga);
        var (rows, columns) = (Rows(desktop), Columns(desktop));
        var typed = string.Concat(Enumerable.Range(0, ((rows + 2) * columns) + 7).Select(i => (char)('a' + (i % 26))));
        Type(desktop, typed);
        var dropped = ((typed.Length - 1) / columns) - (rows - 1);
        Assert.Equal(typed[(dropped * columns)..], desktop.Text);

        // In a taller mode the kept rows are replayed from the top, without scrolling.
        var kept = desktop.Text;
        await desktop.RequestAsync(new DisplayProperties(640, 800, 96));
        Assert.Equal(kept, desktop.Text);

        // In a smaller one the replay scrolls and keeps only what fits.
        await desktop.RequestAsync(new DisplayProperties(400, 300, 96));
        var (smallRows, smallColumns) = (Rows(desktop), Columns(desktop));
        var smallDropped = ((kept.Length - 1) / smallColumns) - (smallRows - 1);
        Assert.Equal(kept[(smallDropped * smallColumns)..], desktop.Text);
    }

    [Fact]
    public void A_scroll_while_the_motion_panel_covers_the_grid_repaints_the_screen_from_the_kept_text()
    {
        using var desktop = new DesktopHarness(s_vga);
        var (rows, columns) = (Rows(desktop), Columns(desktop));
        var panel = DesktopMotionTests.Panel(640, 480);
        desktop.SetMotion(true);
        // Full-width lines, so half of each lower one is under the panel, whose frames paint over it.
        var lines = Enumerable.Range(0, rows - 1).Select(i => new string((char)('a' + i), columns)).ToList();
        foreach (var line in lines)
        {
            Type(desktop, line + "\n");
            desktop.Tick();
        }
        desktop.Flushes.Clear();

        Type(desktop, "z\n"); // the new line scrolls: the row that comes out from under the panel must show its text

        Assert.True(desktop.Flushes[^1].IsFullFrame);
        var kept = Expected([.. lines, "z"], columns, rows);
        Assert.Equal(kept, desktop.Text);
        var frame = desktop.Capture();
        DesktopMotionTests.AssertBands(frame, panel);
        using var fresh = new DesktopHarness(s_vga);
        Type(fresh, kept);
        var reference = fresh.Capture();
        Assert.Equal(0, DesktopHarness.ChangedPixels(reference, frame, new GpuRect(0, 0, 640, 480)) - DesktopHarness.ChangedPixels(reference, frame, panel));

        desktop.Tick(); // the motion goes on over the repainted screen
        Assert.Equal(panel, desktop.Flushes[^1].Damage);
    }

    [Fact]
    public void A_full_text_buffer_forgets_its_oldest_row_instead_of_growing_past_its_end()
    {
        // A grid larger than the buffer (8K at 96 dpi holds 168,540 cells) would get here by typing; set the state directly.
        using var desktop = new DesktopHarness(s_vga);
        var columns = Columns(desktop);
        var image = DesktopHarness.Image;
        var full = string.Concat(Enumerable.Range(0, DesktopState.TextCapacity).Select(i => i == columns + 2 ? '\n' : (char)('a' + (i % 26))));
        var memory = desktop.Machine.Memory;
        memory.Write(image.Symbol(DesktopGuest.TextSymbol), System.Text.Encoding.ASCII.GetBytes(full));
        memory.Write(image.Symbol(DesktopGuest.TextLengthSymbol), (uint)full.Length);
        var after = image.Symbol(DesktopGuest.TextSymbol) + DesktopState.TextCapacity + DesktopState.TextSlack;
        var beyond = new byte[64];
        memory.Read(after, beyond);

        Type(desktop, "x"); // the first row (a full one) goes
        Assert.Equal(full[columns..] + "x", desktop.Text);
        var filler = new string('q', columns - 1);
        Type(desktop, filler); // full again
        Assert.Equal(DesktopState.TextCapacity, desktop.TextLength);
        Type(desktop, "z"); // the next row is two characters and its newline: three bytes go
        Assert.Equal(full[(columns + 3)..] + "x" + filler + "z", desktop.Text);

        var now = new byte[64];
        memory.Read(after, now);
        Assert.Equal(beyond, now);
    }

    /// <summary>The kept text after <paramref name="lines"/> were typed, each ended by Enter: whole grid rows, oldest dropped.</summary>
    private static string Expected(List<string> lines, int columns, int rows)
    {
        var visualRows = new List<string>();
        foreach (var line in lines)
        {
            for (var i = 0; i < line.Length; i += columns)
                visualRows.Add(line.Substring(i, Math.Min(columns, line.Length - i)));
            visualRows[^1] += "\n";
        }
        // The cursor row after the last Enter is empty; the grid shows rows − 1 rows above it.
        return string.Concat(visualRows.TakeLast(rows - 1));
    }

    private static GpuRect Grid(DesktopHarness desktop)
    {
        var unit = desktop.Unit;
        var (x, y) = ((DesktopLayout.WindowMargin + DesktopLayout.TextX) * unit, (DesktopLayout.WindowTop + DesktopLayout.TextY) * unit);
        return new GpuRect(x, y, Columns(desktop) * DesktopFont.CellColumns * unit, Rows(desktop) * DesktopFont.CellRows * unit);
    }

    private static int Columns(DesktopHarness desktop)
    {
        var unit = desktop.Unit;
        var width = (int)desktop.Symbol(DesktopGuest.WidthSymbol);
        return (width - (2 * DesktopLayout.WindowMargin * unit) - (2 * DesktopLayout.TextX * unit)) / (DesktopFont.CellColumns * unit);
    }

    private static int Rows(DesktopHarness desktop)
    {
        var unit = desktop.Unit;
        var height = (int)desktop.Symbol(DesktopGuest.HeightSymbol);
        var windowHeight = height - ((DesktopLayout.WindowTop + DesktopLayout.WindowMargin) * unit);
        return (windowHeight - ((DesktopLayout.TextY + 2) * unit)) / (DesktopFont.CellRows * unit);
    }

    /// <summary>Types <paramref name="text"/> (lower case, digits, Enter) a few keys at a time, so the keyboard's queue never fills.</summary>
    private static void Type(DesktopHarness desktop, string text)
    {
        foreach (var chunk in text.Chunk(16))
            desktop.Type([.. chunk.Select(c => s_keys[c])]);
    }

    private static Dictionary<char, ushort> KeysOf(byte[] keymap)
    {
        var keys = new Dictionary<char, ushort>();
        for (var code = 1; code < UsKeymap.Codes; code++)
        {
            if (keymap[code] != 0)
                keys.TryAdd((char)keymap[code], (ushort)code);
        }
        return keys;
    }

    private static byte[] ReadImage(DesktopHarness desktop, GuestImage image)
    {
        var bytes = new byte[image.Bytes.Length];
        desktop.Machine.Memory.Read(image.LoadAddress, bytes);
        return bytes;
    }

    private static uint[] ReadFramebuffer(DesktopHarness desktop, int width, int height)
    {
        var bytes = new byte[width * height * 4];
        desktop.Machine.Memory.Read(DesktopMemoryMap.Framebuffer, bytes);
        return [.. Enumerable.Range(0, width * height).Select(i => BitConverter.ToUInt32(bytes, i * 4))];
    }
}
