using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Vmm.Tests.Devices.Gpu;

public sealed class GpuRegionCaptureTests
{
    private static uint Pattern(int x, int y) => (uint)((((x * 7) & 0xFF) << 16) | (((y * 13) & 0xFF) << 8) | ((x + y) & 0xFF));

    private static void AssertShows(ScanoutSnapshot shot, int originX, int originY, Func<int, int, uint> pixel)
    {
        for (var y = 0; y < shot.Height; y++)
        {
            for (var x = 0; x < shot.Width; x++)
                Assert.Equal(pixel(originX + x, originY + y) | 0xFF00_0000, shot.ArgbAt(x, y));
        }
    }

    [Fact]
    public void A_region_inside_the_scanout_is_copied_exactly()
    {
        using var g = new GpuGuestDriver();
        g.ShowMode(1, 320, 200, Pattern);

        var shot = g.Gpu.Capture(new GpuRect(17, 9, 40, 30))!;

        Assert.Equal((40, 30, GpuFormat.B8G8R8X8), (shot.Width, shot.Height, shot.Format));
        Assert.Equal(40 * 30 * 4, shot.Pixels.Length);
        AssertShows(shot, 17, 9, Pattern);
    }

    [Fact]
    public void A_region_over_the_edges_is_clipped_to_the_scanout()
    {
        using var g = new GpuGuestDriver();
        g.ShowMode(1, 320, 200, Pattern);

        var bottomRight = g.Gpu.Capture(new GpuRect(300, 190, 64, 64))!;
        Assert.Equal((20, 10), (bottomRight.Width, bottomRight.Height));
        AssertShows(bottomRight, 300, 190, Pattern);

        var topLeft = g.Gpu.Capture(new GpuRect(-5, -3, 10, 10))!;
        Assert.Equal((5, 7), (topLeft.Width, topLeft.Height));
        AssertShows(topLeft, 0, 0, Pattern);

        var outside = g.Gpu.Capture(new GpuRect(320, 0, 10, 10))!;
        Assert.Equal((0, 0), (outside.Width, outside.Height));
        Assert.Empty(outside.Pixels);
    }

    [Fact]
    public void Region_coordinates_are_relative_to_a_scanout_inside_a_larger_resource()
    {
        using var g = new GpuGuestDriver();
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.Create(1, 400, 300));
        g.FillFramebuffer(400, 300, Pattern);
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.Attach(1, (GpuGuestDriver.FramebufferBase, 400 * 300 * 4)));
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.Transfer(1, 0, 0, 400, 300, 0));
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.SetScanout(1, 200, 100, x: 50, y: 60));

        var shot = g.Gpu.Capture(new GpuRect(190, 90, 30, 30))!;

        Assert.Equal((10, 10), (shot.Width, shot.Height));
        AssertShows(shot, 50 + 190, 60 + 90, Pattern);
    }

    [Fact]
    public void Without_a_scanout_there_is_nothing_to_capture()
    {
        using var g = new GpuGuestDriver();
        Assert.Null(g.Gpu.Capture(new GpuRect(0, 0, 10, 10)));

        g.ShowMode(1, 64, 64, Pattern);
        Assert.NotNull(g.Gpu.Capture(new GpuRect(0, 0, 10, 10)));

        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.SetScanout(0, 0, 0));
        Assert.Null(g.Gpu.Capture(new GpuRect(0, 0, 10, 10)));
    }

    [Fact]
    public void The_region_copy_matches_the_same_area_of_a_full_capture()
    {
        using var g = new GpuGuestDriver();
        g.ShowMode(1, 257, 129, Pattern);
        var full = g.Gpu.Capture()!;

        var region = g.Gpu.Capture(new GpuRect(64, 64, 193, 65))!;

        for (var y = 0; y < region.Height; y++)
            Assert.True(full.Pixels.AsSpan((((64 + y) * 257) + 64) * 4, 193 * 4).SequenceEqual(region.Pixels.AsSpan(y * 193 * 4, 193 * 4)));
    }
}
