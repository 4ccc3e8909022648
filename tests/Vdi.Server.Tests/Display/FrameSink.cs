using System.Threading.Channels;
using SkiaSharp;
using Vdi.Protocol;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Display;

/// <summary>The client end of a frame pump: collects frames, applies each to a <see cref="ClientCanvas"/> as it is read, and checks what they paint.</summary>
internal sealed class FrameSink
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(2);
    private readonly Channel<FrameUpdate> _frames = Channel.CreateUnbounded<FrameUpdate>();

    public ValueTask Send(FrameUpdate frame)
    {
        _frames.Writer.TryWrite(frame);
        return ValueTask.CompletedTask;
    }

    /// <summary>The client's picture after every frame read so far.</summary>
    public ClientCanvas Canvas { get; } = new();

    public async Task<FrameUpdate> NextAsync()
    {
        var frame = await NextUnpaintedAsync();
        Canvas.Apply(frame);
        return frame;
    }

    /// <summary>The next frame without painting it (a client that takes no time, for timing tests); the canvas falls behind.</summary>
    public async Task<FrameUpdate> NextUnpaintedAsync() => await _frames.Reader.ReadAsync().AsTask().WaitAsync(s_timeout);

    /// <summary>Asserts the frame has no lossy tile and, applied, left the canvas showing <paramref name="pixel"/> wherever it painted.</summary>
    public void AssertPainted(FrameUpdate frame, Func<int, int, uint> pixel)
    {
        Assert.DoesNotContain(frame.Tiles, t => t.Encoding == TileEncodings.Jpeg);
        foreach (var t in frame.Tiles)
            Canvas.AssertShows(pixel, new GpuRect(t.X, t.Y, t.Width, t.Height));
    }

    /// <summary>Asserts no frame arrives within <paramref name="milliseconds"/>.</summary>
    public async Task AssertNoneAsync(int milliseconds = 100)
    {
        await Task.Delay(milliseconds);
        Assert.False(_frames.Reader.TryRead(out var frame), $"unexpected frame {frame?.FrameId}");
    }

    /// <summary>Asserts the tiles cover exactly <paramref name="expected"/>, each pixel once.</summary>
    public static void AssertCoversExactly(FrameUpdate frame, params GpuRect[] expected)
    {
        var covered = new int[frame.Width * frame.Height];
        foreach (var t in frame.Tiles)
        {
            for (var y = t.Y; y < t.Y + t.Height; y++)
            {
                for (var x = t.X; x < t.X + t.Width; x++)
                    covered[(y * frame.Width) + x]++;
            }
        }
        for (var y = 0; y < frame.Height; y++)
        {
            for (var x = 0; x < frame.Width; x++)
            {
                var want = expected.Any(r => x >= r.X && y >= r.Y && x < r.X + r.Width && y < r.Y + r.Height) ? 1 : 0;
                Assert.True(covered[(y * frame.Width) + x] == want, $"pixel ({x}, {y}) painted {covered[(y * frame.Width) + x]} times, expected {want}");
            }
        }
    }

    /// <summary>Decodes every tile (all PNG, as the encoder alone makes them) and checks it shows <paramref name="pixel"/> (0x00RRGGBB) exactly.</summary>
    public static void AssertShows(FrameUpdate frame, Func<int, int, uint> pixel)
    {
        foreach (var t in frame.Tiles)
        {
            Assert.Equal(TileEncodings.Png, t.Encoding);
            using var bitmap = SKBitmap.Decode(t.Data);
            Assert.Equal((t.Width, t.Height), (bitmap.Width, bitmap.Height));
            for (var y = 0; y < t.Height; y++)
            {
                for (var x = 0; x < t.Width; x++)
                    Assert.Equal(pixel(t.X + x, t.Y + y) | 0xFF00_0000, (uint)bitmap.GetPixel(x, y));
            }
        }
    }
}
