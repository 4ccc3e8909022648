using System.Buffers.Binary;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Vmm.Tests.Devices.Gpu;

/// <summary><see cref="VirtioGpu.Capture(GpuRect, Span{byte}, int, out GpuFormat)"/>: the damaged rows straight into the caller's buffer.</summary>
public sealed class GpuRegionCaptureIntoTests
{
    private const uint Untouched = 0xDEAD_BEEF;

    private static uint Pattern(int x, int y) => (uint)((((x * 7) & 0xFF) << 16) | (((y * 13) & 0xFF) << 8) | ((x + y) & 0xFF));

    private static byte[] Filled(int width, int height)
    {
        var buffer = new byte[width * height * 4];
        for (var i = 0; i < buffer.Length; i += 4)
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(i), Untouched);
        return buffer;
    }

    private static uint At(byte[] buffer, int stride, int x, int y) => BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan((y * stride) + (x * 4)));

    [Fact]
    public void Only_the_region_is_written_at_its_own_place()
    {
        using var g = new GpuGuestDriver();
        g.ShowMode(1, 320, 200, Pattern);
        var buffer = Filled(320, 200);
        var region = new GpuRect(17, 9, 40, 30);

        Assert.True(g.Gpu.Capture(region, buffer, 320 * 4, out var format));

        Assert.Equal(GpuFormat.B8G8R8X8, format);
        for (var y = 0; y < 200; y++)
        {
            for (var x = 0; x < 320; x++)
            {
                var inside = x >= 17 && x < 57 && y >= 9 && y < 39;
                var pixel = At(buffer, 320 * 4, x, y);
                Assert.True(inside ? (pixel & 0xFF_FFFF) == Pattern(x, y) : pixel == Untouched, $"pixel ({x}, {y}) is {pixel:X8}");
            }
        }
    }

    [Fact]
    public void It_matches_the_allocating_capture_inside_a_larger_resource()
    {
        using var g = new GpuGuestDriver();
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.Create(1, 400, 300));
        g.FillFramebuffer(400, 300, Pattern);
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.Attach(1, (GpuGuestDriver.FramebufferBase, 400 * 300 * 4)));
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.Transfer(1, 0, 0, 400, 300, 0));
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, g.SetScanout(1, 200, 100, x: 50, y: 60));
        var region = new GpuRect(150, 70, 50, 30);
        var buffer = Filled(200, 100);

        Assert.True(g.Gpu.Capture(region, buffer, 200 * 4, out _));

        var shot = g.Gpu.Capture(region)!;
        for (var y = 0; y < region.Height; y++)
            Assert.True(shot.Pixels.AsSpan(y * region.Width * 4, region.Width * 4).SequenceEqual(buffer.AsSpan(((region.Y + y) * 800) + (region.X * 4), region.Width * 4)));
    }

    [Fact]
    public void A_region_the_scanout_does_not_hold_is_refused_without_writing()
    {
        using var g = new GpuGuestDriver();
        var buffer = Filled(64, 64);
        Assert.False(g.Gpu.Capture(new GpuRect(0, 0, 8, 8), buffer, 64 * 4, out _)); // no scanout yet

        g.ShowMode(1, 64, 32, Pattern);
        Assert.False(g.Gpu.Capture(new GpuRect(0, 30, 8, 8), buffer, 64 * 4, out _)); // past the bottom: the scanout shrank

        Assert.All(Enumerable.Range(0, 64 * 64), i => Assert.Equal(Untouched, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i * 4))));
    }

    [Fact]
    public void A_destination_too_small_for_the_region_is_an_argument_error()
    {
        using var g = new GpuGuestDriver();
        g.ShowMode(1, 64, 64, Pattern);

        Assert.Throws<ArgumentOutOfRangeException>(() => g.Gpu.Capture(new GpuRect(0, 0, 64, 64), new byte[64 * 63 * 4], 64 * 4, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Gpu.Capture(new GpuRect(8, 0, 60, 4), new byte[64 * 64 * 4], 64 * 4, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Gpu.Capture(new GpuRect(-1, 0, 4, 4), new byte[64 * 64 * 4], 64 * 4, out _));
    }
}
