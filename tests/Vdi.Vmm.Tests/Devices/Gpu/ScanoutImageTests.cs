using SkiaSharp;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Vmm.Tests.Devices.Gpu;

public sealed class ScanoutImageTests
{
    [Theory]
    [InlineData(GpuFormat.B8G8R8X8, new byte[] { 0x30, 0x20, 0x10, 0x00 })]
    [InlineData(GpuFormat.R8G8B8A8, new byte[] { 0x10, 0x20, 0x30, 0x7F })]
    [InlineData(GpuFormat.X8R8G8B8, new byte[] { 0x00, 0x10, 0x20, 0x30 })]
    [InlineData(GpuFormat.A8B8G8R8, new byte[] { 0x00, 0x30, 0x20, 0x10 })]
    public void Png_of_a_snapshot_decodes_to_the_same_opaque_colours(GpuFormat format, byte[] pixel)
    {
        var pixels = new byte[3 * 2 * 4];
        for (var i = 0; i < 6; i++)
            pixel.CopyTo(pixels, i * 4);
        pixels[(5 * 4) + (format is GpuFormat.B8G8R8X8 ? 0 : 1)] ^= 0xFF; // last pixel differs in one channel

        var png = ScanoutImage.EncodePng(new ScanoutSnapshot(3, 2, format, pixels));

        using var decoded = SKBitmap.Decode(png);
        Assert.Equal((3, 2), (decoded.Width, decoded.Height));
        Assert.Equal(new SKColor(0x10, 0x20, 0x30, 0xFF), decoded.GetPixel(0, 0));
        Assert.NotEqual(decoded.GetPixel(0, 0), decoded.GetPixel(2, 1));
    }
}
