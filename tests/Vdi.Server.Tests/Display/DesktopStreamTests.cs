using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

public sealed class DesktopStreamTests
{
    private static readonly DesktopStreamOptions s_noRefresh = new() { LosslessRefreshDelay = null };

    private static (FakeScanout Screen, FrameSink Client, StreamRig Pump) Start(int width = 320, int height = 200, DesktopStreamOptions? options = null)
    {
        var screen = new FakeScanout(width, height);
        screen.Paint(new GpuRect(0, 0, width, height), FakeScanout.Pattern);
        var client = new FrameSink();
        return (screen, client, new StreamRig(screen, client.Send, options ?? s_noRefresh));
    }

    private static async Task<FrameUpdate> FirstFrameAsync(StreamRig pump, FrameSink client)
    {
        pump.RequestFullFrame();
        var frame = await client.NextAsync();
        Assert.True(pump.Acknowledge(frame.FrameId));
        return frame;
    }

    [Fact]
    public async Task The_first_frame_is_the_full_screen()
    {
        var (_, client, pump) = Start();
        await using var _ = pump;

        pump.RequestFullFrame();
        var frame = await client.NextAsync();

        Assert.Equal((1L, 320, 200), (frame.FrameId, frame.Width, frame.Height));
        FrameSink.AssertCoversExactly(frame, new GpuRect(0, 0, 320, 200));
        client.AssertPainted(frame, FakeScanout.Pattern);
    }

    [Fact]
    public async Task The_first_frame_is_full_even_when_a_small_flush_triggers_it()
    {
        var (screen, client, pump) = Start();
        await using var _ = pump;

        screen.PaintAndFlush(new GpuRect(5, 5, 10, 10), (_, _) => 0xFF_0000);
        var frame = await client.NextAsync();

        FrameSink.AssertCoversExactly(frame, new GpuRect(0, 0, 320, 200));
        client.AssertPainted(frame, (x, y) => x is >= 5 and < 15 && y is >= 5 and < 15 ? 0xFF_0000u : FakeScanout.Pattern(x, y));
    }

    [Fact]
    public async Task A_flush_sends_tiles_covering_exactly_the_damage()
    {
        var (screen, client, pump) = Start(640, 480);
        await using var _ = pump;
        await FirstFrameAsync(pump, client);

        screen.PaintAndFlush(new GpuRect(10, 20, 30, 40), (_, _) => 0x12_3456);
        var small = await client.NextAsync();
        FrameSink.AssertCoversExactly(small, new GpuRect(10, 20, 30, 40));
        client.AssertPainted(small, (_, _) => 0x12_3456);
        pump.Acknowledge(small.FrameId);

        var wide = new GpuRect(200, 100, 400, 300); // crosses tile boundaries
        screen.PaintAndFlush(wide, FakeScanout.Noise(1));
        var large = await client.NextAsync();
        Assert.True(large.Tiles.Length > 1);
        FrameSink.AssertCoversExactly(large, wide);
        client.AssertPainted(large, FakeScanout.Noise(1));
    }

    [Fact]
    public async Task Without_an_ack_flushes_coalesce_into_one_frame_with_the_latest_pixels()
    {
        var (screen, client, pump) = Start();
        await using var _ = pump;
        pump.RequestFullFrame();
        var first = await client.NextAsync(); // not acknowledged yet
        var area = new GpuRect(40, 40, 50, 30);

        screen.PaintAndFlush(area, (_, _) => 0x00A0_0000); // A
        screen.PaintAndFlush(area, (_, _) => 0x0000_B000); // B over the same area
        await client.AssertNoneAsync();
        Assert.True(pump.Acknowledge(first.FrameId));

        var next = await client.NextAsync();
        Assert.Equal(first.FrameId + 1, next.FrameId);
        FrameSink.AssertCoversExactly(next, area);
        client.AssertPainted(next, (_, _) => 0x0000_B000);
        await client.AssertNoneAsync();
        Assert.Equal(2, pump.Counters.FramesSent);
        Assert.Equal(1, pump.Counters.FramesCoalesced);
    }

    [Fact]
    public async Task Coalesced_damage_in_different_places_arrives_together()
    {
        var (screen, client, pump) = Start();
        await using var _ = pump;
        pump.RequestFullFrame();
        var first = await client.NextAsync();

        screen.PaintAndFlush(new GpuRect(0, 0, 10, 10), (_, _) => 0x11_1111);
        screen.PaintAndFlush(new GpuRect(300, 180, 20, 20), (_, _) => 0x22_2222);
        pump.Acknowledge(first.FrameId);

        var next = await client.NextAsync();
        FrameSink.AssertCoversExactly(next, new GpuRect(0, 0, 10, 10), new GpuRect(300, 180, 20, 20));
    }

    [Fact]
    public async Task A_mode_change_drops_pending_damage_and_sends_a_full_frame_of_the_new_size()
    {
        var (screen, client, pump) = Start();
        await using var _ = pump;
        pump.RequestFullFrame();
        var first = await client.NextAsync();
        screen.PaintAndFlush(new GpuRect(0, 0, 10, 10), (_, _) => 0x11_1111); // old size, pending

        screen.SetMode(400, 300);
        screen.PaintAndFlush(new GpuRect(0, 0, 400, 300), FakeScanout.Pattern);
        pump.Acknowledge(first.FrameId);

        var next = await client.NextAsync();
        Assert.Equal((400, 300), (next.Width, next.Height));
        FrameSink.AssertCoversExactly(next, new GpuRect(0, 0, 400, 300));
        client.AssertPainted(next, FakeScanout.Pattern);
        await client.AssertNoneAsync();
    }

    [Fact]
    public async Task A_disabled_scanout_sends_nothing_until_it_is_shown_again()
    {
        var (screen, client, pump) = Start();
        await using var _ = pump;
        await FirstFrameAsync(pump, client);

        screen.Disable();
        pump.RequestFullFrame();
        await client.AssertNoneAsync();

        screen.SetMode(320, 200);
        var frame = await client.NextAsync();
        FrameSink.AssertCoversExactly(frame, new GpuRect(0, 0, 320, 200));
    }

    [Fact]
    public async Task An_idle_source_sends_no_frames_and_no_bytes()
    {
        var (_, client, pump) = Start();
        await using var _ = pump;

        await client.AssertNoneAsync(200);

        Assert.Equal(default, pump.Counters);
        Assert.Equal(0, pump.LastFrameId);
    }

    [Fact]
    public async Task After_the_first_frame_an_idle_source_sends_nothing_more()
    {
        var (screen, client, pump) = Start();
        await using var _ = pump;
        await FirstFrameAsync(pump, client);
        var after = pump.Counters;
        var captures = screen.Captures;

        await client.AssertNoneAsync(200);

        Assert.Equal(after, pump.Counters);
        Assert.Equal(captures, screen.Captures);
    }

    [Fact]
    public async Task Only_the_frame_in_flight_can_be_acknowledged()
    {
        var (_, client, pump) = Start();
        await using var _ = pump;
        Assert.False(pump.Acknowledge(1));
        pump.RequestFullFrame();
        var frame = await client.NextAsync();

        Assert.False(pump.Acknowledge(frame.FrameId + 1));
        Assert.True(pump.Acknowledge(frame.FrameId));
        Assert.False(pump.Acknowledge(frame.FrameId));
    }

    [Fact]
    public async Task Dispose_unsubscribes_and_stops_sending()
    {
        var (screen, client, pump) = Start();
        var frame = await FirstFrameAsync(pump, client);

        await pump.DisposeAsync();
        screen.PaintAndFlush(new GpuRect(0, 0, 10, 10), (_, _) => 0x11_1111);
        pump.RequestFullFrame();

        await client.AssertNoneAsync();
        Assert.Equal(0, screen.Subscribers);
        Assert.Equal(frame.FrameId, pump.LastFrameId);
        await pump.DisposeAsync(); // twice is fine
    }

    [Fact]
    public async Task A_failing_send_stops_that_viewer()
    {
        var screen = new FakeScanout(64, 64);
        var calls = 0;
        await using var pump = new StreamRig(screen, _ => { calls++; throw new InvalidOperationException("connection closed"); }, s_noRefresh);

        pump.RequestFullFrame();
        await Task.Delay(100);
        screen.PaintAndFlush(new GpuRect(0, 0, 8, 8), (_, _) => 1);
        await Task.Delay(100);

        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Counters_add_up_the_tiles_sent()
    {
        var (screen, client, pump) = Start(640, 480);
        await using var _ = pump;
        var first = await FirstFrameAsync(pump, client);
        screen.PaintAndFlush(new GpuRect(0, 0, 16, 16), (_, _) => 0x33_3333);
        var second = await client.NextAsync();

        var c = pump.Viewer.Counters; // what this viewer received
        Assert.Equal(2, c.FramesSent);
        Assert.Equal(first.Tiles.Concat(second.Tiles).Sum(t => (long)t.Data.Length), c.BytesSent);
        Assert.Equal(first.Tiles.Length + second.Tiles.Length, c.PngTiles + c.JpegTiles + c.CacheTiles + c.CopyTiles);
        Assert.Equal(1, c.Keyframes);
        var desktop = pump.Counters; // what the desktop encoded: the full version the keyframe was made of, then the flush
        Assert.Equal((2L, 1L, 0L, 1L), (desktop.FramesSent, desktop.Keyframes, desktop.FramesCoalesced, desktop.Flushes));
    }
}
