using System.Runtime.InteropServices;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

public sealed class PixelBufferTests
{
    private static uint At(PixelBuffer b, int x, int y) => BitConverter.ToUInt32(b.Row(y, x, 1));

    private static void Set(PixelBuffer b, int x, int y, uint value) => BitConverter.TryWriteBytes(b.Row(y, x, 1), value);

    private static PixelBuffer Numbered(int width = 16, int height = 12)
    {
        var b = new PixelBuffer(width, height);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
                Set(b, x, y, 0xFF00_0000 | (uint)((y << 8) | x));
        }
        return b;
    }

    [Theory]
    [InlineData(GpuFormat.B8G8R8X8, new byte[] { 0x33, 0x22, 0x11, 0x00 })]
    [InlineData(GpuFormat.B8G8R8A8, new byte[] { 0x33, 0x22, 0x11, 0x7F })]
    [InlineData(GpuFormat.R8G8B8X8, new byte[] { 0x11, 0x22, 0x33, 0x00 })]
    [InlineData(GpuFormat.X8R8G8B8, new byte[] { 0x00, 0x11, 0x22, 0x33 })]
    [InlineData(GpuFormat.X8B8G8R8, new byte[] { 0x00, 0x33, 0x22, 0x11 })]
    public void Every_device_format_becomes_opaque_bgra_in_the_rectangle_only(GpuFormat format, byte[] pixel)
    {
        var b = new PixelBuffer(40, 4);
        for (var x = 0; x < 40; x++)
            pixel.CopyTo(b.Row(1, x, 1));

        b.ToOpaqueBgra(new GpuRect(3, 1, 33, 1), format);

        Assert.All(Enumerable.Range(3, 33), x => Assert.Equal(0xFF11_2233u, At(b, x, 1)));
        Assert.Equal(pixel, b.Row(1, 2, 1).ToArray());
        Assert.Equal(pixel, b.Row(1, 36, 1).ToArray());
    }

    [Fact]
    public void Diff_bounds_are_the_smallest_box_of_changed_pixels()
    {
        var a = Numbered();
        var b = Numbered();
        Assert.True(a.DiffBounds(b, a.Bounds).IsEmpty);

        Set(b, 3, 2, 1);
        Set(b, 9, 7, 1);
        Set(b, 5, 4, 1);

        Assert.Equal(new GpuRect(3, 2, 7, 6), a.DiffBounds(b, a.Bounds));
        Assert.Equal(new GpuRect(9, 7, 1, 1), a.DiffBounds(b, new GpuRect(8, 5, 8, 7)));
        Assert.True(a.DiffBounds(b, new GpuRect(10, 0, 6, 12)).IsEmpty);
    }

    [Theory]
    [InlineData(4, 1)] // up, overlapping
    [InlineData(1, 4)] // down, overlapping
    public void Moving_rows_over_themselves_copies_them_intact(int from, int to)
    {
        var b = Numbered();
        var original = Numbered();
        var band = new GpuRect(2, from, 10, 6);

        b.MoveRows(band, to);

        for (var i = 0; i < band.Height; i++)
            Assert.True(b.Row(to + i, 2, 10).SequenceEqual(original.Row(from + i, 2, 10)), $"row {to + i}");
        Assert.True(b.Row(to, 0, 2).SequenceEqual(original.Row(to, 0, 2))); // columns outside the band stay
        Assert.True(b.RowsEqual(band with { Y = to }, original, from));
    }

    [Fact]
    public void Copy_from_takes_only_the_rectangle()
    {
        var a = new PixelBuffer(16, 12);
        var b = Numbered();

        a.CopyFrom(b, new GpuRect(4, 3, 5, 2));

        Assert.Equal(new GpuRect(0, 0, 16, 12), new GpuRect(0, 0, a.Width, a.Height));
        Assert.True(a.DiffBounds(b, new GpuRect(4, 3, 5, 2)).IsEmpty);
        Assert.Equal(0u, At(a, 3, 3));
        Assert.Equal(0u, MemoryMarshal.Cast<byte, uint>(a.Row(5, 0, 16)).ToArray().Max());
    }
}
