using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

/// <summary>The pump end to end with the client model: what it skips, copies and caches, and its JPEG quality.</summary>
public sealed class DesktopStreamCacheTests
{
    private static async Task<(FakeScanout Screen, FrameSink Client, StreamRig Pump)> StartAsync(int width, int height, Func<int, int, uint> content)
    {
        var screen = new FakeScanout(width, height);
        screen.Paint(new GpuRect(0, 0, width, height), content);
        var client = new FrameSink();
        var pump = new StreamRig(screen, client.Send, new DesktopStreamOptions { LosslessRefreshDelay = null });
        pump.RequestFullFrame();
        Assert.True(pump.Acknowledge((await client.NextAsync()).FrameId));
        return (screen, client, pump);
    }

    private static void AssertClientShows(FakeScanout screen, FrameSink client)
    {
        var shot = screen.Capture(new GpuRect(0, 0, screen.Width, screen.Height))!;
        client.Canvas.AssertShows((x, y) => shot.ArgbAt(x, y) & 0xFF_FFFF);
    }

    [Fact]
    public async Task A_flush_that_changes_nothing_sends_no_frame()
    {
        var (screen, client, pump) = await StartAsync(320, 200, FakeScanout.Pattern);
        await using var _ = pump;

        screen.Flush(new GpuRect(0, 0, 320, 200)); // the guest repainted the same picture
        screen.PaintAndFlush(new GpuRect(10, 10, 40, 40), FakeScanout.Pattern);

        // The pump looked at both flushes (one frame's worth or two) and found nothing to send.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (pump.Counters.UnchangedFlushes < 2 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal(2, pump.Counters.UnchangedFlushes);
        await client.AssertNoneAsync();
        Assert.Equal(1, pump.Counters.FramesSent);
    }

    [Fact]
    public async Task A_scroll_arrives_as_a_copy_and_the_client_shows_the_exact_screen()
    {
        var text = ComposerRig.Text(1);
        var (screen, client, pump) = await StartAsync(320, 200, text);
        await using var _ = pump;
        var terminal = new GpuRect(0, 40, 320, 160);

        for (var line = 1; line <= 3; line++)
        {
            var offset = line * 16;
            screen.Paint(terminal, (x, y) => text(x, y + offset));
            screen.Flush(terminal);
            var frame = await client.NextAsync();
            Assert.True(pump.Acknowledge(frame.FrameId));

            Assert.Equal(TileEncodings.Copy, frame.Tiles[0].Encoding);
            Assert.All(frame.Tiles.Skip(1), t => Assert.True(t.Y >= terminal.Y + terminal.Height - 16, $"tile at y={t.Y} re-sends scrolled rows"));
            AssertClientShows(screen, client);
        }
        Assert.Equal(3, pump.Counters.CopyTiles);
    }

    [Fact]
    public async Task Content_seen_before_comes_from_the_cache()
    {
        var (screen, client, pump) = await StartAsync(320, 192, ComposerRig.Text(2));
        await using var _ = pump;
        var dialog = new GpuRect(64, 64, 192, 64);
        var frames = new List<FrameUpdate>();

        foreach (var content in new[] { FakeScanout.Noise(5), ComposerRig.Text(2), FakeScanout.Noise(5) })
        {
            screen.PaintAndFlush(dialog, content);
            var frame = await client.NextAsync();
            Assert.True(pump.Acknowledge(frame.FrameId));
            frames.Add(frame);
            AssertClientShows(screen, client);
        }

        Assert.All(frames[0].Tiles, t => Assert.Equal(TileEncodings.Png, t.Encoding));
        Assert.All(frames[1].Tiles.Concat(frames[2].Tiles), t => Assert.Equal(TileEncodings.Cache, t.Encoding));
        Assert.Equal(6, pump.Counters.CacheTiles);
    }

    [Fact]
    public async Task Jpeg_quality_steps_down_while_the_client_lags_and_back_up_when_it_catches_up()
    {
        var (screen, client, pump) = await StartAsync(512, 256, FakeScanout.Pattern);
        await using var _ = pump;
        var video = new GpuRect(0, 0, 256, 256);
        var frame = 0;
        var high = AdaptiveJpegQuality.Highest - AdaptiveJpegQuality.Step;
        // Plays video frames, each acknowledged paintMs after it arrived, at least `frames` of them
        // and then until `done` holds (at most 40); returns the JPEG bytes of the last frame.
        async Task<int> PlayAsync(int frames, int paintMs, Func<bool> done)
        {
            var bytes = 0;
            for (var i = 0; i < 40 && (i < frames || !done()); i++, frame++)
            {
                screen.PaintAndFlush(video, FakeScanout.Noise(frame));
                var update = await client.NextUnpaintedAsync();
                await Task.Delay(paintMs);
                pump.Acknowledge(update.FrameId);
                bytes = update.Tiles.Sum(t => t.Data.Length);
            }
            return bytes;
        }
        for (var i = 0; i < 3; i++) // small frames (a caret blinking) tell the network's latency
        {
            screen.PaintAndFlush(new GpuRect(300, 10, 2, 16), (_, _) => (uint)(i % 2 * 0xFF_FFFF));
            pump.Acknowledge((await client.NextUnpaintedAsync()).FrameId);
        }

        // A prompt client (start-up pauses settle within a few frames), then one that takes 120 ms
        // to paint each frame, then a prompt one again.
        var prompt = await PlayAsync(5, 0, () => pump.JpegQuality >= high);
        var promptQuality = pump.JpegQuality;
        var lagging = await PlayAsync(6, 120, () => true);
        var laggingQuality = pump.JpegQuality;
        await PlayAsync(1, 0, () => pump.JpegQuality >= high);

        Assert.InRange(promptQuality, high, AdaptiveJpegQuality.Highest);
        Assert.InRange(laggingQuality, AdaptiveJpegQuality.Lowest, 50);
        Assert.True(lagging < prompt * 0.7, $"JPEG bytes per frame: {prompt} at q{promptQuality}, {lagging} at q{laggingQuality}");
        Assert.InRange(pump.JpegQuality, high, AdaptiveJpegQuality.Highest);
    }
}
