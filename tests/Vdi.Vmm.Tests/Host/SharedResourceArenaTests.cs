using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;

namespace Vdi.Vmm.Tests.Host;

/// <summary>Resource images in the shared scanout's arena: placement, fallback, torn writes, and locations a host may not name.</summary>
public sealed class SharedResourceArenaTests
{
    [Fact]
    public void Images_go_into_the_arena_while_they_fit_and_stay_private_otherwise()
    {
        using var writer = ScanoutWriter.Create(640, 480);
        var arena = new SharedResourceArena(writer);
        var first = Assert.IsType<SharedResourceArena.ArenaImage>(arena.Allocate(640, 480, 640 * 480 * 4));
        var second = Assert.IsType<SharedResourceArena.ArenaImage>(arena.Allocate(640, 480, 640 * 480 * 4));
        Assert.Equal(writer.ArenaOffset, first.Offset);
        Assert.True(second.Offset >= first.Offset + (640 * 480 * 4) && second.Offset % 4096 == 0);
        // Two largest images fill the arena: a third is private (the host copies it when it is the scanout).
        Assert.IsNotType<SharedResourceArena.ArenaImage>(arena.Allocate(320, 240, 320 * 240 * 4));
        // A cursor is never placed, however much room is left.
        first.Release();
        Assert.IsNotType<SharedResourceArena.ArenaImage>(arena.Allocate(64, 64, 64 * 64 * 4));
        // Released room is reused, zeroed.
        second.BeginWrite();
        second.Pixels.Fill(0xAB);
        second.EndWrite();
        second.Release();
        var third = Assert.IsType<SharedResourceArena.ArenaImage>(arena.Allocate(640, 480, 640 * 480 * 4));
        Assert.Equal(-1, third.Pixels.IndexOfAnyExcept((byte)0));
        Assert.Equal(3, arena.Placed);
    }

    [Fact]
    public void A_limited_arena_places_only_what_fits_the_limit()
    {
        using var writer = ScanoutWriter.Create(640, 480);
        Assert.IsNotType<SharedResourceArena.ArenaImage>(new SharedResourceArena(writer, 0).Allocate(640, 480, 640 * 480 * 4));
        var arena = new SharedResourceArena(writer, 640 * 480 * 4);
        Assert.IsType<SharedResourceArena.ArenaImage>(arena.Allocate(640, 480, 640 * 480 * 4));
        Assert.IsNotType<SharedResourceArena.ArenaImage>(arena.Allocate(320, 240, 320 * 240 * 4));
    }

    [Fact]
    public void Reads_of_an_arena_image_are_never_torn_while_the_guest_writes_it()
    {
        // What a vCPU thread does on TRANSFER_TO_HOST_2D into the scanout's own image: the seqlock odd around the write.
        using var writer = ScanoutWriter.Create(320, 200);
        using var reader = ScanoutReader.Open(Vmm.Interop.HostCalls.Dup(writer.Descriptor), 320, 200, writer.Size);
        var image = Assert.IsType<SharedResourceArena.ArenaImage>(new SharedResourceArena(writer).Allocate(320, 200, 320 * 200 * 4));
        writer.SetMode(320, 200, image.Offset, 320 * 4, GpuFormat.B8G8R8X8);
        ScanoutMemoryTests.RaceReaderWithPainter(reader, value =>
        {
            image.BeginWrite();
            image.Pixels.Fill(value);
            image.EndWrite();
        });
    }

    [Fact]
    public void The_image_is_read_at_its_place_with_its_stride()
    {
        using var writer = ScanoutWriter.Create(640, 480);
        using var reader = ScanoutReader.Open(Vmm.Interop.HostCalls.Dup(writer.Descriptor), 640, 480, writer.Size);
        var image = Assert.IsType<SharedResourceArena.ArenaImage>(new SharedResourceArena(writer).Allocate(400, 300, 400 * 300 * 4));
        image.BeginWrite();
        for (var y = 0; y < 300; y++)
            image.Pixels.Slice(y * 1600, 1600).Fill((byte)y);
        image.EndWrite();
        // A 200×100 scanout at (10, 20) of the 400×300 resource: its first pixel, rows one resource row apart.
        writer.SetMode(200, 100, image.Offset + (20 * 1600) + (10 * 4), 1600, GpuFormat.B8G8R8X8);
        var buffer = new byte[200 * 100 * 4];
        Assert.True(reader.Capture(new GpuRect(0, 0, 200, 100), buffer, 800, out var format));
        Assert.Equal(GpuFormat.B8G8R8X8, format);
        for (var y = 0; y < 100; y++)
            Assert.Equal(-1, buffer.AsSpan(y * 800, 800).IndexOfAnyExcept((byte)(y + 20)));
    }

    [Theory]
    [InlineData(0L, 2560, "offset")] // the header
    [InlineData(4096L, 100, "stride")] // shorter than a row
    [InlineData(4096L, 2564, "stride")] // wider than the largest mode's rows
    [InlineData(4096L, -2560, "stride")]
    [InlineData(-4096L, 2560, "offset")]
    [InlineData(long.MaxValue - 3, 2560, "offset")]
    [InlineData(4098L, 2560, "offset")] // not a pixel's boundary
    public void A_location_outside_the_pixel_areas_is_refused_and_reads_as_no_picture(long offset, int stride, string named)
    {
        using var writer = ScanoutWriter.Create(640, 480);
        using var reader = ScanoutReader.Open(Vmm.Interop.HostCalls.Dup(writer.Descriptor), 640, 480, writer.Size);
        Assert.Contains(named, ScanoutLayout.CheckLocation(640, 480, 640, 480, offset, stride), StringComparison.Ordinal);
        writer.SetMode(640, 480, offset, stride, GpuFormat.B8G8R8X8); // a hostile host writes what it likes
        Assert.False(reader.Capture(new GpuRect(0, 0, 10, 10), new byte[400], 40, out _));
    }

    [Fact]
    public void The_last_image_of_the_arena_may_end_at_the_cursor_area_but_not_past_it()
    {
        var lastRow = ScanoutLayout.CursorOffset(640, 480) - 2560;
        Assert.Null(ScanoutLayout.CheckLocation(640, 480, 640, 480, lastRow - (479L * 2560), 2560));
        Assert.Contains("past", ScanoutLayout.CheckLocation(640, 480, 640, 480, lastRow - (479L * 2560) + 4, 2560), StringComparison.Ordinal);
        Assert.Null(ScanoutLayout.CheckLocation(640, 480, 0, 0, -1, 0)); // no scanout: nothing is read
    }
}
