using System.Buffers.Binary;
using SkiaSharp;
using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

public sealed class TileEncoderTests
{
    private static ScanoutSnapshot Snapshot(GpuRect region, Func<int, int, uint> pixel, GpuFormat format = GpuFormat.B8G8R8X8)
    {
        var bytes = new byte[region.Width * region.Height * 4];
        for (var y = 0; y < region.Height; y++)
        {
            for (var x = 0; x < region.Width; x++)
            {
                var rgb = pixel(region.X + x, region.Y + y);
                var (r, g, b) = ((byte)(rgb >> 16), (byte)(rgb >> 8), (byte)rgb);
                var p = bytes.AsSpan(((y * region.Width) + x) * 4, 4);
                switch (format)
                {
                    case GpuFormat.B8G8R8X8:
                        BinaryPrimitives.WriteUInt32LittleEndian(p, rgb | 0x5500_0000); // junk in X must not leak
                        break;
                    case GpuFormat.R8G8B8X8:
                        (p[0], p[1], p[2], p[3]) = (r, g, b, 0x55);
                        break;
                    case GpuFormat.X8R8G8B8:
                        (p[0], p[1], p[2], p[3]) = (0x55, r, g, b);
                        break;
                    default:
                        throw new ArgumentOutOfRangeException(nameof(format));
                }
            }
        }
        return new ScanoutSnapshot(region.Width, region.Height, format, bytes);
    }

    private static List<Tile> Encode(TileEncoder encoder, GpuRect region, Func<int, int, uint> pixel)
    {
        var tiles = new List<Tile>();
        encoder.Encode(region, Snapshot(region, pixel), tiles);
        return tiles;
    }

    /// <summary>Frames in which <paramref name="region"/> changed, as the pump would report them.</summary>
    private static void Frames(TileEncoder encoder, int count, GpuRect region)
    {
        for (var i = 0; i < count; i++)
            encoder.BeginFrame(1280, 720, [region]);
    }

    [Theory]
    [InlineData(GpuFormat.B8G8R8X8)]
    [InlineData(GpuFormat.R8G8B8X8)]
    [InlineData(GpuFormat.X8R8G8B8)]
    public void Png_decodes_back_to_exactly_the_pixels(GpuFormat format)
    {
        var encoder = new TileEncoder();
        var region = new GpuRect(37, 11, 53, 29);
        var tiles = new List<Tile>();

        encoder.Encode(region, Snapshot(region, FakeScanout.Pattern, format), tiles);

        var tile = Assert.Single(tiles);
        Assert.Equal((37, 11, 53, 29, TileEncodings.Png), (tile.X, tile.Y, tile.Width, tile.Height, tile.Encoding));
        using var bitmap = SKBitmap.Decode(tile.Data);
        for (var y = 0; y < 29; y++)
        {
            for (var x = 0; x < 53; x++)
                Assert.Equal(FakeScanout.Pattern(37 + x, 11 + y) | 0xFF00_0000, (uint)bitmap.GetPixel(x, y));
        }
    }

    [Fact]
    public void A_large_region_is_cut_into_grid_aligned_tiles_that_cover_it_exactly()
    {
        var encoder = new TileEncoder(new TileEncoderOptions { MaxTileSize = 256 });
        var region = new GpuRect(200, 100, 400, 300);

        var tiles = Encode(encoder, region, FakeScanout.Pattern);

        Assert.Equal(
            [(200, 100, 56, 156), (256, 100, 256, 156), (512, 100, 88, 156), (200, 256, 56, 144), (256, 256, 256, 144), (512, 256, 88, 144)],
            tiles.Select(t => (t.X, t.Y, t.Width, t.Height)));
        FrameSink.AssertShows(new FrameUpdate(1, 1280, 720, [.. tiles]), FakeScanout.Pattern);
    }

    [Fact]
    public void A_region_changing_every_frame_goes_out_as_jpeg()
    {
        var encoder = new TileEncoder(new TileEncoderOptions { JpegQuality = 70 });
        var video = new GpuRect(256, 256, 256, 256);
        var noise = FakeScanout.Noise(1);

        Frames(encoder, 4, video);
        var tile = Assert.Single(Encode(encoder, video, noise));

        Assert.Equal(TileEncodings.Jpeg, tile.Encoding);
        using var codec = SKCodec.Create(new SKMemoryStream(tile.Data));
        Assert.Equal(SKEncodedImageFormat.Jpeg, codec.EncodedFormat);
        Assert.Equal((256, 256), (codec.Info.Width, codec.Info.Height));
    }

    [Fact]
    public void Jpeg_stays_close_to_the_pixels_of_a_smooth_image()
    {
        var encoder = new TileEncoder();
        var region = new GpuRect(0, 0, 256, 256);
        static uint Photo(int x, int y) => (uint)((x << 16) | (y << 8) | (((x + y) / 2) & 0xFF) | ((x * y) & 1));
        Frames(encoder, 4, region);

        var tile = Assert.Single(Encode(encoder, region, Photo));

        Assert.Equal(TileEncodings.Jpeg, tile.Encoding);
        using var bitmap = SKBitmap.Decode(tile.Data);
        var c = bitmap.GetPixel(100, 50);
        Assert.InRange(c.Red, 100 - 12, 100 + 12);
        Assert.InRange(c.Green, 50 - 12, 50 + 12);
    }

    [Fact]
    public void A_region_that_changed_once_stays_png()
    {
        var encoder = new TileEncoder();
        var region = new GpuRect(256, 256, 256, 256);

        Frames(encoder, 1, region);
        encoder.BeginFrame(1280, 720, []);

        Assert.Equal(TileEncodings.Png, Assert.Single(Encode(encoder, region, FakeScanout.Noise(2))).Encoding);
    }

    [Fact]
    public void A_small_region_stays_png_however_often_it_changes()
    {
        var encoder = new TileEncoder();
        var caret = new GpuRect(300, 300, 64, 64); // under JpegMinArea

        Frames(encoder, 4, caret);

        Assert.Equal(TileEncodings.Png, Assert.Single(Encode(encoder, caret, FakeScanout.Noise(3))).Encoding);
    }

    [Fact]
    public void Fast_changing_text_stays_png()
    {
        var encoder = new TileEncoder();
        var page = new GpuRect(0, 0, 256, 256);
        static uint Text(int x, int y) => (x / 3 + y / 5) % 4 == 0 ? 0x00_0000u : 0xFF_FFFFu;

        Frames(encoder, 4, page); // scrolling

        Assert.Equal(TileEncodings.Png, Assert.Single(Encode(encoder, page, Text)).Encoding);
    }

    [Fact]
    public void Lossless_forces_png()
    {
        var encoder = new TileEncoder();
        var video = new GpuRect(0, 0, 256, 256);
        Frames(encoder, 4, video);
        var tiles = new List<Tile>();

        encoder.Encode(video, Snapshot(video, FakeScanout.Noise(4)), tiles, lossless: true);

        Assert.Equal(TileEncodings.Png, Assert.Single(tiles).Encoding);
    }

    [Fact]
    public void A_snapshot_of_another_size_is_refused()
    {
        var encoder = new TileEncoder();
        Assert.Throws<ArgumentException>(() => encoder.Encode(new GpuRect(0, 0, 10, 10), Snapshot(new GpuRect(0, 0, 9, 10), FakeScanout.Pattern), []));
    }
}
