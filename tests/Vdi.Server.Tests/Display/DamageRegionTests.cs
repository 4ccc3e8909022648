using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

public sealed class DamageRegionTests
{
    private static bool Covers(IEnumerable<GpuRect> rects, int x, int y) =>
        rects.Any(r => x >= r.X && y >= r.Y && x < r.X + r.Width && y < r.Y + r.Height);

    [Fact]
    public void Empty_and_contained_rectangles_add_nothing()
    {
        var d = new DamageRegion();
        d.Add(new GpuRect(5, 5, 0, 10));
        Assert.True(d.IsEmpty);

        d.Add(new GpuRect(0, 0, 100, 100));
        d.Add(new GpuRect(10, 10, 20, 20));

        Assert.Equal([new GpuRect(0, 0, 100, 100)], d.Rectangles);
    }

    [Fact]
    public void A_rectangle_swallows_the_ones_it_contains()
    {
        var d = new DamageRegion();
        d.Add(new GpuRect(10, 10, 5, 5));
        d.Add(new GpuRect(300, 300, 5, 5));

        d.Add(new GpuRect(0, 0, 400, 400));

        Assert.Equal([new GpuRect(0, 0, 400, 400)], d.Rectangles);
    }

    [Fact]
    public void Adjacent_and_overlapping_rectangles_in_a_row_merge()
    {
        var d = new DamageRegion();
        d.Add(new GpuRect(0, 0, 100, 20));
        d.Add(new GpuRect(100, 0, 50, 20));  // touches on the right
        d.Add(new GpuRect(140, 0, 60, 20));  // overlaps
        d.Add(new GpuRect(0, 20, 200, 10));  // touches below, same span

        Assert.Equal([new GpuRect(0, 0, 200, 30)], d.Rectangles);
    }

    [Fact]
    public void Nearby_small_rectangles_merge_but_distant_ones_stay_apart()
    {
        var d = new DamageRegion(); // slack: a quarter of a 64x64 tile
        d.Add(new GpuRect(10, 10, 8, 16));   // two glyphs with a 2 px gap
        d.Add(new GpuRect(20, 10, 8, 16));
        d.Add(new GpuRect(600, 400, 8, 16)); // far away: merging would waste a lot

        Assert.Equal(2, d.Count);
        Assert.Contains(new GpuRect(10, 10, 18, 16), d.Rectangles);
        Assert.Contains(new GpuRect(600, 400, 8, 16), d.Rectangles);
        Assert.Equal(new GpuRect(10, 10, 598, 406), d.Bounds);
    }

    [Fact]
    public void Crossing_bars_are_not_merged_into_a_mostly_empty_box()
    {
        var d = new DamageRegion();
        d.Add(new GpuRect(0, 100, 500, 10));
        d.Add(new GpuRect(200, 0, 10, 500));

        Assert.Equal(2, d.Count);
    }

    [Fact]
    public void Take_returns_the_damage_and_clears_it()
    {
        var d = new DamageRegion();
        d.Add(new GpuRect(1, 2, 3, 4));

        Assert.Equal([new GpuRect(1, 2, 3, 4)], d.Take());
        Assert.True(d.IsEmpty);
        Assert.Empty(d.Take());
        Assert.Equal(default, d.Bounds);
    }

    [Fact]
    public void Many_rectangles_in_clusters_snap_to_a_tile_grid_that_still_covers_all_damage()
    {
        var d = new DamageRegion(maxRectangles: 8, tileSize: 64, mergeSlack: 0);
        var added = new List<GpuRect>();
        foreach (var clusterX in new[] { 10, 500 })
        {
            for (var i = 0; i < 6; i++)
            {
                for (var j = 0; j < 6; j++)
                {
                    var r = new GpuRect(clusterX + (i * 20), 10 + (j * 20), 2, 2); // dots that never merge pairwise
                    added.Add(r);
                    d.Add(r);
                }
            }
        }

        Assert.Equal([new GpuRect(10, 10, 118, 102), new GpuRect(448, 10, 154, 102)], d.Rectangles.OrderBy(r => r.X));
        Assert.All(added, r => Assert.True(Covers(d.Rectangles, r.X, r.Y) && Covers(d.Rectangles, r.X + 1, r.Y + 1), $"{r} lost"));
    }

    [Fact]
    public void A_checkerboard_too_fine_for_the_grid_falls_back_to_the_bounding_box()
    {
        var d = new DamageRegion(maxRectangles: 4, tileSize: 16);
        for (var y = 0; y < 8; y++)
        {
            for (var x = y % 2; x < 8; x += 2)
                d.Add(new GpuRect((x * 32) + 1, (y * 32) + 1, 2, 2));
        }

        Assert.Equal([new GpuRect(1, 1, 226, 226)], d.Rectangles);
    }

    [Fact]
    public void Negative_coordinates_are_handled_by_the_grid()
    {
        var d = new DamageRegion(maxRectangles: 1, tileSize: 64);
        d.Add(new GpuRect(-70, -70, 4, 4));
        d.Add(new GpuRect(70, 70, 4, 4));

        Assert.Single(d.Rectangles);
        Assert.True(Covers(d.Rectangles, -70, -70));
        Assert.True(Covers(d.Rectangles, 73, 73));
    }
}
