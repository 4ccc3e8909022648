using Vdi.Vmm.Devices.Gpu;
using static Vdi.Vmm.Devices.Gpu.GpuCommands;

namespace Vdi.Vmm.Tests.Devices.Gpu;

public sealed class GpuCursorTests
{
    private static byte[] CursorCommand(uint type, uint resource, uint x, uint y, uint hotX = 0, uint hotY = 0) =>
        GpuGuestDriver.With(GpuGuestDriver.Header(type, size: 56), (24, 0), (28, x), (32, y), (40, resource), (44, hotX), (48, hotY));

    [Fact]
    public void Update_cursor_publishes_the_image_and_hot_spot_and_move_cursor_the_position()
    {
        using var g = new GpuGuestDriver();
        g.FillFramebuffer(64, 64, (x, y) => x == y ? 0xFFFF_FFFFu : 0);
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(9, 64, 64, GpuFormat.B8G8R8A8));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Attach(9, (GpuGuestDriver.FramebufferBase, 64 * 64 * 4)));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Transfer(9, 0, 0, 64, 64, 0));
        var images = new List<CursorImage>();
        var moves = new List<(int, int)>();
        g.Gpu.CursorChanged += images.Add;
        g.Gpu.CursorMoved += (x, y) => moves.Add((x, y));

        g.Driver.Request(1, CursorCommand(VIRTIO_GPU_CMD_UPDATE_CURSOR, 9, 100, 200, 3, 4), 0);
        g.Driver.Request(1, CursorCommand(VIRTIO_GPU_CMD_MOVE_CURSOR, 0, 300, 150), 0);

        var image = Assert.Single(images);
        Assert.Equal((64, 64, 3, 4), (image.Width, image.Height, image.HotX, image.HotY));
        Assert.Equal(0xFF, image.Pixels![((10 * 64) + 10) * 4]);
        Assert.Equal(0, image.Pixels[((10 * 64) + 11) * 4]);
        Assert.Equal([(100, 200), (300, 150)], moves);
    }

    [Fact]
    public void Resource_zero_hides_the_cursor_and_an_oversized_one_is_refused()
    {
        using var g = new GpuGuestDriver();
        var images = new List<CursorImage>();
        g.Gpu.CursorChanged += images.Add;
        g.Driver.Request(1, CursorCommand(VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 0, 0), 0);
        Assert.Null(Assert.Single(images).Pixels);

        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(2, 512, 512));
        g.Driver.Request(1, CursorCommand(VIRTIO_GPU_CMD_UPDATE_CURSOR, 2, 0, 0), 0);
        Assert.Single(images);
        Assert.Equal(1, g.Gpu.ErrorResponses);
    }
}
