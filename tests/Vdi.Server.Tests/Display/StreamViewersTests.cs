using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

/// <summary>Several viewers of one <see cref="DesktopStream"/>: each converges on the scanout's pixels at its own pace.</summary>
public sealed class StreamViewersTests
{
    private static readonly DesktopStreamOptions s_noRefresh = new() { LosslessRefreshDelay = null };

    private static void AssertShowsTheScreen(FakeScanout screen, FrameSink client)
    {
        var shot = screen.Capture(new GpuRect(0, 0, screen.Width, screen.Height))!;
        Assert.Equal((screen.Width, screen.Height), (client.Canvas.Width, client.Canvas.Height));
        client.Canvas.AssertShows((x, y) => shot.ArgbAt(x, y) & 0xFF_FFFF);
    }

    /// <summary>Reads, paints and acknowledges frames after <paramref name="paintMs"/> each until none came for 2 s.</summary>
    private static async Task<int> ViewAsync(StreamViewer viewer, FrameSink client, int paintMs)
    {
        var frames = 0;
        while (true)
        {
            FrameUpdate frame;
            try
            {
                frame = await client.NextAsync();
            }
            catch (TimeoutException)
            {
                return frames;
            }
            frames++;
            if (paintMs > 0)
                await Task.Delay(paintMs);
            Assert.True(viewer.Acknowledge(frame.FrameId));
        }
    }

    /// <summary>A desktop session's worth of changes: typing, a terminal scrolling, a dialog coming and going, a video playing.</summary>
    private static async Task PlayAsync(FakeScanout screen, int steps)
    {
        var text = ComposerRig.Text(7);
        var terminal = new GpuRect(0, 128, 320, 128);
        for (var i = 0; i < steps; i++)
        {
            switch (i % 4)
            {
                case 0:
                    screen.PaintAndFlush(new GpuRect(8 * (i % 30), 8, 8, 16), (_, _) => 0x20_2020);
                    break;
                case 1:
                    screen.Paint(terminal, (x, y) => text(x, y + (i * 16)));
                    screen.Flush(terminal);
                    break;
                case 2:
                    screen.PaintAndFlush(new GpuRect(64, 64, 128, 64), i % 8 == 2 ? FakeScanout.Noise(99) : ComposerRig.Text(3));
                    break;
                default:
                    screen.PaintAndFlush(new GpuRect(256, 0, 256, 256), FakeScanout.Noise(i));
                    break;
            }
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Viewers_acknowledging_at_different_rates_all_end_up_showing_the_scanout()
    {
        var screen = new FakeScanout(512, 256);
        screen.Paint(new GpuRect(0, 0, 512, 256), FakeScanout.Pattern);
        await using var stream = new DesktopStream(screen, new DesktopStreamOptions { LosslessRefreshDelay = TimeSpan.FromMilliseconds(50) });
        var clients = new[] { new FrameSink(), new FrameSink(), new FrameSink() };
        var viewers = clients.Select(c => stream.Join(c.Send)).ToArray();
        viewers[0].RequestFullFrame();
        var paintMs = new[] { 0, 15, 60 };
        var viewing = Enumerable.Range(0, 3).Select(i => ViewAsync(viewers[i], clients[i], paintMs[i])).ToArray();

        await PlayAsync(screen, 60);
        var frames = await Task.WhenAll(viewing);

        foreach (var client in clients)
            AssertShowsTheScreen(screen, client);
        Assert.True(frames[2] < frames[0], $"the slow viewer got {frames[2]} frames, the fast one {frames[0]}: it should get fewer, coalesced");
        Assert.Equal(frames.Select(f => (long)f), viewers.Select(v => v.Counters.FramesSent));
    }

    [Fact]
    public async Task A_viewer_that_joins_late_gets_a_keyframe_of_the_newest_picture()
    {
        var screen = new FakeScanout(320, 256);
        screen.Paint(new GpuRect(0, 0, 320, 256), FakeScanout.Pattern);
        await using var stream = new DesktopStream(screen, s_noRefresh);
        var early = new FrameSink();
        var first = stream.Join(early.Send);
        first.RequestFullFrame();
        Assert.True(first.Acknowledge((await early.NextAsync()).FrameId));
        for (var i = 0; i < 5; i++)
        {
            screen.PaintAndFlush(new GpuRect(64 * i, 64, 64, 64), ComposerRig.Text(i));
            Assert.True(first.Acknowledge((await early.NextAsync()).FrameId));
        }

        var late = new FrameSink();
        var second = stream.Join(late.Send);
        second.RequestFullFrame();
        var keyframe = await late.NextAsync();

        Assert.Equal(1, keyframe.FrameId);
        FrameSink.AssertCoversExactly(keyframe, new GpuRect(0, 0, 320, 256));
        AssertShowsTheScreen(screen, late);
        Assert.Equal(1, second.Counters.Keyframes);
        Assert.Equal(6, stream.Version); // the late viewer cost no capture or version of its own
        await early.AssertNoneAsync();
    }

    [Theory]
    [InlineData(3, false)] // a few versions behind: they arrive together in one frame
    [InlineData(40, true)] // more than the ring keeps: a keyframe
    public async Task A_slow_viewer_behind_by_many_versions_converges(int behind, bool keyframe)
    {
        var screen = new FakeScanout(320, 256);
        screen.Paint(new GpuRect(0, 0, 320, 256), FakeScanout.Pattern);
        await using var stream = new DesktopStream(screen, s_noRefresh with { MaxVersions = 8 });
        var (fast, slow) = (new FrameSink(), new FrameSink());
        var (quick, lagging) = (stream.Join(fast.Send), stream.Join(slow.Send));
        quick.RequestFullFrame();
        Assert.True(quick.Acknowledge((await fast.NextAsync()).FrameId));
        var held = await slow.NextAsync(); // painted, but not acknowledged until the end

        for (var i = 0; i < behind; i++)
        {
            screen.PaintAndFlush(new GpuRect(32 * (i % 8), 32 * (i % 7), 48, 40), ComposerRig.Text(i % 5));
            var frame = await fast.NextAsync();
            Assert.True(quick.Acknowledge(frame.FrameId));
            AssertShowsTheScreen(screen, fast);
        }
        await slow.AssertNoneAsync(50);
        Assert.True(lagging.Acknowledge(held.FrameId));
        var catchUp = await slow.NextAsync();

        AssertShowsTheScreen(screen, slow);
        Assert.Equal(held.FrameId + 1, catchUp.FrameId);
        Assert.Equal(keyframe ? 2 : 1, lagging.Counters.Keyframes);
        Assert.Equal(behind + 1, stream.Version); // one version per flush, none for the slow viewer
    }

    [Fact]
    public async Task A_cache_reference_to_a_slot_a_viewer_does_not_hold_never_reaches_it()
    {
        var screen = new FakeScanout(320, 192);
        screen.Paint(new GpuRect(0, 0, 320, 192), ComposerRig.Text(1));
        await using var stream = new DesktopStream(screen, s_noRefresh);
        var (early, late) = (new FrameSink(), new FrameSink());
        var first = stream.Join(early.Send);
        first.RequestFullFrame();
        Assert.True(first.Acknowledge((await early.NextAsync()).FrameId));
        var dialog = new GpuRect(64, 64, 192, 64);
        screen.PaintAndFlush(dialog, FakeScanout.Noise(5)); // the dialog opens: its cells fill slots
        Assert.True(first.Acknowledge((await early.NextAsync()).FrameId));
        screen.PaintAndFlush(dialog, ComposerRig.Text(1)); // and closes: the desktop under it is in the cache
        Assert.True(first.Acknowledge((await early.NextAsync()).FrameId));

        var second = stream.Join(late.Send); // joins after the dialog closed: holds none of its slots
        second.RequestFullFrame();
        Assert.True(second.Acknowledge((await late.NextAsync()).FrameId));
        screen.PaintAndFlush(dialog, FakeScanout.Noise(5)); // the dialog opens again
        var cached = await early.NextAsync();
        var filled = await late.NextAsync(); // ClientCanvas fails on a slot painted before it was filled

        Assert.All(cached.Tiles, t => Assert.Equal(TileEncodings.Cache, t.Encoding));
        Assert.All(filled.Tiles, t => Assert.Equal((TileEncodings.Png, true), (t.Encoding, t.Slot != TileCache.NoSlot)));
        Assert.Equal(cached.Tiles.Select(t => (t.X, t.Y, t.Slot)), filled.Tiles.Select(t => (t.X, t.Y, t.Slot)));
        AssertShowsTheScreen(screen, early);
        AssertShowsTheScreen(screen, late);

        // Now it holds them: the next time it gets references too.
        Assert.True(second.Acknowledge(filled.FrameId));
        foreach (var content in new[] { ComposerRig.Text(1), FakeScanout.Noise(5) })
        {
            screen.PaintAndFlush(dialog, content);
            var frame = await late.NextAsync();
            Assert.All(frame.Tiles, t => Assert.Equal(TileEncodings.Cache, t.Encoding));
            AssertShowsTheScreen(screen, late);
            Assert.True(second.Acknowledge(frame.FrameId));
        }
    }

    [Fact]
    public async Task Captures_and_encodes_do_not_grow_with_the_number_of_viewers()
    {
        async Task<(int Captures, FrameCounters Encoded)> RunAsync(int viewers)
        {
            var screen = new FakeScanout(320, 256);
            screen.Paint(new GpuRect(0, 0, 320, 256), FakeScanout.Pattern);
            await using var stream = new DesktopStream(screen, s_noRefresh);
            var clients = Enumerable.Range(0, viewers).Select(_ => new FrameSink()).ToArray();
            var joined = clients.Select(c => stream.Join(c.Send)).ToArray();
            joined[0].RequestFullFrame();
            for (var step = 0; step <= 12; step++)
            {
                if (step > 0)
                    screen.PaintAndFlush(new GpuRect(20 * step, 10 * step, 60, 50), ComposerRig.Text(step));
                for (var i = 0; i < viewers; i++)
                    Assert.True(joined[i].Acknowledge((await clients[i].NextAsync()).FrameId));
            }
            var captures = screen.Captures;
            foreach (var client in clients)
                AssertShowsTheScreen(screen, client);
            return (captures, stream.Counters);
        }

        var one = await RunAsync(1);
        var eight = await RunAsync(8);

        Assert.Equal(one.Captures, eight.Captures);
        Assert.Equal((13L, 1L), (one.Encoded.FramesSent, one.Encoded.Keyframes));
        Assert.Equal(one.Encoded.FramesSent, eight.Encoded.FramesSent);
        Assert.Equal(one.Encoded.Keyframes, eight.Encoded.Keyframes);
        Assert.Equal(one.Encoded.PngTiles + one.Encoded.JpegTiles, eight.Encoded.PngTiles + eight.Encoded.JpegTiles);
    }

    [Fact]
    public async Task A_mode_change_reaches_every_viewer_as_a_whole_screen_of_the_new_size()
    {
        var screen = new FakeScanout(320, 200);
        screen.Paint(new GpuRect(0, 0, 320, 200), FakeScanout.Pattern);
        await using var stream = new DesktopStream(screen, s_noRefresh);
        var (fast, slow) = (new FrameSink(), new FrameSink());
        var (quick, lagging) = (stream.Join(fast.Send), stream.Join(slow.Send));
        quick.RequestFullFrame();
        Assert.True(quick.Acknowledge((await fast.NextAsync()).FrameId));
        var held = await slow.NextAsync();
        screen.PaintAndFlush(new GpuRect(0, 0, 40, 40), (_, _) => 0x11_1111); // the slow viewer never gets this one
        var before = await fast.NextAsync(); // acknowledged once the new mode is painted

        screen.SetMode(400, 300);
        screen.PaintAndFlush(new GpuRect(0, 0, 400, 300), FakeScanout.Pattern);
        Assert.True(quick.Acknowledge(before.FrameId));
        var resized = await fast.NextAsync();
        Assert.True(lagging.Acknowledge(held.FrameId));
        var late = await slow.NextAsync();

        foreach (var frame in new[] { resized, late })
        {
            Assert.Equal((400, 300), (frame.Width, frame.Height));
            FrameSink.AssertCoversExactly(frame, new GpuRect(0, 0, 400, 300));
        }
        AssertShowsTheScreen(screen, fast);
        AssertShowsTheScreen(screen, slow);
    }
}
