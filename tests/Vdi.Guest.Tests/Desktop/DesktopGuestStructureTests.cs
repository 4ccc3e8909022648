using Vdi.Guest.Desktop;
using Vdi.Guest.Drivers;
using Vdi.Tests.Shared;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices.Display;

namespace Vdi.Guest.Tests.Desktop;

/// <summary>The desktop image and its tables, without running it.</summary>
public sealed class DesktopGuestStructureTests
{
    [Fact]
    public void The_image_decodes_and_ends_below_the_fixed_buffers()
    {
        var image = DesktopGuest.Build();
        Assert.Equal(GuestLayout.ImageBase, image.LoadAddress);
        Assert.True(image.EndAddress <= DesktopMemoryMap.GpuControlQueue, $"image ends at 0x{image.EndAddress:X}");
        Assert.NotEmpty(GuestCode.Decode(image));
        Assert.Equal(image.Bytes, DesktopGuest.Build().Bytes); // deterministic
    }

    [Fact]
    public void Fixed_buffers_do_not_overlap_and_the_framebuffer_is_last()
    {
        var regions = new (ulong Start, ulong Length)[]
        {
            (DesktopMemoryMap.GpuControlQueue, DesktopMemoryMap.QueuePage),
            (DesktopMemoryMap.GpuCursorQueue, DesktopMemoryMap.QueuePage),
            (DesktopMemoryMap.KeyboardEventQueue, DesktopMemoryMap.QueuePage),
            (DesktopMemoryMap.TabletEventQueue, DesktopMemoryMap.QueuePage),
            (DesktopMemoryMap.GpuRequest, 0x1000),
            (DesktopMemoryMap.GpuResponse, 0x1000),
            (DesktopMemoryMap.CursorRequest, 0x1000),
            (DesktopMemoryMap.KeyboardEvents, DesktopMemoryMap.QueueSize * 8),
            (DesktopMemoryMap.TabletEvents, DesktopMemoryMap.QueueSize * 8),
            (DesktopMemoryMap.CursorImage, DesktopMemoryMap.CursorSize * DesktopMemoryMap.CursorSize * 4),
        }.OrderBy(r => r.Start).ToArray();
        for (var i = 1; i < regions.Length; i++)
            Assert.True(regions[i - 1].Start + regions[i - 1].Length <= regions[i].Start, $"region at 0x{regions[i].Start:X} overlaps its predecessor");
        Assert.True(regions[^1].Start + regions[^1].Length <= DesktopMemoryMap.Framebuffer);
        Assert.InRange(DesktopMemoryMap.RequiredMemory(7680, 4320), 190UL << 20, 191UL << 20); // 8K fits the default 256 MiB
    }

    [Fact]
    public void The_font_covers_what_the_desktop_prints_and_every_letter_and_digit()
    {
        var printed = "0123456789x dpi:terminal";
        var letters = Enumerable.Range('a', 26).Concat(Enumerable.Range('A', 26)).Select(c => (char)c);
        var font = DesktopFont.Build();
        foreach (var c in printed.Concat(letters).Where(c => c != ' '))
            Assert.True(font.AsSpan(c * DesktopFont.BytesPerGlyph, DesktopFont.BytesPerGlyph).IndexOfAnyExcept((byte)0) >= 0, $"no glyph for '{c}'");
    }

    [Theory]
    [InlineData(35, 'h', 'H')]
    [InlineData(23, 'i', 'I')]
    [InlineData(2, '1', '!')]
    [InlineData(11, '0', ')')]
    [InlineData(57, ' ', ' ')]
    [InlineData(28, '\n', '\n')]
    [InlineData(14, '\b', '\b')]
    [InlineData(1, '\0', '\0')] // Esc types nothing
    public void The_keymap_is_us(int code, char plain, char shifted)
    {
        var map = UsKeymap.Build();
        Assert.Equal((byte)plain, map[code]);
        Assert.Equal((byte)shifted, map[UsKeymap.Codes + code]);
    }

    [Fact]
    public void The_cursor_arrow_is_opaque_at_its_hot_spot()
    {
        var arrow = CursorArrow.Build();
        Assert.Equal(CursorArrow.Width * CursorArrow.Height * 4, arrow.Length);
        Assert.Equal(0xFF, arrow[3]); // alpha of (0, 0)
        Assert.Equal(0, arrow[(CursorArrow.Width * 4) - 1]); // transparent top-right
    }

    [Fact]
    public void Layout_fits_the_smallest_mode_at_the_highest_dpi() =>
        // unit is capped at min(width / 40, height / 50): 320x200 gets 4, leaving room for a row of text.
        Assert.True(DisplayProperties.MinHeight / 50 * (DesktopLayout.WindowTop + DesktopLayout.WindowMargin + DesktopLayout.TextY + 2 + DesktopFont.CellRows) <= DisplayProperties.MinHeight);
}
