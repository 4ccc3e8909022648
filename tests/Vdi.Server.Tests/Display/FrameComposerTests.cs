using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

public sealed class FrameComposerTests
{
    private static ComposerRig Started(int width = 320, int height = 192, Func<int, int, uint>? content = null, int cacheSlots = TileCache.Slots)
    {
        var rig = new ComposerRig(width, height, cacheSlots);
        rig.Paint(rig.Screen, content ?? FakeScanout.Pattern);
        rig.Frame(rig.Screen);
        rig.AssertClientShowsTheScreen();
        return rig;
    }

    [Fact]
    public void A_flush_of_unchanged_pixels_sends_nothing()
    {
        var rig = Started();

        Assert.Empty(rig.Frame(rig.Screen));
        Assert.Empty(rig.Frame(new GpuRect(10, 10, 100, 50)));
    }

    [Fact]
    public void A_partly_changed_cell_sends_only_the_box_of_changed_pixels()
    {
        var rig = Started();
        rig.Paint(new GpuRect(70, 10, 5, 3), (_, _) => 0x12_3456);

        var tile = Assert.Single(rig.Frame(new GpuRect(64, 0, 64, 64))); // the guest flushed the whole cell

        Assert.Equal((70, 10, 5, 3, TileEncodings.Png, TileCache.NoSlot), (tile.X, tile.Y, tile.Width, tile.Height, tile.Encoding, tile.Slot));
        rig.AssertClientShowsTheScreen();
    }

    [Fact]
    public void The_first_frame_fills_a_slot_per_cell_and_repeated_cells_are_cache_references()
    {
        var rig = new ComposerRig(256, 64);
        rig.Paint(rig.Screen, (x, y) => ComposerRig.Text(1)(x % 128, y)); // the right half repeats the left

        var tiles = rig.Frame(rig.Screen);

        Assert.Equal([TileEncodings.Png, TileEncodings.Png, TileEncodings.Cache, TileEncodings.Cache], tiles.Select(t => t.Encoding));
        Assert.Equal([0, 1, 0, 1], tiles.Select(t => t.Slot));
        rig.AssertClientShowsTheScreen();
    }

    [Fact]
    public void A_dialog_that_closes_and_opens_again_comes_from_the_cache()
    {
        var rig = Started();
        var dialog = new GpuRect(64, 64, 128, 64); // two cells
        rig.Paint(dialog, FakeScanout.Noise(1));
        var open = rig.Frame(dialog);
        Assert.All(open, t => Assert.Equal((TileEncodings.Png, 64, 64), (t.Encoding, t.Width, t.Height)));
        Assert.All(open, t => Assert.NotEqual(TileCache.NoSlot, t.Slot));

        rig.Paint(dialog, FakeScanout.Pattern); // closed: the desktop sent in the first frame
        var closed = rig.Frame(dialog);
        rig.AssertClientShowsTheScreen();
        rig.Paint(dialog, FakeScanout.Noise(1)); // open again
        var reopened = rig.Frame(dialog);

        Assert.All(closed, t => Assert.Equal(TileEncodings.Cache, t.Encoding));
        Assert.Equal(open.Select(t => t.Slot), reopened.Select(t => t.Slot));
        Assert.All(reopened, t => Assert.Equal((TileEncodings.Cache, 0), (t.Encoding, t.Data.Length)));
        rig.AssertClientShowsTheScreen();
    }

    [Fact]
    public void A_small_cache_evicts_exactly_as_the_client_is_told()
    {
        // Four cells, eight contents, a four-slot cache: hits, misses and evictions all the time. The
        // client stores by slot only, so it shows the screen only if every eviction matched.
        var rig = Started(256, 64, ComposerRig.Text(0), cacheSlots: 4);
        var random = new Random(11);
        long hits = 0, fills = 0;
        for (var frame = 0; frame < 200; frame++)
        {
            var cell = new GpuRect(random.Next(4) * 64, 0, 64, 64);
            var content = ComposerRig.Text(random.Next(8));
            rig.Paint(cell, (x, y) => content(x - cell.X, y));
            foreach (var t in rig.Frame(cell))
                (hits, fills) = (hits + (t.Encoding == TileEncodings.Cache ? 1 : 0), fills + (t.Slot != TileCache.NoSlot && t.Encoding == TileEncodings.Png ? 1 : 0));
            rig.AssertClientShowsTheScreen();
        }
        Assert.True(hits > 20, $"{hits} cache hits");
        Assert.True(fills > 20, $"{fills} slots filled"); // far more than four: slots were reused
        Assert.Equal(4, rig.Composer.Cache.Count);
    }

    [Fact]
    public void A_terminal_scroll_is_a_copy_and_the_new_line()
    {
        var rig = Started(320, 256, ComposerRig.Text(3));
        var terminal = new GpuRect(20, 30, 280, 200);
        var before = new uint[320 * 256];
        for (var y = 0; y < 256; y++)
        {
            for (var x = 0; x < 320; x++)
                before[(y * 320) + x] = rig.At(x, y);
        }
        rig.Paint(terminal with { Height = terminal.Height - 16 }, (x, y) => before[((y + 16) * 320) + x]);
        var line = new GpuRect(terminal.X, terminal.Y + terminal.Height - 16, terminal.Width, 16);
        rig.Paint(line, ComposerRig.Text(4));

        var tiles = rig.Frame(terminal);

        var copy = tiles[0];
        Assert.Equal((TileEncodings.Copy, terminal.X, terminal.Y, terminal.Width, terminal.Height - 16, terminal.X, terminal.Y + 16),
            (copy.Encoding, copy.X, copy.Y, copy.Width, copy.Height, copy.SourceX, copy.SourceY));
        Assert.Single(tiles, t => t.Encoding == TileEncodings.Copy);
        Assert.All(tiles.Skip(1), t => Assert.True(t.Y >= line.Y && t.Y + t.Height <= line.Y + line.Height, $"tile {t.X},{t.Y} {t.Width}x{t.Height} outside the new line"));
        rig.AssertClientShowsTheScreen();
    }

    [Fact]
    public void Fast_changing_photos_go_lossy_at_the_given_quality_and_a_lossless_pass_makes_them_exact()
    {
        var rig = Started(512, 256);
        var video = new GpuRect(0, 0, 256, 256);
        List<Tile> last = [];
        for (var i = 0; i < 4; i++)
        {
            rig.Paint(video, FakeScanout.Noise(i));
            last = rig.Frame(video);
        }
        var jpeg = Assert.Single(last); // cells merged into one tile
        Assert.Equal((TileEncodings.Jpeg, 256, 256), (jpeg.Encoding, jpeg.Width, jpeg.Height));
        Assert.True(rig.Composer.Screen!.HasLossy);
        Assert.True(rig.Client.MaxError(rig.At, video) > 0);

        rig.Paint(video, FakeScanout.Noise(9));
        var low = Assert.Single(rig.Compose(lossless: false, quality: 30, video));
        Assert.True(low.Data.Length < jpeg.Data.Length * 0.7, $"q30 {low.Data.Length} bytes, q90 {jpeg.Data.Length}");

        var refresh = rig.Compose(lossless: true, quality: 90);
        Assert.All(refresh, t => Assert.Equal(TileEncodings.Png, t.Encoding));
        Assert.Equal(16, refresh.Count);
        Assert.False(rig.Composer.Screen.HasLossy);
        rig.AssertClientShowsTheScreen();
        Assert.Empty(rig.Compose(lossless: true, quality: 90));
    }

    [Fact]
    public void A_looping_animation_comes_back_from_the_cache_exactly_even_while_it_is_fast()
    {
        var rig = Started(512, 256);
        var video = new GpuRect(0, 0, 256, 256);
        for (var i = 0; i < 4; i++) // the first loop: PNG while the history fills, then JPEG
        {
            rig.Paint(video, FakeScanout.Noise(i % 2 == 0 ? 1 : 2));
            rig.Frame(video);
        }
        rig.Paint(video, FakeScanout.Noise(7)); // a frame outside the loop is JPEG: fast and photo-like
        Assert.Single(rig.Frame(video), t => t.Encoding == TileEncodings.Jpeg);

        rig.Paint(video, FakeScanout.Noise(1)); // back to a frame the client keeps: sent as PNG into slots early on
        var again = rig.Frame(video);

        Assert.Equal(16, again.Count);
        Assert.All(again, t => Assert.Equal(TileEncodings.Cache, t.Encoding));
        rig.AssertClientShowsTheScreen();
    }

    [Fact]
    public void Text_stays_lossless_even_when_it_changes_every_frame()
    {
        var rig = Started(512, 256);
        var page = new GpuRect(0, 0, 256, 256);
        for (var i = 0; i < 5; i++)
        {
            rig.Paint(page, ComposerRig.Text(10 + i));
            Assert.All(rig.Frame(page), t => Assert.Equal(TileEncodings.Png, t.Encoding));
        }
        rig.AssertClientShowsTheScreen();
    }
}
