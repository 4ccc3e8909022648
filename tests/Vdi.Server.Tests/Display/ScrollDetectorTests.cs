using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

public sealed class ScrollDetectorTests
{
    private static (PixelBuffer Shown, PixelBuffer Next) Shifted(int dy, GpuRect area)
    {
        var shown = new PixelBuffer(320, 240);
        var next = new PixelBuffer(320, 240);
        var text = ComposerRig.Text(5);
        for (var y = 0; y < 240; y++)
        {
            for (var x = 0; x < 320; x++)
            {
                var inside = x >= area.X && x < area.X + area.Width && y >= area.Y && y < area.Y + area.Height;
                var sourceY = inside ? y + dy : y;
                BitConverter.TryWriteBytes(shown.Row(y, x, 1), 0xFF00_0000 | text(x, y));
                BitConverter.TryWriteBytes(next.Row(y, x, 1), 0xFF00_0000 | (sourceY >= area.Y && sourceY < area.Y + area.Height ? text(x, sourceY) : 0x00FF_0000u));
            }
        }
        return (shown, next);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(-24)]
    [InlineData(1)]
    public void A_shifted_band_is_found_and_verified(int dy)
    {
        var area = new GpuRect(10, 20, 300, 200);
        var (shown, next) = Shifted(dy, area);

        var copy = new ScrollDetector().Detect(shown, next, area);

        Assert.NotNull(copy);
        Assert.Equal(dy, copy.Value.SourceY - copy.Value.DestinationY);
        // Rows at the band's ends that did not change in place (text rows come in pairs here) need no copy.
        Assert.InRange(copy.Value.Height, area.Height - Math.Abs(dy) - 2, area.Height - Math.Abs(dy));
        Assert.Equal((area.X, area.Width), (copy.Value.X, copy.Value.Width));
        Assert.True(next.RowsEqual(copy.Value.Destination, shown, copy.Value.SourceY));
    }

    [Fact]
    public void Unchanged_or_unrelated_content_is_no_scroll()
    {
        var area = new GpuRect(0, 0, 320, 240);
        var (shown, _) = Shifted(0, area);
        Assert.Null(new ScrollDetector().Detect(shown, shown, area));

        var other = new PixelBuffer(320, 240);
        Assert.Null(new ScrollDetector().Detect(shown, other, area));
    }

    [Fact]
    public void Small_rectangles_are_not_searched()
    {
        var area = new GpuRect(0, 0, 320, ScrollDetector.MinHeight - 1);
        var (shown, next) = Shifted(4, area);

        Assert.Null(new ScrollDetector().Detect(shown, next, area));
    }
}
