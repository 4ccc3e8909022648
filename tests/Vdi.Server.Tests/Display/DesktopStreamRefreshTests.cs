using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

public sealed class DesktopStreamRefreshTests
{
    [Fact]
    public async Task A_video_goes_out_as_jpeg_and_is_refined_losslessly_once_it_stops()
    {
        var screen = new FakeScanout(512, 512);
        var client = new FrameSink();
        await using var pump = new StreamRig(screen, client.Send, new DesktopStreamOptions { LosslessRefreshDelay = TimeSpan.FromMilliseconds(50) });
        pump.RequestFullFrame();
        pump.Acknowledge((await client.NextAsync()).FrameId);
        var video = new GpuRect(0, 0, 256, 256);

        var encodings = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            screen.PaintAndFlush(video, FakeScanout.Noise(i));
            var frame = await client.NextAsync();
            encodings.Add(Assert.Single(frame.Tiles.Select(t => t.Encoding).Distinct()));
            pump.Acknowledge(frame.FrameId);
        }
        Assert.Equal([TileEncodings.Png, TileEncodings.Png, TileEncodings.Jpeg, TileEncodings.Jpeg, TileEncodings.Jpeg], encodings);

        var refresh = await client.NextAsync(); // the video stopped: the last picture again, exact
        FrameSink.AssertCoversExactly(refresh, video);
        client.AssertPainted(refresh, FakeScanout.Noise(4));
        pump.Acknowledge(refresh.FrameId);
        await client.AssertNoneAsync();
        Assert.Equal(1, pump.Counters.LosslessRefreshes);
        Assert.Equal(3, pump.Counters.JpegTiles);
    }
}
